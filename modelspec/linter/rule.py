"""What a lint rule is: a code, a name, a default level, docs, and a `check` that yields findings.

Rules see the analysed spec through a ``Subject``, which also holds what several rules share (the signal
propagation, graph walks), computed once and only when a rule asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Optional

from modelspec.diagnostics import Level
from modelspec.schema.layers.base import Role

if TYPE_CHECKING:
    from modelspec.analysis import Analysis, LayerInfo
    from modelspec.analysis.gradients import GradientReport
    from modelspec.analysis.signal import SignalReport
    from modelspec.loader import ModelSpec
    from modelspec.pretrained.checks import Problem


def passes_through(info: LayerInfo) -> bool:
    """Whether a rule looking for "what comes next" (or "what came before") looks through this layer: it has no
    weights and no non-linearity. Normalisers are not looked through: they reset the scale, which is what
    several rules ask about."""
    return info.spec.ROLE is Role.PASS_THROUGH


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

    SECTIONS = (
        ("What it does", "what"),
        ("Why is this bad", "why"),
        ("Example", "example"),
        ("Use instead", "use_instead"),
        ("References", "references"),
    )

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
    def gradients(self) -> GradientReport:
        """The static backward analysis (analysis/gradients.py), computed on first use."""
        from modelspec.analysis.gradients import predict_gradients

        return predict_gradients(self.analysis, self.signal)

    @cached_property
    def pretrained_problems(self) -> list[Problem]:
        """The problems of the `pretrained:` block (modelspec/pretrained/checks.py), computed on first use."""
        from modelspec.pretrained.checks import check

        return check(self.model)

    @cached_property
    def weighted(self) -> frozenset[str]:
        """Names of the layers whose weights multiply their input (dense, convolutions, recurrent, attention)."""
        return frozenset(name for name, info in self.analysis.layers.items() if info.spec.KERNEL_SLOTS)

    def field_path(self, info: LayerInfo, slot: str) -> tuple:
        """Where a layer's field is written: on the layer, else under `defaults:`, else the layer itself."""
        own = info.path + ((info.spec.CORE_FIELD,) if info.spec.CORE_FIELD else ()) + (slot,)
        if own in self.document.key_locations:
            return own
        if ("defaults", slot) in self.document.key_locations:
            return ("defaults", slot)
        return info.path

    def kernels(self, info: LayerInfo) -> Iterator[tuple[str, object]]:
        """Yield (slot, resolved initializer) for the layer's kernel slots."""
        for slot in info.spec.KERNEL_SLOTS:
            yield slot, info.initializers[slot]

    def next_layers(self, name: str, stop_at: frozenset[str] = frozenset()) -> list[LayerInfo]:
        """The layers that consume ``name``'s output, looking through pass-through layers (except the types in
        ``stop_at``)."""
        found, stack, seen = [], list(self.analysis.layers[name].consumers), set()
        while stack:
            consumer = self.analysis.layers[stack.pop()]
            if consumer.name in seen:
                continue
            seen.add(consumer.name)
            if passes_through(consumer) and consumer.type not in stop_at:
                stack.extend(consumer.consumers)
            else:
                found.append(consumer)
        return found

    def normalised(self, name: str) -> bool:
        """Whether ``name``'s output goes, through pass-through layers only, into normalisation and nowhere else.

        Batch and layer normalisation divide by the standard deviation they measure, so the scale the layer's
        initializer gave its output is reset there: rules about that scale (the initializer family against the
        activation, the signal band) have nothing to judge on such a layer.
        """
        after = self.next_layers(name)
        return bool(after) and all(info.spec.ROLE is Role.NORMALISER for info in after)

    def reaches_output_through(self, name: str) -> bool:
        """Whether ``name`` is an output, or leads to one through pass-through layers only."""
        current = self.analysis.layers[name]
        while current.name not in self.analysis.outputs:
            if len(current.consumers) != 1:
                return False
            current = self.analysis.layers[current.consumers[0]]
            if not passes_through(current):
                return False
        return True

    def producer_activation(self, name: str) -> Optional[str]:
        """The activation that produced a layer's output, looking back through pass-through layers."""
        info = self.analysis.layers[name]
        while passes_through(info) and info.inputs and info.inputs[0] in self.analysis.layers:
            info = self.analysis.layers[info.inputs[0]]
        if passes_through(info):
            return "linear"
        return info.spec.applied_activation()
