"""`modelspec probe` as a library function: see what an initialisation does.

``probe`` resolves its request (modelspec/resolve.py: the build pipeline's checks, the lint findings (reported, not
a gate: a person probing a bad initialisation wants to see them), the seed drawn once, the data checked), then
``run_probe`` builds the model, runs one training-mode batch (modelspec/runtime/probe.py) and sets each layer's
measured scales beside the static prediction (modelspec/analysis/signal.py forwards, modelspec/analysis/gradients.py
backwards), with flags in words. ``compare`` is modelspec/comparison.py.

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
from dataclasses import asdict, dataclass, field
from typing import Optional, Union

from modelspec.analysis import Analysis
from modelspec.analysis.gradients import band_references, predict_gradients
from modelspec.analysis.signal import propagate
from modelspec.diagnostics import Diagnostic
from modelspec.loader import ModelSpec
from modelspec.pipeline import SpecSource, build
from modelspec.report.plots import plot_probe
from modelspec.requests import Data, DataSource, Options, Outputs, ProbeRequest, as_data
from modelspec.resolve import ResolvedProbe, resolve_probe
from modelspec.runtime.probe import compile_assumed, measure, random_batch
from modelspec.runtime.train import deterministic

VANISHING = 1e-2
EXPLODING = 1e2
DEAD_SHARE = 0.5
SATURATED_SHARE = 0.5


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


def _batch_arrays(model: ModelSpec, dataset, batch: int, seed: int):
    """The first ``batch`` rows of the checked data, or a random batch that fits the spec."""
    if dataset is None:
        return random_batch(model, batch, seed)
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
    """Flag the kernels that learn orders of magnitude slower or faster than the layer the gradient band of MS113/
    MS114 judges them against (``band_references``: the last weighted layers, or for a layer behind a gate the
    last weighted layers before its gate); like those rules, a layer whose output only feeds normalisation is not
    compared (scale-invariant: its ratio corrects itself)."""
    kernels = [(layer, w) for layer in layers for w in layer.weights if w.is_kernel and w.gradient_rms is not None]
    first: dict[str, ProbeWeight] = {}  # each layer's first kernel whose speed is known, finite and positive
    for layer, weight in kernels:
        speed = _speed(weight)
        if layer.name not in first and speed and math.isfinite(speed):
            first[layer.name] = weight
    speeds = {name: _speed(weight) for name, weight in first.items()}
    by_name = {layer.name: layer for layer in layers}

    def gamma(name: str) -> Optional[float]:  # a layer_scale's γ: its measured gradient/weight ratio
        weights = by_name[name].weights if name in by_name else ()
        return next((w.ratio for w in weights if w.variable.endswith("gamma")), None)

    references = {vanishing: band_references(analysis, speeds, gamma, vanishing) for vanishing in (True, False)}
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
        else:
            _band_flags(layer, weight, references, first)


def _band_flags(layer: ProbeLayer, weight: ProbeWeight, references: dict, first: dict[str, ProbeWeight]) -> None:
    """Flag one kernel whose speed is outside the band around its reference's."""
    what = "gradient/weight" if weight.ratio is not None else "gradient"
    for vanishing in (True, False):
        ref = references[vanishing].get(layer.name)
        if ref is None or (first[ref.name].ratio is None) != (weight.ratio is None):
            continue
        relative = _speed(weight) / ref.speed
        of = f"{ref.name}'s" + (f" (before the gate {', '.join(sorted(ref.gates))})" if ref.gates else "")
        if vanishing and relative < VANISHING:
            layer.flags.append(f"vanishing gradient: {weight.variable}'s {what} is 1/{1 / relative:.3g} of {of}")
        elif not vanishing and relative > EXPLODING:
            layer.flags.append(f"exploding gradient: {weight.variable}'s {what} is {relative:.3g}× {of}")


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
    data: Union[DataSource, Data, None] = None,
    options: Optional[Options] = None,
    outputs: Optional[Outputs] = None,
    label: Optional[str] = None,
) -> ProbeReport:
    """Build the model a spec describes and measure one training-mode batch at initialisation.

    Args:
        spec: a path, YAML text, dict or loaded spec. Without a `training:` block the gradients are those of the
            loss its outputs suggest, as the static analysis assumes (categorical cross-entropy after softmax...).
        data: a data source or ``Data`` (as for train; its first rows are used, checked against the spec), or None
            for standard-normal inputs and random labels that fit each output's loss.
        options: ``batch_size`` (examples in the batch; default: the spec's batch size, else 32), ``seed``
            (overrides the spec's: weights, dropout, the random batch; without any, one is drawn), ``weights``,
            ``max_params``, ``config`` (the lint configuration of the findings reported), ``overrides`` (``--set``
            options, set in the spec first).
        outputs: ``plot``: a PNG of the measured and predicted scales per layer, on a log axis.
        label: what is probed, in the plot's title (default: the spec's name).

    Raises:
        SpecError, WeightsError, SettingsError, DataError, BuildError: before TensorFlow starts where they can be.
    """
    chosen = None if data is None else as_data(data)
    return run_probe(resolve_probe(ProbeRequest(spec, chosen, options or Options(), outputs or Outputs(), label)))


def run_probe(resolved: ResolvedProbe) -> ProbeReport:
    """Execute a resolved probe: predict, build with the resolved seed, measure one batch. Imports TensorFlow."""
    prepared, seed = resolved.prepared, resolved.seed
    model = prepared.model
    training = model.spec.training
    inputs, targets = _batch_arrays(model, resolved.dataset, resolved.batch, seed)
    rows = len(next(iter(inputs.values())))
    forward = propagate(model.analysis)
    backward = predict_gradients(model.analysis, forward, batch_size=rows)

    deterministic(seed)
    keras_model = build(prepared, seed=seed)
    if training is None:
        compile_assumed(keras_model, model, targets)
    measured = measure(keras_model, model, inputs, targets)
    report = ProbeReport(
        name=model.name,
        path=model.path,
        data=resolved.data,
        seed=seed,
        batch=rows,
        loss=measured.loss,
        input_rms=measured.input_rms,
        layers=_probe_layers(model, measured, forward, backward),
        findings=prepared.findings,
        label=resolved.label,
        assumed_loss=None if training is not None or backward is None else backward.assumed_loss,
    )
    if resolved.plot is not None:
        plot_probe(report, resolved.plot)
    return report
