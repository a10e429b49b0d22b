"""What the data-aware rules (MS6xx, `modelspec lint --data`) know of a data set: one pass over each array.

``profile(model, dataset)`` reads every input and target of a checked ``Dataset`` (modelspec/data: the readers of
`train`) once, block by block, and keeps what the rules ask: the range, mean and spread of each array, the features
that never change, whether the values are whole numbers and which ones occur (targets), how one-hot rows are, and for
each target the share of values outside the range its output's activation can produce, with the squared error that
alone leaves (the lowest mean squared error any weights can reach).

NumPy is imported inside the functions: importing this module imports neither NumPy nor TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Optional

from modelspec.data.common import blocks, numpy
from modelspec.schema.activations import ACTIVATIONS

if TYPE_CHECKING:
    from modelspec.data import Dataset
    from modelspec.loader import ModelSpec

CHUNK_VALUES = 1 << 22  # values converted to float64 at a time: 32 MB, whatever the stored dtype
MAX_CLASSES = 1024  # distinct whole values kept for a target; more than this and it is not a class label
_PROBES = 4801  # points of [-60, 60] an activation is evaluated at to find the range of its outputs
_WHOLE_RANGE = {"softmax": (0.0, 1.0), "log_softmax": (-math.inf, 0.0)}  # vector activations: no scalar function


@cache
def output_range(activation: str) -> tuple[float, float]:
    """The (lowest, highest) value an activation can output, from its function in the activation table: -inf or
    inf where it keeps growing past ±60 (linear, relu upwards)."""
    if activation in _WHOLE_RANGE:
        return _WHOLE_RANGE[activation]
    entry = ACTIVATIONS.get(activation)
    if entry is None or entry.fn is None:
        return -math.inf, math.inf
    fn = entry.fn
    values = [fn(-60.0 + 120.0 * i / (_PROBES - 1)) for i in range(_PROBES)] + [_far(fn, -600.0), _far(fn, 600.0)]
    low, high = min(values), max(values)
    # Unbounded where the function does not slow down past ±30 (linear, relu, leaky_relu); else bounded by the
    # extremes seen (sigmoid's 9e-27 is its limit, 0; softsign's 0.9983 at 600 is a hair under its limit, 1).
    low = -math.inf if fn(-60.0) - fn(-120.0) >= fn(-30.0) - fn(-60.0) > 0 else round(low, 6) + 0.0
    high = math.inf if fn(120.0) - fn(60.0) >= fn(60.0) - fn(30.0) > 0 else round(high, 6) + 0.0
    return low, high


def _far(fn, x: float) -> float:
    try:
        return fn(x)
    except OverflowError:  # exponential at 600 and beyond: unbounded anyway
        return math.copysign(math.inf, x)


@dataclass(frozen=True)
class Stats:
    """One array of the data: an input's features or an output's targets, over every row."""

    name: str  # the spec's input or output
    rows: int
    features: int  # values per row
    low: float
    high: float
    mean: float
    std: float
    constant: tuple[int, ...]  # flat positions (within a row) whose value is the same in every row
    whole: bool  # every value a whole number
    values: Optional[tuple[float, ...]]  # a target's distinct values, when whole and at most MAX_CLASSES of them
    one_hot_rows: int  # rows of 0s and 1s with exactly one 1 (rows of width > 1)
    multi_hot_rows: int  # rows of 0s and 1s with more than one 1
    outside: int = 0  # target values outside the output activation's range (``bounds``)
    floor: float = 0.0  # mean squared distance from the targets to that range
    bounds: tuple[float, float] = (-math.inf, math.inf)

    @property
    def variance(self) -> float:
        return self.std * self.std

    @property
    def binary_rows(self) -> bool:
        """Every row of width > 1 is 0s and 1s."""
        return self.features > 1 and self.one_hot_rows + self.multi_hot_rows == self.rows


@dataclass(frozen=True)
class DataProfile:
    """A data set as the data-aware rules see it: its source, and the statistics of each input and target."""

    source: str
    rows: int
    inputs: dict[str, Stats]
    targets: dict[str, Stats]


def profile(model: ModelSpec, dataset: Dataset) -> DataProfile:
    """Read every array of ``dataset`` once and return its statistics (targets measured against the range of the
    activation of the output they train)."""
    inputs = {name: _stats(name, array, None) for name, array in dataset.inputs.items()}
    targets = {}
    for name, array in dataset.targets.items():
        activation = model.analysis.producer_activation(name)
        bounds = output_range(activation) if activation is not None else (-math.inf, math.inf)
        targets[name] = _stats(name, array, _rescaled(model, name, bounds))
    return DataProfile(dataset.source, dataset.size, inputs, targets)


def _rescaled(model: ModelSpec, name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """``bounds``, the range of the activation that made output ``name``, moved by the rescaling layers between
    that activation and the output (keras-io's DDPG actor: tanh, then × 2 for actions in [-2, 2])."""
    layers, producer = model.analysis.layers, model.analysis.producer(name)
    rescalings = []
    while name in layers and layers[name] is not producer and len(layers[name].inputs) == 1:
        if layers[name].type == "rescaling":
            rescalings.append(layers[name].spec)
        name = layers[name].inputs[0]
    for rescaling in reversed(rescalings):  # the one nearest the activation first
        bounds = rescaling.maps_range(*bounds)
    return bounds


class _Running:
    """Sums over the blocks of one array."""

    def __init__(self, np: Any, features: int):
        self.np = np
        self.count = 0
        self.total = 0.0
        self.squares = 0.0
        self.low = np.full(features, np.inf)
        self.high = np.full(features, -np.inf)
        self.whole = True
        self.values: Optional[set] = set()
        self.one_hot = 0
        self.multi_hot = 0
        self.outside = 0
        self.distance = 0.0

    def add(self, flat: Any, bounds: Optional[tuple[float, float]]) -> None:
        np = self.np
        self.count += flat.size
        self.total += float(flat.sum())
        self.squares += float(np.square(flat).sum())
        self.low = np.minimum(self.low, flat.min(axis=0))
        self.high = np.maximum(self.high, flat.max(axis=0))
        if self.whole:
            self.whole = bool(np.all(flat == np.floor(flat)))
        if self.whole and self.values is not None and bounds is not None:  # targets only: inputs need no classes
            self.values.update(np.unique(flat).tolist())
            if len(self.values) > MAX_CLASSES:
                self.values = None
        if flat.shape[1] > 1:
            binary = np.all((flat == 0) | (flat == 1), axis=1)
            hot = flat.sum(axis=1)
            self.one_hot += int(np.count_nonzero(binary & (hot == 1)))
            self.multi_hot += int(np.count_nonzero(binary & (hot > 1)))
        if bounds is not None:
            gap = flat - np.clip(flat, bounds[0], bounds[1])
            self.outside += int(np.count_nonzero(gap))
            self.distance += float(np.square(gap).sum())


def _stats(name: str, array: Any, bounds: Optional[tuple[float, float]]) -> Stats:
    np = numpy("")
    features = max(1, math.prod(array.shape[1:]))
    running = _Running(np, features)
    rows = max(1, CHUNK_VALUES // features)  # float64 copies of at most CHUNK_VALUES values (uint8 pixels: 8 times)
    for _, block in blocks(array):
        for start in range(0, len(block), rows):
            part = block[start : start + rows]
            running.add(np.asarray(part, dtype=np.float64).reshape(len(part), features), bounds)
    count = max(1, running.count)
    mean = running.total / count
    std = math.sqrt(max(0.0, running.squares / count - mean * mean))
    constant = tuple(int(i) for i in np.flatnonzero(running.low == running.high))
    return Stats(
        name=name,
        rows=len(array),
        features=features,
        low=float(running.low.min()),
        high=float(running.high.max()),
        mean=mean,
        std=std,
        constant=constant,
        whole=running.whole,
        values=tuple(sorted(running.values))
        if bounds is not None and running.whole and running.values is not None
        else None,
        one_hot_rows=running.one_hot,
        multi_hot_rows=running.multi_hot,
        outside=running.outside,
        floor=running.distance / count,
        bounds=bounds or (-math.inf, math.inf),
    )
