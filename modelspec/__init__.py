"""modelspec: declarative model specs for Keras — validate, lint and compile YAML into Keras 3 models."""

from modelspec.diagnostics import Diagnostic, Level, SpecError
from modelspec.loader import ModelSpec, load_spec
from modelspec.linter.runner import lint

__version__ = "0.1.0"
__all__ = ["Diagnostic", "Level", "ModelSpec", "SpecError", "build_model", "lint", "load_spec"]


def build_model(spec, *, seed=None, weights=None):
    """Build a ``keras.Model`` from a spec (a path, YAML text, dict or loaded spec). Imports TensorFlow."""
    from modelspec.runtime.builder import build_model as _build

    return _build(spec, seed=seed, weights=weights)
