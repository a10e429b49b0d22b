"""Fields shared by layer types: the layer base and the weighted-layer slots."""

from __future__ import annotations

import enum
from typing import ClassVar, Optional

from pydantic import Field

from modelspec.schema.activations import ActivationName
from modelspec.schema.base import Name, StrictModel
from modelspec.schema.initializers import Auto, Constraint, Initializer, Ones, Regularizer, Zeros

AUTO = Auto(type="auto")
ZEROS = Zeros(type="zeros")
ONES = Ones(type="ones")


class Role(str, enum.Enum):
    """What a layer does to the values that flow through it: the one answer the analysis, the lint rules, the
    builder and the summary share."""

    LINEAR_MAP = "linear_map"  # a weighted linear map of its input: dense and the convolutions
    RECURRENT = "recurrent"  # lstm, gru, simple_rnn, and bidirectional around one of them
    ATTENTION = "attention"  # weighted projections mixed by attention
    EMBEDDING = "embedding"  # a lookup table: a signal starts there rather than passing through
    ACTIVATION = "activation"  # an element-wise non-linearity without weights
    PASS_THROUGH = "pass_through"  # no weights and no non-linearity: shape, noise, pooling, padding, rescaling
    NORMALISER = "normaliser"  # resets the scale of its input (batch and layer normalisation)
    MERGE = "merge"  # combines several inputs element-wise or by concatenation
    OPAQUE = "opaque"  # `type: keras`: what it computes is Keras's business, unknown to the analysis

    def __str__(self) -> str:
        return self.value


class LayerBase(StrictModel):
    """Fields every layer has, and the facts (class attributes) that say what a layer type is."""

    KERAS_CLASS: ClassVar[str]
    ROLE: ClassVar[Role]
    # The initializer fields whose weights multiply the layer's input (the ones the initialization rules judge
    # and `auto` chooses for from the activation the layer feeds), on the layer that holds them (``core``).
    # Set in the concrete classes: a mixin's value would be hidden by this default, which comes first.
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ()
    # The kernel slots whose every output sums a window of one input channel only (depthwise kernels). No two
    # outputs share their inputs, so a constant start breaks no symmetry; and Keras's fan_in for them (window ×
    # channels) is not what an output sums (the window), so He and Glorot both shrink the signal about C-fold
    # there and `auto` scales by the window instead (docs/signal.md).
    PER_CHANNEL_SLOTS: ClassVar[tuple[str, ...]] = ()
    # A wrapper's field holding the layer that owns the weights' settings (bidirectional: `layer`).
    CORE_FIELD: ClassVar[Optional[str]] = None
    MIN_INPUTS: ClassVar[int] = 1
    MAX_INPUTS: ClassVar[Optional[int]] = 1

    name: Optional[Name] = Field(None, description="Layer name; unnamed layers are named `type`, `type_1`, ...")
    inputs: Optional[list[Name]] = Field(
        None, min_length=1, description="Names of the layers or inputs feeding this layer; default: the previous one."
    )
    trainable: bool = Field(True, description="false freezes the layer's weights.")

    @property
    def core(self) -> LayerBase:
        """The layer whose fields configure the weights: this one, or the layer a wrapper runs."""
        return getattr(self, self.CORE_FIELD) if self.CORE_FIELD else self

    @property
    def frozen(self) -> bool:
        """Whether the weights are frozen (`trainable: false` on the layer, or on the layer a wrapper runs)."""
        return not (self.trainable and self.core.trainable)

    def applied_activation(self) -> Optional[str]:
        """The activation the layer applies itself (linear when it has none); None when unknown (opaque)."""
        return getattr(self.core, "activation", "linear")

    def keeps_zero(self) -> bool:
        """Whether the layer maps 0 to 0 and keeps signs: an activation after it then bends the same values at
        the same place, so `auto` and the rules may look through it to that activation. A shift does not
        (relu6(x + 3) / 6 is MobileNetV3's hard sigmoid, not a ReLU)."""
        return True


class Activated(StrictModel):
    activation: ActivationName = Field("linear", description="Activation applied to the layer's output.")


class Biased(StrictModel):
    """A weighted layer with an optional bias."""

    use_bias: bool = Field(True, description="Whether the layer adds a bias vector.")
    bias_initializer: Initializer = Field(ZEROS, description="Initializer of the bias (default: zeros).")
    bias_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the bias.")
    activity_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the layer's output.")
    bias_constraint: Optional[Constraint] = Field(None, description="Constraint on the bias.")


class Kernel(Biased):
    """A weighted layer with a kernel and an optional bias."""

    kernel_initializer: Initializer = Field(AUTO, description="Initializer of the kernel (default: auto).")
    kernel_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the kernel.")
    kernel_constraint: Optional[Constraint] = Field(None, description="Constraint on the kernel.")


class Normalized(StrictModel):
    """The gamma/beta slots of normalisation layers."""

    axis: int = Field(-1, description="The feature axis to normalise.")
    epsilon: float = Field(1e-3, gt=0, description="Small float added to the variance.")
    center: bool = Field(True, description="Whether to add a learned offset (beta).")
    scale: bool = Field(True, description="Whether to multiply by a learned scale (gamma).")
    beta_initializer: Initializer = Field(ZEROS, description="Initializer of beta.")
    gamma_initializer: Initializer = Field(ONES, description="Initializer of gamma.")
    beta_regularizer: Optional[Regularizer] = Field(None, description="Penalty on beta.")
    gamma_regularizer: Optional[Regularizer] = Field(None, description="Penalty on gamma.")
    beta_constraint: Optional[Constraint] = Field(None, description="Constraint on beta.")
    gamma_constraint: Optional[Constraint] = Field(None, description="Constraint on gamma.")
