"""The activation table: every activation modelspec knows, its family, what `auto` initialises it with, and its
scalar function, from which the signal analysis takes each activation's moments (see docs/signal.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Optional

from pydantic import Field

from modelspec.schema.base import Spelled

RELU_FAMILY = "relu"
SATURATING = "saturating"
LINEAR = "linear"
SELU = "selu"
OTHER = "other"

Moments = tuple[float, float]  # (E[x], E[x²])


@dataclass(frozen=True)
class Activation:
    """One activation: its Keras name, family, the initializer `auto` picks for layers that feed it, its
    element-wise function as Keras defines it (``None`` for softmax and log_softmax, which act on a whole vector),
    and what the probe measures of it: the (lower, upper) bounds its outputs saturate towards, and whether it is
    exactly zero below its kink (a unit can then be dead: zero for every example).
    """

    name: str
    family: str
    auto_initializer: str
    fn: Optional[Callable[[float], float]]
    saturation_bounds: Optional[tuple[float, float]] = None
    dies: bool = False

    def moments(self, mean: float, var: float) -> Moments:
        """Return (E[f(z)], E[f(z)²]) for z ~ N(mean, var): closed form for linear and relu, else Gauss–Hermite."""
        if self.fn is None:
            raise ValueError(f"{self.name} acts on a whole vector, not element-wise")
        if var <= 0.0:
            value = self.fn(mean)
            return value, value * value
        if self.name == "linear":
            return mean, mean * mean + var
        if self.name == "relu":
            return _relu_moments(mean, math.sqrt(var))
        return gaussian_expectation(self.fn, mean, var)


# --- the element-wise functions, as Keras 3 defines them ---------------------------------------------------

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


_FUNCTIONS: dict[str, Optional[Callable[[float], float]]] = {
    "linear": lambda x: x,
    "relu": lambda x: x if x > 0 else 0.0,
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "leaky_relu": lambda x: x if x > 0 else 0.2 * x,  # keras.activations.leaky_relu: negative_slope=0.2
    "elu": lambda x: x if x > 0 else math.expm1(x),
    "gelu": lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),  # exact (approximate=False)
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * math.tanh(_softplus(x)),
    "selu": lambda x: _SELU_SCALE * (x if x > 0 else _SELU_ALPHA * math.expm1(x)),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: min(max(x + 3.0, 0.0), 6.0) / 6.0,  # relu6(x + 3) / 6
    "tanh": math.tanh,
    "softmax": None,
    "softsign": lambda x: x / (1.0 + abs(x)),
    "log_softmax": None,
    "softplus": _softplus,
    "exponential": lambda x: math.exp(min(x, 700.0)),
    "hard_silu": lambda x: x * min(max(x + 3.0, 0.0), 6.0) / 6.0,  # x * hard_sigmoid(x) (MobileNetV3's hard swish)
    "hard_tanh": lambda x: min(max(x, -1.0), 1.0),
    "celu": lambda x: x if x > 0 else math.expm1(x),  # alpha=1: elu's curve, as keras.activations.celu defaults
    "log_sigmoid": lambda x: -_softplus(-x),
    "tanh_shrink": lambda x: x - math.tanh(x),
    "squareplus": lambda x: (x + math.sqrt(x * x + 4.0)) / 2.0,  # b=4
    "sparse_plus": lambda x: 0.0 if x <= -1.0 else x if x >= 1.0 else (x + 1.0) ** 2 / 4.0,
}


# The bounds the probe counts outputs near (within 1% of the range) as saturated: the derivative is nearly 0 there.
_SATURATION_BOUNDS = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
}
_DIES = frozenset({"relu", "relu6"})  # exactly zero below the kink, so a unit can be dead


def _table(*rows: tuple[str, str, str]) -> dict[str, Activation]:
    return {
        name: Activation(name, family, init, _FUNCTIONS[name], _SATURATION_BOUNDS.get(name), name in _DIES)
        for name, family, init in rows
    }


ACTIVATIONS: dict[str, Activation] = _table(
    ("linear", LINEAR, "glorot_uniform"),
    ("relu", RELU_FAMILY, "he_normal"),
    ("relu6", RELU_FAMILY, "he_normal"),
    ("leaky_relu", RELU_FAMILY, "he_normal"),
    ("elu", RELU_FAMILY, "he_normal"),
    ("gelu", RELU_FAMILY, "he_normal"),
    ("silu", RELU_FAMILY, "he_normal"),
    ("mish", RELU_FAMILY, "he_normal"),
    ("hard_silu", RELU_FAMILY, "he_normal"),
    ("celu", RELU_FAMILY, "he_normal"),
    ("selu", SELU, "lecun_normal"),
    ("sigmoid", SATURATING, "glorot_uniform"),
    ("hard_sigmoid", SATURATING, "glorot_uniform"),
    ("tanh", SATURATING, "glorot_uniform"),
    ("softmax", SATURATING, "glorot_uniform"),
    ("softsign", SATURATING, "glorot_uniform"),
    ("hard_tanh", SATURATING, "glorot_uniform"),
    ("log_softmax", OTHER, "glorot_uniform"),
    ("softplus", OTHER, "glorot_uniform"),
    ("exponential", OTHER, "glorot_uniform"),
    ("log_sigmoid", OTHER, "glorot_uniform"),
    ("tanh_shrink", OTHER, "glorot_uniform"),
    ("squareplus", OTHER, "glorot_uniform"),
    ("sparse_plus", OTHER, "glorot_uniform"),
)
ALIASES = {
    "swish": "silu",
    "hard_swish": "hard_silu",
    "none": "linear",
    "identity": "linear",
    "leakyrelu": "leaky_relu",
}


ActivationName = Annotated[
    str,
    Spelled(ACTIVATIONS, ALIASES, "activation", null="linear"),
    Field(description="A Keras activation name (`null` means linear)."),
]


# --- Gaussian expectations ----------------------------------------------------------------------------------

_HERMITE_NODES = 48


def _hermite_rule(n: int) -> tuple[tuple[float, float], ...]:
    """Return the (node, weight) pairs of n-point Gauss–Hermite quadrature (weight e^{-x²}), by Newton's method."""
    pairs = []
    pim4 = math.pi**-0.25
    z = 0.0
    for i in range((n + 1) // 2):
        if i == 0:
            z = math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** (-1 / 6)
        elif i == 1:
            z -= 1.14 * n**0.426 / z
        elif i == 2:
            z = 1.86 * z - 0.86 * pairs[0][0]
        elif i == 3:
            z = 1.91 * z - 0.91 * pairs[1][0]
        else:
            z = 2.0 * z - pairs[i - 2][0]
        for _ in range(100):
            p1, p2 = pim4, 0.0
            for j in range(1, n + 1):
                p1, p2 = z * math.sqrt(2.0 / j) * p1 - math.sqrt((j - 1) / j) * p2, p1
            derivative = math.sqrt(2 * n) * p2
            step = p1 / derivative
            z -= step
            if abs(step) < 1e-14:
                break
        pairs.append((z, 2.0 / (derivative * derivative)))
    nodes = [(-x, w) for x, w in pairs] + [(x, w) for x, w in reversed(pairs) if x > 1e-15 or n % 2 == 0]
    return tuple(sorted(nodes))


_RULE: list[tuple[tuple[float, float], ...]] = []


def gaussian_expectation(fn: Callable[[float], float], mean: float, var: float) -> Moments:
    """Return (E[fn(z)], E[fn(z)²]) for z ~ N(mean, var) by Gauss–Hermite quadrature (rule computed once)."""
    if not _RULE:
        _RULE.append(_hermite_rule(_HERMITE_NODES))
    scale = math.sqrt(2.0 * var)
    first = second = 0.0
    for x, w in _RULE[0]:
        value = fn(mean + scale * x)
        first += w * value
        second += w * value * value
    norm = 1.0 / math.sqrt(math.pi)
    return first * norm, second * norm


def _relu_moments(mean: float, std: float) -> Moments:
    """Closed form of (E[relu(z)], E[relu(z)²]) for z ~ N(mean, std²)."""
    a = mean / std
    cdf = 0.5 * math.erfc(-a / math.sqrt(2.0))
    pdf = math.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
    return mean * cdf + std * pdf, (mean * mean + std * std) * cdf + mean * std * pdf
