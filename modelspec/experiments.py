"""`modelspec probe` and `modelspec compare` as library functions: see what an initialisation does.

``probe`` builds the model through the build pipeline (parameter budget, pretrained checks; the lint findings are
reported, not a gate: a person probing a bad initialisation wants to see it), runs one training-mode batch
(modelspec/runtime/probe.py) and sets each layer's measured scales beside the static prediction
(modelspec/analysis/signal.py forwards, modelspec/analysis/gradients.py backwards), with flags in words.

``compare`` makes one spec per value (or combination) of ``--vary`` (modelspec/variants.py), checks every variant
and the data before anything trains, then trains each with ``modelspec.trainer.train`` from the same seeds, so
every variant sees the same data order; the variants' lint findings are reported, not a gate either.

Flags, each judged on the measured batch (thresholds below, documented in the README):

- *vanishing* / *exploding activations*: a weighted layer's output RMS below ``VANISHING`` (1/100) or above
  ``EXPLODING`` (100) times the RMS of the data the network receives (the inputs, after a `rescaling` layer that
  follows an input directly; for token ids, the embeddings' output); a layer whose own kernel is all zeros is left
  to MS101;
- *dead*: at least ``DEAD_SHARE`` of a ReLU layer's units are zero for every example of the batch;
- *saturated*: at least ``SATURATED_SHARE`` of a sigmoid/tanh layer's outputs are within 1% of its bounds;
- *vanishing* / *exploding gradient*: a kernel's gradient RMS relative to its own RMS (how much one step changes
  it) below 1/100 or above 100 times that of the kernel nearest the loss (the last weighted layer): that layer
  learns orders of magnitude slower or faster (where a kernel is all zeros, its gradient RMS alone is compared);
  not judged on a layer whose output only feeds normalisation, which makes it scale-invariant (MS113/MS114);
- *no gradient*: a kernel's gradient is exactly zero (dead or saturated units, zero inputs, or a later layer with a
  zero kernel blocking it);
- *not finite*: the loss or a gradient is NaN or infinite.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Union

from modelspec.analysis import Analysis
from modelspec.analysis.gradients import band_reference
from modelspec.diagnostics import Diagnostic
from modelspec.errors import SettingsError
from modelspec.loader import ModelSpec, load_spec
from modelspec.pipeline import DEFAULT_MAX_PARAMS, SpecSource, build, prepare

PathLike = Union[str, os.PathLike]
VANISHING = 1e-2
EXPLODING = 1e2
DEAD_SHARE = 0.5
SATURATED_SHARE = 0.5
DEFAULT_PROBE_BATCH = 32


def _lint_findings(model: ModelSpec, config) -> list[Diagnostic]:
    """The spec's lint findings, every level, with the project's configuration; never a gate here."""
    from modelspec.linter.config import load_config
    from modelspec.linter.runner import run

    return run(model, config or load_config())


# --- probe ----------------------------------------------------------------------------------------------------------


@dataclass
class ProbeWeight:
    """One trainable weight: its RMS, and its gradient's RMS measured and predicted."""

    variable: str
    shape: tuple[int, ...]
    weight_rms: float
    gradient_rms: Optional[float]
    predicted_gradient_rms: Optional[float] = None
    is_kernel: bool = False  # a kernel (the analysis's LayerInfo.kernel_variables): compared across layers

    @property
    def ratio(self) -> Optional[float]:
        """Gradient RMS over weight RMS: how large one SGD step of learning rate 1 is against the weight."""
        if self.gradient_rms is None or self.weight_rms == 0:
            return None
        return self.gradient_rms / self.weight_rms


@dataclass
class ProbeLayer:
    """One layer at initialisation: measured and predicted, with what is wrong in words."""

    name: str
    type: str
    activation: Optional[str]
    mean: float
    rms: float
    predicted_mean: Optional[float]
    predicted_rms: Optional[float]
    dead: Optional[float]
    saturated: Optional[float]
    output_gradient_rms: Optional[float]
    predicted_output_gradient_rms: Optional[float]
    weights: list[ProbeWeight] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass
class ProbeReport:
    """What ``probe`` returns; ``to_dict`` is the `--format json` document."""

    name: str
    path: str
    data: Optional[str]
    seed: int
    batch: int
    loss: Optional[float]
    input_rms: float
    layers: list[ProbeLayer]
    findings: list[Diagnostic]
    label: Optional[str] = None  # what was probed, for titles (a variant of `compare`, say)
    assumed_loss: Optional[str] = None  # the loss measured without a training block: what the outputs suggest

    def to_dict(self) -> dict:
        layers = []
        for layer in self.layers:
            entry = asdict(layer)
            for weight, source in zip(entry["weights"], layer.weights):
                weight["shape"] = list(source.shape)
                weight["ratio"] = source.ratio
            layers.append(entry)
        return {
            "version": 1,
            "spec": self.path,
            "name": self.name,
            "label": self.label,
            "data": self.data,
            "seed": self.seed,
            "batch": self.batch,
            "loss": self.loss,
            "assumed_loss": self.assumed_loss,
            "input_rms": self.input_rms,
            "layers": layers,
            "diagnostics": [finding.to_dict() for finding in self.findings],
        }


def _batch_arrays(model: ModelSpec, data, batch: int, seed: int, target: Optional[str]):
    """The first ``batch`` rows of the data (checked against the spec), or a random batch that fits it."""
    from modelspec.runtime.probe import random_batch

    if data is None:
        return random_batch(model, batch, seed)
    from modelspec.data import load_data

    dataset = load_data(data, model, target=target, what="probe data")
    rows = min(batch, dataset.size)
    inputs = {name: array[:rows] for name, array in dataset.inputs.items()}
    inputs = {name: array.astype(model.analysis.inputs[name].dtype) for name, array in inputs.items()}
    return inputs, {name: array[:rows] for name, array in dataset.targets.items()}


def _reference_rms(model: ModelSpec, measured) -> float:
    """The RMS of the data the network receives: its inputs, after a `rescaling` layer that follows one; for token
    ids, the embeddings' output (0: nothing to judge against)."""
    layers = model.analysis.layers
    inputs = model.analysis.inputs
    for kind, sources in (("rescaling", inputs), ("embedding", None)):
        first = [
            name
            for name, info in layers.items()
            if info.type == kind and (sources is None or (len(info.inputs) == 1 and info.inputs[0] in sources))
        ]
        if first and (kind == "rescaling" or measured.input_rms == 0):
            return math.sqrt(sum(measured.layers[name].rms ** 2 for name in first) / len(first))
    return measured.input_rms


def _share(value: float) -> str:
    return f"{100 * value:.0f}%"


def _activation_flags(layer: ProbeLayer, reference: float) -> list[str]:
    flags = []
    if not math.isfinite(layer.rms):
        return ["not finite: the output holds NaN or infinity"]
    own_zero = any(w.is_kernel and w.weight_rms == 0 for w in layer.weights)  # zero by design: MS101's business
    if layer.weights and reference > 0 and not own_zero:
        factor = layer.rms / reference
        if factor < VANISHING:
            flags.append(f"vanishing activations: RMS {factor:.2g}× the input's")
        elif factor > EXPLODING:
            flags.append(f"exploding activations: RMS {factor:.3g}× the input's")
    if layer.dead is not None and layer.dead >= DEAD_SHARE:
        flags.append(f"dead: {_share(layer.dead)} of units are zero for every example")
    if layer.saturated is not None and layer.saturated >= SATURATED_SHARE:
        flags.append(f"saturated: {_share(layer.saturated)} of outputs within 1% of the bounds")
    return flags


def _speed(weight: ProbeWeight) -> Optional[float]:
    """How fast a kernel learns: its gradient relative to its size, or the gradient alone where the kernel is 0."""
    return weight.ratio if weight.ratio is not None else weight.gradient_rms


def _gradient_flags(layers: list[ProbeLayer], analysis: Analysis) -> None:
    """Flag the kernels that learn orders of magnitude slower or faster than the last weighted layers, against
    the reference MS113/MS114 take (``band_reference``: of the last weighted layers, the one that makes the finding
    least likely); like them, a layer whose output only feeds normalisation is not compared (scale-invariant: its
    ratio corrects itself)."""
    kernels = [(layer, w) for layer in layers for w in layer.weights if w.is_kernel and w.gradient_rms is not None]
    heads: dict[str, tuple[tuple[ProbeLayer, ProbeWeight], float]] = {}
    for layer, weight in kernels:  # each last weighted layer's first kernel whose speed is known
        speed = _speed(weight)
        if layer.name in analysis.last_weighted and layer.name not in heads and speed and math.isfinite(speed):
            heads[layer.name] = ((layer, weight), speed)
    for layer, weight in kernels:
        if not math.isfinite(weight.gradient_rms):
            layer.flags.append(f"not finite: the gradient of {weight.variable} holds NaN or infinity")
        elif weight.gradient_rms == 0:
            why = (
                "nothing flows back to the layer's output (a later layer blocks it)"
                if layer.output_gradient_rms == 0
                else "its inputs are zero or its units dead or saturated"
            )
            layer.flags.append(f"no gradient: {weight.variable}'s gradient is zero: {why}")
        elif heads and layer.name not in analysis.last_weighted and not analysis.normalised(layer.name):
            _band_flags(layer, weight, list(heads.values()))


def _band_flags(layer: ProbeLayer, weight: ProbeWeight, heads: list) -> None:
    """Flag one kernel whose speed is outside the band around the reference head's."""
    what = "gradient/weight" if weight.ratio is not None else "gradient"
    for vanishing in (True, False):
        (head, reference), speed = band_reference(heads, vanishing)
        if (reference.ratio is None) != (weight.ratio is None):
            continue
        relative = _speed(weight) / speed
        if vanishing and relative < VANISHING:
            share = f"1/{1 / relative:.3g}"
            layer.flags.append(f"vanishing gradient: {weight.variable}'s {what} is {share} of {head.name}'s")
        elif not vanishing and relative > EXPLODING:
            layer.flags.append(f"exploding gradient: {weight.variable}'s {what} is {relative:.3g}× {head.name}'s")


def _probe_layers(model: ModelSpec, measured, forward, backward) -> list[ProbeLayer]:
    forward = forward.layers
    reference = _reference_rms(model, measured)
    result = []
    for name, seen in measured.layers.items():
        info = model.analysis.layers[name]
        predicted = forward.get(name)
        gradient = backward.layers.get(name) if backward is not None else None
        by_variable = {w.variable: w.gradient_rms for w in gradient.weights} if gradient is not None else {}
        layer = ProbeLayer(
            name=name,
            type=info.type,
            activation=info.spec.applied_activation(),
            mean=seen.mean,
            rms=seen.rms,
            predicted_mean=predicted.output.mean if predicted is not None and predicted.output is not None else None,
            predicted_rms=predicted.scale if predicted is not None else None,
            dead=seen.dead,
            saturated=seen.saturated,
            output_gradient_rms=seen.output_gradient_rms,
            predicted_output_gradient_rms=gradient.output_gradient_rms if gradient is not None else None,
            weights=[
                ProbeWeight(w.variable, w.shape, w.weight_rms, w.gradient_rms, by_variable.get(w.variable), w.is_kernel)
                for w in seen.weights
            ],
        )
        layer.flags = _activation_flags(layer, reference)
        result.append(layer)
    _gradient_flags(result, model.analysis)
    if measured.loss is not None and not math.isfinite(measured.loss):
        result[-1].flags.append("not finite: the loss is NaN or infinite")
    return result


def probe(
    spec: SpecSource,
    *,
    data=None,
    batch: Optional[int] = None,
    seed: Optional[int] = None,
    target: Optional[str] = None,
    weights: Optional[PathLike] = None,
    plot: Optional[PathLike] = None,
    max_params: int = DEFAULT_MAX_PARAMS,
    config=None,
    label: Optional[str] = None,
) -> ProbeReport:
    """Build the model a spec describes and measure one training-mode batch at initialisation.

    Args:
        spec: a path, YAML text, dict or loaded spec. Without a `training:` block the gradients are those of the
            loss its outputs suggest, as the static analysis assumes (categorical cross-entropy after softmax...).
        data: a data source (as for train; its first ``batch`` rows are used, checked against the spec), or None
            for standard-normal inputs and random labels that fit each output's loss.
        batch: examples in the batch (default: the spec's batch size, else 32).
        seed: overrides the spec's seed (weights, dropout, the random batch); without any, one is drawn.
        plot: a PNG of the measured and predicted scales per layer, on a log axis.
        label: what is probed, in the plot's title (default: the spec's name).

    Raises:
        SpecError, WeightsError, SettingsError, DataError, BuildError: before TensorFlow starts where they can be.
    """
    prepared = prepare(spec, weights=weights, max_params=max_params, lint=False)
    model = prepared.model
    findings = _lint_findings(model, config)
    training = model.spec.training
    size = batch or (training.batch_size if training is not None else DEFAULT_PROBE_BATCH)
    chosen = seed if seed is not None else model.spec.seed
    chosen = chosen if chosen is not None else secrets.randbelow(2**31)
    _plot_possible(plot)
    inputs, targets = _batch_arrays(model, data, size, chosen, target)
    rows = len(next(iter(inputs.values())))
    from modelspec.analysis.gradients import predict_gradients
    from modelspec.analysis.signal import propagate

    forward = propagate(model.analysis)
    backward = predict_gradients(model.analysis, forward, batch_size=rows)

    from modelspec.runtime.probe import compile_assumed, measure
    from modelspec.runtime.train import deterministic

    deterministic(chosen)
    keras_model = build(prepared, seed=chosen)
    if training is None:
        compile_assumed(keras_model, model, targets)
    measured = measure(keras_model, model, inputs, targets)
    report = ProbeReport(
        name=model.name,
        path=model.path,
        data=None if data is None else str(data),
        seed=chosen,
        batch=rows,
        loss=measured.loss,
        input_rms=measured.input_rms,
        layers=_probe_layers(model, measured, forward, backward),
        findings=findings,
        label=label,
        assumed_loss=None if training is not None or backward is None else backward.assumed_loss,
    )
    if plot is not None:
        from modelspec.report.plots import plot_probe

        plot_probe(report, plot)
    return report


def _plot_possible(plot) -> None:
    import importlib.util

    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise SettingsError("--plot needs matplotlib, which modelspec[tf] installs: pip install 'modelspec[tf]'")


# --- compare --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """A goal for ``--reach``: the first epoch where ``quantity`` reaches ``value`` (≥ for accuracies, else ≤)."""

    quantity: str
    value: float

    @property
    def higher(self) -> bool:
        from modelspec.schema.training import monitor_mode

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


@dataclass
class Run:
    """One training run of a variant: its seed, its history rows and how long it took."""

    seed: int
    rows: list[dict[str, float]]
    seconds: float


@dataclass
class VariantResult:
    """A variant's findings and runs, and the summary the table shows (means over the seeds)."""

    label: str
    settings: dict[str, Any]
    findings: list[Diagnostic]
    runs: list[Run] = field(default_factory=list)

    def quantities(self) -> list[str]:
        names: list[str] = []
        for run in self.runs:
            for row in run.rows:
                names += [k for k in row if k not in names and k not in ("epoch", "learning_rate", "seconds")]
        return names

    def final(self, quantity: str) -> Optional[float]:
        values = [run.rows[-1][quantity] for run in self.runs if run.rows and quantity in run.rows[-1]]
        return _mean(values)

    def best(self, quantity: str) -> Optional[float]:
        from modelspec.schema.training import monitor_mode

        pick = max if monitor_mode(quantity) == "max" else min
        values = []
        for run in self.runs:
            series = [row[quantity] for row in run.rows if quantity in row and math.isfinite(row[quantity])]
            if series:
                values.append(pick(series))
        return _mean(values)

    def reached(self, reach: Reach) -> list[Optional[int]]:
        return [reach.epoch(run.rows) for run in self.runs]

    @property
    def seconds(self) -> float:
        """Training time: the epochs' seconds, summed over the runs (building the model not counted)."""
        return sum(row.get("seconds", 0.0) for run in self.runs for row in run.rows)

    @property
    def epoch_seconds(self) -> Optional[float]:
        """The median epoch's seconds over every run: a run's first epoch also traces the model, and the first run
        of a process warms TensorFlow up, which the median leaves out."""
        times = sorted(row["seconds"] for run in self.runs for row in run.rows if "seconds" in row)
        if not times:
            return None
        middle = len(times) // 2
        return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2

    def summary(self, reach: Optional[Reach]) -> dict:
        result: dict[str, Any] = {q: {"final": self.final(q), "best": self.best(q)} for q in self.quantities()}
        if reach is not None:
            result["epochs_to_reach"] = self.reached(reach)
        result["seconds"] = round(self.seconds, 3)
        result["epoch_seconds"] = self.epoch_seconds
        return result


def _mean(values: list[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


@dataclass
class Comparison:
    """What ``compare`` returns; ``to_dict`` is the results JSON."""

    name: str
    path: str
    data: str
    seeds: list[int]
    epochs: int
    vary: list[str]
    reach: Optional[Reach]
    variants: list[VariantResult]

    def to_dict(self) -> dict:
        return {
            "version": 1,
            "spec": self.path,
            "name": self.name,
            "data": self.data,
            "seeds": self.seeds,
            "epochs": self.epochs,
            "vary": self.vary,
            "reach": None if self.reach is None else {"quantity": self.reach.quantity, "value": self.reach.value},
            "variants": [
                {
                    "label": v.label,
                    "settings": v.settings,
                    "findings": [f.to_dict() for f in v.findings],
                    "summary": v.summary(self.reach),
                    "runs": [{"seed": r.seed, "wall_seconds": round(r.seconds, 3), "epochs": r.rows} for r in v.runs],
                }
                for v in self.variants
            ],
        }


def _data_signature(model: ModelSpec) -> tuple:
    """What the data checks depend on: the inputs, the outputs' shapes and losses, and the `data:` block."""
    analysis = model.analysis
    inputs = tuple((name, info.shape, info.dtype) for name, info in analysis.inputs.items())
    outputs = tuple((name, analysis.layers[name].output_shape, repr(loss)) for name, loss in analysis.losses.items())
    return inputs, outputs, repr(model.spec.data), repr(model.spec.training and model.spec.training.validation_split)


def _check_all(variants, data, validation_data, validation_split, target, max_params) -> None:
    """Every check a training run makes before TensorFlow, for every variant, before the first one trains."""
    from modelspec.trainer import _needs_training, load_datasets

    checked = set()
    for variant in variants:
        prepare(variant.model, max_params=max_params, lint=False)
        _needs_training(variant.model)
        signature = _data_signature(variant.model)
        if signature not in checked:
            load_datasets(
                variant.model, data, validation_data=validation_data, validation_split=validation_split, target=target
            )
            checked.add(signature)


def _one_cluster_run(made: list, seeds: int, distribute: Optional[str]) -> None:
    """Refuse multi_worker_mirrored for several runs: TensorFlow configures a process's collective ops once."""
    from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, with_strategy

    runs = len(made) * seeds
    for variant in made:
        setting = with_strategy(variant.model.spec.training.distribute, distribute)
        if runs > 1 and setting is not None and setting.strategy == MULTI_WORKER_MIRRORED:
            raise SettingsError(
                f"compare trains {runs} runs in one process, and multi_worker_mirrored starts its cluster once per "
                f"process: train each variant with `modelspec train` on the cluster, or compare with "
                f"--distribute mirrored or none (received: {variant.label} with multi_worker_mirrored)"
            )


def compare(
    spec: SpecSource,
    data,
    vary: list[str],
    *,
    epochs: Optional[int] = None,
    seeds: int = 1,
    seed: Optional[int] = None,
    batch_size: Optional[int] = None,
    validation_data=None,
    validation_split: Optional[float] = None,
    target: Optional[str] = None,
    reach: Optional[Union[str, Reach]] = None,
    output: Optional[PathLike] = None,
    plot: Optional[PathLike] = None,
    max_params: int = DEFAULT_MAX_PARAMS,
    config=None,
    on_ready: Optional[Callable[[list], None]] = None,
    on_run: Optional[Callable[[VariantResult, Run, int, int], None]] = None,
    distribute: Optional[str] = None,
) -> Comparison:
    """Train one variant of a spec per value (or combination of values) of ``vary``, from the same seeds.

    Args:
        spec: a path, YAML text, dict or loaded spec with a `training:` block.
        data, validation_data, validation_split, target, epochs, batch_size: as for ``modelspec.train``.
        vary: options ``FIELD=V1,V2,...`` (modelspec/variants.py); several give every combination.
        seeds: train each variant this many times, with seeds ``seed``, ``seed + 1``, ... (default seed: the
            spec's, else one drawn and recorded); every variant uses the same seeds, hence the same data orders.
        reach: ``QUANTITY=VALUE`` (``val_accuracy=0.9``, ``loss=0.5``): report the first epoch that reaches it.
        output: the results as JSON (atomic); plot: a PNG of the overlaid loss curves (mean and spread over seeds).
        on_ready: called with the variants (labels, findings) once every check passed, before TensorFlow starts.
        on_run: called after each training run with (variant, run, number of the run, runs in all).
        distribute: replaces the spec's `training.distribute` for every run, as for train: `mirrored` or `none`.
            `multi_worker_mirrored` starts its cluster once per process, so it trains one run only: a
            comparison of several runs is refused (train each variant with `modelspec train` on the cluster).

    Raises:
        SettingsError: a malformed ``--vary`` or ``--reach``, or a variant that is not a valid spec (before anything
            trains); SpecError, WeightsError, DataError: as for train, for any variant, before anything trains.
    """
    from modelspec.variants import variants as make_variants

    model = load_spec(spec)
    goal = parse_reach(reach) if isinstance(reach, str) else reach
    if seeds < 1:
        raise SettingsError(f"--seeds must be at least 1 (received: {seeds})")
    _plot_possible(plot)
    made = make_variants(model, vary)
    _one_cluster_run(made, seeds, distribute)
    results = [VariantResult(v.label, v.settings, _lint_findings(v.model, config)) for v in made]
    _check_all(made, data, validation_data, validation_split, target, max_params)
    first = seed if seed is not None else model.spec.seed
    first = first if first is not None else secrets.randbelow(2**31 - seeds)
    seed_list = [first + k for k in range(seeds)]
    if on_ready is not None:
        on_ready(results)

    from modelspec.trainer import train

    total, count = len(made) * seeds, 0
    for variant, result in zip(made, results):
        for run_seed in seed_list:
            started = time.perf_counter()
            trained = train(
                variant.model,
                data,
                validation_data=validation_data,
                validation_split=validation_split,
                target=target,
                epochs=epochs,
                batch_size=batch_size,
                seed=run_seed,
                max_params=max_params,
                lint=False,
                distribute=distribute,
            )
            run = Run(run_seed, trained.history.rows, time.perf_counter() - started)
            del trained  # the model is not kept: the next run should not train beside its memory
            result.runs.append(run)
            count += 1
            if on_run is not None:
                on_run(result, run, count, total)
    comparison = Comparison(
        name=model.name,
        path=model.path,
        data=str(data),
        seeds=seed_list,
        epochs=epochs or model.spec.training.epochs,
        vary=list(vary),
        reach=goal,
        variants=results,
    )
    if output is not None:
        import json

        from modelspec.atomic import write_text

        write_text(output, json.dumps(finite(comparison.to_dict()), indent=2, allow_nan=False) + "\n")
    if plot is not None:
        from modelspec.report.plots import plot_compare

        plot_compare(comparison, plot)
    return comparison


def finite(value):
    """``value`` with every NaN or infinity replaced by the strings "nan", "inf" or "-inf": valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
