"""What a lint rule is: a code, a name, a default level, docs, and a `check` that yields findings.

Rules see the analysed spec through a ``Subject``, which also holds what several rules share (the signal
propagation, graph walks), computed once and only when a rule asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Optional

from modelspec.analysis.signal import KERAS_ACTIVATIONS
from modelspec.diagnostics import Level
from modelspec.schema.activations import ACTIVATIONS

if TYPE_CHECKING:
    from modelspec.analysis import Analysis, LayerInfo
    from modelspec.analysis.signal import SignalReport
    from modelspec.loader import ModelSpec

# Slots whose weights multiply the layer's input (the ones the initialization rules judge).
KERNEL_SLOTS = ("kernel_initializer", "depthwise_initializer", "pointwise_initializer")
# Layers with no weights that change neither the values' meaning nor add a non-linearity: a rule looking for
# "what comes next" looks through them.
PASS_THROUGH = frozenset({"dropout", "alpha_dropout", "gaussian_noise", "flatten", "reshape", "permute",
                          "max_pool1d", "max_pool2d", "average_pool1d", "average_pool2d", "zero_padding2d",
                          "up_sampling2d"})


@dataclass(frozen=True)
class Finding:
    """One problem a rule found. The runner stamps the rule's code, name and level and locates ``path``."""

    path: tuple  # where in the spec, e.g. ("layers", 3, "kernel_initializer")
    message: str
    hint: Optional[str] = None
    layer: Optional[str] = None  # the layer it is about: shown, and an inline ignore on its lines suppresses it


@dataclass(frozen=True)
class Docs:
    """A rule's documentation, in the fixed sections of ``modelspec rules CODE``."""

    what: str
    why: str
    example: str  # a whole spec that triggers the rule (and no other)
    use_instead: str  # the same spec, fixed
    references: str

    SECTIONS = (("What it does", "what"), ("Why is this bad", "why"), ("Example", "example"),
                ("Use instead", "use_instead"), ("References", "references"))

    def sections(self) -> Iterator[tuple[str, str]]:
        """Yield (title, text) for each section, in order."""
        for title, attribute in self.SECTIONS:
            yield title, getattr(self, attribute)


Check = Callable[["Subject", Mapping[str, float]], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A lint rule."""

    code: str
    name: str
    level: Level
    summary: str
    check: Check
    docs: Docs
    options: Mapping[str, float] = field(default_factory=dict)  # threshold name -> default value


class Subject:
    """The analysed spec as rules see it."""

    def __init__(self, model: ModelSpec):
        self.model = model
        self.analysis: Analysis = model.analysis
        self.spec = model.analysis.spec
        self.document = model.document

    @cached_property
    def signal(self) -> SignalReport:
        """The static signal propagation (analysis/signal.py), computed on first use."""
        from modelspec.analysis.signal import propagate

        return propagate(self.analysis)

    @cached_property
    def weighted(self) -> frozenset[str]:
        """Names of the layers whose weights multiply their input (dense, convolutions, recurrent, attention)."""
        return frozenset(name for name, info in self.analysis.layers.items()
                         if any(slot in info.initializers for slot in KERNEL_SLOTS))

    def field_path(self, info: LayerInfo, slot: str) -> tuple:
        """Where a layer's field is written: on the layer, else under `defaults:`, else the layer itself."""
        inner = ("layer",) if info.type == "bidirectional" else ()
        own = info.path + inner + (slot,)
        if own in self.document.key_locations:
            return own
        if ("defaults", slot) in self.document.key_locations:
            return ("defaults", slot)
        return info.path

    def kernels(self, info: LayerInfo) -> Iterator[tuple[str, object]]:
        """Yield (slot, resolved initializer) for the layer's kernel slots."""
        for slot in KERNEL_SLOTS:
            if slot in info.initializers:
                yield slot, info.initializers[slot]

    def activation_of(self, info: LayerInfo) -> Optional[str]:
        """The activation a layer applies itself (linear when none); None when unknown (opaque keras layer)."""
        if info.type == "keras":
            return KERAS_ACTIVATIONS.get(info.spec.class_name)
        spec = info.spec.layer if info.type == "bidirectional" else info.spec
        return getattr(spec, "activation", "linear")

    def next_layers(self, name: str, through=PASS_THROUGH) -> list[LayerInfo]:
        """The layers that consume ``name``'s output, looking through ``through`` layers."""
        found, stack, seen = [], list(self.analysis.layers[name].consumers), set()
        while stack:
            consumer = self.analysis.layers[stack.pop()]
            if consumer.name in seen:
                continue
            seen.add(consumer.name)
            if consumer.type in through:
                stack.extend(consumer.consumers)
            else:
                found.append(consumer)
        return found

    def reaches_output_through(self, name: str, through=PASS_THROUGH) -> bool:
        """Whether ``name`` is an output, or leads to one through ``through`` layers only."""
        current = self.analysis.layers[name]
        while current.name not in self.analysis.outputs:
            if len(current.consumers) != 1:
                return False
            current = self.analysis.layers[current.consumers[0]]
            if current.type not in through:
                return False
        return True

    def producer_activation(self, name: str) -> Optional[str]:
        """The activation that produced a layer's output, looking back through pass-through layers."""
        info = self.analysis.layers[name]
        while info.type in PASS_THROUGH and info.inputs and info.inputs[0] in self.analysis.layers:
            info = self.analysis.layers[info.inputs[0]]
        if info.type in PASS_THROUGH:
            return "linear"
        return self.activation_of(info)

    def nonlinear(self, activation: Optional[str]) -> bool:
        """Whether an activation name is a non-linearity (unknown counts as non-linear: no finding)."""
        return activation is None or ACTIVATIONS[activation].family != "linear"
