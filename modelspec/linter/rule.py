"""What a lint rule is: a code, a name, a default level, docs, and a `check` that yields findings.

Rules see the analysed spec through a ``Subject``, which also holds what several rules share (the signal and
gradient propagation, the pretrained checks), computed once and only when a rule asks for it. Graph questions
(what follows a layer, whether it feeds normalisation) are the analysis's: ``subject.analysis``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Optional

from modelspec.analysis.gradients import GradientReport, predict_gradients
from modelspec.analysis.signal import SignalReport, propagate
from modelspec.diagnostics import Level
from modelspec.pretrained.checks import Problem, check

if TYPE_CHECKING:
    from modelspec.analysis import Analysis, LayerInfo
    from modelspec.linter.data_checks import DataProfile
    from modelspec.loader import ModelSpec


@dataclass(frozen=True)
class Suggestion:
    """The one edit a finding's hint names, as a record (the hint is its words): what `lint --fix` writes
    (modelspec/fixing/fixers.py). A hint that leaves a choice has none."""

    activation: Optional[str] = None  # on the finding's layer
    loss: Optional[str] = None  # at the finding's path
    monitor: Optional[str] = None  # at the finding's path


@dataclass(frozen=True)
class Finding:
    """One problem a rule found. The runner stamps the rule's code, name and level (or the finding's own) and
    locates ``path``."""

    path: tuple  # where in the spec, e.g. ("layers", 3, "kernel_initializer")
    message: str
    hint: Optional[str] = None
    layer: Optional[str] = None  # the layer it is about: shown, and an inline ignore on its lines suppresses it
    # A level below the rule's for a case that calibration found harmless (docs/calibration.md); None: the rule's.
    # A level configured for the rule (`[tool.modelspec.lint.levels]`) still wins.
    level: Optional[Level] = None
    suggests: Optional[Suggestion] = None


@dataclass(frozen=True)
class Docs:
    """A rule's documentation, in the fixed sections of ``modelspec rules CODE``."""

    what: str
    why: str
    example: str  # a whole spec that triggers the rule (and no other)
    use_instead: str  # the same spec, fixed
    references: str
    # A data-aware rule (MS6xx) fires only with data: the example's data (CSV text, linted with `--data`), and the
    # fixed example's (None: the same data).
    data: str = ""
    use_instead_data: Optional[str] = None
    # Where the rule is rough: the cases it misses or flags wrongly, and the measurement its level rests on
    # (issue 17); a section only in the rules that have one.
    known_problems: str = ""

    SECTIONS = (
        ("What it does", "what"),
        ("Why is this bad", "why"),
        ("Example", "example"),
        ("Use instead", "use_instead"),
        ("Known problems", "known_problems"),
        ("References", "references"),
    )
    OPTIONAL = frozenset({"known_problems"})

    def sections(self) -> Iterator[tuple[str, str]]:
        """Yield (title, text) for each section, in order; an optional section only when it has text."""
        for title, attribute in self.SECTIONS:
            if getattr(self, attribute) or attribute not in self.OPTIONAL:
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
    # An export-readiness rule (MS5xx) runs only for these formats, when a spec's `lint.export` or the
    # configuration's (`modelspec lint --export`, `modelspec export`) names one of them; empty: always runs.
    formats: frozenset[str] = frozenset()


class Subject:
    """The analysed spec as rules see it."""

    def __init__(self, model: ModelSpec, data: Optional[DataProfile] = None):
        self.model = model
        self.analysis: Analysis = model.analysis
        self.spec = model.analysis.spec
        self.document = model.document
        self.data = data  # the data linted with the spec (`--data`), profiled once; None: the data rules find nothing

    @cached_property
    def signal(self) -> SignalReport:
        """The static signal propagation (analysis/signal.py), computed on first use."""
        return propagate(self.analysis)

    @cached_property
    def gradients(self) -> GradientReport:
        """The static backward analysis (analysis/gradients.py), computed on first use."""
        return predict_gradients(self.analysis, self.signal)

    @cached_property
    def pretrained_problems(self) -> list[Problem]:
        """The problems of the `pretrained:` block (modelspec/pretrained/checks.py), computed on first use."""
        return check(self.model)

    def field_path(self, info: LayerInfo, slot: str) -> tuple:
        """Where a layer's field is written: on the layer, else under `defaults:`, else the layer itself."""
        own = info.path + ((info.spec.CORE_FIELD,) if info.spec.CORE_FIELD else ()) + (slot,)
        if own in self.document.key_locations:
            return own
        if ("defaults", slot) in self.document.key_locations:
            return ("defaults", slot)
        return info.path
