"""modelspec: declarative model specs for Keras — validate, lint and compile YAML into Keras 3 models."""

from modelspec.diagnostics import Diagnostic, Level
from modelspec.errors import DataError, LintFailure, ModelspecError, SpecError, WeightsError
from modelspec.experiments import compare, probe
from modelspec.linter.runner import lint
from modelspec.loader import ModelSpec, load_spec
from modelspec.pipeline import build_model
from modelspec.trainer import evaluate, train

__version__ = "0.1.0"
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
    "lint",
    "load_spec",
    "probe",
    "train",
]
