"""Lint configuration: `[tool.modelspec.lint]` in pyproject.toml, merged with the command line's options.

    [tool.modelspec.lint]
    select = ["ALL"]              # codes, rule names, code prefixes (MS1) or ALL
    ignore = ["MS109"]
    [tool.modelspec.lint.levels]  # per-rule level: error, warning or info
    MS103 = "warning"
    [tool.modelspec.lint.thresholds]
    vanishing-scale = 0.01

Unknown keys, codes, levels and thresholds are errors (``ConfigError``), never silently ignored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from modelspec.diagnostics import Level, did_you_mean
from modelspec.errors import SettingsError
from modelspec.linter import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = ("select", "ignore", "levels", "thresholds")


class ConfigError(SettingsError):
    """The lint configuration is unusable; the message says where and why."""


def thresholds() -> dict[str, tuple[float, str]]:
    """Every threshold a rule declares: name -> (default, rule code)."""
    return {name: (default, rule.code) for rule in registry.RULES.values() for name, default in rule.options.items()}


@dataclass(frozen=True)
class LintConfig:
    """Which rules run, at which level, with which thresholds. Build it with ``make_config``."""

    codes: frozenset[str] = frozenset(registry.RULES)
    levels: Mapping[str, Level] = field(default_factory=dict)
    values: Mapping[str, float] = field(default_factory=dict)
    export: frozenset[str] = frozenset()  # the export formats whose readiness rules (MS5xx) run on every spec

    def level(self, code: str, case: Optional[Level] = None) -> Level:
        """The level a finding of a rule is reported at: the configured one, else the finding's own (``case``: a
        case the calibration found harmless, reported below the rule's level), else the rule's."""
        return self.levels.get(code) or case or registry.RULES[code].level

    def without(self, *codes: str) -> LintConfig:
        """The same configuration with ``codes`` not run."""
        return replace(self, codes=self.codes - set(codes))

    def exporting(self, *formats: str) -> LintConfig:
        """The same configuration with the readiness rules of ``formats`` on too."""
        return replace(self, export=self.export | set(formats))

    def options(self, code: str) -> dict[str, float]:
        """The rule's thresholds, configured values over its defaults."""
        return {name: self.values.get(name, default) for name, default in registry.RULES[code].options.items()}


def rule_codes(words: Iterable[str], where: str) -> list[str]:
    """Resolve rule codes, names, prefixes and ALL to codes; raise ``ConfigError`` (naming ``where``) on an
    unknown one."""
    if isinstance(words, str) or not isinstance(words, (list, tuple)):
        raise ConfigError(f"{where}: must be a list of rule codes (received: {words!r})")
    codes = []
    for word in words:
        try:
            codes += registry.select(word)
        except registry.UnknownRule as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return codes


def make_config(
    select: Optional[Iterable[str]] = None,
    ignore: Iterable[str] = (),
    levels: Optional[Mapping[str, Any]] = None,
    values: Optional[Mapping[str, Any]] = None,
    where: str = "configuration",
) -> LintConfig:
    """Validate and resolve a configuration; raise ``ConfigError`` naming the first problem."""
    chosen = set(rule_codes(list(select), f"{where}: select")) if select is not None else set(registry.RULES)
    chosen -= set(rule_codes(list(ignore), f"{where}: ignore"))
    resolved_levels = {}
    for word, level in (levels or {}).items():
        try:
            rule = registry.get(word)
        except registry.UnknownRule as exc:
            raise ConfigError(f"{where}: levels: {exc}") from None
        try:
            resolved_levels[rule.code] = Level(str(level).lower())
        except ValueError:
            raise ConfigError(f"{where}: levels.{word}: must be error, warning or info (received: {level!r})") from None
    known = thresholds()
    resolved_values = {}
    for key, value in (values or {}).items():
        name = key.replace("_", "-")
        if name not in known:
            raise ConfigError(f"{where}: thresholds: unknown threshold '{key}'{did_you_mean(name, known)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{where}: thresholds.{key}: must be a positive number (received: {value!r})")
        resolved_values[name] = float(value)
    return LintConfig(frozenset(chosen), resolved_levels, resolved_values)


def find_pyproject(start: Path) -> Optional[Path]:
    """Return the nearest pyproject.toml in ``start`` or above it, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path) -> dict[str, Any]:
    """Return the `[tool.modelspec.lint]` table of a pyproject.toml (empty when absent)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    table = data.get("tool", {}).get("modelspec", {}).get("lint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.modelspec.lint] must be a table")
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{path}: [tool.modelspec.lint]: unknown key '{key}'{did_you_mean(key, KEYS)}")
    for key in ("levels", "thresholds"):
        if not isinstance(table.get(key, {}), dict):
            raise ConfigError(f"{path}: [tool.modelspec.lint.{key}] must be a table")
    return table


def load_config(
    pyproject: Optional[Path] = None,
    *,
    start: Optional[Path] = None,
    select: Optional[Iterable[str]] = None,
    ignore: Iterable[str] = (),
) -> LintConfig:
    """Read `[tool.modelspec.lint]` (from ``pyproject`` or the nearest one above ``start``) and apply the command
    line: ``select`` replaces the file's selection, ``ignore`` adds to its ignores."""
    path = pyproject or find_pyproject(start or Path.cwd())
    table = read_pyproject(path) if path is not None else {}
    where = str(path) if path is not None else "configuration"
    base = make_config(
        table.get("select"), table.get("ignore", ()), table.get("levels"), table.get("thresholds"), where
    )
    if select is None and not ignore:
        return base
    chosen = set(rule_codes(list(select), "--select")) if select is not None else set(base.codes)
    chosen -= set(rule_codes(list(table.get("ignore", ())), f"{where}: ignore")) | set(
        rule_codes(list(ignore), "--ignore")
    )
    return replace(base, codes=frozenset(chosen))
