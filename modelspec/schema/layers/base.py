"""Fields shared by layer types: the layer base and the weighted-layer slots."""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import Field

from modelspec.schema.activations import ActivationName
from modelspec.schema.base import Name, StrictModel
from modelspec.schema.initializers import Auto, Constraint, Initializer, Ones, Regularizer, Zeros

AUTO = Auto(type="auto")
ZEROS = Zeros(type="zeros")
ONES = Ones(type="ones")


class LayerBase(StrictModel):
    """Fields every layer has."""

    KERAS_CLASS: ClassVar[str]
    MIN_INPUTS: ClassVar[int] = 1
    MAX_INPUTS: ClassVar[Optional[int]] = 1

    name: Optional[Name] = Field(None, description="Layer name; unnamed layers are named `type`, `type_1`, ...")
    inputs: Optional[list[Name]] = Field(
        None, min_length=1, description="Names of the layers or inputs feeding this layer; default: the previous one.")
    trainable: bool = Field(True, description="false freezes the layer's weights.")


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
