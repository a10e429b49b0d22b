"""Static signal analysis: the second moment of every layer's output at initialisation, predicted from the spec.

The model (docs/signal.md) follows a training step at initialisation, with every input feature standardised
(mean 0, second moment 1). Each tensor is summarised per element by its mean and second moment; a weighted layer
sums ``n`` independent products w·x (``n`` is the effective fan-in: what each output actually adds up), so

    E[z] = n μ_w m,   E[z²] = n σ_w² q + μ_w² (n q + n(n−1) m²)   (+ the bias's moments)

and an element-wise activation maps z ~ N(E[z], Var z) to the moments of f(z), from the activation table
(closed form for linear and ReLU, Gauss–Hermite quadrature for the others). Normalisation resets the scale,
`add` sums independent branches, concatenation averages by width, pooling and dropout have their own laws,
recurrent layers iterate the cell's moment equations over the time steps.

Besides the absolute moments, each tensor carries its *reference*: the second moment at the source it descends
from (an input, an embedding table, a normalisation layer). The ratio of a layer's pre-activation second moment
to its reference is what the network itself did to the signal; MS110 and MS111 judge its square root.
This module holds the propagation, one handler per layer type; the moment algebra it shares with the backward
analysis (``Signal``, the initializers' moments, the laws: moments.py) and the effective fan-in (fans.py), which
the lint rules read too, live in their own modules. Pure Python: never imports TensorFlow or NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Optional

from modelspec.analysis.fans import effective_fan_in
from modelspec.analysis.graph import Analysis, LayerInfo
from modelspec.analysis.moments import (
    INPUT_SIGNAL,
    KERAS_EPSILON,
    Moments,
    Signal,
    activate,
    activated_pair,
    affine,
    channel_values,
    independent_sum,
    order_statistics,
    pair_moment,
    reapplied,
    weight_moments,
)
from modelspec.analysis.shapes import per_axis
from modelspec.schema.layers.passthrough import DROPOUT_CLASSES, IDENTITY_CLASSES

DEFAULT_STEPS = 10  # time steps assumed for a recurrent layer whose sequence length is unknown
MAX_STEPS = 200  # the moment recursion converges long before this


@dataclass(frozen=True)
class LayerSignal:
    """What the analysis predicts for one layer."""

    name: str
    output: Optional[Signal]  # None: unknown (an opaque layer upstream)
    pre: Optional[Moments] = None  # what the layer's activation sees (weighted layers only)
    reference: float = 1.0  # the reference second moment of the layer's input

    @property
    def scale(self) -> Optional[float]:
        """Root mean square of the layer's output."""
        return None if self.output is None else math.sqrt(self.output.second)

    @property
    def factor(self) -> Optional[float]:
        """Root mean square of the pre-activation relative to the source's: 1 means the scale was kept."""
        if self.pre is None or self.reference <= 0:
            return None
        return math.sqrt(self.pre[1] / self.reference)


@dataclass
class SignalReport:
    """Per-layer predictions, in the analysis's topological order."""

    layers: dict[str, LayerSignal]


def _identity_fraction(info: LayerInfo, slot: str, shape: tuple[int, ...]) -> Optional[tuple[float, float]]:
    spec = info.initializers[slot]
    if spec.type != "identity":
        return None
    rows, cols = math.prod(shape[:-1]), shape[-1]
    return spec.gain, min(rows, cols) / cols


def _max_of(signal: Signal, k: int) -> Signal:
    """Moments of the max over a pooling window of k positions of one unit.

    Positions of a unit share its mean and differ by independent within-unit noise; the max of that noise is
    taken as Gaussian with the order statistics' mean and variance. When the input is f(z) (f increasing,
    nearly so for gelu/silu/mish), the max is f(max z).
    """
    if k <= 1:
        return signal
    if signal.gaussian_pre is not None and signal.gaussian_pre[0] != "softmax":
        name, mean, var, between = signal.gaussian_pre
    else:
        name, mean, var, between = "linear", signal.mean, signal.var, signal.common - signal.mean**2
    shift, spread = order_statistics(k)
    within = max(var - between, 0.0)
    top = mean + shift * math.sqrt(within)
    out = activate(name, (top, top * top + between + spread * within), None, top * top + between)
    return replace(out, reference=signal.reference, gaussian_pre=None)


# --- one handler per layer type: (layer, input signals) -> (output, pre-activation) --------------------------

Handler = Callable[[LayerInfo, list[Signal]], tuple[Optional[Signal], Optional[Moments]]]


def _bias(info: LayerInfo, spec, size_name: str = "bias") -> Moments:
    if not getattr(spec, "use_bias", False):
        return 0.0, 0.0
    shape = info.variable_shape(size_name) or (1,)
    return weight_moments(info, "bias_initializer", shape)


def _linear_part(info: LayerInfo, x: Moments, cross: Optional[float] = None) -> Moments:
    """Moments of the layer's weighted sum (bias excluded) of inputs with moments ``x`` (``cross``: E[x_i x_j] of
    two input units)."""
    if info.type in ("depthwise_conv2d", "separable_conv2d"):
        shape = info.variable_shape("kernel" if info.type == "depthwise_conv2d" else "depthwise_kernel")
        z = affine(
            effective_fan_in(info, "depthwise_initializer"), weight_moments(info, "depthwise_initializer", shape), x
        )
        if info.type == "depthwise_conv2d":
            return z
        x, slot, shape = z, "pointwise_initializer", info.variable_shape("pointwise_kernel")
    else:
        slot, shape = "kernel_initializer", info.variable_shape("kernel")
    identity = _identity_fraction(info, slot, shape)
    return affine(effective_fan_in(info, slot), weight_moments(info, slot, shape), x, identity, cross)


def _pre_cross(info: LayerInfo, x: Signal, bias: Moments) -> Optional[float]:
    """E[z_j z_k] of two units' pre-activations, for dense and convolution layers; None: independent units."""
    if info.type in ("depthwise_conv2d", "separable_conv2d") or "kernel_initializer" not in info.initializers:
        return None
    shape = info.variable_shape("kernel")
    weight = weight_moments(info, "kernel_initializer", shape)
    if (x.cross is None and weight[0] == 0) or _identity_fraction(info, "kernel_initializer", shape) is not None:
        return None
    return pair_moment(effective_fan_in(info, "kernel_initializer"), weight, x.moments, x.cross, bias)


def _weighted(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    cross = x.cross if info.type not in ("depthwise_conv2d", "separable_conv2d") else None
    bias = _bias(info, info.spec)
    pre = independent_sum(_linear_part(info, x.moments, cross), bias)
    # A unit's mean over positions and examples: the same sum over the inputs' unit means; the bias is all shared.
    common_cross = None if cross is None else min(cross, x.common)
    shared = _linear_part(info, (x.mean, x.common), common_cross)[1] + bias[1] + 2 * pre[0] * bias[0] - 2 * bias[0] ** 2
    pre_cross = _pre_cross(info, x, bias)
    seen, seen_shared = pre, shared
    if info.spec.activation == "softmax" and pre_cross is not None:
        # Softmax sees only how the logits of one example differ: what the units share cancels.
        seen, seen_shared = (0.0, max(pre[1] - pre_cross, 0.0)), max(shared - pre_cross, 0.0)
    out = activate(info.spec.activation, seen, info.output_shape[-1] if info.output_shape else None, seen_shared)
    out_cross = None if pre_cross is None else activated_pair(info.spec.activation, pre, pre_cross)
    return replace(out, reference=x.reference, cross=out_cross, pre_cross=pre_cross), pre


def _embedding(info: LayerInfo, inputs: list[Signal]):
    shape = info.variable_shape("embeddings")
    mean, second = weight_moments(info, "embeddings_initializer", shape)
    shared = mean * mean + (second - mean * mean) / shape[0]  # a feature's mean over the vocabulary
    return Signal(mean, second, second if second > 0 else 1.0, shared=shared), None


def _normalization(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    spec = info.spec
    size = info.variable_shape("gamma") or info.variable_shape("beta") or (1,)
    normalised = x.var / (x.var + spec.epsilon)
    gamma = weight_moments(info, "gamma_initializer", size) if spec.scale else (1.0, 1.0)
    beta = weight_moments(info, "beta_initializer", size) if spec.center else (0.0, 0.0)
    second = gamma[1] * normalised + beta[1]
    return Signal(beta[0], second, second if second > 0 else 1.0, shared=beta[1]), None


def _activation(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    if reapplied(info.spec.activation, x):
        return x, None
    out = activate(
        info.spec.activation, (x.mean, x.second), info.output_shape[-1] if info.output_shape else None, x.common
    )
    cross = None if x.cross is None else activated_pair(info.spec.activation, x.moments, x.cross)
    return replace(out, reference=x.reference, cross=cross, pre_cross=x.cross), None


def _same(info: LayerInfo, inputs: list[Signal]):
    return inputs[0], None


def _dropout(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs  # inverted dropout in a training step: kept values are scaled by 1/(1 - rate)
    return Signal(x.mean, x.second / (1 - info.spec.rate), x.reference, shared=x.shared, cross=x.cross), None


def _gaussian_noise(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    return Signal(x.mean, x.second + info.spec.stddev**2, x.reference, shared=x.shared), None


def _channel_affine(x: Signal, scales: list[float], offsets: list[float]) -> Signal:
    """Moments of s_c·x + o_c with each channel's own (s_c, o_c), averaged over the channels."""
    pairs = list(zip(scales, offsets)) if len(scales) == len(offsets) else [(s, o) for s in scales for o in offsets]
    k = len(pairs)
    return Signal(
        sum(s * x.mean + o for s, o in pairs) / k,
        sum(s * s * x.second + 2 * s * o * x.mean + o * o for s, o in pairs) / k,
        x.reference,
        shared=sum(s * s * x.common + 2 * s * o * x.mean + o * o for s, o in pairs) / k,
    )


def _rescaling(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    if x.raw:
        return x, None  # rescaling the raw data is how it gets standardised: the input assumption holds after it
    return _channel_affine(x, channel_values(info.spec.scale), channel_values(info.spec.offset)), None


def _fixed_normalization(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    spec = info.spec
    if x.raw:
        return x, None  # like rescaling: standardising the raw data is what makes the input assumption hold
    if spec.adapted:  # statistics adapted to (or loaded for) the data it receives: its output is standardised
        return Signal(0.0, 1.0, 1.0, shared=0.0), None
    means = channel_values(spec.mean)
    stds = [max(math.sqrt(v), KERAS_EPSILON) for v in channel_values(spec.variance)]
    if spec.invert:
        return _channel_affine(x, stds, means), None
    return _channel_affine(x, [1 / s for s in stds], [-m / s for m, s in zip(means, stds)]), None


def _layer_scale(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    v = info.spec.init_value
    return Signal(v * x.mean, v * v * x.second, x.reference, shared=v * v * x.common), None


def _zero_padding(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    before, after = info.input_shapes[0], info.output_shape
    if None in before[:2] or None in after[:2]:
        return x, None
    kept = (before[0] * before[1]) / (after[0] * after[1])
    return Signal(x.mean * kept, x.second * kept, x.reference, shared=x.common * kept * kept), None


def _pool(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    k = math.prod(per_axis(info.spec.pool_size, info.spec.RANK))
    if info.type.startswith("max"):
        return _max_of(x, k), None
    return _average_of(x, k), None


def _average_of(x: Signal, k: int) -> Signal:
    """Mean of k positions of a unit: their shared part stays, their independent rest shrinks k-fold."""
    return Signal(x.mean, x.common + x.within / k, x.reference, shared=x.common)


def _global_pool(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    spatial = info.input_shapes[0][:-1]
    if None in spatial:
        return None, None
    k = math.prod(spatial)
    return (_max_of(x, k) if "max" in info.type else _average_of(x, k)), None


def _add(info: LayerInfo, inputs: list[Signal]):
    live = [x for x in inputs if x.second > 0]
    if len(live) == 1:  # the other branches are exactly zero (a zero-initialised residual branch): the sum is it
        return live[0], None
    mean, second = independent_sum(*(x.moments for x in inputs))
    shared = independent_sum(*((x.mean, x.common) for x in inputs))[1]
    return Signal(mean, second, max(x.reference for x in inputs), shared=shared), None


def _subtract(info: LayerInfo, inputs: list[Signal]):
    a, b = inputs
    mean, second = independent_sum(a.moments, (-b.mean, b.second))
    shared = independent_sum((a.mean, a.common), (-b.mean, b.common))[1]
    return Signal(mean, second, max(a.reference, b.reference), shared=shared), None


def _average(info: LayerInfo, inputs: list[Signal]):
    n = len(inputs)
    mean, second = independent_sum(*(x.moments for x in inputs))
    shared = independent_sum(*((x.mean, x.common) for x in inputs))[1]
    return Signal(mean / n, second / (n * n), sum(x.reference for x in inputs) / n, shared=shared / (n * n)), None


def _multiply(info: LayerInfo, inputs: list[Signal]):
    return Signal(
        math.prod(x.mean for x in inputs),
        math.prod(x.second for x in inputs),
        math.prod(x.reference for x in inputs),
        shared=math.prod(x.common for x in inputs),
    ), None


def _concatenate(info: LayerInfo, inputs: list[Signal]):
    axis = info.spec.axis
    sizes = [shape[axis - 1 if axis > 0 else axis] for shape in info.input_shapes]
    if None in sizes:
        sizes = [1] * len(inputs)
    total = sum(sizes)
    weigh = lambda values: sum(w * v for w, v in zip(sizes, values)) / total  # noqa: E731
    return Signal(
        weigh(x.mean for x in inputs),
        weigh(x.second for x in inputs),
        weigh(x.reference for x in inputs),
        shared=weigh(x.common for x in inputs),
    ), None


# --- recurrent layers: iterate the cell's moment equations -------------------------------------------------


def _product(a: Moments, b: Moments) -> Moments:
    """Moments of the product of independent factors."""
    return a[0] * b[0], a[1] * b[1]


def _apply(name: str, pre: Moments) -> Moments:
    return activate(name, pre, None).moments


def _cell(spec, info: LayerInfo, x: Signal, prefix: str = "") -> tuple[Signal, Moments]:
    """Run the moment recursion of one direction; return the output signal and the candidate pre-activation."""
    shape = info.input_shapes[0]
    steps = min(shape[0] or DEFAULT_STEPS, MAX_STEPS)
    kernel_shape, recurrent_shape = (
        info.variable_shape(prefix + "kernel"),
        info.variable_shape(prefix + "recurrent_kernel"),
    )
    n_x, n_h = float(shape[-1]), float(spec.units)
    w = weight_moments(info, "kernel_initializer", kernel_shape)
    u = weight_moments(info, "recurrent_initializer", recurrent_shape)
    w_identity = _identity_fraction(info, "kernel_initializer", kernel_shape)
    u_identity = _identity_fraction(info, "recurrent_initializer", recurrent_shape)
    bias_shape = info.variable_shape(prefix + "bias")
    bias = weight_moments(info, "bias_initializer", bias_shape) if bias_shape else (0.0, 0.0)
    from_x = affine(n_x, w, x.moments, w_identity)
    act = spec.activation
    gate_act = getattr(spec, "recurrent_activation", None)
    h, c = (0.0, 0.0), (0.0, 0.0)
    state = c
    outputs, candidate = [], (0.0, 0.0)
    for _ in range(steps):
        from_h = affine(n_h, u, h, u_identity)
        if spec.type == "simple_rnn":
            candidate = independent_sum(from_x, from_h, bias)
            h = _apply(act, candidate)
        elif spec.type == "lstm":
            gate = _apply(gate_act, independent_sum(from_x, from_h, bias))
            forget = _apply(gate_act, independent_sum(from_x, from_h, (1.0, 1.0) if spec.unit_forget_bias else bias))
            candidate = independent_sum(from_x, from_h, bias)
            g = _apply(act, candidate)
            c = independent_sum(_product(forget, c), _product(gate, g))
            h = _product(gate, _apply(act, c))  # output gate: same law as the input gate
        else:  # gru
            recurrent_bias = bias if getattr(spec, "reset_after", False) else (0.0, 0.0)
            update = _apply(gate_act, independent_sum(from_x, from_h, bias, recurrent_bias))
            reset = _apply(gate_act, independent_sum(from_x, from_h, bias, recurrent_bias))
            if spec.reset_after:
                gated = _product(reset, independent_sum(from_h, recurrent_bias))
            else:
                gated = affine(n_h, u, _product(reset, h), u_identity)
            candidate = independent_sum(from_x, gated, bias)
            hh = _apply(act, candidate)
            keep = update
            blend = (1 - keep[0], 1 - 2 * keep[0] + keep[1])
            h = independent_sum(_product(keep, h), _product(blend, hh))
        outputs.append(h)
        if len(outputs) > 1 and _converged(outputs[-2], h) and _converged(state, c):
            break  # a fixed point: the remaining steps repeat it
        state = c
    if spec.return_sequences:
        rest = steps - len(outputs)
        h = ((sum(m for m, _ in outputs) + rest * h[0]) / steps, (sum(s for _, s in outputs) + rest * h[1]) / steps)
    return Signal(h[0], h[1], x.reference), candidate


def _converged(before: Moments, after: Moments, tolerance: float = 1e-4) -> bool:
    return all(abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-30) for a, b in zip(before, after))


def _recurrent(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    if info.type != "bidirectional":
        return _cell(info.spec, info, x)
    out, candidate = _cell(info.spec.layer, info, x, "forward/")
    mode = info.spec.merge_mode
    if mode == "sum":
        out = Signal(*independent_sum(out.moments, out.moments), x.reference)
    elif mode == "ave":
        mean, second = independent_sum(out.moments, out.moments)
        out = Signal(mean / 2, second / 4, x.reference)
    elif mode == "mul":
        out = Signal(*_product(out.moments, out.moments), x.reference)
    return out, candidate


def _attention(info: LayerInfo, inputs: list[Signal]):
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    key = inputs[2] if len(inputs) > 2 else value
    spec = info.spec

    def project(role: str, x: Signal) -> Moments:
        shape = info.variable_shape(f"{role}/kernel")
        z = affine(shape[0], weight_moments(info, "kernel_initializer", shape), x.moments)
        bias = (
            weight_moments(info, "bias_initializer", info.variable_shape(f"{role}/bias")) if spec.use_bias else (0, 0)
        )
        return independent_sum(z, bias)

    q, k, v = project("query", query), project("key", key), project("value", value)
    logits_var = q[1] * k[1]  # (q·k)/sqrt(key_dim): key_dim terms, divided by sqrt(key_dim)
    length = info.input_shapes[min(len(info.input_shapes) - 1, 1)][0]  # the value's (= the key's) length
    concentration = 1.0 if length is None else min(1.0, math.exp(min(logits_var, 700.0)) / length)
    attended = (v[0], v[0] * v[0] + (v[1] - v[0] * v[0]) * concentration)
    out_shape = info.variable_shape("attention_output/kernel")
    z = affine(out_shape[0] * out_shape[1], weight_moments(info, "kernel_initializer", out_shape), attended)
    bias = (
        weight_moments(info, "bias_initializer", info.variable_shape("attention_output/bias"))
        if spec.use_bias
        else (0, 0)
    )
    pre = independent_sum(z, bias)
    return Signal(pre[0], pre[1], query.reference), pre


def _keras(info: LayerInfo, inputs: list[Signal]):
    spec = info.spec
    if len(inputs) != 1:
        return None, None
    (x,) = inputs
    if spec.class_name in IDENTITY_CLASSES:
        return x, None
    if spec.class_name in DROPOUT_CLASSES and isinstance(spec.config.get("rate"), (int, float)):
        return Signal(x.mean, x.second / (1 - spec.config["rate"]), x.reference, shared=x.shared), None
    if spec.applied_activation() is not None and not spec.config:
        out = activate(spec.applied_activation(), x.moments, info.output_shape[-1], x.common)
        return replace(out, reference=x.reference), None
    return None, None


HANDLERS: dict[str, Handler] = {
    "dense": _weighted,
    "conv1d": _weighted,
    "conv2d": _weighted,
    "conv3d": _weighted,
    "conv2d_transpose": _weighted,
    "separable_conv2d": _weighted,
    "depthwise_conv2d": _weighted,
    "embedding": _embedding,
    "batch_norm": _normalization,
    "layer_norm": _normalization,
    "activation": _activation,
    "dropout": _dropout,
    "alpha_dropout": _same,
    "gaussian_noise": _gaussian_noise,
    "flatten": _same,
    "reshape": _same,
    "permute": _same,
    "rescaling": _rescaling,
    "normalization": _fixed_normalization,
    "layer_scale": _layer_scale,
    "cropping1d": _same,
    "cropping2d": _same,
    "cropping3d": _same,
    "zero_padding2d": _zero_padding,
    "up_sampling2d": _same,
    "max_pool1d": _pool,
    "max_pool2d": _pool,
    "average_pool1d": _pool,
    "average_pool2d": _pool,
    "global_average_pool1d": _global_pool,
    "global_average_pool2d": _global_pool,
    "global_max_pool1d": _global_pool,
    "global_max_pool2d": _global_pool,
    "add": _add,
    "subtract": _subtract,
    "average": _average,
    "multiply": _multiply,
    "concatenate": _concatenate,
    "lstm": _recurrent,
    "gru": _recurrent,
    "simple_rnn": _recurrent,
    "bidirectional": _recurrent,
    "multi_head_attention": _attention,
    "keras": _keras,
}


def propagate(analysis: Analysis) -> SignalReport:
    """Predict every layer's output moments at initialisation, inputs standardised (see the module doc)."""
    known: dict[str, Optional[Signal]] = {name: INPUT_SIGNAL for name in analysis.inputs}
    layers: dict[str, LayerSignal] = {}
    for name, info in analysis.layers.items():
        inputs = [known.get(ref) for ref in info.inputs]
        if any(x is None for x in inputs) or info.output_shape is None or info.variables is None:
            known[name] = None
            layers[name] = LayerSignal(name, None)
            continue
        output, pre = HANDLERS[info.type](info, inputs)
        known[name] = output
        reference = inputs[0].reference if inputs else 1.0
        layers[name] = LayerSignal(name, output, pre, reference)
    return SignalReport(layers)
