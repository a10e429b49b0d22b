"""Dataset: checked arrays keyed by the spec's input and output names, ready for the runtime to feed to Keras."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelspec.errors import DataError


@dataclass
class Dataset:
    """Data that fits a spec: every array has ``size`` rows and the shape its input or output takes.

    ``inputs`` follows the order of the spec's inputs and ``targets`` the order of its outputs; ``targets`` is empty
    only for a spec without `training:` whose data holds no labels. Arrays are NumPy arrays; in-memory features are
    already of the input's dtype, while memory-mapped arrays (``memory_mapped``) are left as stored, to be cast per
    batch. ``class_names`` maps an output to the text labels its integers stand for (label ``i`` is
    ``class_names[output][i]``), for outputs whose CSV column held text.
    """

    inputs: dict[str, Any]
    targets: dict[str, Any]
    size: int
    source: str
    class_names: dict[str, list[str]] = field(default_factory=dict)
    memory_mapped: bool = False

    def split(self, fraction: float) -> tuple[Dataset, Dataset]:
        """Hold out the last ``fraction`` of the rows for validation, as Keras's ``validation_split`` does.

        Returns (training, validation): views of the same arrays, not copies.

        Raises:
            DataError: no row would be left to train on.
        """
        if not 0 < fraction < 1:
            raise ValueError(f"a validation fraction is between 0 and 1 (received: {fraction})")
        at = int(math.floor(self.size * (1.0 - fraction)))  # Keras's own rounding (train_validation_split)
        if at == 0:  # the validation part always has a row: floor() never rounds the training part up to all
            raise DataError(
                f"{self.source}: {self.size} rows are too few for a validation split of {fraction}: no row would be "
                f"left to train on"
            )
        return self._rows(slice(0, at), at), self._rows(slice(at, self.size), self.size - at)

    def _rows(self, rows: slice, size: int) -> Dataset:
        return Dataset(
            inputs={name: array[rows] for name, array in self.inputs.items()},
            targets={name: array[rows] for name, array in self.targets.items()},
            size=size,
            source=self.source,
            class_names=self.class_names,
            memory_mapped=self.memory_mapped,
        )
