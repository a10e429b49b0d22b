"""Initializer moments: the mean and variance of one weight element, exactly as Keras 3 draws it.

The signal analysis (signal.py) builds its predictions on them, and the lint rules read them directly (a kernel's
mean against its spread, a fixed scale against the fan-in). The table in docs/signal.md lists the same laws.
Pure Python: never imports TensorFlow or NumPy.
"""

from __future__ import annotations

import math
from typing import Any

from modelspec.analysis.shapes import compute_fans
from modelspec.schema.initializers import scaling

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
