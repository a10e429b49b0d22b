"""Train a built model on checked data: seeded and deterministic, resumable, with checkpoints, history and progress.

Reproducibility: with a seed, the data order of epoch *e* is a permutation drawn from (seed, e) alone, TensorFlow's
deterministic ops are on, and every random layer draws from its own seeded state, which checkpoints keep; so two runs
give bit-identical weights, and 2 epochs plus a resumed 2 give the same weights as 4 in one go.

In-memory data is gathered by row inside TensorFlow's graph; memory-mapped data (a folder of .npy) is read one
contiguous batch at a time, the order of the batches shuffled each epoch, so a step reads one block of the files
and the data is never loaded whole.

Under a `tf.distribute` strategy (modelspec/runtime/distribute.py) the batches and their order stay those of one
device: `mirrored` hands them to ``model.fit``, which splits each across the devices; under `multi_worker_mirrored`
each worker's pipeline yields only its replicas' slices of them, and a loop of ours drives Keras's own steps and
callbacks (``_multi_worker_fit``). Either way the history, checkpoints and progress are the same, and only the chief
writes files.
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

from modelspec.checkpoint_state import digest
from modelspec.errors import Interrupted, WorkerLost
from modelspec.history import History
from modelspec.resolve import Settings
from modelspec.runtime import checkpoints
from modelspec.runtime.tensorflow_env import import_keras
from modelspec.schema.training import monitor_mode


def _tensorflow():
    import_keras()
    import tensorflow as tf

    return tf


def deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    _tensorflow().config.experimental.enable_op_determinism()


def _structure(arrays: dict[str, Any]):
    """A single array as itself, several as a dict by name (how a Keras functional model takes them)."""
    return next(iter(arrays.values())) if len(arrays) == 1 else dict(arrays)


def _dtype(array) -> str:
    kind = array.dtype.kind
    return "float32" if kind == "f" else "int64" if kind in "iub" else str(array.dtype)


def training_batches(dataset, settings: Settings, first_epoch: int, part: Optional[tuple[int, int, int]] = None):
    """A tf.data pipeline of every remaining epoch's batches, in the order (seed, epoch) decides.

    ``part`` = (first, count, replicas): instead of each global batch, yield its slices for the replicas ``first``
    to ``first + count - 1`` of ``replicas`` (contiguous, as even as a split of the batch can be, as
    ``tf.distribute`` splits a batch between the devices of one machine). A worker of a cluster reads only its
    replicas' rows, and together the workers see the very batches, in the very order, of a run on one device.
    """
    tf = _tensorflow()
    n, size = dataset.size, settings.batch_size
    steps = math.ceil(n / size)
    names = [*dataset.inputs, *dataset.targets]
    arrays = [*dataset.inputs.values(), *dataset.targets.values()]
    epochs = tf.data.Dataset.range(first_epoch, settings.epochs)

    def order(epoch, count):
        if not settings.shuffle:
            return tf.range(count, dtype=tf.int64)
        noise = tf.random.stateless_uniform([count], seed=tf.stack([tf.constant(settings.seed, tf.int64), epoch]))
        return tf.cast(tf.argsort(noise, stable=True), tf.int64)

    if not dataset.memory_mapped:
        tensors = [tf.constant(array.astype(_dtype(array), copy=False)) for array in arrays]
        batches = epochs.flat_map(lambda e: tf.data.Dataset.from_tensor_slices(order(e, n)).batch(size))
        if part is not None:
            batches = batches.flat_map(lambda index: _replica_slices(tf, index, part))
        rows = batches.map(lambda index: tuple(tf.gather(t, index) for t in tensors))
    else:
        dtypes = [tf.as_dtype(_dtype(array)) for array in arrays]
        first, count, replicas = part if part is not None else (0, 1, 1)

        def read(block, replica):
            start = int(block) * size
            low, high = _bounds(min(size, n - start), int(replica), replicas)
            return tuple(a[start + low : start + high].astype(_dtype(a)) for a in arrays)

        def load(block, replica):
            parts = tf.numpy_function(read, [block, replica], dtypes, stateful=False)
            for part_, array in zip(parts, arrays):
                part_.set_shape((None, *array.shape[1:]))
            return tuple(parts)

        blocks = epochs.flat_map(lambda e: tf.data.Dataset.from_tensor_slices(order(e, steps)))
        with_replicas = blocks.flat_map(
            lambda block: tf.data.Dataset.range(first, first + count).map(lambda replica: (block, replica))
        )
        rows = with_replicas.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    n_inputs = len(dataset.inputs)

    def split(*parts):
        xs, ys = parts[:n_inputs], parts[n_inputs:]
        x = xs[0] if n_inputs == 1 else dict(zip(names[:n_inputs], xs))
        y = ys[0] if len(ys) == 1 else dict(zip(names[n_inputs:], ys))
        return x, y

    # No autotuning thread: with one, deleting the iterator when fit() ends often waits for that thread's next wake-up
    # (TF 2.21: 5 to 20 s after a 1-minute run, longer in longer ones). Without it AUTOTUNE still means something:
    # min(16, CPU cores) parallel reads, and a prefetch buffer that grows while the model waits for data.
    options = tf.data.Options()
    options.autotune.enabled = False
    # The pipeline is already split between the workers (``part``): TensorFlow must not shard it again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return rows.map(split).prefetch(tf.data.AUTOTUNE).with_options(options), steps


def _bounds(rows: int, replica: int, replicas: int) -> tuple[int, int]:
    """The rows of one replica's slice of a batch of ``rows``: ceil(rows / replicas) each, the last ones shorter."""
    each = -(-rows // replicas)
    return min(replica * each, rows), min((replica + 1) * each, rows)


def _replica_slices(tf, index, part: tuple[int, int, int]):
    """The slices of one batch of row numbers for the replicas ``part`` names (see ``training_batches``)."""
    first, count, replicas = part
    rows = tf.shape(index, out_type=tf.int64)[0]
    each = (rows + replicas - 1) // replicas

    def piece(replica):
        return index[tf.minimum(replica * each, rows) : tf.minimum((replica + 1) * each, rows)]

    return tf.data.Dataset.range(first, first + count).map(piece)


def validation_batches(dataset, batch_size: int, part: Optional[tuple[int, int, int]] = None):
    """Validation data: arrays for Keras to batch, or (memory-mapped, or split between replicas: ``part``, see
    ``training_batches``) a pipeline of the batches in order."""
    if not dataset.memory_mapped and part is None:
        return _structure(dataset.inputs), _structure(dataset.targets)
    settings = Settings(epochs=1, batch_size=batch_size, seed=0, shuffle=False)
    batches, _ = training_batches(dataset, settings, 0, part)
    return batches


def class_weights(setting, dataset) -> Optional[dict[int, float]]:
    """The spec's `class_weight` for every class of the labels: `balanced` is n / (classes × count); a class a
    mapping leaves out weighs 1 (on tf.data, Keras fails on a label with no weight)."""
    if setting is None:
        return None
    import numpy as np

    (labels,) = dataset.targets.values()
    labels = np.asarray(labels)
    labels = labels.argmax(-1) if labels.ndim > 1 and labels.shape[-1] > 1 else np.rint(labels).reshape(-1).astype(int)
    counts = np.bincount(labels)
    if setting == "balanced":
        present = np.flatnonzero(counts)
        return {int(c): float(len(labels) / (len(present) * counts[c])) for c in present}
    classes = max(len(counts), max(setting) + 1)
    return {c: float(setting.get(c, 1.0)) for c in range(classes)}


# --- callbacks ----------------------------------------------------------------------------------------------------


def _keras_callbacks(keras):
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
                raise _Signal(self.flag[0], batch)

    return Recorder, Stop


class _Signal(Exception):
    def __init__(self, signum: int, batch: int):
        super().__init__(signum)
        self.signum, self.batch = signum, batch


@contextlib.contextmanager
def _trap_signals(flag: list):
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


class _Monitored:
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


_EARLY = ("wait", "stopped_epoch", "best", "best_epoch")
_PLATEAU = ("wait", "best", "cooldown_counter")


def _stopping_callbacks(keras, training) -> tuple[Any, Any]:
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
class _Checkpointer:
    """After each epoch: note whether it is the best so far, and (with a folder) save last.npz and best.npz."""

    keras_model: Any
    spec: Any
    settings: Settings
    history: History
    monitor: _Monitored
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


def _fit_arguments(training, train, validation, settings: Settings) -> dict:
    arguments = {}
    if validation is not None:
        arguments["validation_data"] = validation_batches(validation, settings.batch_size)
    weights = class_weights(training.class_weight, train)
    if weights is not None:
        arguments["class_weight"] = weights
    return arguments


def fit(keras_model, spec, train, validation, settings: Settings, *, progress=None, history=None, run=None) -> History:
    """Train ``keras_model`` (compiled from ``spec``) on checked datasets; return the history of every epoch.

    With ``settings.checkpoints``, each complete epoch is saved to `last.npz` (and `best.npz` when the monitored
    quantity improved); with ``settings.resume``, training continues from `last.npz`. SIGINT or SIGTERM stops at
    the next batch and raises ``Interrupted``, leaving the last complete epoch's checkpoint as it was.

    ``run`` (modelspec/runtime/distribute.py): the strategy the model was built under. `mirrored` trains with
    ``model.fit``; `multi_worker_mirrored` with ``_multi_worker_fit``, the same callbacks driven by a loop of its
    own; on a cluster only the chief writes checkpoints, and a lost worker raises ``WorkerLost``. A global batch
    that the replicas do not divide takes that loop under `mirrored` too: Keras 3.15's fit averages the first
    batch's per-replica shares element by element to build the model, and fails on shares of unequal length.
    """
    keras = import_keras()
    training = spec.training
    history = history if history is not None else History()
    watched = training.early_stopping.monitor if training.early_stopping is not None else None
    monitor = _Monitored(watched or ("val_loss" if validation is not None else "loss"))
    early, plateau = _stopping_callbacks(keras, training)
    callbacks = [callback for callback in (early, plateau) if callback is not None]
    first_epoch = 0
    if settings.resume:
        restored = checkpoints.restore(settings.checkpoints / "last.npz", keras_model)
        first_epoch = int(restored["epoch"])
        history.rows = restored["history"]
        monitor.best, monitor.epoch = restored["best"]["value"], restored["best"]["epoch"]
        # after early stopping's and the plateau's own on_train_begin, which reset their counters
        callbacks.append(_resumed(keras, restored, early, plateau, settings.checkpoints, keras_model))
    if first_epoch >= settings.epochs:
        return history
    Recorder, Stop = _keras_callbacks(keras)
    flag: list = []
    chief = run is None or run.role.chief
    after_epoch = _Checkpointer(keras_model, spec, settings, history, monitor, early, plateau, chief)
    with _trap_signals(flag):
        try:
            if run is not None and (run.multi_worker or settings.batch_size % run.replicas):
                callbacks += [Recorder(history, after_epoch), *([progress] if progress else [])]
                _multi_worker_fit(keras_model, run, training, (train, validation), settings, first_epoch,
                                  callbacks, flag)  # fmt: skip
            else:
                callbacks += [Recorder(history, after_epoch), Stop(flag), *([progress] if progress else [])]
                _keras_fit(keras_model, training, train, validation, settings, first_epoch, callbacks)
        except _Signal as stop:
            raise _interrupted(stop, len(history.rows), settings.checkpoints) from None
        except _Lost as lost:
            raise _worker_lost(lost, len(history.rows), settings.checkpoints) from None
    return history


def _keras_fit(keras_model, training, train, validation, settings: Settings, first_epoch: int, callbacks) -> None:
    batches, steps = training_batches(train, settings, first_epoch)
    keras_model.fit(
        batches,
        epochs=settings.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=steps,
        shuffle=False,  # the pipeline orders the data itself, by (seed, epoch)
        verbose=0,
        callbacks=callbacks,
        **_fit_arguments(training, train, validation, settings),
    )


# --- multi-worker training: Keras's own train_step and test_step, in a loop of ours --------------------------------
#
# Keras 3.15's fit fails under MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica...) to a Tensor",
# keras-team/keras#20585). The loop below runs what fit runs, per step: the model's `train_step` (forward pass,
# compiled loss scaled by 1 / replicas, gradients summed across every replica by TensorFlow's collectives, the
# optimizer's update) inside `strategy.run` in a tf.function, on data from `distribute_datasets_from_function`.
# Metrics are Keras's own: their variables are summed across replicas when read, so the logs are those of the
# global batches, the same on every worker; the callbacks (history, checkpoints, progress, early stopping, learning
# rate on plateau) are the ones fit would run, called in fit's order.


class _Lost(Exception):
    """A collective operation failed: another worker of the cluster is gone."""


def _distributed(strategy, dataset, settings: Settings, first_epoch: int, weights=None):
    """``dataset``'s batches as a distributed dataset: each worker reads only its replicas' rows (see
    ``training_batches``), with ``weights`` (class weights) turned into sample weights as fit does."""
    tf = _tensorflow()

    def per_worker(context):
        local = strategy.num_replicas_in_sync // context.num_input_pipelines
        part = (context.input_pipeline_id * local, local, strategy.num_replicas_in_sync)
        batches, _ = training_batches(dataset, settings, first_epoch, part)
        if weights is not None:
            from keras.src.trainers.data_adapters.tf_dataset_adapter import make_class_weight_map_fn

            batches = batches.map(make_class_weight_map_fn(weights))
        return batches

    return strategy.distribute_datasets_from_function(per_worker, tf.distribute.InputOptions())


def _steps(tf, strategy, keras_model):
    """The distributed training step (returning this replica's running logs), the validation step, and ``agree``:
    how many workers were asked to stop, summed across the workers, so that a signal on any worker stops every
    worker after the same batch. ``agree`` is a function of its own: two collective operations in one function can
    be numbered in different orders by the replicas of one worker."""

    def local(values):
        return tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], values)

    @tf.function
    def train(batches):  # the iterator's next() inside the graph: eagerly, it fails on unequal shares
        return local(strategy.run(keras_model.train_step, args=(next(batches),)))

    @tf.function
    def test(data):
        strategy.run(keras_model.test_step, args=(data,))

    def asked(stop):  # a float on the replica's device, as collectives need
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(stop))

    @tf.function
    def agree(stop):
        return local(strategy.run(asked, args=(stop,)))

    return train, test, agree


def _results(keras_model) -> dict[str, float]:
    """The metrics' values over every replica (reading them sums their variables across the workers)."""
    return {name: float(value) for name, value in keras_model.get_metrics_result().items()}


def evaluate_distributed(keras_model, strategy, dataset, batch_size: int) -> dict[str, float]:
    """The loss and metrics of ``keras_model`` on ``dataset``, each worker evaluating its replicas' share."""
    tf = _tensorflow()
    _, test, _ = _steps(tf, strategy, keras_model)
    settings = Settings(epochs=1, batch_size=batch_size, seed=0, shuffle=False)
    try:
        return _evaluated(keras_model, _distributed(strategy, dataset, settings, 0), test)
    except _CLUSTER_ERRORS(tf) as exc:
        raise WorkerLost(f"evaluation stopped: a worker of the cluster is gone ({_reason(exc)}); restart every "
                         f"worker") from None  # fmt: skip


def _CLUSTER_ERRORS(tf) -> tuple:  # noqa: N802 - a constant that needs TensorFlow imported
    errors = tf.errors
    return (errors.UnavailableError, errors.CancelledError, errors.DeadlineExceededError, errors.AbortedError)


def _multi_worker_fit(keras_model, run, training, datasets, settings, first_epoch, callbacks, flag):
    """Train under MultiWorkerMirroredStrategy as fit would: same steps, metrics, logs and callbacks."""
    train, validation = datasets
    tf = _tensorflow()
    strategy = run.strategy
    keras = import_keras()
    data = _distributed(strategy, train, settings, first_epoch, class_weights(training.class_weight, train))
    held = Settings(epochs=1, batch_size=settings.batch_size, seed=0, shuffle=False)
    checks = _distributed(strategy, validation, held, 0) if validation is not None else None
    steps = math.ceil(train.size / settings.batch_size)
    _build_compiled(tf, strategy, keras_model, train, weighted=training.class_weight is not None)
    step, test, agree = _steps(tf, strategy, keras_model)
    hooks = keras.callbacks.CallbackList(callbacks, model=keras_model)
    keras_model.stop_training = False
    try:
        hooks.on_train_begin()
        batches = iter(data)
        for epoch in range(first_epoch, settings.epochs):
            keras_model.reset_metrics()
            hooks.on_epoch_begin(epoch)
            for batch in range(steps):
                hooks.on_train_batch_begin(batch)
                logs = step(batches)
                stop = tf.constant(1.0 if flag else 0.0)
                if float(agree(stop) if run.role.workers > 1 else stop):
                    raise _Signal(flag[0] if flag else signal.SIGTERM, batch)
                hooks.on_train_batch_end(batch, {name: float(value) for name, value in logs.items()})
            logs = _results(keras_model)
            if checks is not None:
                logs.update(_validate(keras_model, checks, test))
            hooks.on_epoch_end(epoch, logs)
            if keras_model.stop_training:
                break
        hooks.on_train_end()
    except _CLUSTER_ERRORS(tf) as exc:
        raise _Lost(str(exc)) from exc


def _build_compiled(tf, strategy, keras_model, dataset, weighted: bool) -> None:
    """Create the compiled metrics' and losses' variables now, from the batches' shapes, as fit does first under a
    strategy: created inside the step's tf.function instead, they fail with several replicas on one worker."""

    def spec(arrays: dict):
        specs = {name: tf.TensorSpec((None, *a.shape[1:]), _dtype(a)) for name, a in arrays.items()}
        return next(iter(specs.values())) if len(specs) == 1 else specs

    batch = (spec(dataset.inputs), spec(dataset.targets))
    with strategy.scope():
        keras_model._symbolic_build(data_batch=(*batch, tf.TensorSpec((None,))) if weighted else batch)


def _evaluated(keras_model, batches, test) -> dict[str, float]:
    """The loss and metrics over ``batches``: the metrics reset, then every batch through the test step."""
    keras_model.reset_metrics()
    for batch in batches:
        test(batch)
    return _results(keras_model)


def _validate(keras_model, checks, test) -> dict[str, float]:
    """The validation logs, as fit's, named val_*."""
    return {f"val_{name}": value for name, value in _evaluated(keras_model, checks, test).items()}


def _resumed(keras, state, early, plateau, folder, keras_model):
    """A callback that puts the callbacks' counters back after their own on_train_begin reset them."""

    class Resumed(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            for callback, saved in ((early, state.get("early_stopping")), (plateau, state.get("reduce_lr_on_plateau"))):
                if callback is not None and saved:
                    for name, value in saved.items():
                        setattr(callback, name, _number(value))
            if early is not None and early.restore_best_weights and (folder / "best.npz").exists():
                early.best_weights = checkpoints.model_weights(folder / "best.npz", keras_model)

    return Resumed()


def _reason(error: Exception) -> str:
    """The first lines of TensorFlow's message, without its `{{function_node ...}}` prefix."""
    lines = re.sub(r"^\{\{[^}]*\}\}\s*", "", str(error).strip()).splitlines()
    return " ".join(lines[:2]) or "a collective operation failed"


def _worker_lost(lost: _Lost, complete: int, folder: Optional[Path]) -> WorkerLost:
    where = f"training stopped during epoch {complete + 1}: a worker of the cluster is gone ({_reason(lost)})"
    if folder is None or complete == 0:
        return WorkerLost(f"{where}; no checkpoint holds a complete epoch: restart every worker")
    return WorkerLost(f"{where}; {folder / 'last.npz'} holds epoch {complete}: restart every worker with --resume")


def _interrupted(stop: _Signal, complete: int, folder: Optional[Path]) -> Interrupted:
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
