"""Plots of a training run (matplotlib, headless): the loss and each metric per epoch, training and validation."""

from __future__ import annotations

import os
from typing import Union

from modelspec.atomic import replacing


def plot_history(history, path: Union[str, os.PathLike], title: str) -> None:
    """Write a PNG with one panel for the loss and one per metric (training solid, validation dashed), and the
    learning rate when it changed. Atomic, like every output."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed, nothing opens a window
    import matplotlib.pyplot as plt

    columns = [c for c in history.columns() if c not in ("epoch", "learning_rate", "seconds")]
    quantities = [c for c in columns if not c.startswith("val_")]
    rates = history.series("learning_rate")
    panels = quantities + (["learning_rate"] if len(set(rates)) > 1 else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    epochs = history.series("epoch")
    for axis, name in zip(axes[0], panels):
        if name == "learning_rate":
            axis.plot(epochs, rates, color="tab:gray", marker=".")
            axis.set_yscale("log")
        else:
            axis.plot(epochs, history.series(name), marker=".", label="training")
            if f"val_{name}" in columns:
                axis.plot(epochs, history.series(f"val_{name}"), marker=".", linestyle="--", label="validation")
                axis.legend(frameon=False)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title)
    figure.tight_layout()
    with replacing(path, ".png") as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
