"""What runs around the steps of a training run: the callbacks (history, early stopping, learning rate on plateau,
checkpoints after each epoch), the SIGINT/SIGTERM trap, and the errors an interrupted or broken run ends with.

The same callbacks serve ``model.fit`` (modelspec/runtime/train.py) and the multi-worker loop
(modelspec/runtime/multi_worker.py); only the chief writes checkpoints.
"""

from __future__ import annotations

import contextlib
import math
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from modelspec.checkpoint_state import EARLY_STOPPING_STATE, PLATEAU_STATE, digest
from modelspec.errors import Interrupted, WorkerLost
from modelspec.history import History
from modelspec.resolve import Settings
from modelspec.runtime import checkpoints
from modelspec.schema.training import monitor_mode


def keras_callbacks(keras):
    """The Keras callback classes of a run, made once Keras is imported: ``Recorder`` (each epoch's row of the
    history, then the checkpoints) and ``Stop`` (ends ``model.fit`` after the batch a signal arrived in)."""

    class Recorder(keras.callbacks.Callback):
        """Append each epoch's logs, learning rate and time to the history; write the checkpoints."""

        def __init__(self, history: History, on_epoch: Callable[[int], None]):
            super().__init__()
            self.history, self.on_epoch, self.started = history, on_epoch, 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            row["learning_rate"] = float(f"{float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)):.8g}")
            row["seconds"] = round(time.perf_counter() - self.started, 4)
            self.history.rows.append(row)
            self.on_epoch(epoch)

    class Stop(keras.callbacks.Callback):
        """Raise ``Interrupted`` at the next batch once a signal arrived (the epoch is not completed)."""

        def __init__(self, flag: list):
            super().__init__()
            self.flag = flag

        def on_train_batch_end(self, batch, logs=None):
            if self.flag:
                raise StopSignal(self.flag[0], batch)

    return Recorder, Stop


class StopSignal(Exception):
    """SIGINT or SIGTERM arrived: training stops after the current batch (``signum``, ``batch``)."""

    def __init__(self, signum: int, batch: int):
        super().__init__(signum)
        self.signum, self.batch = signum, batch


@contextlib.contextmanager
def trap_signals(flag: list):
    """Turn SIGINT and SIGTERM into a flag the training loop checks after each batch."""
    previous = {}

    def handler(signum, frame):
        flag.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no handlers, the default behaviour stays
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class Monitored:
    """Which epoch is the best: the quantity early stopping watches, else val_loss with validation, else loss."""

    def __init__(self, name: str):
        self.name = name
        self.lower = monitor_mode(name) == "min"
        self.best: Optional[float] = None
        self.epoch: Optional[int] = None

    def improved(self, row: dict) -> bool:
        value = row.get(self.name)
        if value is None or math.isnan(value):
            return False
        if self.best is None or (value < self.best if self.lower else value > self.best):
            self.best, self.epoch = value, int(row["epoch"])
            return True
        return False


def _stateful(callback, names: tuple[str, ...]) -> dict:
    return {name: _json_number(getattr(callback, name)) for name in names if hasattr(callback, name)}


def _json_number(value):
    value = float(value) if hasattr(value, "__float__") else value
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _number(value):
    return float(value) if value in ("inf", "-inf") else value


_EARLY, _PLATEAU = EARLY_STOPPING_STATE, PLATEAU_STATE  # the counters a checkpoint keeps (checkpoint_state.py)


def stopping_callbacks(keras, training) -> tuple[Any, Any]:
    """The spec's early stopping and learning-rate plateau as Keras callbacks (None where not set)."""
    early = plateau = None
    if training.early_stopping is not None:
        es = training.early_stopping
        early = keras.callbacks.EarlyStopping(
            monitor=es.monitor,
            mode=monitor_mode(es.monitor),  # "auto" refuses per-output names such as val_digit_loss
            patience=es.patience,
            min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights,
        )
    if training.reduce_lr_on_plateau is not None:
        rp = training.reduce_lr_on_plateau
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=rp.monitor, mode=monitor_mode(rp.monitor), factor=rp.factor, patience=rp.patience, min_lr=rp.min_lr
        )
    return early, plateau


@dataclass
class Checkpointer:
    """After each epoch: note whether it is the best so far, and (with a folder) save last.npz and best.npz."""

    keras_model: Any
    spec: Any
    settings: Settings
    history: History
    monitor: Monitored
    early: Any
    plateau: Any
    chief: bool = True  # on a cluster, only the chief writes

    def __call__(self, epoch: int) -> None:
        better = self.monitor.improved(self.history.rows[-1])
        folder = self.settings.checkpoints
        if folder is None or not self.chief:
            return
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "epoch": epoch + 1,
            "digest": digest(self.spec),
            "seed": self.settings.seed,
            "batch_size": self.settings.batch_size,
            "history": self.history.rows,
            "best": {"name": self.monitor.name, "value": self.monitor.best, "epoch": self.monitor.epoch},
            "early_stopping": _stateful(self.early, _EARLY) if self.early else {},
            "reduce_lr_on_plateau": _stateful(self.plateau, _PLATEAU) if self.plateau else {},
        }
        if better:
            checkpoints.save(folder / "best.npz", self.keras_model, state)
        checkpoints.save(folder / "last.npz", self.keras_model, state)


class LostWorker(Exception):
    """A collective operation failed: another worker of the cluster is gone."""


def resumed(keras, state, early, plateau, folder, keras_model):
    """A callback that puts the callbacks' counters back after their own on_train_begin reset them."""

    class Resumed(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            for callback, saved in ((early, state.get("early_stopping")), (plateau, state.get("reduce_lr_on_plateau"))):
                if callback is not None and saved:
                    for name, value in saved.items():  # names checked by read_state: only the known counters
                        setattr(callback, name, _number(value))
            if early is not None and early.restore_best_weights and (folder / "best.npz").exists():
                early.best_weights = checkpoints.model_weights(folder / "best.npz", keras_model)

    return Resumed()


def lost_reason(error: Exception) -> str:
    """The first lines of TensorFlow's message, without its `{{function_node ...}}` prefix."""
    lines = re.sub(r"^\{\{[^}]*\}\}\s*", "", str(error).strip()).splitlines()
    return " ".join(lines[:2]) or "a collective operation failed"


def worker_lost(lost: LostWorker, complete: int, folder: Optional[Path]) -> WorkerLost:
    """The user error a lost worker ends the run with: what is gone, and what the checkpoint folder holds."""
    where = f"training stopped during epoch {complete + 1}: a worker of the cluster is gone ({lost_reason(lost)})"
    if folder is None or complete == 0:
        return WorkerLost(f"{where}; no checkpoint holds a complete epoch: restart every worker")
    return WorkerLost(f"{where}; {folder / 'last.npz'} holds epoch {complete}: restart every worker with --resume")


def interrupted(stop: StopSignal, complete: int, folder: Optional[Path]) -> Interrupted:
    """The user error a signal ends the run with: when it came, and what the checkpoint folder holds."""
    name = signal.Signals(stop.signum).name
    where = f"stopped by {name} during epoch {complete + 1} (after batch {stop.batch + 1})"
    if folder is None:
        return Interrupted(
            f"training {where}; nothing was saved (use --checkpoints DIR to keep each epoch)", stop.signum
        )
    if complete == 0:
        return Interrupted(f"training {where}; no epoch was complete, so {folder} holds no checkpoint", stop.signum)
    return Interrupted(
        f"training {where}; {folder / 'last.npz'} holds epoch {complete}: continue with the same command and --resume",
        stop.signum,
    )


def reporter(keras, history: History, report):
    """A callback that hands each epoch's row of ``history`` to ``report`` (modelspec/requests.py ``Report``) and
    ends the run after that epoch when it answers True (`tune`'s pruners stop a trial so; the history keeps every
    epoch that ran)."""

    class Reporter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if report(epoch + 1, dict(history.rows[-1])):
                self.model.stop_training = True

    return Reporter()


def tensorboard(keras, folder: Path):
    """Keras's own TensorBoard callback writing to ``folder``: scalars per epoch (no graph, no histograms, no
    profiler: a run's logs stay small and the run as fast)."""
    return keras.callbacks.TensorBoard(
        log_dir=str(folder), histogram_freq=0, write_graph=False, write_images=False, update_freq="epoch",
        profile_batch=0,
    )  # fmt: skip
