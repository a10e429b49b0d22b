"""Resolve the layer graph of a validated spec and analyse it once for the linter, the summary and the builder.

The analysis names every layer, wires `inputs:`, rejects unknown references, cycles and dangling layers,
infers every shape and variable, and resolves `auto` initializers. It is pure Python.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from modelspec.analysis.shapes import Shape, ShapeError, VariableInfo, infer, show_shape
from modelspec.diagnostics import (
    INVALID_SPEC,
    SHAPE_MISMATCH,
    UNKNOWN_REFERENCE,
    Diagnostic,
    SpecError,
    did_you_mean,
)
from modelspec.schema.activations import ACTIVATIONS
from modelspec.schema.base import type_name
from modelspec.schema.initializers import INITIALIZER_MODELS, InitializerSpec, VarianceScaling, scaling
from modelspec.schema.layers.base import Role
from modelspec.schema.spec import Spec
from modelspec.schema.training import Loss
from modelspec.source import Document

_BY_TYPE = {type_name(model): model for model in INITIALIZER_MODELS}
# `auto` looks through these to the activation a kernel's output meets: pass-through layers keep the values'
# meaning, and a normaliser only rescales them before the activation (conv -> batch_norm -> relu wants He).
_TRANSPARENT = frozenset({Role.PASS_THROUGH, Role.NORMALISER})
# What `auto` means in slots that are not a kernel feeding an activation.
_AUTO_BY_SLOT = {
    "recurrent_initializer": "orthogonal",
    "bias_initializer": "zeros",
    "beta_initializer": "zeros",
    "gamma_initializer": "ones",
    "moving_mean_initializer": "zeros",
    "moving_variance_initializer": "ones",
    "embeddings_initializer": "random_uniform",
}


def passes_through(info: LayerInfo) -> bool:
    """Whether a question of "what comes next" (or "what came before") looks through this layer: it has no
    weights and no non-linearity. Normalisers are not looked through: they reset the scale, which is what
    several rules ask about."""
    return info.spec.ROLE is Role.PASS_THROUGH


@dataclass
class InputInfo:
    """A model input."""

    name: str
    shape: Shape
    dtype: str
    path: tuple


@dataclass
class LayerInfo:
    """Everything the analysis knows about one layer."""

    name: str
    spec: Any  # the layer's pydantic model, with `defaults:` applied
    index: int
    inputs: list[str]
    consumers: list[str] = field(default_factory=list)
    input_shapes: list[Optional[Shape]] = field(default_factory=list)
    output_shape: Optional[Shape] = None
    variables: Optional[list[VariableInfo]] = None  # None: unknown (opaque layer or failed inference)
    feeds: str = "linear"  # the activation this layer's output meets first (its own, or one downstream)
    initializers: dict[str, InitializerSpec] = field(default_factory=dict)  # per slot, `auto` resolved
    auto_slots: frozenset[str] = frozenset()

    @property
    def path(self) -> tuple:
        return ("layers", self.index)

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def params(self) -> Optional[int]:
        return None if self.variables is None else sum(v.size for v in self.variables)

    @property
    def trainable_params(self) -> Optional[int]:
        return None if self.variables is None else sum(v.size for v in self.variables if v.trainable)

    def variable_shape(self, name: str) -> Optional[tuple[int, ...]]:
        """The shape of the variable ``name`` (``kernel``, ``gamma``...); None when the layer has no such variable."""
        return next((v.shape for v in self.variables or () if v.name == name), None)

    @property
    def weighted(self) -> bool:
        """Whether the layer's weights multiply its input (dense, convolutions, recurrent, attention): it has
        kernel slots."""
        return bool(self.spec.KERNEL_SLOTS)

    def kernels(self) -> Iterator[tuple[str, InitializerSpec]]:
        """Yield (slot, resolved initializer) for the layer's kernel slots."""
        for slot in self.spec.KERNEL_SLOTS:
            yield slot, self.initializers[slot]

    @property
    def kernel_variables(self) -> frozenset[str]:
        """The names of the variables that are kernels: those whose initializer is in a kernel slot
        (``KERNEL_SLOTS``): ``kernel``, ``depthwise_kernel``, ``query/kernel``... (not biases, gains, embeddings
        or an RNN's recurrent kernel)."""
        slots = self.spec.KERNEL_SLOTS
        return frozenset(v.name for v in self.variables or () if v.slot in slots)


@dataclass
class Analysis:
    """The analysed spec: inputs, layers in topological order, outputs and totals."""

    spec: Spec
    inputs: dict[str, InputInfo]
    layers: dict[str, LayerInfo]
    outputs: list[str]

    @property
    def complete(self) -> bool:
        """False when an opaque layer keeps some shape or parameter count unknown."""
        return all(layer.variables is not None for layer in self.layers.values())

    @property
    def total_params(self) -> int:
        return sum(layer.params or 0 for layer in self.layers.values())

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params or 0 for layer in self.layers.values())

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @functools.cached_property
    def weighted(self) -> frozenset[str]:
        """Names of the layers whose weights multiply their input (dense, convolutions, recurrent, attention)."""
        return frozenset(name for name, info in self.layers.items() if info.weighted)

    @functools.cached_property
    def last_weighted(self) -> frozenset[str]:
        """The weighted layers nearest the outputs: reached from an output without crossing another weighted
        layer. The gradient band (MS113/MS114, and the probe) measures every other layer against them."""
        found, stack, seen = set(), list(self.outputs), set()
        while stack:
            name = stack.pop()
            if name in seen or name not in self.layers:
                continue
            seen.add(name)
            if name in self.weighted:
                found.add(name)
            else:
                stack.extend(self.layers[name].inputs)
        return frozenset(found)

    def next_layers(self, name: str, stop_at: frozenset[str] = frozenset()) -> list[LayerInfo]:
        """The layers that consume ``name``'s output, looking through pass-through layers (except the types in
        ``stop_at``)."""
        found, stack, seen = [], list(self.layers[name].consumers), set()
        while stack:
            consumer = self.layers[stack.pop()]
            if consumer.name in seen:
                continue
            seen.add(consumer.name)
            if passes_through(consumer) and consumer.type not in stop_at:
                stack.extend(consumer.consumers)
            else:
                found.append(consumer)
        return found

    def weighted_after(self, name: str) -> list[str]:
        """The weighted layers that ``name``'s output reaches, through any layers."""
        found, stack, seen = [], list(self.layers[name].consumers), set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in self.weighted:
                found.append(current)
            stack.extend(self.layers[current].consumers)
        return found

    def normalised(self, name: str) -> bool:
        """Whether ``name``'s output goes, through pass-through layers only, into normalisation and nowhere else.

        Batch and layer normalisation divide by the standard deviation they measure, so the scale the layer's
        initializer gave its output is reset there: questions about that scale (the initializer family against
        the activation, the signal and gradient bands) have nothing to judge on such a layer.
        """
        after = self.next_layers(name)
        return bool(after) and all(info.spec.ROLE is Role.NORMALISER for info in after)

    def reaches_output_through(self, name: str) -> bool:
        """Whether ``name`` is an output, or leads to one through pass-through layers only."""
        current = self.layers[name]
        while current.name not in self.outputs:
            if len(current.consumers) != 1:
                return False
            current = self.layers[current.consumers[0]]
            if not passes_through(current):
                return False
        return True

    def producer(self, name: str) -> Optional[LayerInfo]:
        """The layer that made ``name``'s values, looking back through pass-through layers (None: an input)."""
        while name in self.layers and passes_through(self.layers[name]) and len(self.layers[name].inputs) == 1:
            name = self.layers[name].inputs[0]
        return self.layers.get(name)

    def producer_activation(self, name: str) -> Optional[str]:
        """The activation that produced ``name``'s output, looking back through pass-through layers (linear when
        an input did; None when an opaque layer did)."""
        producer = self.producer(name)
        return "linear" if producer is None else producer.spec.applied_activation()

    @property
    def losses(self) -> dict[str, Optional[Loss]]:
        """The loss of each output (one loss for all of them, or one each); None without a `training:` block."""
        training = self.spec.training
        if training is None:
            return dict.fromkeys(self.outputs)
        return dict(zip(self.outputs, training.output_losses(len(self.outputs))))


def _layer_names(spec: Spec, taken: set[str]) -> list[str]:
    """Name unnamed layers `type`, `type_1`, ... the way Keras does, skipping names already taken."""
    return auto_names([(layer.type, layer.name) for layer in spec.layers], taken)


def auto_names(layers: list[tuple[str, Optional[str]]], taken: set[str]) -> list[str]:
    """Each (type, name or None) layer's name: its own, else `type`, `type_1`, ... skipping names already taken
    (and ``taken``, the inputs' names). One rule for the analysis and for block expansion."""
    taken = taken | {name for _, name in layers if name}
    counters: dict[str, int] = {}
    names = []
    for kind, name in layers:
        if name:
            names.append(name)
            continue
        while True:
            n = counters.get(kind, 0)
            counters[kind] = n + 1
            candidate = kind if n == 0 else f"{kind}_{n}"
            if candidate not in taken:
                break
        taken.add(candidate)
        names.append(candidate)
    return names


def _input_names(spec: Spec) -> list[str]:
    inputs = spec.model_inputs()
    return [i.name or ("input" if n == 0 else f"input_{n}") for n, i in enumerate(inputs)]


class _Collector:
    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Diagnostic] = []

    def add(self, path: tuple, message: str, code=None, layer: Optional[str] = None, hint: Optional[str] = None):
        self.problems.append(self.doc.error(path, message, code=code or INVALID_SPEC, layer=layer, hint=hint))


def analyse(spec: Spec, doc: Document) -> Analysis:
    """Analyse a validated spec (``defaults`` already applied); raise ``SpecError`` listing every problem."""
    report = _Collector(doc)
    inputs = _inputs(spec, report)
    layers, last = _wire(spec, inputs, report)
    _check_references(layers, inputs, report)
    outputs = _outputs(spec, layers, last, report)
    if report.problems:
        raise SpecError(report.problems)

    order = _topological(layers, inputs, report)
    _check_reachability(layers, inputs, outputs, report)
    _infer_shapes(order, layers, inputs, report)
    if report.problems:
        raise SpecError(report.problems)

    ordered = {name: layers[name] for name in order}
    for info in reversed(ordered.values()):  # consumers first: _feeds reuses their answer (linear time)
        info.feeds = _feeds(info, ordered)
    for info in ordered.values():
        _resolve_initializers(info)
    return Analysis(spec, inputs, ordered, outputs)


def _inputs(spec: Spec, report: _Collector) -> dict[str, InputInfo]:
    input_names = _input_names(spec)
    input_paths = [("input",)] if spec.input is not None else [("inputs", n) for n in range(len(input_names))]
    inputs = {
        name: InputInfo(name, tuple(i.shape), i.dtype, path)
        for name, i, path in zip(input_names, spec.model_inputs(), input_paths)
    }
    if len(inputs) != len(input_names):
        report.add(("inputs",), "input names must be unique")
    return inputs


def _wire(spec: Spec, inputs: dict[str, InputInfo], report: _Collector) -> tuple[dict[str, LayerInfo], str]:
    """Name every layer and give it its inputs: the ones it names, else the previous layer (or the only input).
    Return the layers and the last one's name."""
    names = _layer_names(spec, set(inputs))
    layers: dict[str, LayerInfo] = {}
    for index, (name, layer) in enumerate(zip(names, spec.layers)):
        if name in layers or name in inputs:
            report.add(("layers", index, "name"), f"duplicate name '{name}'", layer=name)
            continue
        if layer.inputs is not None:
            wired = list(layer.inputs)
        elif index > 0:
            wired = [names[index - 1]]
        elif len(inputs) == 1:
            wired = list(inputs)
        else:
            report.add(
                ("layers", index),
                "the first layer must name its `inputs:` when the model has several",
                code=UNKNOWN_REFERENCE,
                layer=name,
            )
            wired = []
        layers[name] = LayerInfo(name, layer, index, wired)
    return layers, names[-1]


def _check_references(layers: dict[str, LayerInfo], inputs: dict[str, InputInfo], report: _Collector) -> None:
    """Check every named input exists and every layer has as many inputs as its type takes; link consumers."""
    known = set(layers) | set(inputs)
    for info in layers.values():
        for j, ref in enumerate(info.inputs):
            if ref not in known:
                report.add(
                    info.path + ("inputs", j),
                    f"unknown layer or input '{ref}'{did_you_mean(ref, known)}",
                    code=UNKNOWN_REFERENCE,
                    layer=info.name,
                )
            elif ref in layers:
                layers[ref].consumers.append(info.name)
        low, high = info.spec.MIN_INPUTS, info.spec.MAX_INPUTS
        if info.inputs and (len(info.inputs) < low or (high is not None and len(info.inputs) > high)):
            wanted = f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
            report.add(
                info.path + ("inputs",),
                f"{info.type} takes {wanted} input(s) (received: {len(info.inputs)})",
                layer=info.name,
            )


def _outputs(spec: Spec, layers: dict[str, LayerInfo], last: str, report: _Collector) -> list[str]:
    """The output layers (default: the last), each existing, with one loss each when losses are a list."""
    outputs = list(spec.outputs) if spec.outputs else [last]
    for j, ref in enumerate(outputs):
        if ref not in layers:
            report.add(
                ("outputs", j), f"unknown output layer '{ref}'{did_you_mean(ref, layers)}", code=UNKNOWN_REFERENCE
            )
    losses = spec.training.loss if spec.training is not None else None
    if isinstance(losses, list) and len(losses) != len(outputs):
        report.add(
            ("training", "loss"),
            f"needs one loss per output, {len(outputs)} here ({', '.join(outputs)}) (received: {len(losses)} losses)",
            layer="training.loss",
        )
    return outputs


def _infer_shapes(
    order: list[str], layers: dict[str, LayerInfo], inputs: dict[str, InputInfo], report: _Collector
) -> None:
    for name in order:
        info = layers[name]
        info.input_shapes = [layers[r].output_shape if r in layers else inputs[r].shape for r in info.inputs]
        try:
            info.output_shape, info.variables = infer(info.spec, info.input_shapes)
        except ShapeError as exc:
            received = ", ".join(show_shape(s) for s in info.input_shapes)
            report.add(
                info.path,
                str(exc),
                code=SHAPE_MISMATCH,
                layer=name,
                hint=None if "received" in str(exc) else f"input shape: {received}",
            )


def _topological(layers: dict[str, LayerInfo], inputs: dict, report: _Collector) -> list[str]:
    pending = {name: sum(1 for r in info.inputs if r in layers) for name, info in layers.items()}
    ready = deque(name for name, count in pending.items() if count == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for consumer in layers[name].consumers:
            pending[consumer] -= 1
            if pending[consumer] == 0:
                ready.append(consumer)
    if len(order) != len(layers):
        stuck = sorted((info for name, info in layers.items() if name not in order), key=lambda i: i.index)
        cycle = " -> ".join(info.name for info in stuck)
        report.add(
            stuck[0].path + ("inputs",), f"layers form a cycle: {cycle}", code=UNKNOWN_REFERENCE, layer=stuck[0].name
        )
        raise SpecError(report.problems)
    return order


def _check_reachability(layers, inputs, outputs, report: _Collector) -> None:
    useful, stack = set(), list(outputs)
    while stack:
        name = stack.pop()
        if name in useful:
            continue
        useful.add(name)
        if name in layers:
            stack.extend(layers[name].inputs)
    for info in layers.values():
        if info.name not in useful:
            report.add(
                info.path,
                f"layer '{info.name}' does not lead to any output",
                hint="add it to `outputs:` or remove it",
                layer=info.name,
            )
    for name, info in inputs.items():
        if name not in useful:
            report.add(
                info.path, f"input '{name}' is not used by any output", hint="remove it or wire it with `inputs:`"
            )
    if report.problems:
        raise SpecError(report.problems)


def _feeds(info: LayerInfo, layers: dict[str, LayerInfo]) -> str:
    """The activation that first meets this layer's output: its own, or the next non-linear one downstream.

    Called in reverse topological order, so a transparent consumer's ``feeds`` is already known: walking the
    chain again from every layer would cost quadratic time on a long chain of dropout layers.
    """
    own = info.spec.applied_activation() or "linear"
    if own != "linear" or len(info.consumers) != 1:
        return own
    nxt = layers[info.consumers[0]]
    if nxt.spec.ROLE is Role.ACTIVATION:
        return nxt.spec.activation
    if nxt.spec.ROLE not in _TRANSPARENT or not nxt.spec.keeps_zero():
        return "linear"
    return nxt.feeds


@functools.cache
def _auto_choice(name: str) -> InitializerSpec:
    return _BY_TYPE[name](type=name)


def slot_feeds(info: LayerInfo, slot: str) -> str:
    """The activation the output of one kernel slot meets: the layer's (``info.feeds``), except that a recurrent
    kernel feeds the cell's own activation, and a separable convolution's depthwise step feeds its pointwise
    step with no activation between (linear)."""
    spec = info.spec.core
    if info.spec.ROLE is Role.RECURRENT:
        return spec.activation
    if slot in spec.PER_CHANNEL_SLOTS and "pointwise_initializer" in spec.KERNEL_SLOTS:
        return "linear"
    return info.feeds


@functools.cache
def _per_channel(chosen: InitializerSpec, depth_multiplier: int) -> InitializerSpec:
    """`auto` for a depthwise kernel: the variance ``chosen`` gives a layer summing ``fan_in`` terms, for a kernel
    whose outputs sum only its window. Keras's fan_in of a (kh, kw, C, m) depthwise kernel is kh·kw·C, but an
    output sums kh·kw terms of one channel; its fan_out is kh·kw·m, so scale × m over fan_out is scale / (kh·kw)."""
    scale, _, distribution = scaling(chosen)
    return VarianceScaling(
        type="variance_scaling", scale=scale * depth_multiplier, mode="fan_out", distribution=distribution
    )


@functools.cache
def _initializer_slots(model: type) -> tuple[str, ...]:
    return tuple(name for name in model.model_fields if name.endswith("_initializer"))


def _resolve_initializers(info: LayerInfo) -> None:
    spec = info.spec.core
    resolved, autos = {}, set()
    for slot in _initializer_slots(type(spec)):
        value = getattr(spec, slot)
        if value is None:
            continue
        if value.type == "auto":
            autos.add(slot)
            if slot in spec.KERNEL_SLOTS:
                role = info.spec.ROLE
                activation = slot_feeds(info, slot)
                chosen = "glorot_uniform" if role is Role.ATTENTION else ACTIVATIONS[activation].auto_initializer
            else:
                chosen = _AUTO_BY_SLOT.get(slot, "glorot_uniform")
            value = _auto_choice(chosen)
            if slot in spec.PER_CHANNEL_SLOTS:
                value = _per_channel(value, spec.depth_multiplier)
        resolved[slot] = value
    info.initializers = resolved
    info.auto_slots = frozenset(autos)
