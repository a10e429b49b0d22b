"""Train a built model on checked data: seeded and deterministic, resumable, with checkpoints, history and progress.

Reproducibility: with a seed, the data order of epoch *e* is a permutation drawn from (seed, e) alone, TensorFlow's
deterministic ops are on, and every random layer draws from its own seeded state, which checkpoints keep; so two runs
give bit-identical weights, and 2 epochs plus a resumed 2 give the same weights as 4 in one go.

The batches are modelspec/runtime/batches.py's; the callbacks, the signal trap and the checkpoints after each epoch
modelspec/runtime/callbacks.py's.

Under a `tf.distribute` strategy (modelspec/runtime/distribute.py) the batches and their order stay those of one
device: `mirrored` hands them to ``model.fit``, which splits each across the devices; under `multi_worker_mirrored`
each worker's pipeline yields only its replicas' slices of them, and a loop of ours drives Keras's own steps and
callbacks (modelspec/runtime/multi_worker.py). Either way the history, checkpoints and progress are the same, and
only the chief writes files.
"""

from __future__ import annotations

from modelspec.history import History
from modelspec.resolve import Settings
from modelspec.runtime import checkpoints
from modelspec.runtime.batches import class_weights, training_batches, validation_batches
from modelspec.runtime.callbacks import (
    Checkpointer,
    LostWorker,
    Monitored,
    StopSignal,
    interrupted,
    keras_callbacks,
    resumed,
    stopping_callbacks,
    trap_signals,
    worker_lost,
)
from modelspec.runtime.multi_worker import multi_worker_fit
from modelspec.runtime.tensorflow_env import import_keras, import_tensorflow


def deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    import_tensorflow().config.experimental.enable_op_determinism()


def _fit_arguments(training, train, validation, settings: Settings) -> dict:
    arguments = {}
    if validation is not None:
        arguments["validation_data"] = validation_batches(validation, settings.batch_size)
    weights = class_weights(training.class_weight, train)
    if weights is not None:
        arguments["class_weight"] = weights
    return arguments


def fit(keras_model, spec, train, validation, settings: Settings, *, callbacks=(), history=None, run=None) -> History:
    """Train ``keras_model`` (compiled from ``spec``) on checked datasets; return the history of every epoch.

    With ``settings.checkpoints``, each complete epoch is saved to `last.npz` (and `best.npz` when the monitored
    quantity improved); with ``settings.resume``, training continues from `last.npz`. SIGINT or SIGTERM stops at
    the next batch and raises ``Interrupted``, leaving the last complete epoch's checkpoint as it was.

    ``run`` (modelspec/runtime/distribute.py): the strategy the model was built under. `mirrored` trains with
    ``model.fit``; `multi_worker_mirrored` with ``multi_worker_fit``, the same callbacks driven by a loop of its
    own; on a cluster only the chief writes checkpoints, and a lost worker raises ``WorkerLost``. A global batch
    that the replicas do not divide takes that loop under `mirrored` too: Keras 3.15's fit averages the first
    batch's per-replica shares element by element to build the model, and fails on shares of unequal length.

    ``callbacks``: Keras callbacks of the caller's (progress, TensorBoard, a report hook: ``reporter``), run after
    each epoch's row is in the history.
    """
    keras = import_keras()
    training = spec.training
    history = history if history is not None else History()
    watched = training.early_stopping.monitor if training.early_stopping is not None else None
    monitor = Monitored(watched or ("val_loss" if validation is not None else "loss"))
    early, plateau = stopping_callbacks(keras, training)
    chain = [callback for callback in (early, plateau) if callback is not None]
    first_epoch = 0
    if settings.resume:
        restored = checkpoints.restore(settings.checkpoints / "last.npz", keras_model)
        first_epoch = int(restored["epoch"])
        history.rows = restored["history"]
        monitor.best, monitor.epoch = restored["best"]["value"], restored["best"]["epoch"]
        # after early stopping's and the plateau's own on_train_begin, which reset their counters
        chain.append(resumed(keras, restored, early, plateau, settings.checkpoints, keras_model))
    if first_epoch >= settings.epochs:
        return history
    Recorder, Stop = keras_callbacks(keras)
    flag: list = []
    chief = run is None or run.role.chief
    after_epoch = Checkpointer(keras_model, spec, settings, history, monitor, early, plateau, chief)
    with trap_signals(flag):
        try:
            if run is not None and (run.multi_worker or settings.batch_size % run.replicas):
                chain += [Recorder(history, after_epoch), *callbacks]
                multi_worker_fit(keras_model, run, training, (train, validation), settings, first_epoch,
                                  chain, flag)  # fmt: skip
            else:
                chain += [Recorder(history, after_epoch), Stop(flag), *callbacks]
                _keras_fit(keras_model, training, train, validation, settings, first_epoch, chain)
        except StopSignal as stop:
            raise interrupted(stop, len(history.rows), settings.checkpoints) from None
        except LostWorker as lost:
            raise worker_lost(lost, len(history.rows), settings.checkpoints) from None
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
