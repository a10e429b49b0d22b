"""modelspec: declarative model specs for Keras — validate, lint and compile YAML into Keras 3 models."""

from modelspec.diagnostics import Diagnostic, Level, SpecError
from modelspec.loader import ModelSpec, load_spec
# Bound after the import of the modelspec.lint package, so `modelspec.lint` is this function, not the package.
from modelspec.lint.runner import lint

__version__ = "0.1.0"
__all__ = ["Diagnostic", "Level", "ModelSpec", "SpecError", "build_model", "lint", "load_spec"]


def build_model(spec, *, seed=None, weights=None):
    """Build a ``keras.Model`` from a spec (a path, YAML text, dict or loaded spec). Imports TensorFlow."""
    from modelspec.build.keras import build_model as _build

    return _build(spec, seed=seed, weights=weights)
