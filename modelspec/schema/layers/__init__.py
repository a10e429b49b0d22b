"""Every layer type of spec format v1, as one discriminated union."""

from __future__ import annotations

from modelspec.schema.base import tagged_union, type_name
from modelspec.schema.layers.attention import MultiHeadAttention
from modelspec.schema.layers.base import LayerBase
from modelspec.schema.layers.conv import CONV_LAYERS
from modelspec.schema.layers.core import CORE_LAYERS
from modelspec.schema.layers.merge import MERGE_LAYERS
from modelspec.schema.layers.normalization import NORMALIZATION_LAYERS
from modelspec.schema.layers.passthrough import KerasLayer
from modelspec.schema.layers.recurrent import RECURRENT_LAYERS

LAYER_MODELS: tuple[type[LayerBase], ...] = (
    *CORE_LAYERS,
    *CONV_LAYERS,
    *NORMALIZATION_LAYERS,
    *RECURRENT_LAYERS,
    MultiHeadAttention,
    *MERGE_LAYERS,
    KerasLayer,
)
LAYER_TYPES: dict[str, type[LayerBase]] = {type_name(model): model for model in LAYER_MODELS}
# Keras class names (snake-cased) that differ from the spec's type names.
LAYER_ALIASES = {
    **{model.KERAS_CLASS.lower(): name for name, model in LAYER_TYPES.items() if model.KERAS_CLASS},
    "batch_normalization": "batch_norm",
    "layer_normalization": "layer_norm",
    "max_pooling1d": "max_pool1d",
    "max_pooling2d": "max_pool2d",
    "average_pooling1d": "average_pool1d",
    "average_pooling2d": "average_pool2d",
    "global_average_pooling1d": "global_average_pool1d",
    "global_average_pooling2d": "global_average_pool2d",
    "global_max_pooling1d": "global_max_pool1d",
    "global_max_pooling2d": "global_max_pool2d",
    "conv2dtranspose": "conv2d_transpose",
    "separableconv2d": "separable_conv2d",
    "depthwiseconv2d": "depthwise_conv2d",
    "simplernn": "simple_rnn",
    "mha": "multi_head_attention",
}


Layer = tagged_union(
    "Layer",
    LAYER_MODELS,
    "layer type",
    aliases=LAYER_ALIASES,
    shorthand=False,
    description="A layer: `type:` and that type's fields.",
)
