"""modelspec: declarative model specs for Keras — validate, lint and compile YAML into Keras 3 models."""

from modelspec.diagnostics import Diagnostic, Level
from modelspec.errors import DataError, LintFailure, ModelspecError, SpecError, WeightsError
from modelspec.experiments import compare, probe
from modelspec.linter.runner import lint
from modelspec.loader import ModelSpec, load_spec
from modelspec.pipeline import build_model
from modelspec.trainer import evaluate, train

__version__ = "0.1.0"


def __getattr__(name: str):
    # from_keras is imported on first use: `modelspec lint` and every other command start without the importer.
    if name == "from_keras":
        from modelspec.runtime.importer import from_keras

        return from_keras
    raise AttributeError(f"module 'modelspec' has no attribute {name!r}")


__all__ = [
    "DataError",
    "Diagnostic",
    "Level",
    "LintFailure",
    "ModelSpec",
    "ModelspecError",
    "SpecError",
    "WeightsError",
    "build_model",
    "compare",
    "evaluate",
    "from_keras",
    "lint",
    "load_spec",
    "probe",
    "train",
]
