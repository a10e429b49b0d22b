"""Resolve a `tune` request into a ``TunePlan``: every decision of the study made once, without TensorFlow.

The base spec loaded (and its `training:` block required), the search space parsed and each searched path tried on
the spec, the metric checked against what a run logs and its direction, the sampler, pruner and engine checked, the
first seed drawn once (trial *n* trains with ``seed + n``), the data checked against the spec, the output paths
checked; nothing has trained or been written when a ``ModelspecError`` comes out of ``resolve_tune``. Every engine
(Optuna here, Ray Tune in its worker processes) runs trials of the same plan (modelspec/tuning/trial.py).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from modelspec.atomic import writable
from modelspec.data import Dataset
from modelspec.errors import SettingsError, SpecError
from modelspec.loader import ModelSpec, load_spec
from modelspec.report.plots import plot_path
from modelspec.requests import Data, Engine, Options, TuneRequest
from modelspec.resolve import (
    chosen_seed,
    data_signature,
    distribution,
    load_datasets,
    logged,
    needs_training,
    tensorboard_folder,
)
from modelspec.schema.base import SEED_LIMIT
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED
from modelspec.schema.training import monitor_mode
from modelspec.tuning.space import Search, parse_space
from modelspec.variants import variant_spec

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "asha", "none")
ENGINES = ("optuna", "ray")
LINT_PRUNE = ("error", "warning")
DIRECTIONS = ("max", "min")
MAX_TRIALS = 100_000
DATABASES = ("sqlite", "postgresql", "mysql")  # what Optuna's RDB storage (SQLAlchemy) opens, with any driver
JOURNAL = "journal:"  # journal:FILE, Optuna's journal file


@dataclass(frozen=True)
class TuneOutputs:
    """The files a study writes, checked before any trial: the results JSON, the plot, the best spec, and the
    folder of TensorBoard logs (one subfolder per trial, ``trial_<number>``)."""

    results: Optional[Path] = None
    plot: Optional[Path] = None
    best_spec: Optional[Path] = None
    tensorboard: Optional[Path] = None

    @property
    def files(self) -> list[Path]:
        return [path for path in (self.results, self.plot, self.best_spec) if path is not None]


@dataclass(frozen=True)
class TunePlan:
    """A study with every decision made; what each engine runs trials of (picklable: Ray ships it to workers)."""

    model: ModelSpec  # the base spec
    data: Data  # as asked
    space: tuple[Search, ...]
    trials: int
    metric: str
    direction: str  # "max" or "min"
    sampler: str
    prune: str
    lint_prune: str  # "error" or "warning": the lowest level of finding that refuses a trial
    engine: Engine
    seed: int  # trial n trains with seed + n
    options: Options  # of each trial's run: epochs, batch size, max_params, config
    outputs: TuneOutputs = field(default_factory=TuneOutputs)
    show_progress: bool = False
    datasets: dict = field(default_factory=dict, compare=False)  # data_signature -> (train, validation), checked

    def trial_seed(self, number: int) -> int:
        """The seed of trial ``number``: ``seed + number`` (wrapping round below the spec's largest seed)."""
        return (self.seed + number) % SEED_LIMIT

    def datasets_for(self, model: ModelSpec) -> tuple[Dataset, Optional[Dataset]]:
        """The checked data of a trial's spec: loaded once per shape of inputs and outputs (most trials: once)."""
        signature = data_signature(model)
        if signature not in self.datasets:
            self.datasets[signature] = load_datasets(model, self.data)
        return self.datasets[signature]

    @property
    def data_label(self) -> str:
        return str(self.data.data)


def _choose(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise SettingsError(f"{option} must be one of {', '.join(choices)} (received: {value!r})")
    return value


def _check_paths(model: ModelSpec, space: tuple[Search, ...]) -> None:
    """Try each searched path on the spec with the values its distribution can give: a path that names no layer,
    or that no value of it makes a valid spec, is a mistake of the command, not of one trial."""
    for search in space:
        problems = []
        for value in search.distribution.candidates():
            try:
                variant_spec(model, [(search.vary, value)])
                break
            except SpecError as exc:
                problems.append("; ".join(d.message for d in exc.diagnostics))
        else:
            raise SettingsError(
                f"--search {search.text()}: no value of it makes a valid spec ({problems[0]}); check the path "
                f"(as for compare --vary: a `defaults:` field, layers.NAME.FIELD, or a dotted path)"
            )


def _metric(model: ModelSpec, asked: Optional[str], validated: bool) -> str:
    """The metric to optimise: the one asked for (which a run must log), else val_loss with validation, else loss."""
    names = logged(model, validated)
    metric = asked or ("val_loss" if validated else "loss")
    if metric not in names:
        raise SettingsError(
            f"--metric {metric}: a trial never logs it; it logs {', '.join(names)}"
            + ("" if validated else " (val_ quantities need validation data: --validation-split or the spec's)")
        )
    return metric


def _check_storage(engine: Engine) -> None:
    url = engine.storage
    if engine.name != "optuna":
        raise SettingsError("--storage is for --engine optuna (Ray Tune keeps its own experiment state)")
    if url.startswith(JOURNAL):
        if not url[len(JOURNAL) :]:
            raise SettingsError(f"--storage {url}: name the journal file, journal:FILE")
        writable(url[len(JOURNAL) :], "--storage journal:FILE")
        return
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in DATABASES or "://" not in url:
        raise SettingsError(
            f"--storage takes a database URL (sqlite:///study.db, postgresql://HOST/DB, mysql://HOST/DB) or "
            f"journal:FILE (received: {url!r})"
        )
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        writable(url[len("sqlite:///") :], "--storage sqlite:///FILE")


def _check_engine(engine: Engine, sampler: str, space: tuple[Search, ...]) -> None:
    _choose(engine.name, ENGINES, "--engine")
    if engine.workers < 1:
        raise SettingsError(f"--workers must be at least 1 (received: {engine.workers})")
    if engine.name == "optuna" and engine.workers > 1:
        raise SettingsError(
            "--workers is for --engine ray; with Optuna, start one `modelspec tune` process per worker with the same "
            "--storage and --study (docs/tune.md: several processes, one study)"
        )
    if engine.storage is not None:
        _check_storage(engine)
    if engine.name == "optuna" and engine.address is not None:
        raise SettingsError("--address is for --engine ray (the Ray cluster to run on)")
    if sampler == "grid":
        floats = [search.field for search in space if search.distribution.grid() is None]
        if floats:
            raise SettingsError(
                f"--sampler grid needs choice(...) or int(...) distributions; {', '.join(floats)} samples floats"
            )
    _check_installed(engine)


def _check_installed(engine: Engine) -> None:
    """The engine's extra is installed (and the Ray engine part of this modelspec): said before any work."""
    if engine.name == "ray" and importlib.util.find_spec("modelspec.tuning.ray_engine") is None:
        raise SettingsError("--engine ray is not part of this modelspec: use --engine optuna")
    if engine.name == "ray" and importlib.util.find_spec("ray") is None:
        raise SettingsError('modelspec tune --engine ray needs Ray: pip install "modelspec[ray]"')
    if engine.name == "optuna" and importlib.util.find_spec("optuna") is None:
        raise SettingsError('modelspec tune needs Optuna: pip install "modelspec[tune]"')


def resolve_tune(request: TuneRequest) -> TunePlan:
    """Every decision of a study, before any trial trains.

    Raises:
        SettingsError: a malformed ``--search``, a path that names nothing, an unknown sampler, pruner or engine, a
            metric no trial logs, an output path that cannot be written.
        SpecError, DataError: the base spec is invalid or has no `training:` block; the data does not fit it.
    """
    search, options, engine = request.search, request.options, request.engine
    model = load_spec(request.spec)
    needs_training(model)
    space = parse_space(list(search.space))
    sampler = _choose(search.sampler, SAMPLERS, "--sampler")
    prune = _choose(search.prune, PRUNERS, "--prune")
    lint_prune = _choose(search.lint_prune, LINT_PRUNE, "--lint-prune")
    _check_engine(engine, sampler, space)
    engine = replace(engine, study=engine.study or model.name)
    if not 1 <= search.trials <= MAX_TRIALS:
        raise SettingsError(f"--trials must be between 1 and {MAX_TRIALS} (received: {search.trials})")
    setting = distribution(model, options.distribute).setting
    if setting is not None and setting.strategy == MULTI_WORKER_MIRRORED:
        raise SettingsError(
            "tune trains many trials in one process, and multi_worker_mirrored starts its cluster once per process: "
            "tune with --distribute mirrored or none (or --engine ray, one trial per worker process)"
        )
    outputs = request.outputs
    written = TuneOutputs(
        results=writable(outputs.results, "-o/--output", ".json"),
        plot=plot_path(outputs.plot),
        best_spec=writable(outputs.best_spec, "--best-spec", (".yaml", ".yml")),
        tensorboard=tensorboard_folder(outputs.tensorboard),
    )
    _check_paths(model, space)
    plan = TunePlan(
        model=model,
        data=request.data,
        space=space,
        trials=search.trials,
        metric="loss",
        direction="min",
        sampler=sampler,
        prune=prune,
        lint_prune=lint_prune,
        engine=engine,
        seed=chosen_seed(options.seed, model),
        options=options,
        outputs=written,
        show_progress=request.show_progress,
    )
    _, validation = plan.datasets_for(model)
    metric = _metric(model, search.metric, validation is not None)
    direction = search.direction if search.direction is not None else monitor_mode(metric)
    _choose(direction, DIRECTIONS, "--direction")
    return replace(plan, metric=metric, direction=direction)  # the checked data's cache goes along
