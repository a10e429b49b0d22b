"""Golden weights: a fixed spec and seed must give the same initial weights, bit for bit, on a given Keras minor.

A change in Keras's initializers or random streams, or in modelspec's seed derivation, changes these bytes
silently; this test makes it visible. On a Keras minor without a stored hash the test skips and prints the
hash it computed, so a maintainer who has checked the change can add it to GOLDEN.

The initializers used are the ones whose values come straight from a stateless random stream (no QR
decomposition as in `orthogonal`, whose last bits depend on the LAPACK build). Hashes are for CPU builds.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow

SPEC = """\
modelspec: 1
name: golden
seed: 20240601
input: {shape: [12, 12, 1]}
layers:
  - {type: conv2d, filters: 3, kernel_size: 3, activation: relu}
  - {type: flatten}
  - {type: dense, units: 8, activation: tanh}
  - {type: dense, units: 6, activation: selu, kernel_initializer: lecun_normal,
     bias_initializer: {type: random_uniform, minval: -0.1, maxval: 0.1}}
  - {type: dense, units: 4, activation: softmax, kernel_initializer: {type: truncated_normal, stddev: 0.02}}
"""
# Keras "major.minor" -> SHA-256 of the initial weights of SPEC (see weights_digest).
GOLDEN = {
    "3.15": "66416fd0c4c125f175ebb3a1ee945bcf062a6783aebb1fc8bf63aeaa78876ca0",
}


def weights_digest(model) -> str:
    """SHA-256 over every variable, in path order: its path, its shape, then its float32 little-endian bytes."""
    digest = hashlib.sha256()
    for variable in sorted(model.weights, key=lambda v: v.path):
        values = np.ascontiguousarray(variable.numpy()).astype("<f4", copy=False)
        digest.update(f"{variable.path}|{values.shape}|".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def test_golden_weights(keras):
    from modelspec import build_model

    minor = ".".join(keras.__version__.split(".")[:2])
    found = weights_digest(build_model(SPEC))
    if minor not in GOLDEN:
        print(f"\nGOLDEN[{minor!r}] = {found!r}")
        pytest.skip(
            f"no golden weights hash for Keras {minor} yet; computed {found} — check the change, then "
            f"add it to GOLDEN in tests/test_golden_weights.py"
        )
    assert found == GOLDEN[minor], (
        f"the initial weights of a fixed spec and seed changed on Keras {keras.__version__}: "
        f"{found} != {GOLDEN[minor]}; an initializer, a random stream or modelspec's seed derivation changed"
    )


def test_the_digest_sees_a_one_ulp_change(keras):
    """Guard the guard: the hash must change when a single weight moves by one unit in the last place."""
    from modelspec import build_model

    model = build_model(SPEC)
    before = weights_digest(model)
    variable = model.weights[0]
    values = variable.numpy()
    values.flat[0] = np.nextafter(values.flat[0], np.float32(np.inf), dtype=np.float32)
    variable.assign(values)
    assert weights_digest(model) != before


def test_the_seed_changes_the_weights(keras):
    from modelspec import build_model

    assert weights_digest(build_model(SPEC)) != weights_digest(build_model(SPEC, seed=1))
