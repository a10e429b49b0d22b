"""`modelspec train` and `modelspec evaluate` as library functions, with the guarantees of a build and more.

``train`` goes through the build pipeline (parameter budget, pretrained checks, lint gate: modelspec/pipeline.py),
then checks the data against the spec (modelspec/data/, no TensorFlow), and only then starts TensorFlow, trains
(modelspec/runtime/train.py) and writes its outputs, each atomically: the model, the history as JSON and CSV, the
plot, and the class names of string labels. ``evaluate`` checks the data the same way before it loads anything.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

from modelspec.diagnostics import error
from modelspec.errors import SettingsError, SpecError
from modelspec.loader import ModelSpec, load_spec
from modelspec.pipeline import DEFAULT_MAX_PARAMS, Prepared, SpecSource, build, prepare, save

if TYPE_CHECKING:
    from modelspec.data import Dataset
    from modelspec.linter.config import LintConfig
    from modelspec.runtime.train import History

PathLike = Union[str, os.PathLike]
MAX_EMBEDDED_SPEC = 1 << 20  # bytes of `modelspec/spec.yaml` (or classes.json) read from a .keras archive


class Trained(NamedTuple):
    """What ``train`` returns: the trained ``keras.Model`` and its history (one row per epoch)."""

    model: Any
    history: History


class Evaluation(NamedTuple):
    """What ``evaluate`` returns: the loss and every metric, and how many examples they are over."""

    results: dict[str, float]
    examples: int


def _needs_training(model: ModelSpec) -> None:
    if model.spec.training is None:
        line, column = model.document.locate(())
        raise SpecError(
            [
                error(
                    model.path,
                    line,
                    column,
                    "the spec has no `training:` block: add one with an optimizer and a loss to train or evaluate",
                    layer="training",
                )
            ]
        )


def load_datasets(
    model: ModelSpec,
    data,
    *,
    validation_data=None,
    validation_split: Optional[float] = None,
    target: Optional[str] = None,
) -> tuple[Dataset, Optional[Dataset]]:
    """The training data and the validation data (given, or split off the training data), checked."""
    from modelspec.data import load_data

    train_set = load_data(data, model, target=target, what="training data")
    if validation_data is not None:
        validation_set = load_data(
            validation_data, model, target=target, what="validation data", classes=train_set.class_names
        )
        return train_set, validation_set
    split = validation_split if validation_split is not None else model.spec.training.validation_split
    if split is None:
        return train_set, None
    kept, held = train_set.split(split)
    if kept.size == 0 or held.size == 0:
        raise SettingsError(
            f"validation_split {split:g} of {train_set.size} rows leaves {kept.size} to train on and {held.size} "
            f"to validate on: both need at least one"
        )
    return kept, held


def _settings(prepared: Prepared, *, epochs, batch_size, seed, checkpoints, resume, chief=True):
    from modelspec.runtime import checkpoints as saved
    from modelspec.runtime.train import Settings

    training = prepared.model.spec.training
    chosen_seed = seed if seed is not None else prepared.model.spec.seed
    folder = saved.folder(checkpoints, create=chief) if checkpoints is not None else None
    if resume == "auto":  # as Keras's BackupAndRestore: continue when a complete epoch was saved, else start
        resume = folder is None or (folder / "last.npz").is_file()
    if resume:
        if folder is None:
            raise SettingsError("--resume needs --checkpoints DIR: the folder of the run to continue")
        last = folder / "last.npz"
        if not last.is_file():
            raise SettingsError(f"--resume: {last} does not exist: no complete epoch was saved there")
        state = saved.read_state(last)
        if state["digest"] != saved.digest(prepared.model.spec):
            raise SettingsError(f"--resume: {last} was written for a different spec (layers or training settings)")
        if seed is not None and seed != state["seed"]:
            raise SettingsError(f"--resume: {last} was trained with seed {state['seed']}, not {seed}")
        chosen_seed, batch_size = state["seed"], batch_size or state["batch_size"]
        if batch_size != state["batch_size"]:
            raise SettingsError(f"--resume: {last} was trained with batch size {state['batch_size']}, not {batch_size}")
    if chosen_seed is None:
        chosen_seed = secrets.randbelow(2**31)  # recorded in the history and the checkpoints
    return Settings(
        epochs=epochs or training.epochs,
        batch_size=batch_size or training.batch_size,
        seed=chosen_seed,
        shuffle=training.shuffle,
        checkpoints=folder,
        resume=resume,
    )


def train(
    spec: SpecSource,
    data,
    *,
    validation_data=None,
    validation_split: Optional[float] = None,
    target: Optional[str] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    seed: Optional[int] = None,
    weights: Optional[PathLike] = None,
    checkpoints: Optional[PathLike] = None,
    resume: Union[bool, str] = False,
    output: Optional[PathLike] = None,
    history: Optional[PathLike] = None,
    plot: Optional[PathLike] = None,
    max_params: int = DEFAULT_MAX_PARAMS,
    lint: bool = True,
    strict: bool = False,
    config: Optional[LintConfig] = None,
    show_progress: bool = False,
    quiet: bool = False,
    on_ready=None,
    distribute: Optional[str] = None,
) -> Trained:
    """Train the model a spec describes on ``data`` and return it with its history.

    Args:
        spec: a path, YAML text, dict or loaded spec; it needs a `training:` block.
        data: `digits` (bundled), or a path to an .npz, a folder of .npy files or a .csv (docs/data.md).
        validation_data: data to validate on after each epoch; else ``validation_split`` (or the spec's) of the
            training data's last rows.
        target: the CSV column holding the labels (overrides the spec's `data.target`).
        epochs, batch_size: override the spec's `training:` values.
        seed: overrides the spec's seed (initial weights and data order); without any, one is drawn and recorded.
        weights: pretrained weights replacing `pretrained.path` (as for build).
        checkpoints: a folder that keeps the last complete epoch and the best one; ``resume`` continues from it,
            and ``resume="auto"`` does when it holds a complete epoch and else starts from the first (for a
            cluster whose scheduler restarts failed workers with the same command).
        output, history, plot: files to write (the model .keras, the history .json and .csv, a .png of the curves).
        show_progress: print a line per epoch (the command line does; the library is silent by default), with a
            progress bar on a terminal unless ``quiet``.
        on_ready: called with (prepared spec, training data, validation data) once every check passed, before
            TensorFlow starts (the command line prints the lint findings and the plan there).
        distribute: replaces the spec's `training.distribute` strategy: `mirrored`, `multi_worker_mirrored`, or
            `none` to train on one device (docs/distributed.md). On a cluster every worker runs the same call;
            only the chief writes the outputs and checkpoints, and each worker returns the same trained model.

    Raises:
        SpecError, WeightsError, LintFailure, SettingsError: as for a build, before TensorFlow starts.
        DataError: the data does not fit the spec (before TensorFlow starts).
        Interrupted: SIGINT or SIGTERM stopped training (the last complete epoch's checkpoint is intact).
        WorkerLost: another worker of the cluster stopped (the last complete epoch's checkpoint is intact).
    """
    from modelspec.runtime import distribute as distributed

    prepared = prepare(spec, weights=weights, max_params=max_params, lint=lint, strict=strict, config=config)
    _needs_training(prepared.model)
    if output is not None and Path(output).suffix != ".keras":
        raise SettingsError(f"the model file must end in .keras (received: {output})")
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise SettingsError("--plot needs matplotlib, which modelspec[tf] installs: pip install 'modelspec[tf]'")
    setting = _distribution(prepared.model, distribute)
    role = distributed.role(setting)
    train_set, validation_set = load_datasets(
        prepared.model, data, validation_data=validation_data, validation_split=validation_split, target=target
    )
    settings = _settings(
        prepared, epochs=epochs, batch_size=batch_size, seed=seed, checkpoints=checkpoints, resume=resume,
        chief=role.chief,
    )  # fmt: skip
    if on_ready is not None:
        on_ready(prepared, train_set, validation_set)

    from modelspec.runtime.progress import progress_callback
    from modelspec.runtime.train import History, deterministic, fit

    run = distributed.start(setting, role)  # first: a cluster's strategy must exist before any TensorFlow operation
    deterministic(settings.seed)
    with run.scope():
        keras_model = build(prepared, seed=seed)
    _warn_uneven(settings.batch_size, run.replicas, show_progress)
    steps = -(-train_set.size // settings.batch_size)
    trained = History()
    progress = progress_callback(trained, settings.epochs, steps, quiet=quiet) if show_progress else None
    trained = fit(
        keras_model, prepared.model.spec, train_set, validation_set, settings, progress=progress, history=trained,
        run=run,
    )  # fmt: skip
    if role.chief:
        _write(prepared, keras_model, trained, train_set, data, settings, output=output, history=history, plot=plot)
    return Trained(keras_model, trained)


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


def _distribution(model: ModelSpec, distribute: Optional[str]):
    """The spec's `training.distribute`, or what ``distribute`` (`--distribute`) replaces it with."""
    from modelspec.schema.distribute import with_strategy

    return with_strategy(model.spec.training.distribute, distribute)


def _write(prepared: Prepared, keras_model, trained, train_set, data, settings, *, output, history, plot) -> None:
    """Write the model, the history and the plot (each atomically): the chief's part of a run."""
    about = {"spec": prepared.model.path, "data": str(data), "seed": settings.seed, "batch_size": settings.batch_size}
    if output is not None:
        save(keras_model, output, prepared.model, train_set.class_names)
        if train_set.class_names:
            from modelspec.atomic import write_text

            write_text(Path(output).with_suffix(".classes.json"), json.dumps(train_set.class_names, indent=2) + "\n")
    if history is not None:
        from modelspec.report.history import write_history

        write_history(trained, history, **about)
    if plot is not None:
        from modelspec.report.plots import plot_history

        plot_history(trained, plot, f"{prepared.model.name}: {data}")


# --- evaluate -------------------------------------------------------------------------------------------------------


def embedded(path: Path) -> tuple[ModelSpec, dict[str, list[str]]]:
    """The spec a modelspec-written .keras archive carries (`modelspec/spec.yaml`), read as data, and the class
    names of its text labels (`modelspec/classes.json`, when the training data had some)."""
    from modelspec.runtime.builder import CLASSES_MEMBER, SPEC_MEMBER

    try:
        with zipfile.ZipFile(path) as archive:
            text, classes = (_member(path, archive, name) for name in (SPEC_MEMBER, CLASSES_MEMBER))
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file") from None
    except zipfile.BadZipFile:
        raise SettingsError(f"{path}: not a .keras archive") from None
    if text is None:
        raise SettingsError(
            f"{path} was not written by modelspec (it holds no {SPEC_MEMBER}): evaluate its spec with --weights {path}"
        )
    from modelspec import source
    from modelspec.loader import from_document

    names = json.loads(classes) if classes is not None else {}
    return from_document(source.parse(text, f"{path}:{SPEC_MEMBER}")), names


def _member(path: Path, archive: zipfile.ZipFile, name: str) -> Optional[str]:
    """A small text member of an archive, or None when it has none."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_EMBEDDED_SPEC:
        raise SettingsError(f"{path}: {name} holds {info.file_size:,} bytes: refused")
    return archive.read(info).decode("utf-8")


def evaluate(
    model_or_spec: Union[PathLike, SpecSource],
    data,
    *,
    target: Optional[str] = None,
    weights: Optional[PathLike] = None,
    batch_size: Optional[int] = None,
    distribute: Optional[str] = None,
) -> Evaluation:
    """Evaluate a trained model (a .keras file modelspec wrote) or a spec (with ``weights`` or its `pretrained:`
    block) on ``data``; return the loss and every metric. The data is checked before TensorFlow starts.
    ``distribute`` replaces the spec's `training.distribute` strategy (`none`: one device), as for ``train``."""
    if isinstance(model_or_spec, (str, os.PathLike)) and str(model_or_spec).endswith(".keras"):
        weights = Path(model_or_spec)
        model, classes = embedded(weights)
        model.spec = model.spec.model_copy(update={"pretrained": None})
    else:
        model, classes = load_spec(model_or_spec), {}
    _needs_training(model)
    from modelspec.data import load_data
    from modelspec.runtime import distribute as distributed

    setting = _distribution(model, distribute)
    role = distributed.role(setting)
    dataset = load_data(data, model, target=target, what="evaluation data", classes=classes)
    prepared = prepare(model, weights=weights, lint=False)
    run = distributed.start(setting, role)
    with run.scope():
        keras_model = build(prepared)
    from modelspec.runtime.train import evaluate_distributed, validation_batches

    size = batch_size or model.spec.training.batch_size
    if run.multi_worker:
        return Evaluation(evaluate_distributed(keras_model, run.strategy, dataset, size), dataset.size)
    batches = validation_batches(dataset, size)
    if isinstance(batches, tuple):  # in-memory arrays
        results = keras_model.evaluate(*batches, batch_size=size, return_dict=True, verbose=0)
    else:
        results = keras_model.evaluate(batches, return_dict=True, verbose=0)
    return Evaluation({name: float(value) for name, value in results.items()}, dataset.size)
