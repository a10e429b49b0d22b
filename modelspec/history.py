"""A training history: one row per epoch, what Keras logged beside modelspec's bookkeeping columns."""

from __future__ import annotations

from dataclasses import dataclass, field

BOOKKEEPING = ("epoch", "learning_rate", "seconds")  # the columns of a row that are no loss nor metric


@dataclass
class History:
    """One row per epoch: epoch (1-based), every loss and metric Keras logged, the learning rate, the seconds."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def columns(self) -> list[str]:
        names: list[str] = []
        for row in self.rows:
            names += [key for key in row if key not in names]
        first = ["epoch", "loss", "val_loss"]
        last = [name for name in BOOKKEEPING if name != "epoch"]
        middle = sorted(name for name in names if name not in first + last)
        return [name for name in first if name in names] + middle + [name for name in last if name in names]

    def series(self, name: str) -> list[float]:
        return [row[name] for row in self.rows if name in row]

    def quantities(self) -> list[str]:
        """The columns Keras logged (losses and metrics), in the order of ``columns``: not the bookkeeping."""
        return [name for name in self.columns() if name not in BOOKKEEPING]


def scores(row: dict[str, float]) -> dict[str, float]:
    """A row's losses and metrics (its bookkeeping columns left out)."""
    return {name: value for name, value in row.items() if name not in BOOKKEEPING}
