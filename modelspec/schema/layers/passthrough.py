"""`type: keras`: any allow-listed built-in Keras layer, configured with plain values only."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, field_validator

from modelspec.diagnostics import did_you_mean
from modelspec.schema.layers.base import LayerBase, Role

# Built-in keras.layers classes that neither run user code nor read files, and whose output shape and weights
# modelspec does not model itself. Lambda, TFSMLayer, custom classes and wrappers of other layers are absent
# on purpose. Layers here whose output has the input's shape and that have no weights are analysed exactly;
# the others are opaque to the static analysis (shape and parameter count unknown until Keras builds them).
SHAPE_PRESERVING = frozenset(
    {
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "GaussianDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "ActivityRegularization",
        "Masking",
        "Identity",
        "UnitNormalization",
    }
)
ALLOWED = SHAPE_PRESERVING | frozenset(
    {
        "PReLU",
        "Conv1DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "DepthwiseConv1D",
        "MaxPooling3D",
        "AveragePooling3D",
        "GlobalAveragePooling3D",
        "GlobalMaxPooling3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "ZeroPadding1D",
        "ZeroPadding3D",
        "UpSampling1D",
        "UpSampling3D",
        "RepeatVector",
        "GroupNormalization",
        "Attention",
        "AdditiveAttention",
        "Maximum",
        "Minimum",
        "Dot",
        "Resizing",
        "CenterCrop",
    }
)

# Allowed classes that are plain activations (LeakyReLU is not: its default slope is 0.3, not the 0.2 of
# keras.activations.leaky_relu).
ACTIVATION_CLASSES = {"ReLU": "relu", "ELU": "elu", "Softmax": "softmax"}
# Allowed classes that pass their input on unchanged in a training step, and dropout classes (`rate` in config).
IDENTITY_CLASSES = frozenset({"Identity", "Masking", "ActivityRegularization"})
DROPOUT_CLASSES = frozenset({"GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"})

_SAFE_STRING = re.compile(r"^[A-Za-z0-9_.+-]{0,64}$")
Scalar = Union[bool, int, float, str, None]
ConfigValue = Union[Scalar, list[Union[Scalar, list[Scalar]]]]


class KerasLayer(LayerBase):
    KERAS_CLASS: ClassVar[str] = ""
    ROLE: ClassVar[Role] = Role.OPAQUE
    MAX_INPUTS: ClassVar[Optional[int]] = None
    type: Literal["keras"] = Field(description="Pass an allow-listed built-in keras.layers class through.")
    class_name: str = Field(
        description="The keras.layers class, e.g. LeakyReLU or Cropping2D.",
        examples=["LeakyReLU"],
        json_schema_extra={"enum": sorted(ALLOWED)},
    )
    config: dict[str, Annotated[ConfigValue, Field()]] = Field(
        default_factory=dict, description="Constructor arguments: numbers, booleans, short words and lists."
    )

    def applied_activation(self) -> Optional[str]:
        """The activation of a Keras activation class (ReLU, ELU, Softmax); None for any other class."""
        return ACTIVATION_CLASSES.get(self.class_name)

    @field_validator("class_name")
    @classmethod
    def _allowed(cls, value: str) -> str:
        if value not in ALLOWED:
            raise ValueError(
                f"{value!r} is not an allowed Keras layer{did_you_mean(value, ALLOWED)} "
                "(layers that run code or read files, such as Lambda or TFSMLayer, are never allowed)"
            )
        return value

    @field_validator("config")
    @classmethod
    def _plain(cls, config: dict) -> dict:
        reserved = {"name", "trainable", "dtype", "input_shape", "batch_input_shape"} & set(config)
        if reserved:
            raise ValueError(f"config may not set {sorted(reserved)}: use the layer's own fields")
        for key, value in config.items():
            for item in value if isinstance(value, list) else [value]:
                for leaf in item if isinstance(item, list) else [item]:
                    if isinstance(leaf, str) and not _SAFE_STRING.match(leaf):
                        raise ValueError(
                            f"config.{key}: strings may only hold letters, digits and _.+- "
                            f"(no paths or URLs) (received: {leaf!r})"
                        )
        return config
