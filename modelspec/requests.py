"""What a caller asks of `train`, `evaluate`, `probe`, `compare` and `export`: frozen records, before anything is
decided.

A command (or a call of the Python API) builds one request from its options; modelspec/resolve.py turns it into a
resolved record (spec loaded once, seed drawn once, settings, strategy and role, data checked, output paths checked,
the pretrained plan) without TensorFlow; modelspec/trainer.py, probing.py and comparison.py run that record. A
request is made of small parts, each shared by the commands that take it: ``Data`` (what to train on), ``Options``
(how to run), ``Outputs`` (what to write). ``None`` everywhere means "the spec's value" (or nothing written).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Union

from modelspec.errors import ECHO_LIMIT, SettingsError, echoed
from modelspec.pipeline import DEFAULT_MAX_PARAMS, SpecSource
from modelspec.schema.training import monitor_mode

if TYPE_CHECKING:
    from modelspec.linter.config import LintConfig
    from modelspec.variants import Vary

PathLike = Union[str, os.PathLike]
DataSource = Union[str, os.PathLike]  # `digits`, or a path to an .npz, a folder of .npy files or a .csv


@dataclass(frozen=True)
class Data:
    """The data of a run: what it trains (or evaluates, or probes) on, and what it validates on.

    ``validation_data`` is checked data of its own; else ``validation_split`` (or the spec's) of the training
    data's last rows is held out. ``target`` is the CSV column holding the labels (overrides `data.target`).
    """

    data: DataSource
    validation_data: Optional[DataSource] = None
    validation_split: Optional[float] = None
    target: Optional[str] = None


@dataclass(frozen=True)
class Options:
    """How a run goes; each field left at its default keeps the spec's choice.

    - ``epochs``, ``batch_size``: override the spec's `training:` values (for ``probe``, the batch measured).
    - ``seed``: overrides the spec's seed (initial weights, data order, dropout); without either, one is drawn once
      and recorded (history, checkpoints, probe report): training again with it reproduces the run.
    - ``weights``: a weights file replacing `pretrained.path` (as for build).
    - ``distribute``: replaces `training.distribute`: `mirrored`, `multi_worker_mirrored`, or `none` (one device).
    - ``max_params``: refuse a model with more parameters than this, before TensorFlow starts.
    - ``lint``, ``strict``, ``config``: the lint gate of ``train`` (probe and compare report findings, never gate).
    - ``checkpoints``, ``resume``: a folder that keeps the last complete epoch and the best one; ``resume``
      continues from it, ``resume="auto"`` does when it holds a complete epoch and else starts from the first.
    - ``overrides``: ``"PATH=VALUE"`` strings (or ``variants.parse_set`` records) set in the spec as soon as it is
      read, in order, as ``--set`` does (``"training.epochs=1"``, ``"layers.hidden.units=64"``): every check and
      the run see the changed spec; its findings point at the file's lines (train, evaluate, probe, compare).
    """

    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    seed: Optional[int] = None
    weights: Optional[PathLike] = None
    distribute: Optional[str] = None
    max_params: int = DEFAULT_MAX_PARAMS
    lint: bool = True
    strict: bool = False
    config: Optional[LintConfig] = None
    checkpoints: Optional[PathLike] = None
    resume: Union[bool, str] = False
    overrides: tuple[Union[str, Vary], ...] = ()


@dataclass(frozen=True)
class Outputs:
    """The files a run writes (each atomically), all checked before any work starts.

    ``model``: the trained .keras file (with `.classes.json` beside it for text labels); ``history``: FILE.json
    and FILE.csv; ``plot``: a .png; ``results``: compare's JSON. With ``named``, the files the command line writes
    by default are named after the spec: `<name>.keras` and `<name>.history` for train, `<name>.compare.json` for
    compare.
    """

    model: Optional[PathLike] = None
    history: Optional[PathLike] = None
    plot: Optional[PathLike] = None
    results: Optional[PathLike] = None
    named: bool = False
    best_spec: Optional[PathLike] = None  # tune: the best trial's spec, as YAML that `train` accepts
    tensorboard: Optional[PathLike] = None  # a folder of TensorBoard logs (tune: one subfolder per trial)


# After each epoch of a run: (epoch, 1-based; the epoch's row of the history) -> True to stop the run there.
# `tune` reports to its engine through it (and stops a trial its pruner gives up on); it only reads the row.
Report = Callable[[int, dict], bool]


@dataclass(frozen=True)
class TrainRequest:
    """`modelspec train`: the spec's training block on the data. ``show_progress`` prints a line per epoch (the
    command line does; the library is silent), with a progress bar on a terminal unless ``quiet``. ``report`` is
    called after each epoch (``Report``) and may stop the run."""

    spec: SpecSource
    data: Data
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    show_progress: bool = False
    quiet: bool = False
    report: Optional[Report] = None


@dataclass(frozen=True)
class EvaluateRequest:
    """`modelspec evaluate`: a trained .keras file (or a spec with weights) scored on the data. Of the options,
    ``weights``, ``batch_size``, ``distribute`` and ``overrides`` (set in the spec a .keras file carries, or in the
    spec) apply."""

    model: Union[PathLike, SpecSource]
    data: Data
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class ProbeRequest:
    """`modelspec probe`: one training-mode batch at initialisation (``data`` None: a random batch). Of the options,
    ``batch_size`` (the batch measured), ``seed``, ``weights``, ``max_params``, ``config`` and ``overrides`` apply; of
    the outputs, ``plot``. ``label`` names what is probed in the plot's title."""

    spec: SpecSource
    data: Optional[Data] = None
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    label: Optional[str] = None


@dataclass(frozen=True)
class CompareRequest:
    """`modelspec compare`: one variant per value (or combination) of ``vary``, each trained ``seeds`` times from the
    seeds ``seed``, ``seed + 1``, ... (the same for every variant, hence the same data orders). ``reach`` is
    ``QUANTITY=VALUE`` (or a ``Reach``): the first epoch that reaches it is reported."""

    spec: SpecSource
    data: Data
    vary: tuple[str, ...]
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    seeds: int = 1
    reach: Union[str, Reach, None] = None


@dataclass(frozen=True)
class ExportRequest:
    """`modelspec export`: a .keras file modelspec wrote (its embedded spec and weights) or a spec (built through
    the pipeline, with ``options.weights`` or its `pretrained:` weights), written in ``format`` (saved_model, onnx
    or litert) to ``output`` (None: beside the input, with the format's suffix) and verified against Keras. Of the
    options, ``weights``, ``seed`` (the verification batch, and the initial weights of a spec without weights),
    ``max_params``, ``strict`` and ``config`` apply (the lint gate always runs, with the format's MS5xx rules).
    ``opset``: the ONNX opset; ``quantize``: `dynamic` or `float16` (LiteRT); ``format_check``: stop after the
    readiness checks, before TensorFlow starts."""

    model: Union[PathLike, SpecSource]
    format: str
    output: Optional[PathLike] = None
    options: Options = field(default_factory=Options)
    opset: Optional[int] = None
    quantize: Optional[str] = None
    format_check: bool = False


@dataclass(frozen=True)
class Reach:
    """A goal for ``--reach``: the first epoch where ``quantity`` reaches ``value`` (≥ for accuracies, else ≤)."""

    quantity: str
    value: float

    @property
    def higher(self) -> bool:
        return monitor_mode(self.quantity) == "max"

    def text(self) -> str:
        return f"{self.quantity} {'≥' if self.higher else '≤'} {self.value:g}"

    def epoch(self, rows: list[dict]) -> Optional[int]:
        for row in rows:
            value = row.get(self.quantity)
            if value is not None and (value >= self.value if self.higher else value <= self.value):
                return int(row["epoch"])
        return None


@dataclass(frozen=True)
class Search:
    """What `tune` searches and how: ``space`` (``PATH=DISTRIBUTION`` options, modelspec/tuning/space.py), ``trials``
    in all (a study shared by several processes counts every process's trials), the ``metric`` (default: val_loss
    with validation data, else loss) and its ``direction`` (`max` or `min`; default: from the metric), the
    ``sampler`` (tpe, random, grid), the pruner during training (``prune``: median, asha, none), and the lint
    pre-flight: ``lint_prune`` `error` refuses a trial with an error-level finding, `warning` one with a warning."""

    space: tuple[str, ...]
    trials: int = 20
    metric: Optional[str] = None
    direction: Optional[str] = None
    sampler: str = "tpe"
    prune: str = "median"
    lint_prune: str = "error"


@dataclass(frozen=True)
class Engine:
    """Where `tune`'s trials run: ``name`` `optuna` (in this process; ``storage``, a database URL such as
    ``sqlite:///study.db`` or ``journal:FILE``, shares the study ``study`` with other processes) or `ray` (Ray Tune
    on the cluster at ``address``, else a local one, ``workers`` trials at a time). ``heartbeat``: with a database
    storage, each Optuna process marks its running trial alive this often (seconds); a trial silent for three
    heartbeats (its process killed) is marked failed and retried by a process still running."""

    name: str = "optuna"
    storage: Optional[str] = None
    study: Optional[str] = None  # default: the spec's name
    workers: int = 1
    address: Optional[str] = None
    heartbeat: float = 10.0


@dataclass(frozen=True)
class TuneRequest:
    """`modelspec tune`: trials of the spec with the values ``search`` samples, each linted before it trains, each
    seeded ``seed + trial number``. Of the options, ``epochs``, ``batch_size``, ``seed``, ``max_params`` and
    ``config`` apply; of the outputs, ``results`` (JSON), ``plot``, ``best_spec`` and ``tensorboard``."""

    spec: SpecSource
    data: Data
    search: Search
    engine: Engine = field(default_factory=Engine)
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    show_progress: bool = False


def parse_reach(text: str) -> Reach:
    """``val_accuracy=0.9`` → Reach; a SettingsError for anything else."""
    quantity, equals, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    name = quantity.strip()
    if not equals or not name or not name.isprintable() or len(name) > ECHO_LIMIT or not math.isfinite(number):
        raise SettingsError(f"--reach takes QUANTITY=VALUE, e.g. val_accuracy=0.9 (received: {echoed(text)})")
    return Reach(name, number)


def as_data(data: Union[Data, DataSource]) -> Data:
    """A ``Data`` record, from one or from a data source alone (``"digits"``, a path)."""
    return data if isinstance(data, Data) else Data(data)
