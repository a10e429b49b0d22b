"""The batches a run trains and validates on, as tf.data pipelines: seeded orders, memory-mapped blocks, replica slices.

Reproducibility: with a seed, the data order of epoch *e* is a permutation drawn from (seed, e) alone. In-memory data
is gathered by row inside TensorFlow's graph; memory-mapped data (a folder of .npy) is read one contiguous batch at a
time, the order of the batches shuffled each epoch, so a step reads one block of the files and the data is never
loaded whole. Under `multi_worker_mirrored` each worker's pipeline yields only its replicas' slices of the batches
one device would see (modelspec/runtime/multi_worker.py).
"""

from __future__ import annotations

import math
from typing import Any, Optional

from modelspec.resolve import Settings
from modelspec.runtime.tensorflow_env import import_tensorflow


def _structure(arrays: dict[str, Any]):
    """A single array as itself, several as a dict by name (how a Keras functional model takes them)."""
    return next(iter(arrays.values())) if len(arrays) == 1 else dict(arrays)


def dtype_name(array) -> str:
    kind = array.dtype.kind
    return "float32" if kind == "f" else "int64" if kind in "iub" else str(array.dtype)


def training_batches(dataset, settings: Settings, first_epoch: int, part: Optional[tuple[int, int, int]] = None):
    """A tf.data pipeline of every remaining epoch's batches, in the order (seed, epoch) decides.

    ``part`` = (first, count, replicas): instead of each global batch, yield its slices for the replicas ``first``
    to ``first + count - 1`` of ``replicas`` (contiguous, as even as a split of the batch can be, as
    ``tf.distribute`` splits a batch between the devices of one machine). A worker of a cluster reads only its
    replicas' rows, and together the workers see the very batches, in the very order, of a run on one device.
    """
    tf = import_tensorflow()
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
        tensors = [tf.constant(array.astype(dtype_name(array), copy=False)) for array in arrays]
        batches = epochs.flat_map(lambda e: tf.data.Dataset.from_tensor_slices(order(e, n)).batch(size))
        if part is not None:
            batches = batches.flat_map(lambda index: _replica_slices(tf, index, part))
        rows = batches.map(lambda index: tuple(tf.gather(t, index) for t in tensors))
    else:
        dtypes = [tf.as_dtype(dtype_name(array)) for array in arrays]
        first, count, replicas = part if part is not None else (0, 1, 1)

        def read(block, replica):
            start = int(block) * size
            low, high = _bounds(min(size, n - start), int(replica), replicas)
            return tuple(a[start + low : start + high].astype(dtype_name(a)) for a in arrays)

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
