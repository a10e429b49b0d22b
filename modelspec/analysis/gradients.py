"""Static backward analysis: the scale of every weight's gradient at initialisation, predicted from the spec.

The forward analysis (signal.py) predicts each tensor's moments for standardised inputs; this module runs the same
laws backwards (docs/signal.md, "The backward laws"). The loss of one example seeds the gradient at the outputs
(for softmax with cross-entropy, ``p − y`` at the logits; for mean squared error, ``2(ŷ − y)/n``), with labels
drawn the way a probe draws them (uniform classes, fair coins, standard-normal targets). Each tensor's gradient is
summarised per element by its mean, second moment and *shared part* (what two positions or examples of one unit
have in common, as in the forward pass). Going back through a layer:

    activation:   d_z = f'(z) d_y            E[d_z²] = E[f'(z)²] E[d_y²]   (Gauss–Hermite over the forward z)
    weights:      d_x = Wᵀ d_z               E[d_x²] = n_out σ_w² E[d_z²]  (n_out: the effective fan-out)
    gradient:     ∂L/∂w = (1/B) Σ_t d_z,t x_t  over the N uses of w in a batch of B examples
                  E[(∂L/∂w)²] = (N E[d_z²] E[x²] + N(N − 1) shared(d_z) shared(x)) / B²

with the gradient independent of the forward activations (the usual mean-field assumption), corrected by a
response term where a unit's derivative responds to the input its weight multiplies. The second term is
why the last layers of a deep network, whose inputs are alike across examples, get more gradient than the
diagonal term alone says. ``B`` is the batch size: the loss is the batch mean (Keras's ``sum_over_batch_size``),
so gradients of weights scale as 1/√B when examples are independent, and not at all where they are alike.

Pure Python: never imports TensorFlow or NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Optional, TypeVar

from modelspec.analysis.fans import effective_fan_in
from modelspec.analysis.graph import Analysis, LayerInfo
from modelspec.analysis.moments import (
    IDEMPOTENT,
    INPUT_SIGNAL,
    KERAS_EPSILON,
    Signal,
    activate,
    affine,
    channel_values,
    initializer_moments,
    order_statistics,
    pair_moment,
    reapplied,
    weight_moments,
)
from modelspec.analysis.shapes import per_axis
from modelspec.analysis.signal import SignalReport, propagate
from modelspec.schema.activations import ACTIVATIONS, gaussian_expectation
from modelspec.schema.layers.passthrough import IDENTITY_CLASSES
from modelspec.schema.training import Loss

T = TypeVar("T")
DEFAULT_BATCH_SIZE = 32  # Keras's default, and `training.batch_size`'s


@dataclass(frozen=True)
class WeightGradient:
    """The predicted scale of one trainable variable and of its gradient at initialisation."""

    variable: str  # the Keras variable name in the layer: "kernel", "bias", "gamma", "depthwise_kernel", ...
    weight_rms: Optional[float]  # root mean square of the weight at init (the initializer's moments)
    gradient_rms: Optional[float]  # root mean square of d(loss)/d(weight); None where the analysis cannot say

    @property
    def ratio(self) -> Optional[float]:
        """Gradient scale relative to the weight scale: how fast a plain SGD step changes the weight."""
        if self.gradient_rms is None or not self.weight_rms:
            return None
        return self.gradient_rms / self.weight_rms


@dataclass(frozen=True)
class LayerGradient:
    """What the backward analysis predicts for one layer."""

    name: str
    output_gradient_rms: Optional[float]  # RMS of d(loss)/d(layer output) per element; None: unknown
    weights: tuple[WeightGradient, ...]  # one per trainable variable, in Keras order
    # RMS of d(loss)/d(pre-activation) for layers that apply an activation (the logits, for the output layer of a
    # softmax or sigmoid classifier: Keras computes its cross-entropy from them, and the probabilities are not on
    # TensorFlow's gradient path, so there output_gradient_rms is None).
    pre_activation_gradient_rms: Optional[float] = None

    def weight(self, variable: str) -> Optional[WeightGradient]:
        """The prediction for one variable by name, or None."""
        return next((w for w in self.weights if w.variable == variable), None)


@dataclass(frozen=True)
class GradientReport:
    """Per-layer gradient predictions, every layer of the spec in the analysis's order."""

    layers: dict[str, LayerGradient]
    loss: Optional[str]  # the spec's loss ("a, b" for one per output); None when it has no training block
    batch_size: int = DEFAULT_BATCH_SIZE  # B: the loss is the mean over B examples
    assumed_loss: Optional[str] = None  # the loss the prediction used when `loss` is None (see _assumed_loss)


@dataclass(frozen=True)
class Gradient:
    """Per-element moments of one example's loss gradient with respect to a tensor (d = ∂ℓ_b/∂x_b)."""

    mean: float
    second: float
    shared: float  # E[d_t d_t'] for two different positions or examples of one unit (includes mean²)
    # How much more of it the activation before it lets through than at a typical position (a max pool's
    # selected maxima, see _selected_gain); the activation's backward step applies it.
    selected: float = 1.0
    # E[d_j d_k] for two different units at one position of one example; None: mean² (see Signal.cross).
    cross: Optional[float] = None
    masked: Optional[str] = None  # the layer whose ReLU mask it already carries (a ReLU applied to a ReLU's output)
    # E[d_t d_t'] for two different positions of one unit in ONE example, where a global pool downstream made them
    # far more alike than two examples are (every position of an example gets the pool's gradient); None: as
    # ``shared``. Only a sum over the positions of one example (a broadcast gate, up-sampling's copies) uses it.
    local: Optional[float] = None

    @property
    def alike(self) -> float:
        """What two positions of one example share: ``local`` where known, else ``shared``."""
        return self.shared if self.local is None else self.local

    def scaled(self, factor: float) -> Gradient:
        cross = None if self.cross is None else self.cross * factor**2
        local = None if self.local is None else self.local * factor**2
        return replace(
            self,
            mean=self.mean * factor,
            second=self.second * factor**2,
            shared=self.shared * factor**2,
            cross=cross,
            local=local,
        )


ZERO = Gradient(0.0, 0.0, 0.0)


def _total(parts: list[Optional[Gradient]]) -> Optional[Gradient]:
    """The gradient of a tensor that feeds several consumers: the sum of independent contributions."""
    if not parts or any(p is None for p in parts):
        return None if parts else ZERO
    live = [p for p in parts if p.second > 0]
    if len(live) == 1:
        return live[0]
    if len(parts) == 1:
        return parts[0]
    mean = sum(p.mean for p in parts)
    second = mean * mean + sum(p.second - p.mean * p.mean for p in parts)
    shared = mean * mean + sum(p.shared - p.mean * p.mean for p in parts)
    local = None
    if any(p.local is not None for p in parts):
        local = min(mean * mean + sum(p.alike - p.mean * p.mean for p in parts), second)
    return Gradient(mean, second, shared, local=local)


# --- the loss: the gradient of one example's loss at the outputs --------------------------------------------

CROSS_ENTROPY = {"categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax"}
BINARY_ENTROPY = {"binary_crossentropy": "sigmoid"}
_REGRESSION: dict[str, Callable[[float, Optional[float]], float]] = {
    "mean_squared_error": lambda e, delta: 2.0 * e,
    "mean_absolute_error": lambda e, delta: (e > 0) - (e < 0),
    "huber": lambda e, delta: max(-delta, min(delta, e)),
    "log_cosh": lambda e, delta: math.tanh(e),
}


@dataclass(frozen=True)
class _Seed:
    """Where a loss puts its gradient: at the output (``pre`` False) or at the logits before its activation."""

    gradient: Optional[Gradient]
    pre: bool = False


def _final_activation(info: LayerInfo) -> Optional[str]:
    return info.spec.applied_activation()


def _assumed_loss(info: LayerInfo) -> str:
    """The loss assumed for an output when the spec has no training block: what its activation suggests."""
    activation = _final_activation(info)
    if activation == "softmax":
        return "categorical_crossentropy"
    if activation == "sigmoid":
        return "binary_crossentropy"
    return "mean_squared_error"


def _positions(info: LayerInfo) -> Optional[tuple[int, int]]:
    """(positions, units) of an output per example; None when a length is unknown."""
    shape = info.output_shape
    if shape is None or None in shape:
        return None
    return math.prod(shape[:-1]), shape[-1]


def _classes(p: Signal, labels: tuple[float, float], per: float, units: Optional[int] = None) -> Gradient:
    """d = (p − y) / per, for labels independent of p with E[y] and E[y²] = ``labels``; ``units``: one class in
    that many, so the units' d add up to zero."""
    y_mean, y_second = labels
    second = p.second - 2 * p.mean * y_mean + y_second
    cross = -second / (units - 1) if units and units > 1 else None
    return Gradient(
        p.mean - y_mean,
        second,
        p.common - 2 * p.mean * y_mean + y_mean * y_mean,
        cross=cross,
    ).scaled(1.0 / per)


def _seed(loss, info: LayerInfo, out: Signal) -> _Seed:
    """The gradient of one example's loss with respect to the output ``info`` (or its logits)."""
    sizes = _positions(info)
    if sizes is None:
        return _Seed(None)
    positions, units = sizes
    name, from_logits = loss.type, bool(loss.from_logits)
    activation = _final_activation(info)
    smoothing = loss.label_smoothing or 0.0
    if name in CROSS_ENTROPY or name in BINARY_ENTROPY:
        squash = CROSS_ENTROPY.get(name) or BINARY_ENTROPY[name]
        if name in CROSS_ENTROPY:  # one class in K, uniformly; smoothed labels (1 − ε) y + ε / K
            hot, cold = 1 - smoothing + smoothing / units, smoothing / units
            labels, per = (1.0 / units, (hot * hot + (units - 1) * cold * cold) / units), positions
        else:  # fair coins; smoothed labels (1 − ε) y + ε / 2; the loss averages over the units
            hot, cold = 1 - smoothing / 2, smoothing / 2
            labels, per = (0.5, (hot * hot + cold * cold) / 2), positions * units
        exclusive = units if name in CROSS_ENTROPY else None
        if not from_logits and activation == squash:
            return _Seed(_classes(out, labels, per, exclusive), pre=True)
        if from_logits and activation == "linear":
            p = activate(squash, out.moments, units, out.common)
            return _Seed(_classes(p, labels, per, exclusive))
        return _Seed(None)
    if name not in _REGRESSION:
        return _Seed(None)
    # Targets y ~ N(0, 1) independent of the output: the error e = ŷ − y is Gaussian around the output's mean.
    fn = _REGRESSION[name]
    delta = loss.delta or 1.0
    var = out.var + 1.0
    mean, second = gaussian_expectation(lambda e: fn(e, delta), out.mean, var)
    slope = _slope(lambda e: fn(e, delta), out.mean, var)
    shared = mean * mean + slope * slope * max(out.common - out.mean * out.mean, 0.0)
    cross = None
    together = 0.0 if out.cross is None else min(max(out.cross - out.mean * out.mean, 0.0), out.var)
    if together > 0:  # the outputs move together (a non-zero-mean kernel): so do their errors
        inner = lambda u: gaussian_expectation(lambda e: fn(e, delta), u, var - together)[0]  # noqa: E731
        cross = gaussian_expectation(inner, out.mean, together)[1]
    seed = Gradient(mean, second, min(shared, second), cross=cross)
    return _Seed(seed.scaled(1.0 / (positions * units)))


def _slope(fn: Callable[[float], float], mean: float, var: float) -> float:
    """d/dμ E[fn(z)] for z ~ N(μ, var), by Stein's lemma (E[fn(z)(z − μ)] / var): exact for step functions such
    as relu's derivative, where moving the quadrature's nodes would see no change at all."""
    if var <= 0:
        return 0.0
    return gaussian_expectation(lambda z: fn(z) * (z - mean), mean, var)[0] / var


def band_reference(head_speeds: Iterable[tuple[T, float]], vanishing: bool) -> tuple[T, float]:
    """The reference of the gradient band (MS113/MS114, and the probe's gradient flags): of the last weighted
    layers (``Analysis.last_weighted``), each given with how fast its kernel learns (its gradient relative to its
    weight), the one that makes the finding least likely: the slowest when looking for a vanishing gradient,
    the fastest when looking for an exploding one."""
    return (min if vanishing else max)(head_speeds, key=lambda pair: pair[1])


def _gate(producer: str, consumer: LayerInfo, speed: Optional[float], reference: float) -> bool:
    """Whether ``producer`` reaches ``consumer`` as a gate: the operand of a `multiply` broadcast over positions (a
    squeeze-excite gate), or a `layer_scale` whose γ learns (``speed``, its gradient/weight ratio) at least as
    fast as the band's ``reference`` (a learned factor that starts near 0 and leaves it within the first steps)."""
    if consumer.type == "multiply":
        size = lambda shape: None if shape is None or None in shape else math.prod(shape)  # noqa: E731
        out = size(consumer.output_shape)
        sizes = [size(shape) for ref, shape in zip(consumer.inputs, consumer.input_shapes) if ref == producer]
        return out is not None and bool(sizes) and all(size is not None and size < out for size in sizes)
    return consumer.type == "layer_scale" and speed is not None and speed >= reference


def behind_gates(
    analysis: Analysis, gamma_speed: Callable[[str], Optional[float]], reference: float
) -> dict[str, frozenset[str]]:
    """The gradient band's gates (docs/signal.md, "The gradient band"): the layers whose every route to an output
    passes through a gate, each with the gates it passes through. ``gamma_speed`` gives a layer_scale's γ
    gradient/weight ratio (None: unknown), ``reference`` the band's reference ratio (``band_reference``).

    Their step-0 ratio relative to the head measures the gate's starting value, not their pace: a squeeze-excite
    branch scales the channels of a path that carries the signal without it, and the layers behind a layer_scale
    of 1e-6 get their gradient once γ has moved (in one Adam step). So the band judges them against the last
    weighted layers before their gate (``nearest_to_gates``) instead: what vanishes inside the branch is found."""
    gated: dict[str, frozenset[str]] = {}
    for name, info in reversed(analysis.layers.items()):  # consumers first
        consumers = [analysis.layers[c] for c in info.consumers]
        if name in analysis.outputs or not consumers:
            continue
        gates = [
            frozenset({c.name})
            if _gate(name, c, gamma_speed(c.name) if c.type == "layer_scale" else None, reference)
            else gated.get(c.name)
            for c in consumers
        ]
        if all(g is not None for g in gates):
            gated[name] = frozenset().union(*gates)
    return gated


def nearest_to_gates(analysis: Analysis, gated: dict[str, frozenset[str]]) -> frozenset[str]:
    """Of the layers ``behind_gates`` found, those that reach their gate without crossing a weighted layer (as
    ``Analysis.last_weighted`` for the outputs): the references of the bands behind the gates."""
    near: set[str] = set()
    for name, info in reversed(analysis.layers.items()):
        if name in gated and any(
            c in gated[name] or (c in near and c not in analysis.weighted) for c in info.consumers
        ):
            near.add(name)
    return frozenset(near)


@dataclass(frozen=True)
class BandReference:
    """What the gradient band judges one layer against: a layer and how fast its kernel learns."""

    name: str
    speed: float
    gates: frozenset[str]  # the gates the judged layer lies behind; empty: it is judged against the outputs' band


def band_references(
    analysis: Analysis,
    speeds: Mapping[str, float],
    gamma_speed: Callable[[str], Optional[float]],
    vanishing: bool,
) -> dict[str, BandReference]:
    """The gradient band (MS113/MS114, and the probe's gradient flags), once: for every layer of ``speeds`` (name ->
    how fast its first kernel learns, predicted or measured; positive) that the band judges, what it is judged
    against. A layer in front of the gates is judged against the last weighted layers (``band_reference``); a layer
    behind a gate (``behind_gates``) against the last weighted layers before its gate (``nearest_to_gates``). The
    references themselves are not judged, nor a layer whose output only feeds normalisation (scale-invariant: its
    ratio corrects itself; docs/signal.md, "The gradient band"), nor the layers behind a gate with no weighted
    layer before it."""
    heads = [(name, speed) for name, speed in speeds.items() if name in analysis.last_weighted]
    if not heads:
        return {}
    last, reference = band_reference(heads, vanishing)
    gated = behind_gates(analysis, gamma_speed, reference)
    near = nearest_to_gates(analysis, gated)
    groups: dict[frozenset[str], list[tuple[str, float]]] = {}
    for name, speed in speeds.items():
        if name in gated:
            groups.setdefault(gated[name], []).append((name, speed))
    judged = {name: BandReference(last, reference, frozenset()) for name in speeds if name not in gated}
    for gates, members in groups.items():
        ends = [(name, speed) for name, speed in members if name in near]
        if ends:
            end, speed = band_reference(ends, vanishing)
            judged.update({name: BandReference(end, speed, gates) for name, _ in members if name not in near})
    skipped = analysis.last_weighted
    return {name: ref for name, ref in judged.items() if name not in skipped and not analysis.normalised(name)}


def output_losses(analysis: Analysis) -> dict:
    """The loss of each output: the spec's, or without a training block the one its activation suggests
    (categorical cross-entropy after softmax, binary after sigmoid, mean squared error otherwise)."""
    return _losses(analysis)[2]


def _losses(analysis: Analysis) -> tuple[Optional[str], Optional[str], dict]:
    """(the spec's loss, the assumed loss, {output: loss}) — one loss per output."""
    per_output = analysis.losses
    if analysis.spec.training is None:
        per_output = {name: Loss(type=_assumed_loss(analysis.layers[name])) for name in per_output}
        assumed = ", ".join(dict.fromkeys(loss.type for loss in per_output.values()))
        return None, assumed, per_output
    return ", ".join(dict.fromkeys(loss.type for loss in per_output.values())), None, per_output


# --- activations backwards -----------------------------------------------------------------------------------


def _derivative(name: str) -> Callable[[float], float]:
    fn = ACTIVATIONS[name].fn

    def derivative(x: float) -> float:
        h = 1e-4 * max(1.0, abs(x))
        return (fn(x + h) - fn(x - h)) / (2 * h)

    return derivative


def _through(name: str, z: tuple[float, float, float], out: Signal, d: Gradient) -> Gradient:
    """The gradient at an activation's input z ~ N(mean, var) (``between``: the part shared by a unit)."""
    mean, var, between = z
    if name == "linear" or (d.masked is not None and name in IDEMPOTENT):
        return d
    if name in ("softmax", "log_softmax"):
        # The Jacobian is not element-wise: d_z = p (d − Σ p d) for softmax, d − p Σ d for log_softmax. Rough:
        # it removes the part of d common to the units and weighs the rest by p.
        spread = max(d.second - d.mean * d.mean, 0.0)
        if name == "softmax":
            return Gradient(0.0, out.second * spread, out.common * max(d.shared - d.mean * d.mean, 0.0))
        return Gradient(0.0, spread, max(d.shared - d.mean * d.mean, 0.0))
    derivative = _derivative(name)
    if var <= 0:  # every unit at the same point: at a kink TensorFlow takes the left slope (relu'(0) = 0)
        h = 1e-6 * max(1.0, abs(mean))
        return d.scaled((ACTIVATIONS[name].fn(mean) - ACTIVATIONS[name].fn(mean - h)) / h)
    within = max(var - between, 0.0)
    fn = ACTIVATIONS[name].fn
    if name == "relu":  # f' is 0 or 1: E[f'] = E[f'²] = P(z > 0)
        first = second = _above_zero(mean, var)
        inner = lambda u: _above_zero(u, within)  # noqa: E731
    else:
        first = _slope(fn, mean, var)  # E[f'(z)], by Stein's lemma from f itself
        second = gaussian_expectation(derivative, mean, var)[1]
        inner = lambda u: _slope(fn, u, within) if within > 0 else derivative(u)  # noqa: E731
    # Two positions of one unit share its mean u: E[f'(z) f'(z')] = E_u[(E[f'(u + e)])²].
    together = gaussian_expectation(inner, mean, between)[1] if between > 0 else first * first
    together = min(max(together, first * first), second)
    gain = d.selected
    cross = None
    if d.cross is not None:  # E[f'(z_j) f'(z_k)] E[d_j d_k], the units' pre-activations coupled as the forward says
        cross = _couple(name, derivative, (mean, var), out.pre_cross) * d.cross * gain
    local = None if d.local is None else together * gain * d.local
    return Gradient(
        first * gain * d.mean, second * gain * d.second, together * gain * d.shared, cross=cross, local=local
    )


def _couple(name: str, derivative, z: tuple[float, float], pair: Optional[float]) -> float:
    """E[f'(z_j) f'(z_k)] for two units' pre-activations z ~ N(mean, var) with E[z_j z_k] = ``pair``."""
    mean, var = z
    together = 0.0 if pair is None else min(max(pair - mean * mean, 0.0), var)
    if name == "relu":
        inner = lambda u: _above_zero(u, var - together)  # noqa: E731
    elif name == "linear":
        return 1.0
    else:
        inner = lambda u: _slope(ACTIVATIONS[name].fn, u, var - together) if var > together else derivative(u)  # noqa: E731
    if together <= 0:
        return inner(mean) ** 2
    return gaussian_expectation(inner, mean, together)[1]


def _above_zero(mean: float, var: float) -> float:
    """P(z > 0) for z ~ N(mean, var)."""
    if var <= 0:
        return 1.0 if mean > 0 else 0.0
    return 0.5 * math.erfc(-mean / math.sqrt(2.0 * var))


def _pre(signal: Optional[Signal]) -> Optional[tuple[str, tuple[float, float, float]]]:
    """(activation, (E[z], Var z, between)) of the activation that produced ``signal``."""
    if signal is None or signal.gaussian_pre is None:
        return None
    name, mean, var, between = signal.gaussian_pre
    return name, (mean, var, between)


# --- the backward pass ---------------------------------------------------------------------------------------


@dataclass
class _Step:
    """What going back through one layer gives: a gradient per input, the weights' predictions, the gradient
    at the pre-activation."""

    inputs: list[Optional[Gradient]]
    weights: tuple[WeightGradient, ...] = ()
    pre: Optional[Gradient] = None


class _Context:
    def __init__(self, analysis: Analysis, signal: SignalReport, batch: int):
        self.analysis = analysis
        self.signal = signal
        self.batch = batch

    def input_signal(self, ref: str) -> Optional[Signal]:
        if ref in self.analysis.inputs:
            return INPUT_SIGNAL
        return self.signal.layers[ref].output

    def elements(self, shape) -> Optional[int]:
        return None if shape is None or None in shape else math.prod(shape)

    def weight_rms(self, info: LayerInfo, variable) -> Optional[float]:
        spec = info.initializers.get(variable.slot) if variable.slot else None
        if spec is None:
            return None
        try:
            mean, var = initializer_moments(spec, variable.shape)
        except ValueError:
            return None
        return math.sqrt(var + mean * mean)

    def summed(self, uses: float, d_second: float, d_shared: float, x_second: float, x_shared: float) -> float:
        """RMS of (1/B) Σ d_t x_t over ``uses`` terms per example (B examples)."""
        n = uses * self.batch
        total = n * d_second * x_second + n * max(n - 1, 0.0) * d_shared * x_shared
        return math.sqrt(max(total, 0.0)) / self.batch


def _finite(value: Optional[float]) -> Optional[float]:
    """The value, or None where the moments overflowed (an exponential activation on a large signal)."""
    return value if value is not None and math.isfinite(value) else None


def _variables(ctx: _Context, info: LayerInfo, gradients: dict[str, Optional[float]]) -> tuple[WeightGradient, ...]:
    """One WeightGradient per trainable variable, in Keras order."""
    return tuple(
        WeightGradient(v.name, _finite(ctx.weight_rms(info, v)), _finite(gradients.get(v.name)))
        for v in info.variables or ()
        if v.trainable
    )


def _kernel_step(  # noqa: PLR0913 - one step of the backward recursion, its facts passed flat
    ctx: _Context,
    info: LayerInfo,
    slot: str,
    shape: tuple,
    n_in: float,
    out_elems: int,
    in_elems: int,
    x: tuple[float, float, float],
    d: Gradient,
) -> tuple[Gradient, float]:
    """Back through one kernel: (the gradient at its input, the kernel gradient's RMS).

    ``x`` = (mean, second, shared) of the kernel's input; ``n_in`` its effective fan-in; each weight is used
    out_elems · n_in / size times per example, and each input element feeds out_elems · n_in / in_elems outputs.
    """
    weight = weight_moments(info, slot, shape)
    n_out = out_elems * n_in / in_elems
    mean, second = affine(n_out, weight, (d.mean, d.second), cross=d.cross)
    # Units' means over the batch are coupled as the units are: the cross moment in proportion.
    shared_cross = None if d.cross is None or d.second <= 0 else d.cross * d.shared / d.second
    shared = max(affine(n_out, weight, (d.mean, d.shared), cross=shared_cross)[1], 0.0)
    local = None
    if d.local is not None:  # two positions of one example: the same law as for two examples
        local_cross = None if d.cross is None or d.second <= 0 else d.cross * d.local / d.second
        local = min(max(affine(n_out, weight, (d.mean, d.local), cross=local_cross)[1], 0.0), second)
    uses = out_elems * n_in / math.prod(shape)
    rms = ctx.summed(uses, d.second, d.shared, x[1], x[2])
    cross = None  # two input units share only the weights' mean
    if weight[0] != 0 and not _per_channel(info):
        cross = pair_moment(n_out, weight, (d.mean, d.second), d.cross)
    return Gradient(mean, second, min(shared, second), cross=cross, local=local), rms


def _per_channel(info: LayerInfo) -> bool:
    return info.type in ("depthwise_conv2d", "separable_conv2d")


def _at_pre(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed: Optional[_Seed]) -> Optional[Gradient]:
    """The gradient at a layer's pre-activation: its output's gradient taken back through the activation, plus
    a loss seeded at the logits."""
    layer = ctx.signal.layers[info.name]
    parts: list[Optional[Gradient]] = []
    if seed is not None and seed.pre:
        parts.append(seed.gradient)
    if d is None:
        parts.append(None)
    elif d.second > 0 or not parts:  # a fused seed with no consumer: nothing comes through the activation
        pre = _pre(layer.output)
        parts.append(None if pre is None else _through(pre[0], pre[1], layer.output, d))
    return _total(parts)


def _weighted(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed: Optional[_Seed]) -> _Step:
    d_z = _at_pre(ctx, info, d, seed)
    x_signal = ctx.input_signal(info.inputs[0])
    out_elems, in_elems = ctx.elements(info.output_shape), ctx.elements(info.input_shapes[0])
    if d_z is None or x_signal is None or out_elems is None or in_elems is None:
        return _Step([None], _variables(ctx, info, {}), d_z)
    x = (x_signal.mean, x_signal.second, x_signal.common)
    grads: dict[str, Optional[float]] = {}
    if info.type == "separable_conv2d":
        d_x, grads = _separable(ctx, info, d_z, x, out_elems, in_elems)
    else:
        slot = "depthwise_initializer" if info.type == "depthwise_conv2d" else "kernel_initializer"
        shape = info.variable_shape("kernel")
        n_in = effective_fan_in(info, slot)
        d_x, grads["kernel"] = _kernel_step(ctx, info, slot, shape, n_in, out_elems, in_elems, x, d_z)
        uses = out_elems * n_in / math.prod(shape)
        response = _response(ctx, info, d, uses, weight_moments(info, slot, shape)[1], x_signal.var)
        grads["kernel"] = math.sqrt(grads["kernel"] ** 2 + response)
    if getattr(info.spec, "use_bias", False):
        grads["bias"] = ctx.summed(out_elems / info.output_shape[-1], d_z.second, d_z.shared, 1.0, 1.0)
    return _Step([d_x], _variables(ctx, info, grads), d_z)


def _response(ctx: _Context, info: LayerInfo, d: Optional[Gradient], uses: float, w2: float, x_var: float) -> float:
    """The part of a kernel's squared gradient that comes from its units' activation responding to the very input
    it multiplies: E[f'(z) x_i] = E[f''(z)] w_i Var x_i (Stein's lemma, x Gaussian), shared by every use of the
    weight whose output gradient is alike. Small for a dense layer (used once per example); for a convolution on
    raw pixels, used at every position, it is most of the gradient."""
    pre = _pre(ctx.signal.layers[info.name].output)
    if d is None or pre is None or pre[0] in ("linear", "softmax") or d.shared <= 0:
        return 0.0
    name, (mean, var, _) = pre
    if var <= 0:
        return 0.0
    if name == "relu":
        curvature = math.exp(-mean * mean / (2 * var)) / math.sqrt(2 * math.pi * var)  # E[δ(z)] = φ(μ/σ)/σ
    else:
        curvature = _slope(_derivative(name), mean, var)  # E[f''(z)] = d/dμ E[f'(z)]
    n = uses * ctx.batch
    return n * max(n - 1, 0.0) * d.shared * curvature**2 * w2 * x_var**2 / ctx.batch**2


def _separable(ctx, info, d_z, x, out_elems, in_elems):
    """Depthwise, then pointwise: the intermediate tensor's moments follow the forward laws."""
    dw_shape, pw_shape = info.variable_shape("depthwise_kernel"), info.variable_shape("pointwise_kernel")
    n_dw = effective_fan_in(info, "depthwise_initializer")
    weight = weight_moments(info, "depthwise_initializer", dw_shape)
    mid_mean, mid_second = affine(n_dw, weight, (x[0], x[1]))
    mid_shared = affine(n_dw, weight, (x[0], x[2]))[1]
    mid_elems = out_elems // info.output_shape[-1] * pw_shape[-2]
    n_pw = effective_fan_in(info, "pointwise_initializer")
    mid = (mid_mean, mid_second, min(mid_shared, mid_second))
    d_mid, pointwise = _kernel_step(ctx, info, "pointwise_initializer", pw_shape, n_pw, out_elems, mid_elems, mid, d_z)
    d_x, depthwise = _kernel_step(ctx, info, "depthwise_initializer", dw_shape, n_dw, mid_elems, in_elems, x, d_mid)
    return d_x, {"depthwise_kernel": depthwise, "pointwise_kernel": pointwise}


def _activation(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed: Optional[_Seed]) -> _Step:
    x = ctx.input_signal(info.inputs[0])
    d_z = _at_pre(ctx, info, d, seed)
    if d_z is not None and x is not None and reapplied(info.spec.applied_activation(), x):
        # A ReLU on a ReLU's output applies the producer's mask: the producer must not apply it a second time.
        producer = next((n for n, layer in ctx.signal.layers.items() if layer.output is x), None)
        d_z = replace(d_z, masked=producer)
    return _Step([d_z], (), d_z)


def _normalization(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed) -> _Step:
    """Batch norm (training: the batch's statistics) or layer norm, backwards.

    Batch norm subtracts the batch mean of the gradient, per channel: the part shared by the channel's positions
    and examples goes, and so does the gradient's shared part downstream. Layer norm subtracts the mean over
    the features of one example: the part common to all units goes."""
    x_signal = ctx.input_signal(info.inputs[0])
    if d is None or x_signal is None:
        return _Step([None], _variables(ctx, info, {}))
    spec = info.spec
    size = info.variable_shape("gamma") or info.variable_shape("beta") or (1,)
    gamma = weight_moments(info, "gamma_initializer", size) if spec.scale else (1.0, 1.0)
    # Batch norm divides by each channel's spread over the batch (its own mean excluded), layer norm by each
    # example's spread over the features.
    spread = x_signal.within if info.type == "batch_norm" else x_signal.var
    normalised = spread / (spread + spec.epsilon)
    gain = gamma[1] / (spread + spec.epsilon)
    out_elems = ctx.elements(info.output_shape)
    per_unit = (out_elems or 1) / (info.output_shape[-1] or 1)
    grads: dict[str, Optional[float]] = {}
    if info.type == "batch_norm":
        n = ctx.batch * per_unit
        within = max(d.second - d.shared, 0.0)
        # What positions of one example share beyond what examples do survives the batch mean.
        local = None if d.local is None else gain * max(d.local - d.shared, 0.0)
        d_x = Gradient(0.0, gain * within * max(1.0 - 2.0 / n, 0.0), 0.0, local=local)
        x_hat_shared = 0.0
    else:
        local = None if d.local is None else gain * max(d.local - d.mean**2, 0.0)
        d_x = Gradient(0.0, gain * max(d.second - d.mean**2, 0.0), gain * max(d.shared - d.mean**2, 0.0), local=local)
        x_hat_shared = max(x_signal.common - x_signal.mean**2, 0.0) / max(x_signal.var, 1e-30)
    grads["gamma"] = ctx.summed(per_unit, d.second, d.shared, normalised, x_hat_shared * normalised)
    grads["beta"] = ctx.summed(per_unit, d.second, d.shared, 1.0, 1.0)
    return _Step([d_x], _variables(ctx, info, grads))


def _same(ctx, info, d, seed) -> _Step:
    return _Step([d])


def _dropout(ctx, info, d, seed) -> _Step:
    if d is None:
        return _Step([None])
    keep = 1 - info.spec.rate  # kept gradients are scaled by 1/(1 − rate), like the values
    return _Step([Gradient(d.mean, d.second / keep, d.shared, local=d.local)])


_ALPHA_PRIME = -1.7580993408473766  # −scale · alpha of SELU: the value alpha dropout drops to


def _alpha_dropout(ctx, info, d, seed) -> _Step:
    if d is None:
        return _Step([None])
    rate = info.spec.rate
    a = ((1 - rate) * (1 + rate * _ALPHA_PRIME**2)) ** -0.5
    keep = 1 - rate
    return _Step([Gradient(a * keep * d.mean, a * a * keep * d.second, a * a * keep * keep * d.shared)])


def _channel_scaled(d: Optional[Gradient], scales: list[float]) -> Optional[Gradient]:
    """The gradient through x_c ↦ s_c·x_c + o_c, each channel with its own factor, averaged over the channels."""
    if d is None:
        return None
    mean, square = sum(scales) / len(scales), sum(s * s for s in scales) / len(scales)
    cross = None if d.cross is None else d.cross * mean * mean
    local = None if d.local is None else d.local * square
    return replace(d, mean=d.mean * mean, second=d.second * square, shared=d.shared * square, cross=cross, local=local)


def _rescaling(ctx, info, d, seed) -> _Step:
    return _Step([_channel_scaled(d, channel_values(info.spec.scale))])


def _fixed_normalization(ctx, info, d, seed) -> _Step:
    """(x − mean) / std with constants (or x · std + mean inverted); adapted statistics divide by the spread of
    what the layer receives."""
    spec = info.spec
    if spec.adapted:
        x = ctx.input_signal(info.inputs[0])
        if x is None or x.var <= 0:
            return _Step([None])
        return _Step([_channel_scaled(d, [1 / math.sqrt(x.var)])])
    stds = [max(math.sqrt(v), KERAS_EPSILON) for v in channel_values(spec.variance)]
    return _Step([_channel_scaled(d, stds if spec.invert else [1 / s for s in stds])])


def _layer_scale(ctx, info, d, seed) -> _Step:
    """y = γ·x per channel, γ starting at init_value: the input's gradient is γ·d, γ's sums d·x over the positions
    of its channel."""
    value = info.spec.init_value
    x = ctx.input_signal(info.inputs[0])
    out_elems = ctx.elements(info.output_shape)
    channels = info.output_shape[info.spec.axis] if info.output_shape else None
    gradient = None
    if d is not None and x is not None and out_elems is not None and channels:
        gradient = ctx.summed(out_elems / channels, d.second, d.shared, x.second, x.common)
    weights = tuple(WeightGradient(v.name, abs(value), _finite(gradient)) for v in info.variables or () if v.trainable)
    return _Step([None if d is None else d.scaled(value)], weights)


def _cropping(ctx, info, d, seed) -> _Step:
    """The cropped positions get no gradient: a kept fraction f of the input's positions gets the output's."""
    in_elems, out_elems = ctx.elements(info.input_shapes[0]), ctx.elements(info.output_shape)
    if d is None or not in_elems or out_elems is None:
        return _Step([None])
    kept = out_elems / in_elems
    return _Step([Gradient(d.mean * kept, d.second * kept, d.shared * kept * kept)])


def _spread(d: Gradient, scale: float, group: float, total: float) -> Gradient:
    """Every input position gets ``scale`` · its output's gradient; ``group`` inputs share one output, among
    ``total`` positions of a unit in the batch."""
    together = ((group - 1) * d.second + (total - group) * d.shared) / max(total - 1, 1.0)
    return Gradient(scale * d.mean, scale * scale * d.second, scale * scale * min(together, d.second))


def _pool(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed) -> _Step:
    in_elems, out_elems = ctx.elements(info.input_shapes[0]), ctx.elements(info.output_shape)
    if d is None or in_elems is None or out_elems is None:
        return _Step([None])
    if info.type.startswith("global"):
        k = in_elems / out_elems
    else:
        k = math.prod(per_axis(info.spec.pool_size, info.spec.RANK))
    total = ctx.batch * in_elems / info.input_shapes[0][-1]
    covered = out_elems * k / in_elems  # how many windows each input falls in, on average
    if "max" in info.type:  # the gradient goes to the window's largest input only
        share = covered / k
        shared = d.shared / (k * k) * max(total - k, 0.0) / max(total - 1, 1.0)
        gain = _selected_gain(ctx.input_signal(info.inputs[0]), int(round(k)))
        return _Step([Gradient(d.mean * share, d.second * share, min(shared, d.second * share), gain)])
    if abs(covered - 1.0) < 1e-9:
        spread = _spread(d, 1.0 / k, k, total)
        if info.type.startswith("global"):  # every position of an example gets the same gradient
            spread = replace(spread, local=spread.second)
        return _Step([spread])
    return _Step([Gradient(d.mean * covered / k, d.second * covered / (k * k), d.shared * covered**2 / (k * k))])


def _derivative_second(name: str, mean: float, var: float) -> float:
    """E[f'(z)²] for z ~ N(mean, var)."""
    if name == "relu":
        return _above_zero(mean, var)
    derivative = _derivative(name)
    return derivative(mean) ** 2 if var <= 0 else gaussian_expectation(derivative, mean, var)[1]


def _selected_gain(signal: Optional[Signal], k: int) -> float:
    """How much more of the gradient the activation before a max pool lets through at the window's maximum
    than at a typical position: a ReLU's maximum of 4 is almost always active, a typical unit half the time.
    The activation's backward step (which sees every position alike) is corrected by this factor."""
    if signal is None or signal.gaussian_pre is None or k <= 1:
        return 1.0
    name, mean, var, between = signal.gaussian_pre
    if name in ("linear", "softmax"):
        return 1.0
    shift, spread = order_statistics(k)
    within = max(var - between, 0.0)
    typical = _derivative_second(name, mean, var)
    top = _derivative_second(name, mean + shift * math.sqrt(within), between + spread * within)
    return top / typical if typical > 0 else 1.0


def _copies(d: Gradient, k: float) -> Gradient:
    """The gradient of a value used ``k`` times in one example, each use's gradient ``d``: their sum (up-sampling's
    copies, an operand broadcast over k positions). Two uses are as alike as two positions of one example."""
    local = None if d.local is None else k * k * d.local
    return Gradient(k * d.mean, k * d.second + k * (k - 1) * d.alike, k * k * d.shared, local=local)


def _up_sampling(ctx, info, d, seed) -> _Step:
    if d is None:
        return _Step([None])
    return _Step([_copies(d, math.prod(per_axis(info.spec.size, 2)))])  # each input sums its copies' gradients


def _add(ctx, info, d, seed) -> _Step:
    """Every input gets the output's gradient (concatenate: each its own slice, with the same moments)."""
    return _Step([d] * len(info.inputs))


def _subtract(ctx, info, d, seed) -> _Step:
    return _Step([d, None if d is None else Gradient(-d.mean, d.second, d.shared)])


def _average(ctx, info, d, seed) -> _Step:
    n = len(info.inputs)
    return _Step([None if d is None else d.scaled(1.0 / n)] * n)


def _multiply(ctx, info, d, seed) -> _Step:
    """y = Π x_i: each operand's gradient is d times the others. An operand broadcast over positions (a
    squeeze-excite gate of shape (1, 1, C) over H×W) is used at each of them, so its gradient sums the
    products over the k = |y| / |x_i| positions it is broadcast to."""
    signals = [ctx.input_signal(ref) for ref in info.inputs]
    out_elems = ctx.elements(info.output_shape)
    if d is None or any(s is None for s in signals):
        return _Step([None] * len(signals))
    broadcast = [shape != info.output_shape for shape in info.input_shapes]
    out = []
    for i, shape in enumerate(info.input_shapes):
        others = [(s, broadcast[j]) for j, s in enumerate(signals) if j != i]
        local = None  # a broadcast operand is the same at every position of an example: E[g_t g_t'] = E[g²]
        if d.local is not None or any(wide for _, wide in others):
            local = d.alike * math.prod(s.second if wide else s.common for s, wide in others)
        product = Gradient(
            d.mean * math.prod(s.mean for s, _ in others),
            d.second * math.prod(s.second for s, _ in others),
            d.shared * math.prod(s.common for s, _ in others),
            local=None if local is None else min(local, d.second * math.prod(s.second for s, _ in others)),
        )
        in_elems = ctx.elements(shape)
        if shape == info.output_shape:  # element-wise, whatever lengths are unknown
            out.append(product)
        else:
            out.append(None if not in_elems or out_elems is None else _copies(product, out_elems / in_elems))
    return _Step(out)


def _embedding(ctx: _Context, info: LayerInfo, d: Optional[Gradient], seed) -> _Step:
    """An embedding row's gradient sums the gradients of its lookups: with tokens uniform over the vocabulary,
    a row is looked up positions · B / vocabulary times per batch on average."""
    shape = info.variable_shape("embeddings")
    in_elems = ctx.elements(info.input_shapes[0]) if info.input_shapes else None
    if d is None or in_elems is None:
        return _Step([], _variables(ctx, info, {}))
    lookups = in_elems * ctx.batch / shape[0]
    total = lookups * d.second + lookups * lookups * d.shared
    return _Step([], _variables(ctx, info, {"embeddings": math.sqrt(total) / ctx.batch}))


def _opaque(ctx, info, d, seed) -> _Step:
    """Recurrent layers, attention and opaque classes: not modelled backwards yet."""
    return _Step([None] * len(info.inputs), _variables(ctx, info, {}))


def _keras(ctx, info, d, seed) -> _Step:
    spec = info.spec
    if len(info.inputs) == 1 and spec.class_name in IDENTITY_CLASSES:
        return _Step([d])
    if len(info.inputs) == 1 and spec.applied_activation() is not None and not spec.config:
        return _activation(ctx, info, d, seed)
    return _opaque(ctx, info, d, seed)


BackwardHandler = Callable[[_Context, LayerInfo, Optional[Gradient], Optional[_Seed]], _Step]
HANDLERS: dict[str, BackwardHandler] = {
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
    "alpha_dropout": _alpha_dropout,
    "gaussian_noise": _same,
    "flatten": _same,
    "reshape": _same,
    "permute": _same,
    "rescaling": _rescaling,
    "normalization": _fixed_normalization,
    "layer_scale": _layer_scale,
    "cropping1d": _cropping,
    "cropping2d": _cropping,
    "cropping3d": _cropping,
    "zero_padding2d": _same,
    "up_sampling2d": _up_sampling,
    "max_pool1d": _pool,
    "max_pool2d": _pool,
    "average_pool1d": _pool,
    "average_pool2d": _pool,
    "global_average_pool1d": _pool,
    "global_average_pool2d": _pool,
    "global_max_pool1d": _pool,
    "global_max_pool2d": _pool,
    "add": _add,
    "subtract": _subtract,
    "average": _average,
    "multiply": _multiply,
    "concatenate": _add,  # each input gets its slice: the same moments
    "lstm": _opaque,
    "gru": _opaque,
    "simple_rnn": _opaque,
    "bidirectional": _opaque,
    "multi_head_attention": _opaque,
    "keras": _keras,
}


def _rms(d: Optional[Gradient], batch: int) -> Optional[float]:
    return None if d is None else _finite(math.sqrt(max(d.second, 0.0)) / batch)


def predict_gradients(
    analysis: Analysis, signal: Optional[SignalReport] = None, batch_size: Optional[int] = None
) -> GradientReport:
    """Predict every weight's gradient scale at initialisation for the spec's loss (docs/signal.md).

    The gradient is that of the batch-mean loss over ``batch_size`` examples (default: the spec's
    `training.batch_size`, else 32) of standardised inputs and labels drawn to fit the loss. Without a
    training block, the loss is assumed from each output's activation: categorical cross-entropy after
    softmax, binary cross-entropy after sigmoid, mean squared error otherwise.
    """
    signal = signal if signal is not None else propagate(analysis)
    training = analysis.spec.training
    batch = batch_size or (training.batch_size if training is not None else DEFAULT_BATCH_SIZE)
    loss_name, assumed, losses = _losses(analysis)
    ctx = _Context(analysis, signal, batch)
    seeds: dict[str, _Seed] = {}
    for name, loss in losses.items():
        out = signal.layers[name].output
        seeds[name] = _seed(loss, analysis.layers[name], out) if out is not None else _Seed(None)
    received: dict[str, list[Optional[Gradient]]] = {name: [] for name in analysis.layers}
    results: dict[str, LayerGradient] = {}
    for name, info in reversed(analysis.layers.items()):
        seed = seeds.get(name)
        parts = list(received[name])
        if seed is not None and not seed.pre:
            parts.append(seed.gradient)
        d = _total(parts) if parts else (None if seed is None else ZERO)
        if info.variables is None or signal.layers[name].output is None:
            step = _Step([None] * len(info.inputs))
        else:
            step = HANDLERS[info.type](ctx, info, d, seed)
        for ref, gradient in zip(info.inputs, step.inputs):
            if ref in received:
                received[ref].append(gradient)
        fused = seed is not None and seed.pre
        results[name] = LayerGradient(
            name,
            None if fused and not received[name] else _rms(d, batch),
            step.weights,
            _rms(step.pre, batch),
        )
    ordered = {name: results[name] for name in analysis.layers}
    return GradientReport(ordered, loss_name, batch, assumed)
