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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Union

from modelspec.errors import SettingsError
from modelspec.pipeline import DEFAULT_MAX_PARAMS, SpecSource
from modelspec.schema.training import monitor_mode

if TYPE_CHECKING:
    from modelspec.linter.config import LintConfig

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


@dataclass(frozen=True)
class TrainRequest:
    """`modelspec train`: the spec's training block on the data. ``show_progress`` prints a line per epoch (the
    command line does; the library is silent), with a progress bar on a terminal unless ``quiet``."""

    spec: SpecSource
    data: Data
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    show_progress: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class EvaluateRequest:
    """`modelspec evaluate`: a trained .keras file (or a spec with weights) scored on the data. Of the options,
    ``weights``, ``batch_size`` and ``distribute`` apply."""

    model: Union[PathLike, SpecSource]
    data: Data
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class ProbeRequest:
    """`modelspec probe`: one training-mode batch at initialisation (``data`` None: a random batch). Of the options,
    ``batch_size`` (the batch measured), ``seed``, ``weights``, ``max_params`` and ``config`` apply; of the outputs,
    ``plot``. ``label`` names what is probed in the plot's title."""

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


def parse_reach(text: str) -> Reach:
    """``val_accuracy=0.9`` → Reach; a SettingsError for anything else."""
    quantity, equals, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not equals or not quantity.strip() or not math.isfinite(number):
        raise SettingsError(f"--reach takes QUANTITY=VALUE, e.g. val_accuracy=0.9 (received: {text!r})")
    return Reach(quantity.strip(), number)


def as_data(data: Union[Data, DataSource]) -> Data:
    """A ``Data`` record, from one or from a data source alone (``"digits"``, a path)."""
    return data if isinstance(data, Data) else Data(data)
