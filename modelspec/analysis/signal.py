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
The initializers' moments (moments.py) and the effective fan-in (fans.py), which the lint rules read too, live in
their own modules. Pure Python: never imports TensorFlow or NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Optional

from modelspec.analysis.fans import effective_fan_in
from modelspec.analysis.graph import Analysis, LayerInfo
from modelspec.analysis.moments import initializer_moments
from modelspec.analysis.shapes import per_axis
from modelspec.schema.activations import ACTIVATIONS, gaussian_expectation

Moments = tuple[float, float]  # (E[x], E[x²]) per element
DEFAULT_STEPS = 10  # time steps assumed for a recurrent layer whose sequence length is unknown
MAX_STEPS = 200  # the moment recursion converges long before this


@dataclass(frozen=True)
class Signal:
    """The per-element moments of a tensor, and the second moment of the source it descends from."""

    mean: float
    second: float
    reference: float
    # When the tensor is f(z) with z Gaussian: (activation, E[z], Var z, the part of Var z shared by a unit's
    # positions); max pooling uses it.
    gaussian_pre: Optional[tuple[str, float, float, float]] = None
    raw: bool = False  # the model's input as given (only shape layers in between)
    # E[x_j x_k] for two different units at one position of one example. None: mean² (the units vary independently
    # around a common mean). Kernels with a non-zero mean make the units move together: a constant kernel (MS101's
    # finding) makes them identical (cross = second), uniform(0, 1) nearly so.
    cross: Optional[float] = None
    pre_cross: Optional[float] = None  # the same for the pre-activation in gaussian_pre
    # E over units of (the unit's own mean)²: the part of the second moment every position and example of a unit
    # shares, which averaging over positions cannot remove. None: no per-unit structure (mean² only).
    shared: Optional[float] = None

    @property
    def var(self) -> float:
        return max(self.second - self.mean * self.mean, 0.0)

    @property
    def common(self) -> float:
        """E[(a unit's mean)²], at most the second moment."""
        value = self.mean * self.mean if self.shared is None else self.shared
        return min(max(value, self.mean * self.mean), self.second)

    @property
    def within(self) -> float:
        """The variance left inside one unit, across its positions and examples."""
        return max(self.second - self.common, 0.0)

    @property
    def moments(self) -> Moments:
        return self.mean, self.second


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


# --- initializers --------------------------------------------------------------------------------------------


def _second(moments: Moments) -> Moments:
    mean, var = moments
    return mean, var + mean * mean


def weight_moments(info: LayerInfo, slot: str, shape: tuple[int, ...]) -> Moments:
    """(mean, second moment) of one weight of ``slot``; constant slots of absent variables are zero."""
    return _second(initializer_moments(info.initializers[slot], shape))


def _variable(info: LayerInfo, name: str) -> Optional[tuple[int, ...]]:
    for variable in info.variables or ():
        if variable.name == name:
            return variable.shape
    return None


# --- the laws ------------------------------------------------------------------------------------------------


def _sum(*parts: Moments) -> Moments:
    """Moments of a sum of independent terms."""
    mean = sum(m for m, _ in parts)
    return mean, mean * mean + sum(s - m * m for m, s in parts)


def affine(
    n: float, weight: Moments, x: Moments, identity: Optional[tuple[float, float]] = None, cross: Optional[float] = None
) -> Moments:
    """Moments of Σ_{i<n} w_i x_i with i.i.d. weights independent of x; ``identity`` = (gain, fraction) for an
    identity kernel, which copies gain·x into a fraction of the outputs and leaves the others at zero; ``cross``
    = E[x_i x_j] for i ≠ j (default: the mean squared, independent inputs)."""
    m, q = x
    if identity is not None:
        gain, fraction = identity
        return gain * m * fraction, gain * gain * q * fraction
    mu, s = weight
    var = s - mu * mu
    pair = m * m if cross is None else cross
    return n * mu * m, n * var * q + mu * mu * (n * q + n * (n - 1) * pair)


def pair_moment(n: float, weight: Moments, x: Moments, cross: Optional[float], bias: Moments = (0.0, 0.0)) -> float:
    """E[z_j z_k] for two outputs z = Σ_{i<n} w_i x_i + b of independent weight columns: only the weights' mean
    couples them."""
    m, q = x
    mu = weight[0]
    pair = m * m if cross is None else cross
    return mu * mu * (n * q + n * (n - 1) * pair) + 2 * n * mu * m * bias[0] + bias[0] * bias[0]


def _couple(name: str, z: Moments, pair: float) -> Optional[float]:
    """E[f(z_j) f(z_k)] for two pre-activations with the same moments ``z`` and E[z_j z_k] = ``pair``; None when
    they are independent (then it is the mean of f squared)."""
    mean, second = z
    var = max(second - mean * mean, 0.0)
    together = min(max(pair - mean * mean, 0.0), var)
    if together <= 1e-12 * max(second, 1e-300) or name in ("softmax", "log_softmax"):
        return None
    activation = ACTIVATIONS[name]
    return gaussian_expectation(lambda u: activation.moments(u, var - together)[0], mean, together)[1]


def _identity_fraction(info: LayerInfo, slot: str, shape: tuple[int, ...]) -> Optional[tuple[float, float]]:
    spec = info.initializers[slot]
    if spec.type != "identity":
        return None
    rows, cols = math.prod(shape[:-1]), shape[-1]
    return spec.gain, min(rows, cols) / cols


def activate(name: str, pre: Moments, width: Optional[int], shared: Optional[float] = None) -> Signal:
    """Moments of an activation applied to z ~ N(mean, var) (reference left to the caller).

    ``shared`` is E[(a unit's mean of z)²]; the units' means of f(z) follow by averaging f over the variance
    inside a unit, then over the units' means (nested quadrature).
    """
    mean, second = pre
    var = max(second - mean * mean, 0.0)
    between = 0.0 if shared is None else min(max(shared - mean * mean, 0.0), var)
    if name in ("softmax", "log_softmax"):
        n = width or 1
        if name == "softmax":
            second, common = softmax_moments(n, var, between)
            return Signal(1.0 / n, second, 1.0, (name, mean, var, between), shared=common)
        log_mean = -math.log(n) - var / 2 if n > 1 else 0.0
        return Signal(log_mean, log_mean * log_mean + var * (1 - 1 / n), 1.0)
    activation = ACTIVATIONS[name]
    out_mean, out_second = activation.moments(mean, var)
    out_shared = None
    if between > 0:  # E_u[(E[f(u + e)])²], u ~ N(mean, between) a unit's mean, e ~ N(0, within) the rest
        within = var - between
        out_shared = gaussian_expectation(lambda u: activation.moments(u, within)[0], mean, between)[1]
        out_shared = min(max(out_shared, out_mean * out_mean), out_second)
    return Signal(out_mean, out_second, 1.0, (name, mean, var, between), shared=out_shared)


def softmax_moments(n: int, var: float, between: float = 0.0) -> tuple[float, float]:
    """(E[p²], E[(a unit's mean p)²]) per element of a softmax over n logits with variance ``var``, of which
    ``between`` is shared by a unit's positions and examples.

    One probability is p = sigmoid(z − log R), with log R, R the sum of the other n − 1 exponentials, taken as
    Gaussian: from R's mean and variance (log-normal) while the logits are moderate, from the largest of the other
    logits (order statistics) once that is larger; the result is rescaled so that the probabilities' means add up
    to 1.
    """
    if n <= 1:
        return 1.0, 1.0
    var = min(var, 1e6)
    if var <= 0:
        return 1.0 / (n * n), 1.0 / (n * n)
    sigmoid = ACTIVATIONS["sigmoid"].fn
    between = min(max(between, 0.0), var)
    within = var - between
    top, top_spread = order_statistics(n - 1)
    shift, spread = math.sqrt(var) * top, var * top_spread
    spread_within = spread * within / var
    if var < 700:
        log_mean = math.log(n - 1) + var / 2  # log E[R]
        fit = math.log1p(math.expm1(var) / (n - 1))  # log(1 + Var R / E[R]²)
        if log_mean - fit / 2 >= shift:
            shift, spread = log_mean - fit / 2, fit
            # log R splits like the logits: the part that moves with the units' means (shared by a unit's
            # positions and examples) and the part that moves with the rest.
            spread_within = min(math.log1p(math.expm1(within) * math.exp(between) / (n - 1)), spread)
    mean, second = gaussian_expectation(sigmoid, -shift, var + spread)
    norm = 1.0 / (mean * n)
    second = min(second * norm * norm, 1.0 / n)
    if between <= 0:
        return second, 1.0 / (n * n)
    inner = lambda u: gaussian_expectation(sigmoid, u - shift, within + spread_within)[0]  # noqa: E731
    common = gaussian_expectation(inner, 0.0, between + spread - spread_within)[1]
    return second, min(max(common * norm * norm, 1.0 / (n * n)), second)


def _order_statistics(k: int) -> tuple[float, float]:
    """(mean, variance) of the max of k independent standard normals, by quadrature over its density."""
    step, first, second, total = 0.02, 0.0, 0.0, 0.0
    log_k = math.log(k)
    for i in range(-400, 451):
        t = i * step
        cdf = 0.5 * math.erfc(-t / math.sqrt(2.0))
        if cdf <= 0:
            continue
        density = math.exp(log_k - 0.5 * t * t + (k - 1) * math.log(cdf))
        first += density * t
        second += density * t * t
        total += density
    mean = first / total
    return mean, second / total - mean * mean


_ORDER: dict[int, tuple[float, float]] = {}


def order_statistics(k: int) -> tuple[float, float]:
    """(mean, variance) of the max of k independent standard normals (computed once per k)."""
    if k not in _ORDER:
        _ORDER[k] = _order_statistics(k)
    return _ORDER[k]


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
    shape = _variable(info, size_name) or (1,)
    return weight_moments(info, "bias_initializer", shape)


def _linear_part(info: LayerInfo, x: Moments, cross: Optional[float] = None) -> Moments:
    """Moments of the layer's weighted sum (bias excluded) of inputs with moments ``x`` (``cross``: E[x_i x_j] of
    two input units)."""
    if info.type in ("depthwise_conv2d", "separable_conv2d"):
        shape = _variable(info, "kernel" if info.type == "depthwise_conv2d" else "depthwise_kernel")
        z = affine(
            effective_fan_in(info, "depthwise_initializer"), weight_moments(info, "depthwise_initializer", shape), x
        )
        if info.type == "depthwise_conv2d":
            return z
        x, slot, shape = z, "pointwise_initializer", _variable(info, "pointwise_kernel")
    else:
        slot, shape = "kernel_initializer", _variable(info, "kernel")
    identity = _identity_fraction(info, slot, shape)
    return affine(effective_fan_in(info, slot), weight_moments(info, slot, shape), x, identity, cross)


def _pre_cross(info: LayerInfo, x: Signal, bias: Moments) -> Optional[float]:
    """E[z_j z_k] of two units' pre-activations, for dense and convolution layers; None: independent units."""
    if info.type in ("depthwise_conv2d", "separable_conv2d") or "kernel_initializer" not in info.initializers:
        return None
    shape = _variable(info, "kernel")
    weight = weight_moments(info, "kernel_initializer", shape)
    if (x.cross is None and weight[0] == 0) or _identity_fraction(info, "kernel_initializer", shape) is not None:
        return None
    return pair_moment(effective_fan_in(info, "kernel_initializer"), weight, x.moments, x.cross, bias)


def _weighted(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    cross = x.cross if info.type not in ("depthwise_conv2d", "separable_conv2d") else None
    bias = _bias(info, info.spec)
    pre = _sum(_linear_part(info, x.moments, cross), bias)
    # A unit's mean over positions and examples: the same sum over the inputs' unit means; the bias is all shared.
    common_cross = None if cross is None else min(cross, x.common)
    shared = _linear_part(info, (x.mean, x.common), common_cross)[1] + bias[1] + 2 * pre[0] * bias[0] - 2 * bias[0] ** 2
    pre_cross = _pre_cross(info, x, bias)
    seen, seen_shared = pre, shared
    if info.spec.activation == "softmax" and pre_cross is not None:
        # Softmax sees only how the logits of one example differ: what the units share cancels.
        seen, seen_shared = (0.0, max(pre[1] - pre_cross, 0.0)), max(shared - pre_cross, 0.0)
    out = activate(info.spec.activation, seen, info.output_shape[-1] if info.output_shape else None, seen_shared)
    out_cross = None if pre_cross is None else _couple(info.spec.activation, pre, pre_cross)
    return replace(out, reference=x.reference, cross=out_cross, pre_cross=pre_cross), pre


def _embedding(info: LayerInfo, inputs: list[Signal]):
    shape = _variable(info, "embeddings")
    mean, second = weight_moments(info, "embeddings_initializer", shape)
    shared = mean * mean + (second - mean * mean) / shape[0]  # a feature's mean over the vocabulary
    return Signal(mean, second, second if second > 0 else 1.0, shared=shared), None


def _normalization(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    spec = info.spec
    size = _variable(info, "gamma") or _variable(info, "beta") or (1,)
    normalised = x.var / (x.var + spec.epsilon)
    gamma = weight_moments(info, "gamma_initializer", size) if spec.scale else (1.0, 1.0)
    beta = weight_moments(info, "beta_initializer", size) if spec.center else (0.0, 0.0)
    second = gamma[1] * normalised + beta[1]
    return Signal(beta[0], second, second if second > 0 else 1.0, shared=beta[1]), None


IDEMPOTENT = frozenset({"relu", "relu6"})  # f(f(z)) = f(z)


def reapplied(name: str, x: Signal) -> bool:
    """Whether ``name`` is applied to what the same idempotent activation already produced: it changes nothing."""
    return name in IDEMPOTENT and x.gaussian_pre is not None and x.gaussian_pre[0] == name


def _activation(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    if reapplied(info.spec.activation, x):
        return x, None
    out = activate(
        info.spec.activation, (x.mean, x.second), info.output_shape[-1] if info.output_shape else None, x.common
    )
    cross = None if x.cross is None else _couple(info.spec.activation, x.moments, x.cross)
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


def channel_values(value) -> list[float]:
    """A per-channel setting as a list: one value for every channel, or the list given."""
    return list(value) if isinstance(value, list) else [value]


def _rescaling(info: LayerInfo, inputs: list[Signal]):
    (x,) = inputs
    if x.raw:
        return x, None  # rescaling the raw data is how it gets standardised: the input assumption holds after it
    return _channel_affine(x, channel_values(info.spec.scale), channel_values(info.spec.offset)), None


KERAS_EPSILON = 1e-7  # Normalization divides by max(sqrt(variance), keras.config.epsilon())


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
    mean, second = _sum(*(x.moments for x in inputs))
    shared = _sum(*((x.mean, x.common) for x in inputs))[1]
    return Signal(mean, second, max(x.reference for x in inputs), shared=shared), None


def _subtract(info: LayerInfo, inputs: list[Signal]):
    a, b = inputs
    mean, second = _sum(a.moments, (-b.mean, b.second))
    shared = _sum((a.mean, a.common), (-b.mean, b.common))[1]
    return Signal(mean, second, max(a.reference, b.reference), shared=shared), None


def _average(info: LayerInfo, inputs: list[Signal]):
    n = len(inputs)
    mean, second = _sum(*(x.moments for x in inputs))
    shared = _sum(*((x.mean, x.common) for x in inputs))[1]
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
    kernel_shape, recurrent_shape = _variable(info, prefix + "kernel"), _variable(info, prefix + "recurrent_kernel")
    n_x, n_h = float(shape[-1]), float(spec.units)
    w = weight_moments(info, "kernel_initializer", kernel_shape)
    u = weight_moments(info, "recurrent_initializer", recurrent_shape)
    w_identity = _identity_fraction(info, "kernel_initializer", kernel_shape)
    u_identity = _identity_fraction(info, "recurrent_initializer", recurrent_shape)
    bias_shape = _variable(info, prefix + "bias")
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
            candidate = _sum(from_x, from_h, bias)
            h = _apply(act, candidate)
        elif spec.type == "lstm":
            gate = _apply(gate_act, _sum(from_x, from_h, bias))
            forget = _apply(gate_act, _sum(from_x, from_h, (1.0, 1.0) if spec.unit_forget_bias else bias))
            candidate = _sum(from_x, from_h, bias)
            g = _apply(act, candidate)
            c = _sum(_product(forget, c), _product(gate, g))
            h = _product(gate, _apply(act, c))  # output gate: same law as the input gate
        else:  # gru
            recurrent_bias = bias if getattr(spec, "reset_after", False) else (0.0, 0.0)
            update = _apply(gate_act, _sum(from_x, from_h, bias, recurrent_bias))
            reset = _apply(gate_act, _sum(from_x, from_h, bias, recurrent_bias))
            if spec.reset_after:
                gated = _product(reset, _sum(from_h, recurrent_bias))
            else:
                gated = affine(n_h, u, _product(reset, h), u_identity)
            candidate = _sum(from_x, gated, bias)
            hh = _apply(act, candidate)
            keep = update
            blend = (1 - keep[0], 1 - 2 * keep[0] + keep[1])
            h = _sum(_product(keep, h), _product(blend, hh))
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
        out = Signal(*_sum(out.moments, out.moments), x.reference)
    elif mode == "ave":
        mean, second = _sum(out.moments, out.moments)
        out = Signal(mean / 2, second / 4, x.reference)
    elif mode == "mul":
        out = Signal(*_product(out.moments, out.moments), x.reference)
    return out, candidate


def _attention(info: LayerInfo, inputs: list[Signal]):
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    key = inputs[2] if len(inputs) > 2 else value
    spec = info.spec

    def project(role: str, x: Signal) -> Moments:
        shape = _variable(info, f"{role}/kernel")
        z = affine(shape[0], weight_moments(info, "kernel_initializer", shape), x.moments)
        bias = weight_moments(info, "bias_initializer", _variable(info, f"{role}/bias")) if spec.use_bias else (0, 0)
        return _sum(z, bias)

    q, k, v = project("query", query), project("key", key), project("value", value)
    logits_var = q[1] * k[1]  # (q·k)/sqrt(key_dim): key_dim terms, divided by sqrt(key_dim)
    length = info.input_shapes[min(len(info.input_shapes) - 1, 1)][0]  # the value's (= the key's) length
    concentration = 1.0 if length is None else min(1.0, math.exp(min(logits_var, 700.0)) / length)
    attended = (v[0], v[0] * v[0] + (v[1] - v[0] * v[0]) * concentration)
    out_shape = _variable(info, "attention_output/kernel")
    z = affine(out_shape[0] * out_shape[1], weight_moments(info, "kernel_initializer", out_shape), attended)
    bias = (
        weight_moments(info, "bias_initializer", _variable(info, "attention_output/bias")) if spec.use_bias else (0, 0)
    )
    pre = _sum(z, bias)
    return Signal(pre[0], pre[1], query.reference), pre


_KERAS_IDENTITY = {"Identity", "Masking", "ActivityRegularization"}
_KERAS_DROPOUT = {"GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}


def _keras(info: LayerInfo, inputs: list[Signal]):
    spec = info.spec
    if len(inputs) != 1:
        return None, None
    (x,) = inputs
    if spec.class_name in _KERAS_IDENTITY:
        return x, None
    if spec.class_name in _KERAS_DROPOUT and isinstance(spec.config.get("rate"), (int, float)):
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
INPUT_SIGNAL = Signal(0.0, 1.0, 1.0, raw=True, shared=0.0)


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
