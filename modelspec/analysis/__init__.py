"""Static analysis of a validated spec. Pure Python: never imports TensorFlow."""

from modelspec.analysis.graph import Analysis, InputInfo, LayerInfo, analyse
from modelspec.analysis.shapes import VariableInfo, compute_fans, show_shape

__all__ = ["Analysis", "InputInfo", "LayerInfo", "VariableInfo", "analyse", "compute_fans", "show_shape"]
