"""What several initialization rules share: how a message names an initializer."""

from __future__ import annotations


def describe(init) -> str:
    """Render an initializer the way a spec writes it: ``he_normal``, ``random_normal(stddev=1.0)``."""
    params = init.model_dump(exclude={"type", "seed"}, exclude_defaults=True)
    if not params:
        return init.type
    return f"{init.type}(" + ", ".join(f"{key}={value}" for key, value in params.items()) + ")"
