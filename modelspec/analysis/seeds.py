"""Per-variable seeds: distinct, stable, and derived from the model seed and the variable's place."""

from __future__ import annotations

import hashlib
from typing import Optional


def derive_seed(model_seed: Optional[int], layer: str, slot: str) -> Optional[int]:
    """Return a 31-bit seed for one initializer slot of one layer, or None when the model has no seed.

    A stable hash (SHA-256), never Python's salted ``hash()``, so the same spec gives the same seeds in every
    process; distinct (layer, slot) pairs give distinct seeds with overwhelming probability.
    """
    if model_seed is None:
        return None
    digest = hashlib.sha256(f"{model_seed}\x00{layer}\x00{slot}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
