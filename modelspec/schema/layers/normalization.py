"""Batch and layer normalisation."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from modelspec.schema.initializers import Initializer
from modelspec.schema.layers.base import ONES, ZEROS, LayerBase, Normalized, Role


class BatchNorm(LayerBase, Normalized):
    KERAS_CLASS: ClassVar[str] = "BatchNormalization"
    ROLE: ClassVar[Role] = Role.NORMALISER
    type: Literal["batch_norm"] = Field(description="Normalises each feature over the batch.")
    momentum: float = Field(0.99, ge=0, le=1, description="Momentum of the moving mean and variance.")
    moving_mean_initializer: Initializer = Field(ZEROS, description="Initializer of the moving mean.")
    moving_variance_initializer: Initializer = Field(ONES, description="Initializer of the moving variance.")


class LayerNorm(LayerBase, Normalized):
    KERAS_CLASS: ClassVar[str] = "LayerNormalization"
    ROLE: ClassVar[Role] = Role.NORMALISER
    type: Literal["layer_norm"] = Field(description="Normalises each example over its features.")


NORMALIZATION_LAYERS = (BatchNorm, LayerNorm)
