"""`modelspec train` and `modelspec evaluate` as library functions, with the guarantees of a build and more.

``train`` resolves its request (modelspec/resolve.py: the build pipeline's checks, the output paths, the strategy,
the data against the spec, the settings and the seed, all before TensorFlow starts), then ``run_train`` executes the
resolved record: it starts TensorFlow, builds the model with the resolved seed and pretrained plan, trains
(modelspec/runtime/train.py) and writes the outputs, each atomically: the model, the history as JSON and CSV, the
plot, and the class names of text labels. ``evaluate`` likewise: ``resolve_evaluate``, then ``run_evaluate``.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any, NamedTuple, Optional, Union

from modelspec.atomic import write_text
from modelspec.history import History
from modelspec.pipeline import SpecSource, build, save
from modelspec.report.history import write_history
from modelspec.report.plots import plot_history
from modelspec.requests import Data, DataSource, EvaluateRequest, Options, Outputs, PathLike, TrainRequest, as_data
from modelspec.resolve import ResolvedEvaluate, ResolvedTrain, resolve_evaluate, resolve_train
from modelspec.runtime import distribute as distributed
from modelspec.runtime.batches import validation_batches
from modelspec.runtime.callbacks import reporter, tensorboard
from modelspec.runtime.multi_worker import evaluate_distributed
from modelspec.runtime.progress import progress_callback
from modelspec.runtime.tensorflow_env import import_keras
from modelspec.runtime.train import deterministic, fit


class Trained(NamedTuple):
    """What ``train`` returns: the trained ``keras.Model`` and its history (one row per epoch)."""

    model: Any
    history: History


class Evaluation(NamedTuple):
    """What ``evaluate`` returns: the loss and every metric, and how many examples they are over."""

    results: dict[str, float]
    examples: int


def train(
    spec: SpecSource,
    data: Union[DataSource, Data],
    options: Optional[Options] = None,
    outputs: Optional[Outputs] = None,
) -> Trained:
    """Train the model a spec describes on ``data`` and return it with its history.

    Args:
        spec: a path, YAML text, dict or loaded spec; it needs a `training:` block.
        data: `digits` (bundled), a path to an .npz, a folder of .npy files or a .csv (docs/data.md), or a ``Data``
            record that also names validation data (or a split) and the CSV target column.
        options: how to run (modelspec/requests.py ``Options``): epochs, batch size, seed (without one, one is drawn
            and recorded: training again with it reproduces the run), weights, checkpoints and resume, the
            strategy (`distribute`: on a cluster every worker runs the same call; only the chief writes), the
            parameter budget, the lint gate, and ``overrides`` (``"PATH=VALUE"`` strings set in the spec first, as
            ``--set`` does: ``Options(overrides=("training.epochs=1",))``).
        outputs: the files to write (``Outputs``): the model .keras, the history .json and .csv, a .png of the
            curves, a folder of TensorBoard logs; every path is checked before any work starts.

    Raises:
        SpecError, WeightsError, LintFailure, SettingsError: as for a build, before TensorFlow starts.
        DataError: the data does not fit the spec (before TensorFlow starts).
        Interrupted: SIGINT or SIGTERM stopped training (the last complete epoch's checkpoint is intact).
        WorkerLost: another worker of the cluster stopped (the last complete epoch's checkpoint is intact).
    """
    request = TrainRequest(spec, as_data(data), options or Options(), outputs or Outputs())
    return run_train(resolve_train(request))


def run_train(resolved: ResolvedTrain) -> Trained:
    """Execute a resolved training run: start the strategy, build with the resolved seed and pretrained plan,
    train, and (the chief) write the outputs. Imports TensorFlow."""
    settings = resolved.settings
    # first: a cluster's strategy must exist before any TensorFlow operation
    run = distributed.start(resolved.distribution.setting, resolved.distribution.role)
    deterministic(settings.seed)
    with run.scope():
        keras_model = build(resolved.prepared, seed=settings.seed)
    _warn_uneven(settings.batch_size, run.replicas, resolved.show_progress)
    steps = -(-resolved.train_set.size // settings.batch_size)
    trained = History()
    model = resolved.prepared.model
    trained = fit(
        keras_model, model.spec, resolved.train_set, resolved.validation_set, settings,
        callbacks=_callbacks(resolved, trained, steps, run.role.chief), history=trained, run=run,
    )  # fmt: skip
    if resolved.distribution.role.chief:
        _write(resolved, keras_model, trained)
    return Trained(keras_model, trained)


def _callbacks(resolved: ResolvedTrain, trained: History, steps: int, chief: bool) -> list:
    """The run's own Keras callbacks beside the history's: progress, TensorBoard logs (the chief's), the report."""
    keras = import_keras()
    callbacks = []
    if resolved.show_progress:
        callbacks.append(progress_callback(trained, resolved.settings.epochs, steps, quiet=resolved.quiet))
    if resolved.outputs.tensorboard is not None and chief:
        callbacks.append(tensorboard(keras, resolved.outputs.tensorboard))
    if resolved.report is not None:
        callbacks.append(reporter(keras, trained, resolved.report))
    return callbacks


def _warn_uneven(batch_size: int, replicas: int, show_progress: bool) -> None:
    """Say when the global batch does not split evenly: what lint (MS309) cannot know for every GPU of a machine or
    a cluster. On the command line a line on stderr, in Python a ``UserWarning``."""
    if batch_size % replicas == 0:
        return
    message = (
        f"batch_size {batch_size} is not a multiple of the {replicas} replicas: each step splits it into shares of "
        f"{-(-batch_size // replicas)} and fewer, and each share's mean loss counts the same, so the examples of "
        f"the smaller shares weigh more (MS309); use a multiple of {replicas}"
    )
    if show_progress:
        print(f"warning: {message}", file=sys.stderr, flush=True)
    else:
        warnings.warn(message, stacklevel=3)


def _write(resolved: ResolvedTrain, keras_model, trained: History) -> None:
    """Write the model, the history and the plot (each atomically): the chief's part of a run."""
    model, outputs, settings = resolved.prepared.model, resolved.outputs, resolved.settings
    about = {"spec": model.path, "data": resolved.data, "seed": settings.seed, "batch_size": settings.batch_size}
    class_names = resolved.train_set.class_names
    if outputs.model is not None:
        save(keras_model, outputs.model, model, class_names)
    if outputs.classes is not None:
        write_text(outputs.classes, json.dumps(class_names, indent=2) + "\n")
    if outputs.history:
        write_history(trained, outputs.history[0], **about)
    if outputs.plot is not None:
        plot_history(trained, outputs.plot, f"{model.name}: {resolved.data}")


# --- evaluate -------------------------------------------------------------------------------------------------------


def evaluate(
    model_or_spec: Union[PathLike, SpecSource],
    data: Union[DataSource, Data],
    options: Optional[Options] = None,
) -> Evaluation:
    """Evaluate a trained model (a .keras file modelspec wrote) or a spec (with ``options.weights`` or its
    `pretrained:` block; a spec with neither is refused, its scores would be a random model's) on ``data``; return
    the loss and every metric. The data is checked before TensorFlow starts. Of the ``options``, ``weights``,
    ``batch_size``, ``distribute`` (`none`: one device) and ``overrides`` (``--set``, in the spec a .keras file
    carries or in the spec) apply."""
    return run_evaluate(resolve_evaluate(EvaluateRequest(model_or_spec, as_data(data), options or Options())))


def run_evaluate(resolved: ResolvedEvaluate) -> Evaluation:
    """Execute a resolved evaluation: build the model with its weights, score the data. Imports TensorFlow."""
    run = distributed.start(resolved.distribution.setting, resolved.distribution.role)
    with run.scope():
        keras_model = build(resolved.prepared)
    dataset, size = resolved.dataset, resolved.batch_size
    if run.multi_worker:
        return Evaluation(evaluate_distributed(keras_model, run.strategy, dataset, size), dataset.size)
    batches = validation_batches(dataset, size)
    if isinstance(batches, tuple):  # in-memory arrays
        results = keras_model.evaluate(*batches, batch_size=size, return_dict=True, verbose=0)
    else:
        results = keras_model.evaluate(batches, return_dict=True, verbose=0)
    return Evaluation({name: float(value) for name, value in results.items()}, dataset.size)
