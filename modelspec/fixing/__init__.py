"""`lint --fix`: each rule's fix (fixers.py), minimal text edits at located spans (edits.py, spans.py), and the
engine that applies and checks them (engine.py). Pure Python: never imports TensorFlow or NumPy."""

from modelspec.fixing.engine import AppliedFix, FixResult, SkippedFix, fix
from modelspec.fixing.fixers import APPLICABILITIES, NONE, SAFE, UNSAFE, applicability, describe

__all__ = [
    "APPLICABILITIES",
    "NONE",
    "SAFE",
    "UNSAFE",
    "AppliedFix",
    "FixResult",
    "SkippedFix",
    "applicability",
    "describe",
    "fix",
]
