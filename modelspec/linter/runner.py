"""Run the rules over loaded specs: selection, suppression (spec `lint:` block, inline comments), locations."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from modelspec.diagnostics import Diagnostic, Level, error
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK, SpecError
from modelspec.linter import registry
from modelspec.linter.config import LintConfig
from modelspec.linter.rule import Subject
from modelspec.loader import ModelSpec, load_spec, spec_files

INLINE = re.compile(r"#\s*modelspec:\s*ignore\[([^\]]*)\]")
_SPEC_KEY = re.compile(r"^modelspec\s*:", re.MULTILINE)
_STRUCTURAL = frozenset(registry.STRUCTURAL)
DEFAULT_CONFIG = LintConfig()


def lint(spec: Union[str, os.PathLike, dict, ModelSpec], *, config: Optional[LintConfig] = None) -> list[Diagnostic]:
    """Lint a spec (a path, YAML text, dict or loaded spec) and return its findings, sorted by place.

    Raises ``SpecError`` when the spec is invalid. Never imports TensorFlow.
    """
    return run(load_spec(spec), config or DEFAULT_CONFIG)


def run(model: ModelSpec, config: LintConfig) -> list[Diagnostic]:
    """Run every selected rule over a loaded spec, drop suppressed findings, and locate the rest."""
    doc = model.document
    problems: list[Diagnostic] = []
    ignored = _spec_ignores(model, problems)
    inline = _inline_ignores(model, problems)
    spans = _layer_spans(model) if inline else {}
    subject = Subject(model)
    formats = config.export | set(model.spec.lint.export)
    found = []
    for code, rule in registry.RULES.items():
        if code not in config.codes or code in ignored or (rule.formats and not rule.formats & formats):
            continue
        options = config.options(code) if rule.options else {}
        level = config.level(code)
        for finding in rule.check(subject, options):
            file, line, column, uses = doc.place(finding.path)
            if inline and _suppressed(code, (file, line), finding.layer, uses, inline, spans):
                continue
            found.append(
                Diagnostic(
                    file, line, column, code, rule.name, level, finding.message, finding.hint, finding.layer, uses
                )
            )
    return sorted(problems + found, key=lambda d: (d.line, d.column, d.code))


def _spec_ignores(model: ModelSpec, problems: list[Diagnostic]) -> set[str]:
    codes: set[str] = set()
    for index, word in enumerate(model.spec.lint.ignore):
        try:
            codes.update(registry.select(word))
        except registry.UnknownRule as exc:
            line, column = model.document.locate(("lint", "ignore", index))
            problems.append(error(model.path, line, column, str(exc), layer=f"lint.ignore[{index}]"))
    return codes


def _inline_ignores(model: ModelSpec, problems: list[Diagnostic]) -> dict[tuple[str, int], set[str]]:
    """Return (file, line) -> codes named by `# modelspec: ignore[...]` comments on that line, in the spec and in
    the files it extends."""
    doc = model.document
    by_line: dict[tuple[str, int], set[str]] = {}
    for file in (doc.path, *doc.texts):
        text = doc.text_of(file)
        if "modelspec:" not in text or "ignore[" not in text:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in INLINE.finditer(line):
                codes = by_line.setdefault((file, number), set())
                offset = match.start(1)
                for word in match.group(1).split(","):
                    column = offset + len(word) - len(word.lstrip()) + 1
                    offset += len(word) + 1
                    if not word.strip():
                        continue
                    try:
                        codes.update(registry.select(word))
                    except registry.UnknownRule as exc:
                        problems.append(error(file, number, column, f"ignore comment: {exc}"))
    return by_line


def _layer_spans(model: ModelSpec) -> dict[str, tuple[str, int, int]]:
    """Return layer name -> (file, first line, last line) of its entry: in `layers:`, or in the block's definition
    for a layer a block put there (a value a parameter gave it, written at the use, does not widen the span)."""
    doc = model.document
    last: dict[int, int] = {}
    for locations in (doc.key_locations, doc.value_locations):
        for path, (line, _) in locations.items():
            if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
                if len(path) >= 3 and path[:3] in doc.origins:
                    continue
                last[path[1]] = max(last.get(path[1], 0), line)
    spans = {}
    for info in model.analysis.layers.values():
        file, first, _, _ = doc.place(info.path)
        spans[info.name] = (file, first, max(first, last.get(info.index, first)))
    return spans


def _suppressed(
    code: str,
    where: tuple[str, int],
    layer: Optional[str],
    uses: tuple,
    inline: dict[tuple[str, int], set[str]],
    spans: dict[str, tuple[str, int, int]],
) -> bool:
    """Whether an ignore comment names ``code`` on the finding's line, on its layer's entry, or on a use of the
    block it is in."""
    if code in inline.get(where, ()) or any(code in inline.get((use.path, use.line), ()) for use in uses):
        return True
    if layer in spans:
        file, first, last = spans[layer]
        return any(code in codes for (f, number), codes in inline.items() if f == file and first <= number <= last)
    return False


# --- many files -------------------------------------------------------------------------------------------


@dataclass
class LintResult:
    """The findings of a lint run over several files."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    def count(self, level: Level) -> int:
        return sum(1 for d in self.diagnostics if d.level == level)

    @property
    def invalid(self) -> bool:
        """Whether some file could not be read or is not a valid spec."""
        return any(d.code in _STRUCTURAL for d in self.diagnostics)

    def exit_code(self, strict: bool = False) -> int:
        """0 clean; 1 error-level findings (or warnings with ``strict``); 2 an invalid or unreadable spec."""
        if self.invalid:
            return EXIT_INVALID
        failing = {Level.ERROR, Level.WARNING} if strict else {Level.ERROR}
        return EXIT_LINT if any(d.level in failing for d in self.diagnostics) else EXIT_OK


def is_spec(path: Path) -> bool:
    """Whether a YAML file looks like a spec (has a top-level `modelspec:` key); unreadable files count as specs."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return bool(_SPEC_KEY.search(handle.read(1 << 20)))
    except OSError:
        return True


def lint_paths(
    paths: Iterable[Union[str, os.PathLike]], config: LintConfig = DEFAULT_CONFIG, *, specs_only: bool = False
) -> LintResult:
    """Load and lint every spec under ``paths``; invalid or unreadable files contribute their errors.

    Raises ``SettingsError`` when a folder holds no spec file (a typo in CI would otherwise lint nothing).
    """
    result = LintResult()
    for path in spec_files(paths):
        if specs_only and not is_spec(path):
            continue
        result.files += 1
        try:
            model = load_spec(path)
        except SpecError as exc:
            result.diagnostics += exc.diagnostics
            continue
        result.diagnostics += run(model, config)
    return result
