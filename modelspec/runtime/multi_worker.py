"""Training and evaluation under MultiWorkerMirroredStrategy: a loop of ours around Keras's own steps and callbacks.

Keras 3.15's fit fails under MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica...) to a Tensor",
keras-team/keras#20585). The loop here runs what fit runs, per step: the model's `train_step` (forward pass,
compiled loss scaled by 1 / replicas, gradients summed across every replica by TensorFlow's collectives, the
optimizer's update) inside `strategy.run` in a tf.function, on data from `distribute_datasets_from_function`.
Metrics are Keras's own: their variables are summed across replicas when read, so the logs are those of the
global batches, the same on every worker; the callbacks (modelspec/runtime/callbacks.py) are the ones fit would
run, called in fit's order.
"""

from __future__ import annotations

import math
import signal

from modelspec.errors import WorkerLost
from modelspec.resolve import Settings
from modelspec.runtime.batches import class_weights, dtype_name, training_batches
from modelspec.runtime.callbacks import LostWorker, StopSignal, lost_reason
from modelspec.runtime.tensorflow_env import import_keras, import_tensorflow


def _distributed(strategy, dataset, settings: Settings, first_epoch: int, weights=None):
    """``dataset``'s batches as a distributed dataset: each worker reads only its replicas' rows (see
    ``training_batches``), with ``weights`` (class weights) turned into sample weights as fit does."""
    tf = import_tensorflow()

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
    tf = import_tensorflow()
    _, test, _ = _steps(tf, strategy, keras_model)
    settings = Settings(epochs=1, batch_size=batch_size, seed=0, shuffle=False)
    try:
        return _evaluated(keras_model, _distributed(strategy, dataset, settings, 0), test)
    except _CLUSTER_ERRORS(tf) as exc:
        raise WorkerLost(f"evaluation stopped: a worker of the cluster is gone ({lost_reason(exc)}); restart every "
                         f"worker") from None  # fmt: skip


def _CLUSTER_ERRORS(tf) -> tuple:  # a constant that needs TensorFlow imported
    errors = tf.errors
    return (errors.UnavailableError, errors.CancelledError, errors.DeadlineExceededError, errors.AbortedError)


def multi_worker_fit(keras_model, run, training, datasets, settings, first_epoch, callbacks, flag):
    """Train under MultiWorkerMirroredStrategy as fit would: same steps, metrics, logs and callbacks."""
    train, validation = datasets
    tf = import_tensorflow()
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
                    raise StopSignal(flag[0] if flag else signal.SIGTERM, batch)
                hooks.on_train_batch_end(batch, {name: float(value) for name, value in logs.items()})
            logs = _results(keras_model)
            if checks is not None:
                logs.update(_validate(keras_model, checks, test))
            hooks.on_epoch_end(epoch, logs)
            if keras_model.stop_training:
                break
        hooks.on_train_end()
    except _CLUSTER_ERRORS(tf) as exc:
        raise LostWorker(str(exc)) from exc


def _build_compiled(tf, strategy, keras_model, dataset, weighted: bool) -> None:
    """Create the compiled metrics' and losses' variables now, from the batches' shapes, as fit does first under a
    strategy: created inside the step's tf.function instead, they fail with several replicas on one worker."""

    def spec(arrays: dict):
        specs = {name: tf.TensorSpec((None, *a.shape[1:]), dtype_name(a)) for name, a in arrays.items()}
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
