"""modelspec: declarative model specs for Keras — validate, lint and compile YAML into Keras 3 models.

The public API, each name imported on first use: `import modelspec` (and so every command, `modelspec lint` first of
all) starts without loading what it does not need, and a Ctrl-C at start-up reaches the command line's handler.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "DataError": "modelspec.errors",
    "LintFailure": "modelspec.errors",
    "ModelspecError": "modelspec.errors",
    "SpecError": "modelspec.errors",
    "WeightsError": "modelspec.errors",
    "Diagnostic": "modelspec.diagnostics",
    "Level": "modelspec.diagnostics",
    "ModelSpec": "modelspec.loader",
    "load_spec": "modelspec.loader",
    "lint": "modelspec.linter.runner",
    "fix": "modelspec.fixing",
    "FixResult": "modelspec.fixing",
    "build_model": "modelspec.pipeline",
    "Data": "modelspec.requests",
    "Options": "modelspec.requests",
    "Outputs": "modelspec.requests",
    "train": "modelspec.trainer",
    "evaluate": "modelspec.trainer",
    "probe": "modelspec.probing",
    "compare": "modelspec.comparison",
    "Search": "modelspec.requests",
    "Engine": "modelspec.requests",
    "tune": "modelspec.tuning.study",
    "export": "modelspec.exporting",
    "from_keras": "modelspec.runtime.importer",
    "graph": "modelspec.drawing",
    "expand": "modelspec.expanding",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'modelspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = sorted(_PUBLIC)
