"""Effective fan-in: how many input terms one output of a weighted layer really sums.

Keras's ``fan_in`` (``compute_fans`` in shapes.py, what ``variance_scaling`` divides by) counts a kernel's
weights; the effective fan-in counts what an output adds up, with zero padding and strides taken into account.
They differ for depthwise and transposed convolutions (docs/signal.md). The signal analysis and the lint rules
use it. Pure Python: never imports TensorFlow.
"""

from __future__ import annotations

import math
from typing import Optional

from modelspec.analysis.graph import LayerInfo
from modelspec.analysis.shapes import per_axis
from modelspec.schema.layers.base import Role


def _coverage(length: Optional[int], kernel: int, stride: int, dilation: int, padding: str) -> float:
    """The mean fraction of a window's taps that fall inside the input (zero padding adds nothing)."""
    if padding == "valid" or length is None:
        return 1.0
    span = (kernel - 1) * dilation + 1
    out = (length - 1) // stride + 1
    if padding == "causal":
        before = span - 1
    else:
        before = max((out - 1) * stride + span - length, 0) // 2
    inside = 0
    for i in range(out):
        start = i * stride - before
        inside += sum(1 for j in range(kernel) if 0 <= start + j * dilation < length)
    return inside / (out * kernel)


def _window_fan_in(spec, shape: tuple, rank: int) -> float:
    kernel = per_axis(spec.kernel_size, rank)
    strides, dilation = per_axis(spec.strides, rank), per_axis(spec.dilation_rate, rank)
    covered = 1.0
    for length, k, s, d in zip(shape[:rank], kernel, strides, dilation):
        covered *= _coverage(length, k, s, d, spec.padding)
    return math.prod(kernel) * covered


def effective_fan_in(info: LayerInfo, slot: str) -> Optional[float]:
    """How many input terms one output of ``slot``'s kernel really sums (zero padding and strides counted);
    None when unknown. It differs from Keras's fan_in for depthwise and transposed convolutions."""
    spec, shapes = info.spec, info.input_shapes
    if not shapes or shapes[0] is None or info.variables is None:
        return None
    shape = shapes[0]
    kind = info.type
    if kind == "dense":
        return float(shape[-1])
    if kind in ("conv1d", "conv2d", "conv3d"):
        return _window_fan_in(spec, shape, spec.RANK) * shape[-1] / spec.groups
    if kind == "conv2d_transpose":
        return math.prod(per_axis(spec.kernel_size, 2)) * shape[-1] / math.prod(per_axis(spec.strides, 2))
    if kind in ("depthwise_conv2d", "separable_conv2d"):
        if slot == "pointwise_initializer":
            return float(shape[-1] * spec.depth_multiplier)
        return _window_fan_in(spec, shape, 2)
    if spec.ROLE is Role.RECURRENT:
        return float(spec.core.units if slot == "recurrent_initializer" else shape[-1])
    return None
