"""Batch and layer normalisation."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, model_validator

from modelspec.schema.base import NonNegativeFloat, field_error
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


class Normalization(LayerBase):
    """Keras's Normalization layer: fixed per-channel statistics, as constants or as state (see docs)."""

    KERAS_CLASS: ClassVar[str] = "Normalization"
    # Fixed statistics, not the batch's: an affine map with constants, like rescaling. It does not reset the
    # scale of a learned signal the way batch_norm does, so the rules look through it rather than stop at it.
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["normalization"] = Field(
        description="Standardises inputs with fixed statistics: (x - mean) / sqrt(variance) per channel."
    )
    axis: Optional[Union[int, Annotated[list[int], Field(min_length=1)]]] = Field(
        -1,
        description="The axis (or axes) with their own mean and variance; null: one mean and variance for all.",
    )
    mean: Optional[Union[float, Annotated[list[float], Field(min_length=1)]]] = Field(
        None,
        description="The mean: one value, or one per entry of the (last) kept axis. Without mean and variance "
        "the layer holds them as state (non-trainable variables mean, variance and count, as after Keras's "
        "adapt()), to be loaded from `pretrained:` weights.",
    )
    variance: Optional[Union[NonNegativeFloat, Annotated[list[NonNegativeFloat], Field(min_length=1)]]] = Field(
        None, description="The variance, shaped like `mean` (give both or neither)."
    )
    invert: bool = Field(False, description="Apply the inverse: x * sqrt(variance) + mean.")

    @model_validator(mode="after")
    def _both(self):
        if (self.mean is None) != (self.variance is None):
            missing = "variance" if self.variance is None else "mean"
            raise field_error(missing, f"give both mean and variance, or neither (adapted state); {missing} is missing")
        if isinstance(self.mean, list) != isinstance(self.variance, list) or (
            isinstance(self.mean, list) and len(self.mean) != len(self.variance)
        ):
            raise field_error(
                "variance",
                f"variance must have the shape of mean (received: mean {self.mean}, variance {self.variance})",
            )
        return self

    def keeps_zero(self) -> bool:
        """Only with constant zero means (adapted statistics shift by whatever the data's mean is)."""
        means = self.mean if isinstance(self.mean, list) else [self.mean]
        return not self.adapted and all(m == 0 for m in means)

    @property
    def adapted(self) -> bool:
        """Whether the statistics are state variables (loaded from weights) rather than constants."""
        return self.mean is None


NORMALIZATION_LAYERS = (BatchNorm, LayerNorm, Normalization)
