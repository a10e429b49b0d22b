"""Convolution, pooling, padding and up-sampling layers (channels last)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, model_validator

from modelspec.schema.base import IntOrList, NonNegativeInt, PositiveInt, StrictModel, field_error
from modelspec.schema.initializers import Constraint, Initializer, Regularizer
from modelspec.schema.layers.base import AUTO, Activated, Biased, Kernel, LayerBase, Role

Padding = Literal["valid", "same"]


class _Spatial(StrictModel):
    """Checks that every per-axis list has one entry per spatial axis."""

    RANK: ClassVar[int]
    AXIS_FIELDS: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate", "pool_size", "size")

    @model_validator(mode="after")
    def _axes(self):
        for field in self.AXIS_FIELDS:
            value = self.__dict__.get(field)
            if isinstance(value, list) and len(value) != self.RANK:
                raise field_error(
                    field, f"{field} needs {self.RANK} value(s), one per spatial axis (received: {value})"
                )
        return self


class _Window(_Spatial):
    """The sliding window of a convolution."""

    kernel_size: IntOrList = Field(description="Size of the convolution window.", examples=[3])
    strides: IntOrList = Field(1, description="Step of the window.")
    padding: Padding = Field("valid", description="valid (no padding) or same (output size = ceil(input / stride)).")
    dilation_rate: IntOrList = Field(1, description="Spacing between kernel elements.")


class _PlainWindow(_Window):
    """Regular and transposed convolutions: Keras refuses strides and dilation together (depthwise ones don't)."""

    @model_validator(mode="after")
    def _strides_or_dilation(self):
        if _any_above_one(self.strides) and _any_above_one(self.dilation_rate):
            raise field_error(
                "dilation_rate", "strides > 1 cannot be combined with dilation_rate > 1 (Keras refuses it)"
            )
        return self


def _any_above_one(value) -> bool:
    return any(v > 1 for v in value) if isinstance(value, list) else value > 1


class _Conv(LayerBase, Activated, Kernel, _PlainWindow):
    ROLE: ClassVar[Role] = Role.LINEAR_MAP
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    filters: PositiveInt = Field(description="Number of output channels.", examples=[32])
    groups: PositiveInt = Field(1, description="Split channels into this many independent groups.")

    @model_validator(mode="after")
    def _groups(self):
        if self.filters % self.groups:
            raise field_error("groups", f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        return self


class Conv1D(_Conv):
    KERAS_CLASS: ClassVar[str] = "Conv1D"
    RANK: ClassVar[int] = 1
    type: Literal["conv1d"] = Field(description="1-D convolution over (steps, channels).")
    padding: Literal["valid", "same", "causal"] = Field(
        "valid", description="valid, same, or causal (output at t sees only inputs up to t)."
    )


class Conv2D(_Conv):
    KERAS_CLASS: ClassVar[str] = "Conv2D"
    RANK: ClassVar[int] = 2
    type: Literal["conv2d"] = Field(description="2-D convolution over (height, width, channels).")


class Conv3D(_Conv):
    KERAS_CLASS: ClassVar[str] = "Conv3D"
    RANK: ClassVar[int] = 3
    type: Literal["conv3d"] = Field(description="3-D convolution over (depth, height, width, channels).")


class Conv2DTranspose(LayerBase, Activated, Kernel, _PlainWindow):
    KERAS_CLASS: ClassVar[str] = "Conv2DTranspose"
    ROLE: ClassVar[Role] = Role.LINEAR_MAP
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    RANK: ClassVar[int] = 2
    type: Literal["conv2d_transpose"] = Field(description="Transposed 2-D convolution (learned up-sampling).")
    filters: PositiveInt = Field(description="Number of output channels.", examples=[32])
    strides: IntOrList = Field(1, description="Up-sampling factor.")


class _DepthwiseSlots(StrictModel):
    depth_multiplier: PositiveInt = Field(1, description="Output channels per input channel of the depthwise step.")
    depthwise_initializer: Initializer = Field(AUTO, description="Initializer of the depthwise kernel.")
    depthwise_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the depthwise kernel.")
    depthwise_constraint: Optional[Constraint] = Field(None, description="Constraint on the depthwise kernel.")


class SeparableConv2D(LayerBase, Activated, Biased, _DepthwiseSlots, _Window):
    KERAS_CLASS: ClassVar[str] = "SeparableConv2D"
    ROLE: ClassVar[Role] = Role.LINEAR_MAP
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("depthwise_initializer", "pointwise_initializer")
    PER_CHANNEL_SLOTS: ClassVar[tuple[str, ...]] = ("depthwise_initializer",)
    RANK: ClassVar[int] = 2
    type: Literal["separable_conv2d"] = Field(description="Depthwise then pointwise 2-D convolution.")
    filters: PositiveInt = Field(description="Number of output channels.", examples=[32])
    pointwise_initializer: Initializer = Field(AUTO, description="Initializer of the pointwise kernel.")
    pointwise_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the pointwise kernel.")
    pointwise_constraint: Optional[Constraint] = Field(None, description="Constraint on the pointwise kernel.")


class DepthwiseConv2D(LayerBase, Activated, Biased, _DepthwiseSlots, _Window):
    KERAS_CLASS: ClassVar[str] = "DepthwiseConv2D"
    ROLE: ClassVar[Role] = Role.LINEAR_MAP
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("depthwise_initializer",)
    PER_CHANNEL_SLOTS: ClassVar[tuple[str, ...]] = ("depthwise_initializer",)
    RANK: ClassVar[int] = 2
    type: Literal["depthwise_conv2d"] = Field(description="One 2-D filter per input channel.")


class _Pool(LayerBase, _Spatial):
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    pool_size: IntOrList = Field(2, description="Size of the pooling window.")
    strides: Optional[IntOrList] = Field(None, description="Step of the window (default: pool_size).")
    padding: Padding = Field(
        "valid",
        description="valid (windows inside the input only) or same (output size = "
        "ceil(input / stride), zero padding where needed).",
    )


class MaxPool1D(_Pool):
    KERAS_CLASS: ClassVar[str] = "MaxPooling1D"
    RANK: ClassVar[int] = 1
    type: Literal["max_pool1d"] = Field(description="Max over windows of steps.")


class MaxPool2D(_Pool):
    KERAS_CLASS: ClassVar[str] = "MaxPooling2D"
    RANK: ClassVar[int] = 2
    type: Literal["max_pool2d"] = Field(description="Max over 2-D windows.")


class AveragePool1D(_Pool):
    KERAS_CLASS: ClassVar[str] = "AveragePooling1D"
    RANK: ClassVar[int] = 1
    type: Literal["average_pool1d"] = Field(description="Mean over windows of steps.")


class AveragePool2D(_Pool):
    KERAS_CLASS: ClassVar[str] = "AveragePooling2D"
    RANK: ClassVar[int] = 2
    type: Literal["average_pool2d"] = Field(description="Mean over 2-D windows.")


class _GlobalPool(LayerBase):
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    RANK: ClassVar[int]
    keepdims: bool = Field(False, description="Keep the pooled axes with length 1.")


class GlobalAveragePool1D(_GlobalPool):
    KERAS_CLASS: ClassVar[str] = "GlobalAveragePooling1D"
    RANK: ClassVar[int] = 1
    type: Literal["global_average_pool1d"] = Field(description="Mean over all steps.")


class GlobalAveragePool2D(_GlobalPool):
    KERAS_CLASS: ClassVar[str] = "GlobalAveragePooling2D"
    RANK: ClassVar[int] = 2
    type: Literal["global_average_pool2d"] = Field(description="Mean over height and width.")


class GlobalMaxPool1D(_GlobalPool):
    KERAS_CLASS: ClassVar[str] = "GlobalMaxPooling1D"
    RANK: ClassVar[int] = 1
    type: Literal["global_max_pool1d"] = Field(description="Max over all steps.")


class GlobalMaxPool2D(_GlobalPool):
    KERAS_CLASS: ClassVar[str] = "GlobalMaxPooling2D"
    RANK: ClassVar[int] = 2
    type: Literal["global_max_pool2d"] = Field(description="Max over height and width.")


class ZeroPadding2D(LayerBase):
    KERAS_CLASS: ClassVar[str] = "ZeroPadding2D"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    type: Literal["zero_padding2d"] = Field(description="Pads height and width with zeros.")
    padding: Union[NonNegativeInt, list[NonNegativeInt], list[list[NonNegativeInt]]] = Field(
        1, description="n (all sides), [rows, cols] (symmetric), or [[top, bottom], [left, right]]."
    )

    @model_validator(mode="after")
    def _form(self):
        value = self.padding
        ok = isinstance(value, int) or (
            len(value) == 2
            and (all(isinstance(v, int) for v in value) or all(isinstance(v, list) and len(v) == 2 for v in value))
        )
        if not ok:
            raise field_error(
                "padding", f"padding must be n, [rows, cols] or [[top, bottom], [left, right]] (received: {value})"
            )
        return self

    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Return ((top, bottom), (left, right))."""
        value = self.padding
        if isinstance(value, int):
            return (value, value), (value, value)
        if isinstance(value[0], int):
            return (value[0], value[0]), (value[1], value[1])
        return tuple(value[0]), tuple(value[1])


Crop = Union[NonNegativeInt, Annotated[list[NonNegativeInt], Field(min_length=2, max_length=2)]]


class _Cropping(LayerBase):
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    RANK: ClassVar[int]

    def crops(self) -> tuple[tuple[int, int], ...]:
        """Return ((before, after), ...) for each spatial axis."""
        value = self.cropping
        if isinstance(value, int):
            return ((value, value),) * self.RANK
        if self.RANK == 1:
            return (tuple(value),)
        return tuple((v, v) if isinstance(v, int) else tuple(v) for v in value)


class Cropping1D(_Cropping):
    KERAS_CLASS: ClassVar[str] = "Cropping1D"
    RANK: ClassVar[int] = 1
    type: Literal["cropping1d"] = Field(description="Removes steps from the start and the end of a sequence.")
    cropping: Union[NonNegativeInt, Annotated[list[NonNegativeInt], Field(min_length=2, max_length=2)]] = Field(
        [1, 1], description="n (both ends) or [start, end]: how many steps to remove."
    )


class Cropping2D(_Cropping):
    KERAS_CLASS: ClassVar[str] = "Cropping2D"
    RANK: ClassVar[int] = 2
    type: Literal["cropping2d"] = Field(description="Removes rows and columns at the borders of an image.")
    cropping: Union[NonNegativeInt, Annotated[list[Crop], Field(min_length=2, max_length=2)]] = Field(
        0,
        description="n (all sides), [rows, cols] (symmetric), or [[top, bottom], [left, right]]: how many to remove.",
    )


class Cropping3D(_Cropping):
    KERAS_CLASS: ClassVar[str] = "Cropping3D"
    RANK: ClassVar[int] = 3
    type: Literal["cropping3d"] = Field(description="Removes borders of a volume along its three spatial axes.")
    cropping: Union[NonNegativeInt, Annotated[list[Crop], Field(min_length=3, max_length=3)]] = Field(
        1, description="n (all sides), [d1, d2, d3] (symmetric), or [[before, after], ...] per spatial axis."
    )


class UpSampling2D(LayerBase, _Spatial):
    KERAS_CLASS: ClassVar[str] = "UpSampling2D"
    ROLE: ClassVar[Role] = Role.PASS_THROUGH
    RANK: ClassVar[int] = 2
    type: Literal["up_sampling2d"] = Field(description="Repeats rows and columns.")
    size: IntOrList = Field(2, description="Up-sampling factor for rows and columns.")
    interpolation: Literal["nearest", "bilinear"] = Field("nearest", description="How new pixels are filled.")


CONV_LAYERS = (
    Conv1D,
    Conv2D,
    Conv3D,
    Conv2DTranspose,
    SeparableConv2D,
    DepthwiseConv2D,
    MaxPool1D,
    MaxPool2D,
    AveragePool1D,
    AveragePool2D,
    GlobalAveragePool1D,
    GlobalAveragePool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    ZeroPadding2D,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling2D,
)
