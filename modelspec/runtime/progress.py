"""What a person sees while a model trains: a progress bar per epoch on a terminal, one line per epoch otherwise."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from modelspec.history import scores
from modelspec.runtime.tensorflow_env import import_keras


def _line(row: dict[str, float], epochs: int) -> str:
    values = "  ".join(f"{name} {value:.4g}" for name, value in scores(row).items())
    return f"epoch {int(row['epoch'])}/{epochs}  {values}  lr {row['learning_rate']:.3g}  {row['seconds']:.1f} s"


def _bar(title: str, steps: int):
    """A started rich progress bar over one epoch's steps, and its task."""
    bar = Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task("train", total=steps, loss="-")
    bar.start()
    return bar, task


class _Display:
    """The terminal side of training progress: a bar per epoch when live, and one line per finished epoch."""

    def __init__(self, history, epochs: int, steps: int, live: bool, stream: TextIO):
        self.history, self.epochs, self.steps, self.live, self.stream = history, epochs, steps, live, stream
        self.bar = self.task = None

    def epoch_begin(self, epoch: int) -> None:
        if self.live:
            self.bar, self.task = _bar(f"epoch {epoch + 1}/{self.epochs}", self.steps)

    def batch_end(self, batch: int, logs) -> None:
        if self.bar is not None:
            loss = (logs or {}).get("loss")
            self.bar.update(self.task, completed=batch + 1, loss="-" if loss is None else f"{float(loss):.4g}")

    def epoch_end(self) -> None:
        self.stop()
        if self.history.rows:
            print(_line(self.history.rows[-1], self.epochs), file=self.stream, flush=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def progress_callback(history, epochs: int, steps: int, *, quiet: bool = False, stream: Optional[TextIO] = None):
    """A Keras callback: a rich progress bar over each epoch's steps on a terminal (unless ``quiet``), and in any
    case one line per finished epoch with its losses, metrics, learning rate and time."""
    keras = import_keras()
    stream = stream or sys.stdout  # looked up now: the caller may have replaced sys.stdout
    display = _Display(history, epochs, steps, not quiet and stream.isatty(), stream)

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            display.epoch_begin(epoch)

        def on_train_batch_end(self, batch, logs=None):
            display.batch_end(batch, logs)

        def on_epoch_end(self, epoch, logs=None):
            display.epoch_end()

        def on_train_end(self, logs=None):
            display.stop()

    return Progress()
