"""Initialization rules (MS101–MS116): how each layer's weights start, and what that does to the signal.

One module per theme: constant kernels and biases, the initializer's family against the activation, the
distribution's moments, seeds, the signal band and the gradient band. registry.py lists the rules from here.
"""

from modelspec.linter.rules.initialization.constant import MS101, MS112
from modelspec.linter.rules.initialization.dead import MS115
from modelspec.linter.rules.initialization.distribution import MS105, MS106
from modelspec.linter.rules.initialization.family import MS102, MS103, MS104, MS107
from modelspec.linter.rules.initialization.gradient_band import MS113, MS114
from modelspec.linter.rules.initialization.seeds import MS108, MS109
from modelspec.linter.rules.initialization.signal_band import MS110, MS111
from modelspec.linter.rules.initialization.stalled import MS116

__all__ = [
    "MS101",
    "MS102",
    "MS103",
    "MS104",
    "MS105",
    "MS106",
    "MS107",
    "MS108",
    "MS109",
    "MS110",
    "MS111",
    "MS112",
    "MS113",
    "MS114",
    "MS115",
    "MS116",
]
