"""Dense, embedding and the shape- or noise-only core layers."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field

from modelspec.schema.base import NonNegativeFloat, PositiveInt, Rate, Seed, StrictModel
from modelspec.schema.initializers import Constraint, Initializer, RandomUniform, Regularizer
from modelspec.schema.layers.base import Activated, Kernel, LayerBase, Role


class Dense(LayerBase, Activated, Kernel):
    KERAS_CLASS: ClassVar[str] = "Dense"
    ROLE: ClassVar[Role] = Role.LINEAR_MAP
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    type: Literal["dense"] = Field(description="Fully connected layer on the last axis.")
    units: PositiveInt = Field(description="Number of output units.", examples=[64])


class ActivationLayer(LayerBase, Activated):
    KERAS_CLASS: ClassVar[str] = "Activation"
    ROLE: ClassVar[Role] = Role.ACTIVATION
    type: Literal["activation"] = Field(description="Applies an activation function.")


class _Noise(StrictModel):
    seed: Optional[Seed] = Field(None, description="Explicit seed; default: derived from the model seed.")


class Dropout(LayerBase, _Noise):
    KERAS_CLASS: ClassVar[str] = "Dropout"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["dropout"] = Field(description="Randomly zeroes a fraction of inputs during training.")
    rate: Rate = Field(description="Fraction of the inputs to drop, in [0, 1).", examples=[0.2])
    noise_shape: Optional[list[Optional[PositiveInt]]] = Field(
        None,
        min_length=1,
        description="Shape of the dropout mask, batch axis first, as in Keras: 1 shares one draw along an axis "
        "(e.g. [null, 1, 1, null] drops whole channels of an image), null takes the input's size; "
        "default: one draw per element.",
    )


class AlphaDropout(LayerBase, _Noise):
    KERAS_CLASS: ClassVar[str] = "AlphaDropout"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["alpha_dropout"] = Field(description="Dropout that keeps SELU's self-normalising property.")
    rate: Rate = Field(description="Fraction of the inputs to drop, in [0, 1).", examples=[0.2])


class GaussianNoise(LayerBase, _Noise):
    KERAS_CLASS: ClassVar[str] = "GaussianNoise"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["gaussian_noise"] = Field(description="Adds zero-centred Gaussian noise during training.")
    stddev: NonNegativeFloat = Field(description="Standard deviation of the noise.", examples=[0.1])


class Flatten(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Flatten"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["flatten"] = Field(description="Flattens every axis but the batch axis.")


class Reshape(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Reshape"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["reshape"] = Field(description="Reshapes the output (batch axis excluded).")
    target_shape: list[int] = Field(
        min_length=1, description="New shape; one entry may be -1 (inferred).", examples=[[-1, 8]]
    )


class Permute(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Permute"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["permute"] = Field(description="Permutes the non-batch axes.")
    dims: list[PositiveInt] = Field(
        min_length=1, description="A permutation of 1..rank (1-based, batch excluded).", examples=[[2, 1]]
    )


class Embedding(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Embedding"
    ROLE: ClassVar[Role] = Role.EMBEDDING
    type: Literal["embedding"] = Field(description="Maps integer token ids to dense vectors.")
    input_dim: PositiveInt = Field(description="Vocabulary size: ids are in [0, input_dim).", examples=[10000])
    output_dim: PositiveInt = Field(description="Size of each embedding vector.", examples=[64])
    embeddings_initializer: Initializer = Field(
        RandomUniform(type="random_uniform"), description="Initializer of the table (Keras default: uniform ±0.05)."
    )
    embeddings_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the table.")
    embeddings_constraint: Optional[Constraint] = Field(None, description="Constraint on the table.")
    mask_zero: bool = Field(False, description="Treat id 0 as padding and mask it.")


PerChannel = Union[float, Annotated[list[float], Field(min_length=1)]]


class Rescaling(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Rescaling"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["rescaling"] = Field(description="Computes inputs * scale + offset.")
    scale: PerChannel = Field(
        description="Multiplier, e.g. 0.00392 (1/255) for pixel values, or one per channel (last axis).",
        examples=[0.00392],
    )
    offset: PerChannel = Field(0.0, description="Added after scaling: one value, or one per channel (last axis).")

    def keeps_zero(self) -> bool:
        values = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
        return all(o == 0 for o in values(self.offset)) and all(s > 0 for s in values(self.scale))

    def maps_range(self, low: float, high: float) -> tuple[float, float]:
        """Where values in [low, high] land: the smallest range holding every channel's ``x * scale + offset``."""
        scales = self.scale if isinstance(self.scale, list) else [self.scale]
        offsets = self.offset if isinstance(self.offset, list) else [self.offset]
        ends = [s * x + o for s in scales for o in offsets for x in (low, high) if not (s == 0 and math.isinf(x))] or [
            0.0
        ]
        return min(ends), max(ends)


class LayerScale(LayerBase):
    KERAS_CLASS: ClassVar[str] = "LayerScale"  # modelspec's own layer (modelspec/runtime/layers.py)
    # Multiplies each channel by its own learned factor: no features are mixed and there are no units to be
    # symmetric, so the analysis and the rules look through it as they do through rescaling.
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["layer_scale"] = Field(
        description="Multiplies each channel by a learned factor that starts at init_value (the layer scale of "
        "CaiT and ConvNeXt blocks: a residual branch starts almost switched off)."
    )
    init_value: float = Field(1e-6, description="Starting value of every channel's factor.")
    axis: int = Field(-1, description="The channel axis (one factor per entry along it).")
    gamma_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the factors.")
    gamma_constraint: Optional[Constraint] = Field(None, description="Constraint on the factors.")

    def keeps_zero(self) -> bool:
        return self.init_value > 0


CORE_LAYERS = (
    Dense,
    ActivationLayer,
    Dropout,
    AlphaDropout,
    GaussianNoise,
    Flatten,
    Reshape,
    Permute,
    Embedding,
    Rescaling,
    LayerScale,
)
