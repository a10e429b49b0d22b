"""The search space of `modelspec tune`: parse ``--search PATH=DISTRIBUTION`` strictly. Pure Python, no TensorFlow.

``PATH`` addresses the spec exactly as ``compare --vary`` does (modelspec/variants.py): a `defaults:` field alone
(``kernel_initializer``: every layer that does not set its own), ``layers.NAME.FIELD``, or a dotted path
(``training.optimizer.learning_rate``). ``DISTRIBUTION`` is one of

- ``loguniform(LOW, HIGH)``: a float, uniform in log space (0 < LOW < HIGH);
- ``uniform(LOW, HIGH)``: a float (LOW < HIGH);
- ``int(LOW, HIGH)`` or ``int(LOW, HIGH, log)``: an integer from LOW to HIGH, both included (log: 1 <= LOW);
- ``choice(V1, V2, ...)``: one of the values, each YAML (``zeros``, ``0.5``, ``{type: random_normal, stddev: 0.05}``).

Engines sample from these records themselves (Optuna's ``suggest_*``, Ray Tune's ``tune.loguniform``...); a choice
is sampled as the index-free text of its value (``show``), which ``Search.value`` maps back.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from modelspec import source
from modelspec.diagnostics import did_you_mean
from modelspec.errors import SettingsError, SpecError
from modelspec.variants import Vary, field_path, show

KINDS = ("loguniform", "uniform", "int", "choice")
OPTION = "--search"
_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)
USAGE = "loguniform(1e-4, 1e-1), uniform(0, 0.5), int(16, 512, log) or choice(zeros, he_normal)"


@dataclass(frozen=True)
class Distribution:
    """One distribution: ``kind`` (loguniform, uniform, int, choice), its bounds or its ``choices``."""

    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def text(self) -> str:
        """The distribution as a person writes it: ``loguniform(0.0001, 0.1)``, ``choice(zeros, auto)``."""
        if self.kind == "choice":
            return f"choice({', '.join(show(value) for value in self.choices)})"
        bounds = f"{show(self.low)}, {show(self.high)}"
        return f"{self.kind}({bounds}{', log' if self.log and self.kind == 'int' else ''})"

    @property
    def labels(self) -> tuple[str, ...]:
        """A choice's values as text: what an engine samples (Optuna's categorical values are plain scalars)."""
        return tuple(show(value) for value in self.choices)

    def grid(self) -> Optional[list]:
        """Every value a grid search visits (the labels of a choice, each integer of an int), None for a float."""
        if self.kind == "choice":
            return list(self.labels)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))
        return None

    def candidates(self) -> list[Any]:
        """A few values this distribution can give, to check the path on the spec before any trial."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


@dataclass(frozen=True)
class Search:
    """One ``--search`` option: the field as written, the path it sets in the spec, and its distribution."""

    field: str
    path: tuple[str, ...]
    distribution: Distribution

    @property
    def vary(self) -> Vary:
        """The field as modelspec/variants.py sets it (the one path setter of compare and tune)."""
        return Vary(self.field, self.path, (), OPTION)

    def value(self, sampled: Any) -> Any:
        """The spec value of what an engine sampled: a choice's label back to its YAML value, an int as int."""
        distribution = self.distribution
        if distribution.kind == "choice":
            return distribution.choices[distribution.labels.index(sampled)] if isinstance(sampled, str) else sampled
        if distribution.kind == "int":
            return int(sampled)
        return float(sampled)

    def text(self) -> str:
        return f"{self.field}={self.distribution.text()}"


def _fail(option: str, problem: str) -> SettingsError:
    return SettingsError(f"{OPTION} {option!r}: {problem}")


def _arguments(option: str, kind: str, inner: str) -> list:
    """The arguments of ``kind(...)`` as YAML values, read by modelspec's safe reader as a flow sequence."""
    try:
        doc = source.parse(f"arguments: [{inner}]\n", f"{OPTION} {option}")
    except SpecError as exc:
        problem = exc.diagnostics[0].message if exc.diagnostics else str(exc)
        raise _fail(option, f"the arguments of {kind}(...) are not YAML: {problem}") from None
    if doc.problems:
        raise _fail(option, f"the arguments of {kind}(...) are not YAML: {doc.problems[0].message}")
    arguments = doc.data.get("arguments")
    return arguments if isinstance(arguments, list) else []


def _number(option: str, kind: str, value: Any, integer: bool = False) -> float:
    """A bound: a finite number (an integer for int); YAML 1.1 reads ``1e-4`` as text, hence float() on text."""
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not math.isfinite(number) or (integer and number != int(number)):
        what = "an integer" if integer else "a finite number"
        raise _fail(option, f"{kind}(...) takes {what} for each bound (received: {show(value)})")
    return number


def _bounded(option: str, kind: str, arguments: list) -> Distribution:
    integer = kind == "int"
    log = kind == "loguniform"
    if integer and len(arguments) == 3:
        if arguments[2] != "log":
            raise _fail(option, f"the third argument of int(...) can only be `log` (received: {show(arguments[2])})")
        arguments, log = arguments[:2], True
    if len(arguments) != 2:
        form = "int(LOW, HIGH) or int(LOW, HIGH, log)" if integer else f"{kind}(LOW, HIGH)"
        raise _fail(option, f"{kind} takes two bounds: {form} (received: {len(arguments)} arguments)")
    low, high = (_number(option, kind, value, integer) for value in arguments)
    if not low < high:
        raise _fail(option, f"{kind}(LOW, HIGH) needs LOW < HIGH (received: {show(low)}, {show(high)})")
    if log and low <= 0 or (integer and log and low < 1):
        least = ">= 1" if integer else "above 0"
        raise _fail(option, f"a log scale needs LOW {least} (received: {show(low)})")
    if integer:
        return Distribution(kind, int(low), int(high), log)
    return Distribution(kind, low, high, log)


def parse_distribution(option: str, text: str) -> Distribution:
    """Parse ``loguniform(1e-4, 1e-1)``... (``option``: the whole ``--search`` value, for messages)."""
    match = _FORM.match(text)
    if match is None:
        raise _fail(option, f"the distribution must be one of {USAGE} (received: {text.strip()!r})")
    kind, inner = match.group(1), match.group(2)
    if kind not in KINDS:
        raise _fail(option, f"unknown distribution {kind!r} (use one of {', '.join(KINDS)}){did_you_mean(kind, KINDS)}")
    arguments = _arguments(option, kind, inner)
    if kind != "choice":
        return _bounded(option, kind, arguments)
    if not arguments:
        raise _fail(option, "choice(...) needs at least one value")
    labels = [show(value) for value in arguments]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise _fail(option, f"choice(...) lists {', '.join(repeated)} more than once")
    return Distribution(kind, choices=tuple(arguments))


def parse_search(option: str) -> Search:
    """Parse one ``PATH=DISTRIBUTION`` option.

    Raises:
        SettingsError: no ``=``, an empty path or a part of it empty, or a malformed distribution (the message
            names the option, the problem and what was received).
    """
    name, equals, text = option.partition("=")
    name = name.strip()
    if not equals or not name:
        raise _fail(option, "give PATH=DISTRIBUTION, e.g. training.optimizer.learning_rate=loguniform(1e-4, 1e-1)")
    parts = tuple(part.strip() for part in name.split("."))
    if any(not part for part in parts):
        raise _fail(option, f"the path {name!r} has an empty part between dots")
    return Search(name, field_path(parts), parse_distribution(option, text))


def parse_space(options: list[str]) -> tuple[Search, ...]:
    """Every ``--search`` option parsed; at least one, no path searched twice."""
    if not options:
        raise SettingsError(f"give at least one {OPTION} PATH=DISTRIBUTION")
    space = tuple(parse_search(option) for option in options)
    paths = [search.path for search in space]
    for search in space:
        if paths.count(search.path) > 1:
            raise SettingsError(f"two {OPTION} options set {search.field}: give one distribution per path")
    return space
