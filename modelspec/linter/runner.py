"""Run the rules over loaded specs: selection, suppression (spec `lint:` block, inline comments), locations."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from modelspec.data import load_data
from modelspec.diagnostics import DATA_MISMATCH, Diagnostic, Level, error
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK, DataError, SettingsError, SpecError
from modelspec.linter import registry
from modelspec.linter.config import LintConfig
from modelspec.linter.data_checks import DataProfile, profile
from modelspec.linter.rule import Finding, Subject
from modelspec.loader import ModelSpec, load_spec, spec_files
from modelspec.variants import Vary, overridden, parse_sets

INLINE = re.compile(r"#\s*modelspec:\s*ignore\[([^\]]*)\]")
_SPEC_KEY = re.compile(r"^modelspec\s*:", re.MULTILINE)
_STRUCTURAL = frozenset(registry.STRUCTURAL)
DEFAULT_CONFIG = LintConfig()


def lint(
    spec: Union[str, os.PathLike, dict, ModelSpec],
    *,
    config: Optional[LintConfig] = None,
    overrides: Sequence[Union[str, Vary]] = (),
    data: Optional[Union[str, os.PathLike]] = None,
) -> list[Diagnostic]:
    """Lint a spec (a path, YAML text, dict or loaded spec) and return its findings, sorted by place.

    ``overrides``: ``"PATH=VALUE"`` strings set in the spec before it is linted, in order, as ``--set`` does
    (``"kernel_initializer=zeros"``); the findings still point at the spec file's lines.
    ``data``: a data source as `train --data` takes (``"digits"``, an .npz, a folder of .npy files, a .csv), read
    with the readers of `train` and checked against the spec; the data-aware rules (MS6xx) judge it.

    Raises ``SpecError`` when the spec is invalid, ``SettingsError`` when an override is malformed, names a layer
    the spec lacks or makes it invalid, ``DataError`` when the data is unreadable or does not fit the spec. Never
    imports TensorFlow.
    """
    sets = parse_sets(overrides)  # a malformed --set is said before the spec is read
    model = overridden(load_spec(spec), sets)
    return run(model, config or DEFAULT_CONFIG, data_profile(model, data) if data is not None else None)


def data_profile(model: ModelSpec, source: Union[str, os.PathLike], target=None) -> DataProfile:
    """Read ``source`` as `train --data` does (modelspec/data: checked against the spec; ``target``: a CSV's target
    column, as `--target`) and profile it for the data-aware rules. Raises ``DataError``; never imports TensorFlow."""
    return profile(model, load_data(source, model, target=target))


def run(model: ModelSpec, config: LintConfig, data: Optional[DataProfile] = None) -> list[Diagnostic]:
    """Run every selected rule over a loaded spec (and ``data``, for the data-aware rules), drop suppressed
    findings, and locate the rest."""
    return [diagnostic for diagnostic, _ in located(model, config, data)]


def located(
    model: ModelSpec, config: LintConfig, data: Optional[DataProfile] = None
) -> list[tuple[Diagnostic, Optional[Finding]]]:
    """``run``'s diagnostics, each with the rule's finding it reports (None for a problem of the configuration,
    such as an unknown code in an ignore comment): `lint --fix` edits at the finding's spec path."""
    doc = model.document
    problems: list[Diagnostic] = []
    ignored = _spec_ignores(model, problems)
    inline = _inline_ignores(model, problems)
    spans = _layer_spans(model) if inline else {}
    subject = Subject(model, data)
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
            diagnostic = Diagnostic(
                file, line, column, code, rule.name, level, finding.message, finding.hint, finding.layer, uses
            )
            found.append((diagnostic, finding))
    pairs = [(problem, None) for problem in problems] + found
    return sorted(pairs, key=lambda pair: (pair[0].line, pair[0].column, pair[0].code))


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


def layer_ignores(model: ModelSpec) -> dict[str, set[str]]:
    """Layer name -> the rule codes that inline ignore comments suppress for the whole layer, as ``run`` applies
    them: on its entry's lines (in `layers:`, or in its block's definition, in whichever file) and on the lines of
    the uses that put it there. `modelspec expand` writes them on the layer's line of the flat spec."""
    inline = _inline_ignores(model, [])  # an unknown code in a comment is lint's to report
    if not inline:
        return {}
    found = {}
    for name, (file, first, last) in _layer_spans(model).items():
        codes = {
            code for (f, number), named in inline.items() if f == file and first <= number <= last for code in named
        }
        for use in model.document.place(model.analysis.layers[name].path)[3]:
            codes |= inline.get((use.path, use.line), set())
        if codes:
            found[name] = codes
    return found


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
    paths: Iterable[Union[str, os.PathLike]],
    config: LintConfig = DEFAULT_CONFIG,
    *,
    specs_only: bool = False,
    overrides: Sequence[Union[str, Vary]] = (),
    data: Optional[Union[str, os.PathLike]] = None,
    target=None,
) -> LintResult:
    """Load and lint every spec under ``paths``; invalid or unreadable files contribute their errors.
    ``overrides`` (``--set PATH=VALUE``) are set in each spec, as for ``lint``; ``data`` (``--data``) is read and
    checked against each spec (``target``: a CSV's target column, as `--target`), and the data-aware rules judge it
    (a ``DataError`` stops the run).

    Raises ``SettingsError`` when a folder holds no spec file (a typo in CI would otherwise lint nothing), or when
    an override is malformed (before any file is read), names a layer a spec lacks or makes one invalid (the
    message names that file).
    """
    sets = parse_sets(overrides)
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
        model = overridden_file(path, model, sets)
        try:
            found = data_profile(model, data, target) if data is not None else None
        except DataError as exc:
            if exc.array is None:  # the data itself is unreadable: no place in the spec to point at
                raise
            result.diagnostics.append(data_mismatch(model, exc))
            continue
        result.diagnostics += run(model, config, found)
    return result


def data_mismatch(model: ModelSpec, exc: DataError) -> Diagnostic:
    """Data that `train` would refuse (``exc``: about one input or output), as a structural finding (exit 2) at the
    spec field it is about: the input, or the output layer's units."""
    name = exc.array
    if name in model.analysis.inputs:
        where = model.analysis.inputs[name].path
    else:
        where = Subject(model).field_path(model.analysis.layers[name], "units")
    file, line, column, uses = model.document.place(where)
    return error(file, line, column, str(exc), code=DATA_MISMATCH, layer=name, uses=uses,
                 hint="make the data fit the spec, or the spec the data (`train` refuses this data)")  # fmt: skip


def overridden_file(path: Path, model: ModelSpec, sets: Sequence[Vary]) -> ModelSpec:
    """``model`` (read from ``path``, one of several files) with every ``--set`` applied; a ``SettingsError`` names
    the file when one does not fit it (`validate` and `lint` apply the same options to every file they read)."""
    try:
        return overridden(model, sets)
    except SettingsError as exc:
        message = str(exc)  # "makes the spec invalid" locates its problems in the file: named already
        raise SettingsError(message if f"{path}:" in message else f"{path}: {message}") from None
