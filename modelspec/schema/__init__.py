"""Pydantic models of spec format v1. Pure Python: never imports TensorFlow."""

from modelspec.schema.layers import LAYER_TYPES, Layer
from modelspec.schema.spec import Input, Spec, with_defaults

__all__ = ["LAYER_TYPES", "Input", "Layer", "Spec", "with_defaults"]
