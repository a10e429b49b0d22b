"""Static shape inference: output shapes, every weight variable (so parameter counts and fans) per layer.

Shapes exclude the batch axis; ``None`` in a shape is a dimension of unknown length, and a whole shape of
``None`` means the analysis cannot know it (an opaque ``type: keras`` layer, or a layer that already failed).
Every rule here mirrors what Keras 3 computes; the tests compare both for every layer type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from modelspec.schema.layers.passthrough import SHAPE_PRESERVING

Shape = tuple[Optional[int], ...]


class ShapeError(ValueError):
    """A layer cannot accept its input shape."""


@dataclass(frozen=True)
class VariableInfo:
    """One weight variable of a layer, named as Keras names it below the layer (``kernel``, ``query/bias``)."""

    name: str
    shape: tuple[int, ...]
    slot: Optional[str]  # the spec field holding its initializer, e.g. "kernel_initializer"
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return (fan_in, fan_out) exactly as Keras's initializers compute them."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


# --- helpers ----------------------------------------------------------------------------------------------


def per_axis(value, rank: int) -> tuple[int, ...]:
    """One value per spatial axis, from a single value or a list."""
    return tuple(value) if isinstance(value, list) else (value,) * rank


def _rank(layer, shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(
            f"{layer.type} expects inputs of rank {rank} ({what}), batch axis excluded (received shape: {_show(shape)})"
        )


def _known(layer, dim: Optional[int], what: str) -> int:
    if dim is None:
        raise ShapeError(f"{layer.type} needs a known {what} (received: None)")
    return dim


def _show(shape: Optional[Shape]) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _window(layer, length: Optional[int], kernel: int, stride: int, dilation: int, padding: str) -> Optional[int]:
    """Output length of a convolution or pooling window along one axis (Keras's conv_output_length)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        out = (length - effective) // stride + 1
    else:  # same, causal
        out = (length - 1) // stride + 1
    if out <= 0:
        raise ShapeError(
            f"window of size {effective} does not fit an input of length {length} "
            f"with padding '{padding}' (output length would be {out})"
        )
    return out


def _bias(layer, units: int, slot: str = "bias_initializer") -> list[VariableInfo]:
    return [VariableInfo("bias", (units,), slot)] if layer.use_bias else []


# --- rules: each returns (output shape, variables) --------------------------------------------------------


def _dense(layer, shapes):
    (shape,) = shapes
    if len(shape) < 1:
        raise ShapeError("dense needs inputs with at least one axis")
    last = _known(layer, shape[-1], "last dimension")
    return shape[:-1] + (layer.units,), [
        VariableInfo("kernel", (last, layer.units), "kernel_initializer"),
        *_bias(layer, layer.units),
    ]


def _identity(layer, shapes):
    return shapes[0], []


def _flatten(layer, shapes):
    (shape,) = shapes
    if len(shape) <= 1:
        return shape, []
    return (None if None in shape else math.prod(shape),), []


def _reshape(layer, shapes):
    (shape,) = shapes
    target = list(layer.target_shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(f"target_shape may hold positive sizes and at most one -1 (received: {target})")
    if None in shape:
        return tuple(None if d == -1 else d for d in target), []
    total, known = math.prod(shape), math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ShapeError(f"cannot reshape {_show(shape)} ({total} values) to {target}")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(f"cannot reshape {_show(shape)} ({total} values) to {_show(tuple(target))} ({known} values)")
    return tuple(target), []


def _permute(layer, shapes):
    (shape,) = shapes
    if sorted(layer.dims) != list(range(1, len(shape) + 1)):
        raise ShapeError(
            f"dims must be a permutation of 1..{len(shape)} for input shape {_show(shape)} (received: {layer.dims})"
        )
    return tuple(shape[d - 1] for d in layer.dims), []


def _embedding(layer, shapes):
    (shape,) = shapes
    return shape + (layer.output_dim,), [
        VariableInfo("embeddings", (layer.input_dim, layer.output_dim), "embeddings_initializer")
    ]


def _conv(layer, shapes):
    (shape,) = shapes
    rank = layer.RANK
    _rank(layer, shape, rank + 1, "spatial axes then channels")
    channels = _known(layer, shape[-1], "channel dimension")
    if channels % layer.groups:
        raise ShapeError(f"input channels ({channels}) must be divisible by groups ({layer.groups})")
    kernel = per_axis(layer.kernel_size, rank)
    strides, dilation = per_axis(layer.strides, rank), per_axis(layer.dilation_rate, rank)
    spatial = tuple(_window(layer, n, k, s, d, layer.padding) for n, k, s, d in zip(shape, kernel, strides, dilation))
    return spatial + (layer.filters,), [
        VariableInfo("kernel", kernel + (channels // layer.groups, layer.filters), "kernel_initializer"),
        *_bias(layer, layer.filters),
    ]


def _conv_transpose(layer, shapes):
    (shape,) = shapes
    _rank(layer, shape, 3, "height, width, channels")
    channels = _known(layer, shape[-1], "channel dimension")
    kernel = per_axis(layer.kernel_size, 2)
    strides, dilation = per_axis(layer.strides, 2), per_axis(layer.dilation_rate, 2)
    spatial = []
    for n, k, s, d in zip(shape, kernel, strides, dilation):
        effective = (k - 1) * d + 1
        if n is None:
            spatial.append(None)
        elif layer.padding == "valid":
            spatial.append(n * s + max(effective - s, 0))
        else:
            spatial.append(n * s)
    return tuple(spatial) + (layer.filters,), [
        VariableInfo("kernel", kernel + (layer.filters, channels), "kernel_initializer"),
        *_bias(layer, layer.filters),
    ]


def _depthwise_out(layer, shape):
    _rank(layer, shape, 3, "height, width, channels")
    channels = _known(layer, shape[-1], "channel dimension")
    kernel = per_axis(layer.kernel_size, 2)
    strides, dilation = per_axis(layer.strides, 2), per_axis(layer.dilation_rate, 2)
    spatial = tuple(_window(layer, n, k, s, d, layer.padding) for n, k, s, d in zip(shape, kernel, strides, dilation))
    return spatial, kernel, channels


def _separable(layer, shapes):
    spatial, kernel, channels = _depthwise_out(layer, shapes[0])
    dm = layer.depth_multiplier
    return spatial + (layer.filters,), [
        VariableInfo("depthwise_kernel", kernel + (channels, dm), "depthwise_initializer"),
        VariableInfo("pointwise_kernel", (1, 1, channels * dm, layer.filters), "pointwise_initializer"),
        *_bias(layer, layer.filters),
    ]


def _depthwise(layer, shapes):
    spatial, kernel, channels = _depthwise_out(layer, shapes[0])
    dm = layer.depth_multiplier
    return spatial + (channels * dm,), [
        VariableInfo("kernel", kernel + (channels, dm), "depthwise_initializer"),
        *_bias(layer, channels * dm),
    ]


def _pool(layer, shapes):
    (shape,) = shapes
    rank = layer.RANK
    _rank(layer, shape, rank + 1, "spatial axes then channels")
    pool = per_axis(layer.pool_size, rank)
    strides = per_axis(layer.strides, rank) if layer.strides is not None else pool
    spatial = tuple(_window(layer, n, p, s, 1, layer.padding) for n, p, s in zip(shape, pool, strides))
    return spatial + (shape[-1],), []


def _global_pool(layer, shapes):
    (shape,) = shapes
    _rank(layer, shape, layer.RANK + 1, "spatial axes then channels")
    return ((1,) * layer.RANK + (shape[-1],) if layer.keepdims else (shape[-1],)), []


def _zero_padding(layer, shapes):
    (shape,) = shapes
    _rank(layer, shape, 3, "height, width, channels")
    (top, bottom), (left, right) = layer.pads()
    grow = lambda n, extra: None if n is None else n + extra  # noqa: E731
    return (grow(shape[0], top + bottom), grow(shape[1], left + right), shape[2]), []


def _up_sampling(layer, shapes):
    (shape,) = shapes
    _rank(layer, shape, 3, "height, width, channels")
    rows, cols = per_axis(layer.size, 2)
    return (None if shape[0] is None else shape[0] * rows, None if shape[1] is None else shape[1] * cols, shape[2]), []


def _normalized(layer, shape) -> int:
    if not -len(shape) <= layer.axis < len(shape) + 1 or layer.axis == 0:
        raise ShapeError(f"axis {layer.axis} is out of range for input shape {_show(shape)} (0 is the batch axis)")
    axis = layer.axis - 1 if layer.axis > 0 else layer.axis
    return _known(layer, shape[axis], f"size along axis {layer.axis}")


def _batch_norm(layer, shapes):
    size = _normalized(layer, shapes[0])
    variables = []
    if layer.scale:
        variables.append(VariableInfo("gamma", (size,), "gamma_initializer"))
    if layer.center:
        variables.append(VariableInfo("beta", (size,), "beta_initializer"))
    variables += [
        VariableInfo("moving_mean", (size,), "moving_mean_initializer", trainable=False),
        VariableInfo("moving_variance", (size,), "moving_variance_initializer", trainable=False),
    ]
    return shapes[0], variables


def _layer_norm(layer, shapes):
    size = _normalized(layer, shapes[0])
    variables = []
    if layer.scale:
        variables.append(VariableInfo("gamma", (size,), "gamma_initializer"))
    if layer.center:
        variables.append(VariableInfo("beta", (size,), "beta_initializer"))
    return shapes[0], variables


def _kept_axes(layer, shape) -> list[int]:
    """The 0-based (batch excluded) axes a normalization or layer_scale keeps, refusing the batch axis."""
    axes = layer.axis if isinstance(layer.axis, list) else [] if layer.axis is None else [layer.axis]
    kept = []
    for axis in axes:
        if axis == 0 or not -len(shape) <= axis <= len(shape):
            raise ShapeError(f"axis {axis} is out of range for input shape {_show(shape)} (0 is the batch axis)")
        kept.append(axis - 1 if axis > 0 else len(shape) + axis)
    return sorted(kept)


def _per_channel(layer, field: str, value, size: int) -> None:
    if isinstance(value, list) and len(value) != size:
        raise ShapeError(f"{field} needs one value per channel: {size} here (received: {len(value)} values)")


def _normalization(layer, shapes):
    (shape,) = shapes
    kept = [_known(layer, shape[axis], f"size along axis {axis + 1}") for axis in _kept_axes(layer, shape)]
    if not layer.adapted:
        if isinstance(layer.mean, list):
            if not kept:
                raise ShapeError(f"axis null takes one mean and variance (received: {len(layer.mean)} values)")
            _per_channel(layer, "mean", layer.mean, kept[-1])
        return shape, []
    size = tuple(kept)
    return shape, [
        VariableInfo("mean", size, None, trainable=False),
        VariableInfo("variance", size, None, trainable=False),
        VariableInfo("count", (), None, trainable=False),
    ]


def _layer_scale(layer, shapes):
    (shape,) = shapes
    (axis,) = _kept_axes(layer, shape)
    size = _known(layer, shape[axis], f"size along axis {layer.axis}")
    return shape, [VariableInfo("gamma", (size,), None)]


def _rescaling(layer, shapes):
    (shape,) = shapes
    for field in ("scale", "offset"):
        value = getattr(layer, field)
        if isinstance(value, list):
            if not shape:
                raise ShapeError(f"{field} per channel needs inputs with a channel axis")
            _per_channel(layer, field, value, _known(layer, shape[-1], "channel dimension"))
    return shape, []


def _dropout(layer, shapes):
    (shape,) = shapes
    noise = layer.noise_shape
    if noise is not None:
        full = (None,) + tuple(shape)
        bad = len(noise) != len(full) or any(n not in (None, 1, d) and d is not None for n, d in zip(noise, full))
        if bad:
            written = ", ".join("null" if n is None else str(n) for n in noise)
            raise ShapeError(
                f"noise_shape must have one entry per axis, batch axis first, each null, 1 or the input's size: "
                f"input shape {show_shape(shape)} (received: [{written}])"
            )
    return shape, []


def _cropping(layer, shapes):
    (shape,) = shapes
    rank = layer.RANK
    _rank(layer, shape, rank + 1, "spatial axes then channels")
    out = []
    for length, (before, after) in zip(shape, layer.crops()):
        if length is not None and length - before - after <= 0:
            raise ShapeError(
                f"cropping {before} + {after} leaves nothing of an axis of length {length} (input shape {_show(shape)})"
            )
        out.append(None if length is None else length - before - after)
    return tuple(out) + (shape[-1],), []


def _cell_variables(layer, features: int, prefix: str = "") -> list[VariableInfo]:
    units, gates = layer.units, layer.GATES
    variables = [
        VariableInfo(prefix + "kernel", (features, gates * units), "kernel_initializer"),
        VariableInfo(prefix + "recurrent_kernel", (units, gates * units), "recurrent_initializer"),
    ]
    if layer.use_bias:
        shape = (2, gates * units) if getattr(layer, "reset_after", False) else (gates * units,)
        variables.append(VariableInfo(prefix + "bias", shape, "bias_initializer"))
    return variables


def _recurrent_shape(layer, shape, units: int) -> Shape:
    _rank(layer, shape, 2, "timesteps, features")
    return (shape[0], units) if layer.return_sequences else (units,)


def _recurrent(layer, shapes):
    (shape,) = shapes
    out = _recurrent_shape(layer, shape, layer.units)
    return out, _cell_variables(layer, _known(layer, shape[-1], "feature dimension"))


def _bidirectional(layer, shapes):
    (shape,) = shapes
    inner = layer.layer
    units = inner.units * 2 if layer.merge_mode == "concat" else inner.units
    if layer.merge_mode is None:
        raise ShapeError("merge_mode null returns two outputs, which a spec cannot wire; use concat, sum, mul or ave")
    out = _recurrent_shape(inner, shape, units)
    features = _known(inner, shape[-1], "feature dimension")
    return out, _cell_variables(inner, features, "forward/") + _cell_variables(inner, features, "backward/")


def _attention(layer, shapes):
    query = shapes[0]
    value = shapes[1] if len(shapes) > 1 else query
    key = shapes[2] if len(shapes) > 2 else value
    for role, shape in (("query", query), ("value", value), ("key", key)):
        if len(shape) < 2:
            raise ShapeError(f"{role} must have a sequence axis and a feature axis (received shape: {_show(shape)})")
    if value[:-1] != key[:-1]:
        raise ShapeError(
            f"value and key must have the same shape except for the last axis (received shapes: "
            f"value {_show(value)}, key {_show(key)})"
        )
    dq, dv, dk = (
        _known(layer, s[-1], f"{r} feature dimension") for s, r in ((query, "query"), (value, "value"), (key, "key"))
    )
    heads, key_dim = layer.num_heads, layer.key_dim
    value_dim = layer.value_dim or key_dim
    out = layer.output_shape or dq
    variables = []
    for name, features, dim in (("query", dq, key_dim), ("key", dk, key_dim), ("value", dv, value_dim)):
        variables.append(VariableInfo(f"{name}/kernel", (features, heads, dim), "kernel_initializer"))
        if layer.use_bias:
            variables.append(VariableInfo(f"{name}/bias", (heads, dim), "bias_initializer"))
    variables.append(VariableInfo("attention_output/kernel", (heads, value_dim, out), "kernel_initializer"))
    if layer.use_bias:
        variables.append(VariableInfo("attention_output/bias", (out,), "bias_initializer"))
    return query[:-1] + (out,), variables


def _elementwise(layer, shapes):
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise ShapeError(
            f"{layer.type} needs inputs of the same rank (received shapes: {', '.join(_show(s) for s in shapes)})"
        )
    out = []
    for dims in zip(*shapes):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise ShapeError(
                f"{layer.type} needs inputs of the same shape (received shapes: {', '.join(_show(s) for s in shapes)})"
            )
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out), []


def _concatenate(layer, shapes):
    rank = len(shapes[0])
    axis = layer.axis - 1 if layer.axis > 0 else rank + layer.axis
    if layer.axis == 0 or not 0 <= axis < rank:
        raise ShapeError(f"axis {layer.axis} is out of range for inputs of rank {rank} (0 is the batch axis)")
    if any(len(s) != rank for s in shapes):
        raise ShapeError(
            f"concatenate needs inputs of the same rank (received shapes: {', '.join(_show(s) for s in shapes)})"
        )
    out = []
    for i, dims in enumerate(zip(*shapes)):
        if i == axis:
            out.append(None if None in dims else sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ShapeError(
                f"concatenate on axis {layer.axis} needs the other axes to match (received shapes: "
                f"{', '.join(_show(s) for s in shapes)})"
            )
        out.append(known.pop() if known else None)
    return tuple(out), []


def _passthrough(layer, shapes):
    if layer.class_name in SHAPE_PRESERVING and len(shapes) == 1:
        return shapes[0], []
    return None, None


RULES: dict[str, Callable[[Any, list[Shape]], tuple[Optional[Shape], Optional[list[VariableInfo]]]]] = {
    "dense": _dense,
    "activation": _identity,
    "dropout": _dropout,
    "alpha_dropout": _identity,
    "gaussian_noise": _identity,
    "rescaling": _rescaling,
    "layer_scale": _layer_scale,
    "normalization": _normalization,
    "cropping1d": _cropping,
    "cropping2d": _cropping,
    "cropping3d": _cropping,
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _permute,
    "embedding": _embedding,
    "conv1d": _conv,
    "conv2d": _conv,
    "conv3d": _conv,
    "conv2d_transpose": _conv_transpose,
    "separable_conv2d": _separable,
    "depthwise_conv2d": _depthwise,
    "max_pool1d": _pool,
    "max_pool2d": _pool,
    "average_pool1d": _pool,
    "average_pool2d": _pool,
    "global_average_pool1d": _global_pool,
    "global_average_pool2d": _global_pool,
    "global_max_pool1d": _global_pool,
    "global_max_pool2d": _global_pool,
    "zero_padding2d": _zero_padding,
    "up_sampling2d": _up_sampling,
    "batch_norm": _batch_norm,
    "layer_norm": _layer_norm,
    "lstm": _recurrent,
    "gru": _recurrent,
    "simple_rnn": _recurrent,
    "bidirectional": _bidirectional,
    "multi_head_attention": _attention,
    "add": _elementwise,
    "multiply": _elementwise,
    "average": _elementwise,
    "subtract": _elementwise,
    "concatenate": _concatenate,
    "keras": _passthrough,
}


def infer(layer, input_shapes: list[Optional[Shape]]) -> tuple[Optional[Shape], Optional[list[VariableInfo]]]:
    """Return the layer's output shape and its variables; ``(None, None)`` when an input shape is unknown."""
    if any(shape is None for shape in input_shapes):
        return None, None
    shape, variables = RULES[layer.type](layer, input_shapes)
    if variables is not None and layer.frozen:
        variables = [VariableInfo(v.name, v.shape, v.slot, trainable=False) for v in variables]
    return shape, variables


def show_shape(shape: Optional[Shape]) -> str:
    """Render a shape the way Keras's summary does, with the batch axis: ``(None, 28, 28, 1)``."""
    return "?" if shape is None else _show((None,) + tuple(shape))
