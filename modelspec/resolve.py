"""Resolve a request into what runs: every decision of a command made once, without TensorFlow.

``resolve_train`` takes a ``TrainRequest`` (modelspec/requests.py) and returns a ``ResolvedTrain``: the prepared spec
(loaded once, over the budget or not, its pretrained plan, its lint findings past the gate), the output paths
(checked: the folder exists, the suffix fits), the strategy and this process's role in a cluster, the datasets
(checked against the spec), and the settings (epochs, batch size, the seed drawn once, checkpoints, resume).
``resolve_evaluate``, ``resolve_probe`` and ``resolve_compare`` (every variant resolved, then each one runs) do the
same for theirs. The command line prints from the resolved record (findings, plan, what trains where); modelspec/
trainer.py, probing.py and comparison.py hand it to runtime/, which executes it and re-derives nothing.

Every user mistake is a ``ModelspecError`` raised here, before TensorFlow starts: nothing has trained or been
written when one is raised.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from modelspec import source
from modelspec.atomic import writable
from modelspec.checkpoint_state import digest, folder, read_state
from modelspec.cluster import Role, role
from modelspec.data import Dataset, load_data
from modelspec.diagnostics import Diagnostic, Level, error
from modelspec.errors import ECHO_LIMIT, EXIT_OK, LintFailure, SettingsError, SpecError, echoed
from modelspec.export_formats import FORMATS, OPSETS, QUANTIZE, Format, tolerance
from modelspec.linter.config import load_config
from modelspec.linter.data_checks import profile
from modelspec.linter.registry import DATA_RULES
from modelspec.linter.runner import LintResult
from modelspec.linter.runner import run as run_rules
from modelspec.loader import ModelSpec, from_document, load_spec
from modelspec.pipeline import CLASSES_MEMBER, SPEC_MEMBER, Prepared, prepare
from modelspec.report.history import history_paths
from modelspec.report.plots import plot_path
from modelspec.requests import (
    CompareRequest,
    Data,
    EvaluateRequest,
    ExportRequest,
    Options,
    PathLike,
    ProbeRequest,
    Reach,
    Report,
    TrainRequest,
    parse_reach,
)
from modelspec.schema.base import SEED_LIMIT
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, Distribute, with_strategy
from modelspec.schema.training import logged_quantities
from modelspec.variants import SET, Variant, Vary, overridden, parse_sets, parse_vary, variants

DRAWN_SEEDS = 2**31  # a seed drawn for an unseeded run is below this (and recorded)
DEFAULT_PROBE_BATCH = 32
SAVED_MODEL_FILE = "saved_model.pb"  # what makes a folder a SavedModel, which an export may replace
MAX_EMBEDDED_SPEC = 1 << 20  # bytes of `modelspec/spec.yaml` (or classes.json) read from a .keras archive


# --- the records ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How one training run goes, resolved from the spec and the request."""

    epochs: int
    batch_size: int
    seed: int
    shuffle: bool
    checkpoints: Optional[Path] = None
    resume: bool = False


@dataclass(frozen=True)
class Distribution:
    """The `tf.distribute` strategy a run uses (None: one device) and this process's part in it."""

    setting: Optional[Distribute] = None
    role: Role = Role()


@dataclass(frozen=True)
class Written:
    """The files a run writes, checked before any work starts (None or empty: not written)."""

    model: Optional[Path] = None
    classes: Optional[Path] = None  # the class names of text labels, beside the model
    history: tuple[Path, ...] = ()  # FILE.json and FILE.csv
    plot: Optional[Path] = None
    results: Optional[Path] = None  # compare's JSON
    tensorboard: Optional[Path] = None  # a folder of TensorBoard logs (created when the run starts)

    @property
    def files(self) -> list[Path]:
        """Every file written, in the order they are written."""
        return [path for path in (self.model, self.classes, *self.history, self.plot, self.results) if path]


@dataclass(frozen=True)
class ResolvedTrain:
    """A training run with every decision made: what runtime/ executes."""

    prepared: Prepared
    data: str  # the training data as asked (recorded in the history, the plot's title)
    train_set: Dataset
    validation_set: Optional[Dataset]
    settings: Settings
    distribution: Distribution = field(default_factory=Distribution)
    outputs: Written = field(default_factory=Written)
    show_progress: bool = False
    quiet: bool = False
    report: Optional[Report] = None  # called after each epoch; True stops the run there (tune's pruners)


@dataclass(frozen=True)
class ResolvedEvaluate:
    """An evaluation with every decision made: the model (spec and the weights plan), the data, the batch size."""

    prepared: Prepared
    dataset: Dataset
    batch_size: int
    distribution: Distribution = field(default_factory=Distribution)


@dataclass(frozen=True)
class ResolvedProbe:
    """A probe with every decision made. ``prepared.findings`` holds every lint finding (reported, never a gate)."""

    prepared: Prepared
    seed: int
    batch: int  # examples asked for (the data may hold fewer)
    dataset: Optional[Dataset]  # None: a random batch that fits the spec
    data: Optional[str]
    plot: Optional[Path]
    label: Optional[str]


@dataclass(frozen=True)
class ResolvedVariant:
    """One variant of a comparison: its label, the values it sets, its lint findings and one run per seed."""

    label: str
    settings: dict[str, Any]
    findings: list[Diagnostic]
    runs: tuple[ResolvedTrain, ...]


@dataclass(frozen=True)
class ResolvedCompare:
    """A comparison with every variant resolved before the first one trains."""

    model: ModelSpec
    data: str
    seeds: tuple[int, ...]
    epochs: int
    vary: tuple[str, ...]
    reach: Optional[Reach]
    variants: tuple[ResolvedVariant, ...]
    outputs: Written


# --- shared decisions -----------------------------------------------------------------------------------------------


def needs_training(model: ModelSpec) -> None:
    """Refuse a spec without a `training:` block (located at the spec's top)."""
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


def check_seed(seed: Optional[int], what: str = "--seed") -> None:
    """A seed given outside the spec is in the spec's range (0 <= seed < SEED_LIMIT)."""
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        raise SettingsError(f"{what} must be between 0 and {SEED_LIMIT - 1} (received: {seed})")


def chosen_seed(asked: Optional[int], model: ModelSpec, room: int = 1) -> int:
    """The seed a run uses: the one asked for, else the spec's, else one drawn now (once; the run records it).
    ``room``: how many consecutive seeds the caller uses from it."""
    check_seed(asked)
    seed = asked if asked is not None else model.spec.seed
    if seed is None:
        return secrets.randbelow(DRAWN_SEEDS - room + 1)
    if seed + room > SEED_LIMIT:
        raise SettingsError(
            f"--seeds {room} from seed {seed} goes past the largest seed, {SEED_LIMIT - 1}: start from a smaller one"
        )
    return seed


def distribution(model: ModelSpec, distribute: Optional[str]) -> Distribution:
    """The spec's `training.distribute` (or what ``distribute`` replaces it with) and this process's role."""
    setting = with_strategy(model.spec.training.distribute, distribute)
    return Distribution(setting, role(setting))


def load_datasets(model: ModelSpec, data: Data) -> tuple[Dataset, Optional[Dataset]]:
    """The training data and the validation data (given, or split off the training data), checked."""
    train_set = load_data(data.data, model, target=data.target, what="training data")
    if data.validation_data is not None:
        validation_set = load_data(
            data.validation_data, model, target=data.target, what="validation data", classes=train_set.class_names
        )
        return train_set, validation_set
    split = data.validation_split if data.validation_split is not None else model.spec.training.validation_split
    if split is None:
        return train_set, None
    kept, held = train_set.split(split)
    if kept.size == 0 or held.size == 0:
        raise SettingsError(
            f"validation_split {split:g} of {train_set.size} rows leaves {kept.size} to train on and {held.size} "
            f"to validate on: both need at least one"
        )
    return kept, held


def lint_findings(model: ModelSpec, config) -> list[Diagnostic]:
    """The spec's lint findings, every level, with the project's configuration: reported, never a gate."""
    return run_rules(model, config or load_config())


def data_findings(model: ModelSpec, dataset: Dataset, config) -> list[Diagnostic]:
    """The warnings and errors of the data-aware rules (MS6xx, as `modelspec lint --data` runs them) on the data a
    command trains on, with the project's configuration; the spec's other rules are the lint gate's. Info findings
    are `lint --data`'s only: the bundled digits' constant corner pixels would otherwise greet every run."""
    config = config or load_config()
    found = run_rules(model, replace(config, codes=config.codes & DATA_RULES), profile(model, dataset))
    return [d for d in found if d.level != Level.INFO]


def data_gate(prepared: Prepared, dataset: Dataset, options: Options) -> Prepared:
    """Train's lint gate on the data: error-level data findings (or warnings with ``strict``) stop the run before
    TensorFlow starts (``LintFailure``, with every finding); the others join the findings printed before training."""
    found = data_findings(prepared.model, dataset, options.config)
    if LintResult(found, files=1).exit_code(options.strict) != EXIT_OK:
        raise LintFailure(prepared.model.path, [*prepared.findings, *found], options.strict, stopped="training")
    return replace(prepared, findings=[*prepared.findings, *found])


# --- train ----------------------------------------------------------------------------------------------------------


def train_settings(model: ModelSpec, options: Options, chief: bool = True) -> Settings:
    """Epochs, batch size, seed, shuffle, checkpoints and resume: from the request, a checkpoint, or the spec."""
    training = model.spec.training
    check_seed(options.seed)
    seed, batch_size, resume = options.seed, options.batch_size, options.resume
    where = folder(options.checkpoints, create=chief) if options.checkpoints is not None else None
    if resume == "auto":  # as Keras's BackupAndRestore: continue when a complete epoch was saved, else start
        resume = where is None or (where / "last.npz").is_file()
    if resume:
        if where is None:
            raise SettingsError("--resume needs --checkpoints DIR: the folder of the run to continue")
        last = where / "last.npz"
        if not last.exists():
            raise SettingsError(f"--resume: {last} does not exist: no complete epoch was saved there")
        state = read_state(last)
        if state["digest"] != digest(model.spec):
            raise SettingsError(f"--resume: {last} was written for a different spec (layers or training settings)")
        if seed is not None and seed != state["seed"]:
            raise SettingsError(f"--resume: {last} was trained with seed {state['seed']}, not {seed}")
        seed, batch_size = state["seed"], batch_size or state["batch_size"]
        if batch_size != state["batch_size"]:
            raise SettingsError(f"--resume: {last} was trained with batch size {state['batch_size']}, not {batch_size}")
    return Settings(
        epochs=options.epochs or training.epochs,
        batch_size=batch_size or training.batch_size,
        seed=chosen_seed(seed, model),
        shuffle=training.shuffle,
        checkpoints=where,
        resume=bool(resume),
    )


def train_outputs(model: ModelSpec, outputs, chief: bool = True) -> Written:
    """The model, history and plot files of a training run, each checked (``outputs.named``: the default names;
    ``chief`` False: a worker that writes nothing, whose file system need not hold the folders)."""
    output = outputs.model if outputs.model is not None or not outputs.named else f"{model.name}.keras"
    output = writable(output, "-o/--output", ".keras", chief)
    history = outputs.history
    if history is None and outputs.named and output is not None:
        history = output.with_name(output.stem + ".history")
    paths = tuple(writable(path, "--history", here=chief) for path in history_paths(history)) if history else ()
    logs = tensorboard_folder(outputs.tensorboard) if chief else None
    return Written(model=output, history=paths, plot=plot_path(outputs.plot, chief), tensorboard=logs)


def tensorboard_folder(path) -> Optional[Path]:
    """A folder for TensorBoard logs (``--tensorboard DIR``), checked before any work starts: no file there, and
    its parent folder exists (the folder itself is created when the run starts)."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SettingsError(f"--tensorboard: {path} is a file, not a folder (received: {path})")
    if importlib.util.find_spec("tensorboard") is None:
        raise SettingsError("--tensorboard needs TensorBoard's package: pip install 'modelspec[tensorboard]'")
    if not path.parent.resolve().is_dir():
        raise SettingsError(f"--tensorboard: folder {str(path.parent)!r} does not exist (received: {path})")
    return path


def resolve_train(request: TrainRequest) -> ResolvedTrain:
    """Every decision of a training run, in the order a person fixes them: the spec, the strategy, the output paths,
    the data, the settings.

    Raises:
        SpecError, WeightsError, LintFailure: as for a build (the lint gate stops here).
        SettingsError: an output path, a strategy, a checkpoint or a setting that cannot be used.
        DataError: the data does not fit the spec.
    """
    options = request.options
    prepared = prepare(
        request.spec,
        weights=options.weights,
        max_params=options.max_params,
        lint=options.lint,
        strict=options.strict,
        config=options.config,
        overrides=options.overrides,
    )
    model = prepared.model
    needs_training(model)
    where = distribution(model, options.distribute)
    outputs = train_outputs(model, request.outputs, where.role.chief)
    train_set, validation_set = load_datasets(model, request.data)
    if options.lint:
        prepared = data_gate(prepared, train_set, options)
    if outputs.model is not None and train_set.class_names:
        outputs = replace(outputs, classes=outputs.model.with_suffix(".classes.json"))
    return ResolvedTrain(
        prepared=prepared,
        data=str(request.data.data),
        train_set=train_set,
        validation_set=validation_set,
        settings=train_settings(model, options, chief=where.role.chief),
        distribution=where,
        outputs=outputs,
        show_progress=request.show_progress,
        quiet=request.quiet,
        report=request.report,
    )


# --- evaluate -------------------------------------------------------------------------------------------------------


def embedded(path: Path) -> tuple[ModelSpec, dict[str, list[str]]]:
    """The spec a modelspec-written .keras archive carries (`modelspec/spec.yaml`), read as data, and the class
    names of its text labels (`modelspec/classes.json`, when the training data had some)."""
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


def _is_keras_file(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and str(model).endswith(".keras")


def trained_model(
    model: Any, weights: Optional[PathLike], sets: tuple[Vary, ...] = ()
) -> tuple[ModelSpec, Optional[PathLike], dict[str, list[str]]]:
    """The spec, the weights file and the class names of a model given as a .keras file modelspec wrote (its
    embedded spec, the file itself as the weights) or as a spec (with ``weights``, or its `pretrained:` block);
    ``sets`` (parsed ``--set`` options) are applied to the spec first."""
    if _is_keras_file(model):
        weights = Path(model)
        loaded, classes = embedded(weights)
        loaded = overridden(loaded, sets)  # before its `pretrained:` is dropped: the weights are the file's own
        loaded.spec = loaded.spec.model_copy(update={"pretrained": None})
        return loaded, weights, classes
    return overridden(load_spec(model), sets), weights, {}


def resolve_evaluate(request: EvaluateRequest) -> ResolvedEvaluate:
    """The model to evaluate (a .keras file's embedded spec and weights, or a spec with weights), the data checked
    against it, the batch size and the strategy.

    Raises:
        SettingsError: a spec with no weights to evaluate (neither ``weights`` nor `pretrained:`): its scores would
            be those of a random model.
    """
    sets = parse_sets(request.options.overrides)  # a malformed --set is said before the model is read
    model, weights, classes = trained_model(request.model, request.options.weights, sets)
    needs_training(model)
    if weights is None and model.spec.pretrained is None:
        raise SettingsError(
            f"{model.path} has no weights to evaluate (no --weights, no `pretrained:` block): its scores would be "
            f"those of a randomly initialised model; pass --weights FILE, or evaluate the .keras file that "
            f"`modelspec train` wrote"
        )
    where = distribution(model, request.options.distribute)
    dataset = load_data(request.data.data, model, target=request.data.target, what="evaluation data", classes=classes)
    prepared = prepare(model, weights=weights, lint=False)
    batch_size = request.options.batch_size or model.spec.training.batch_size
    return ResolvedEvaluate(prepared, dataset, batch_size, where)


# --- probe ----------------------------------------------------------------------------------------------------------


def resolve_probe(request: ProbeRequest) -> ResolvedProbe:
    """The spec (with every lint finding, reported), the seed drawn once, the batch size, the data checked against
    the spec (or none: a random batch) and the plot's path."""
    options = request.options
    prepared = prepare(
        request.spec, weights=options.weights, max_params=options.max_params, lint=False, overrides=options.overrides
    )
    model = prepared.model
    prepared = replace(prepared, findings=lint_findings(model, options.config))
    training = model.spec.training
    batch = options.batch_size or (training.batch_size if training is not None else DEFAULT_PROBE_BATCH)
    seed = chosen_seed(options.seed, model)
    data = request.data
    dataset = load_data(data.data, model, target=data.target, what="probe data") if data is not None else None
    return ResolvedProbe(
        prepared=prepared,
        seed=seed,
        batch=batch,
        dataset=dataset,
        data=None if data is None else str(data.data),
        plot=plot_path(request.outputs.plot),
        label=request.label,
    )


# --- compare --------------------------------------------------------------------------------------------------------


def data_signature(model: ModelSpec) -> tuple:
    """What the data checks depend on: the inputs, the outputs' shapes and losses, and the `data:` block."""
    analysis = model.analysis
    inputs = tuple((name, info.shape, info.dtype) for name, info in analysis.inputs.items())
    outputs = tuple((name, analysis.layers[name].output_shape, repr(loss)) for name, loss in analysis.losses.items())
    return inputs, outputs, repr(model.spec.data), repr(model.spec.training and model.spec.training.validation_split)


def _one_cluster_run(made: list[Variant], seeds: int, distribute: Optional[str]) -> None:
    """Refuse multi_worker_mirrored for several runs: TensorFlow configures a process's collective ops once."""
    runs = len(made) * seeds
    for variant in made:
        setting = with_strategy(variant.model.spec.training.distribute, distribute)
        if runs > 1 and setting is not None and setting.strategy == MULTI_WORKER_MIRRORED:
            raise SettingsError(
                f"compare trains {runs} runs in one process, and multi_worker_mirrored starts its cluster once per "
                f"process: train each variant with `modelspec train` on the cluster, or compare with "
                f"--distribute mirrored or none (received: {variant.label} with multi_worker_mirrored)"
            )


def logged(model: ModelSpec, validated: bool) -> list[str]:
    """The quantities a training run of ``model`` logs: its losses and metrics, and with validation data their
    `val_` twins."""
    names = logged_quantities(model.spec.training, model.analysis.outputs)
    return names + [f"val_{name}" for name in names] if validated else names


def _check_reach(goal: Optional[Reach], runs: list[ResolvedTrain]) -> None:
    """Refuse a `--reach` quantity that no variant logs: it could never be reached."""
    if goal is None:
        return
    quantities = [logged(run.prepared.model, run.validation_set is not None) for run in runs]
    if not any(goal.quantity in names for names in quantities):
        raise SettingsError(
            f"--reach {goal.quantity}: the runs never log it; they log {', '.join(quantities[0])}"
            + ("" if runs[0].validation_set is not None else " (val_ quantities need validation data)")
        )


def _not_set_and_varied(sets: tuple[Vary, ...], vary: tuple[str, ...]) -> None:
    """Refuse a field that both ``--set`` and ``--vary`` give: every variant would silently replace the ``--set``."""
    varied = {parse_vary(option).path: parse_vary(option).field for option in vary}
    for item in sets:
        if item.path in varied:
            shown = [text if len(text) <= ECHO_LIMIT else echoed(text) for text in (item.field, varied[item.path])]
            raise SettingsError(f"{SET} {shown[0]} and --vary {shown[1]} set the same field: give it to one of them")


def resolve_compare(request: CompareRequest) -> ResolvedCompare:
    """Every variant resolved (spec, findings, data, settings of each run) before the first one trains.

    Raises:
        SettingsError: a malformed ``--vary`` or ``--reach``, a ``--reach`` quantity the runs never log, or a variant
            that is not a valid spec; SpecError, WeightsError, DataError: as for train, for any variant.
    """
    options = request.options
    sets = parse_sets(options.overrides)  # a malformed --set is said before the spec is read
    _not_set_and_varied(sets, request.vary)
    model = overridden(load_spec(request.spec), sets)
    goal = parse_reach(request.reach) if isinstance(request.reach, str) else request.reach
    if request.seeds < 1:
        raise SettingsError(f"--seeds must be at least 1 (received: {request.seeds})")
    outputs = request.outputs
    results = outputs.results if outputs.results is not None or not outputs.named else f"{model.name}.compare.json"
    written = Written(
        plot=plot_path(outputs.plot),
        results=writable(results, "-o/--output"),
    )
    made = variants(model, list(request.vary))
    _one_cluster_run(made, request.seeds, options.distribute)
    findings = [lint_findings(variant.model, options.config) for variant in made]
    first = chosen_seed(options.seed, model, room=request.seeds)
    seeds = tuple(first + k for k in range(request.seeds))
    checked: dict[tuple, tuple[Dataset, Optional[Dataset]]] = {}
    resolved = []
    for variant, found in zip(made, findings):
        prepared = prepare(variant.model, max_params=options.max_params, lint=False)
        needs_training(variant.model)
        signature = data_signature(variant.model)
        if signature not in checked:
            checked[signature] = load_datasets(variant.model, request.data)
        train_set, validation_set = checked[signature]
        found = [*found, *data_findings(variant.model, train_set, options.config)]  # reported, never a gate
        where = distribution(variant.model, options.distribute)
        runs = tuple(
            ResolvedTrain(
                prepared=prepared,
                data=str(request.data.data),
                train_set=train_set,
                validation_set=validation_set,
                settings=train_settings(variant.model, replace(options, seed=seed, checkpoints=None, resume=False)),
                distribution=where,
            )
            for seed in seeds
        )
        resolved.append(ResolvedVariant(variant.label, variant.settings, found, runs))
    _check_reach(goal, [variant.runs[0] for variant in resolved])
    return ResolvedCompare(
        model=model,
        data=str(request.data.data),
        seeds=seeds,
        epochs=resolved[0].runs[0].settings.epochs,
        vary=tuple(request.vary),
        reach=goal,
        variants=tuple(resolved),
        outputs=written,
    )


# --- export ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedExport:
    """An export with every decision made: the model (spec, weights plan, findings past the gate with the format's
    readiness rules), the format, the output (checked; None for a format check), the seed of the verification
    batch (and of the initial weights when there are none to load), and the tolerance."""

    prepared: Prepared
    format: Format
    output: Optional[Path]
    seed: int
    tolerance: float
    opset: Optional[int] = None
    quantize: Optional[str] = None
    weighted: bool = True  # False: a spec without weights, exported with its initial weights


def _export_settings(request: ExportRequest) -> Format:
    """The format, and the options that go with it: --opset for ONNX, --quantize for LiteRT."""
    if request.format not in FORMATS:
        raise SettingsError(f"--format must be one of {', '.join(FORMATS)} (received: {request.format!r})")
    if request.opset is not None and request.format != "onnx":
        raise SettingsError(f"--opset applies to --format onnx only (received: --format {request.format})")
    if request.opset is not None and request.opset not in OPSETS:
        raise SettingsError(
            f"--opset must be between {OPSETS.start} and {OPSETS.stop - 1}, the ONNX opsets tf2onnx writes Keras's "
            f"ops at (received: {request.opset})"
        )
    if request.quantize is not None and request.quantize not in QUANTIZE:
        raise SettingsError(f"--quantize must be one of {', '.join(QUANTIZE)} (received: {request.quantize!r})")
    if request.quantize is not None and request.format != "litert":
        raise SettingsError(f"--quantize applies to --format litert only (received: --format {request.format})")
    return FORMATS[request.format]


def export_output(request: ExportRequest, model: ModelSpec, chosen: Format) -> Path:
    """The path an export is written to, checked: ``request.output``, else the input's path (the .keras file or the
    spec) with the format's suffix, else (a spec given as text or a dict) `<name><suffix>` in the current folder."""
    output = request.output
    if output is None:
        given = Path(request.model) if isinstance(request.model, (str, os.PathLike)) else None
        base = given if given is not None and given.is_file() else Path(model.path)
        output = base.with_suffix(chosen.suffix) if base.is_file() else Path(f"{model.name}{chosen.suffix}")
    if chosen.name != "saved_model":
        return writable(output, "-o/--output", chosen.suffix)
    output = Path(output)  # a SavedModel is a folder: replaced whole when it is one already (or empty)
    if output.exists() and not output.is_dir():
        raise SettingsError(f"-o/--output: {output} is a file; a SavedModel is a folder (received: {output})")
    if output.is_dir() and any(output.iterdir()) and not (output / SAVED_MODEL_FILE).is_file():
        raise SettingsError(
            f"-o/--output: {output} is a folder that holds no {SAVED_MODEL_FILE}: an export replaces its folder "
            f"whole, so it only replaces an earlier SavedModel or an empty folder; choose a new folder "
            f"(received: {output})"
        )
    if not output.parent.resolve().is_dir():
        raise SettingsError(f"-o/--output: folder {str(output.parent)!r} does not exist (received: {output})")
    return output


def resolve_export(request: ExportRequest) -> ResolvedExport:
    """The model to export (a .keras file's embedded spec and weights, or a spec with its weights or none), checked
    as a build checks it plus the format's readiness rules (MS5xx), the output path, the seed and the tolerance.

    Raises:
        SettingsError: an unknown format, an option that does not fit it, an unusable output path.
        LintFailure: the lint gate, readiness rules included, stopped the export (exit code 1).
        SpecError, WeightsError: as for a build.
    """
    options = request.options
    chosen = _export_settings(request)
    if _is_keras_file(request.model) and options.weights is not None:
        raise SettingsError(f"--weights applies to a SPEC: {request.model} carries its own weights")
    model, weights, _ = trained_model(request.model, options.weights)
    config = (options.config or load_config()).exporting(chosen.name)
    try:
        prepared = prepare(model, weights=weights, max_params=options.max_params, strict=options.strict, config=config)
    except LintFailure as exc:
        raise LintFailure(model.path, exc.diagnostics, options.strict, stopped=f"export to {chosen.name}") from None
    output = None if request.format_check else export_output(request, model, chosen)
    return ResolvedExport(
        prepared=prepared,
        format=chosen,
        output=output,
        seed=chosen_seed(options.seed, model),
        tolerance=tolerance(request.quantize),
        opset=request.opset,
        quantize=request.quantize,
        weighted=weights is not None or model.spec.pretrained is not None,
    )
