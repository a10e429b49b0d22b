"""The moment algebra the forward (signal.py) and backward (gradients.py) analyses share.

- Initializer moments: the mean and variance of one weight element, exactly as Keras 3 draws it; the lint rules
  read them directly too (a kernel's mean against its spread, a fixed scale against the fan-in).
- ``Signal``, the per-element moments of a tensor, and the laws on them: an affine map of independent weights
  (``affine``, ``pair_moment``), a sum of independent terms, an activation (``activate``, with softmax's own
  law), the largest of k normals (``order_statistics``).

The table in docs/signal.md lists the same laws. Pure Python: never imports TensorFlow or NumPy.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from modelspec.analysis.shapes import compute_fans
from modelspec.schema.activations import ACTIVATIONS, gaussian_expectation
from modelspec.schema.initializers import scaling

if TYPE_CHECKING:
    from modelspec.analysis.graph import LayerInfo

Moments = tuple[float, float]  # (E[x], E[x²]) per element
KERAS_EPSILON = 1e-7  # Normalization divides by max(sqrt(variance), keras.config.epsilon())


# --- initializers --------------------------------------------------------------------------------------------

_TRUNCATED_NORMAL_VARIANCE = 0.7737413423560646  # Var of N(0, 1) cut at ±2 (Keras truncated_normal)


def initializer_moments(spec: Any, shape: tuple[int, ...]) -> tuple[float, float]:
    """Return (mean, variance) of one element drawn by a resolved initializer for a variable of ``shape``,
    exactly as Keras draws it (VarianceScaling's truncated normal is corrected back to scale/n; a plain
    truncated_normal keeps 0.774 of its nominal variance)."""
    kind = spec.type
    if kind == "zeros":
        return 0.0, 0.0
    if kind == "ones":
        return 1.0, 0.0
    if kind == "constant":
        return spec.value, 0.0
    if kind == "random_normal":
        return spec.mean, spec.stddev**2
    if kind == "truncated_normal":
        return spec.mean, spec.stddev**2 * _TRUNCATED_NORMAL_VARIANCE
    if kind == "random_uniform":
        return (spec.minval + spec.maxval) / 2, (spec.maxval - spec.minval) ** 2 / 12
    if kind in ("orthogonal", "identity"):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        if kind == "orthogonal":  # orthonormal rows or columns of length max(rows, cols)
            return 0.0, spec.gain**2 / max(rows, cols)
        diagonal = min(rows, cols) / (rows * cols)
        return spec.gain * diagonal, spec.gain**2 * diagonal * (1 - diagonal)
    vs = scaling(spec)
    if vs is None:
        raise ValueError(f"no variance known for initializer {kind!r}")
    scale, mode, _ = vs
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return 0.0, scale / max(1.0, n)


def _second(moments: Moments) -> Moments:
    mean, var = moments
    return mean, var + mean * mean


def weight_moments(info: LayerInfo, slot: str, shape: tuple[int, ...]) -> Moments:
    """(mean, second moment) of one weight of ``slot``; constant slots of absent variables are zero."""
    return _second(initializer_moments(info.initializers[slot], shape))


# --- tensors -------------------------------------------------------------------------------------------------


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


INPUT_SIGNAL = Signal(0.0, 1.0, 1.0, raw=True, shared=0.0)


# --- the laws ------------------------------------------------------------------------------------------------


def independent_sum(*parts: Moments) -> Moments:
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


def activated_pair(name: str, z: Moments, pair: float) -> Optional[float]:
    """E[f(z_j) f(z_k)] for two pre-activations with the same moments ``z`` and E[z_j z_k] = ``pair``; None when
    they are independent (then it is the mean of f squared)."""
    mean, second = z
    var = max(second - mean * mean, 0.0)
    together = min(max(pair - mean * mean, 0.0), var)
    if together <= 1e-12 * max(second, 1e-300) or name in ("softmax", "log_softmax"):
        return None
    return mean_square_of_means(name, mean, together, var - together)


@functools.lru_cache(maxsize=4096)  # nested quadrature, asked again with the same moments by every similar layer
def mean_square_of_means(name: str, mean: float, between: float, within: float) -> float:
    """E_u[(E[f(u + e)])²] for u ~ N(mean, between) (a unit's mean) and e ~ N(0, within) (the rest)."""
    activation = ACTIVATIONS[name]
    return gaussian_expectation(lambda u: activation.moments(u, within)[0], mean, between)[1]


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
        out_shared = mean_square_of_means(name, mean, between, var - between)
        out_shared = min(max(out_shared, out_mean * out_mean), out_second)
    return Signal(out_mean, out_second, 1.0, (name, mean, var, between), shared=out_shared)


@functools.lru_cache(maxsize=4096)  # two nested quadratures: asked again by every similar softmax head
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
    # rounding can leave the shared part a hair below zero (between ≈ 0, spread_within ≈ spread)
    common = gaussian_expectation(inner, 0.0, max(between + spread - spread_within, 0.0))[1]
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


IDEMPOTENT = frozenset({"relu", "relu6"})  # f(f(z)) = f(z)


def reapplied(name: str, x: Signal) -> bool:
    """Whether ``name`` is applied to what the same idempotent activation already produced: it changes nothing."""
    return name in IDEMPOTENT and x.gaussian_pre is not None and x.gaussian_pre[0] == name


def channel_values(value) -> list[float]:
    """A per-channel setting as a list: one value for every channel, or the list given."""
    return list(value) if isinstance(value, list) else [value]
