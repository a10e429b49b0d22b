"""The three properties every `modelspec.fix` result must have (issue 18, point 3), checked from the outside.

Shared by tests/test_fix_properties.py (generated specs) and tests/test_fix_corpus.py (the shipped specs and the
rule docs' examples). Each check reads the texts itself, with PyYAML's composer for node spans and the project's
reader for the data, and trusts nothing the engine says except which paths it declared (``FixResult.applied``):

(a) preserved: the reloaded data equals the original except at the declared paths (key order included), and the
    text differs from the original only on the lines of the nodes at those paths: every other line, comments and
    blank lines included, is byte-identical and in order; every comment of the original is still there, unless
    it stood on the line of an entry the fix removed;
(b) idempotent: fixing the fixed text changes nothing;
(c) the fixed text validates, its lint has none of the fixed findings (same code at the same path), and the
    result's ``remaining`` is that lint.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import yaml

import modelspec
from modelspec import source
from modelspec.loader import from_document

Path = tuple


# --- spans of the original text --------------------------------------------------------------------------------


def node_end_line(node) -> int:
    """The 0-based last line that holds part of ``node`` (a flow collection or scalar: its end mark; a block
    collection: the last line of its last child)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    children = [value for _, value in node.value] if isinstance(node, yaml.MappingNode) else list(node.value)
    keys = [key for key, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    lines = [node_end_line(child) for child in children + keys]
    return max(lines, default=node.start_mark.line)


def spans(text: str) -> dict[Path, tuple[int, int]]:
    """Path -> (first, last) 0-based line of every node of ``text`` (an entry of a mapping from its key's line),
    blank lines at the end trimmed."""
    lines = text.splitlines()
    found: dict[Path, tuple[int, int]] = {}

    def walk(node, path, first):
        last = node_end_line(node)
        while last > first and last < len(lines) and not lines[last].strip():
            last -= 1
        found[path] = (first, last)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, path + (key.value,), min(key.start_mark.line, value.start_mark.line))
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                walk(value, path + (index,), value.start_mark.line)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, (), root.start_mark.line)
    return found


def region(known: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int]:
    """The lines of the node at ``path``, or of its nearest ancestor that exists (a key the fix adds)."""
    path = tuple(path)
    while path not in known:
        path = path[:-1]
    return known[path]


# --- (a) the data and the text outside the edits ----------------------------------------------------------------


def same(a, b) -> bool:
    """Equal data, types included (True is not 1), mapping key order included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN


def under(paths, prefix: Path) -> bool:
    return any(tuple(path[: len(prefix)]) == prefix for path in paths)


def equal_except(a, b, paths: set, prefix: Path = ()) -> bool:
    """Whether ``a`` and ``b`` are the same data except at ``paths`` (a path may be one that ``b`` no longer has,
    or one that ``a`` did not have): keys and list entries only there may be added or removed."""
    if prefix in paths:
        return True
    if not under(paths, prefix):
        return same(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        kept_a = [key for key in a if prefix + (key,) not in paths]
        kept_b = [key for key in b if prefix + (key,) not in paths]
        return kept_a == kept_b and all(equal_except(a[key], b[key], paths, prefix + (key,)) for key in kept_a)
    if isinstance(a, list) and isinstance(b, list):
        return list_equal_except(a, b, paths, prefix)
    return False


def list_equal_except(a: list, b: list, paths: set, prefix: Path) -> bool:
    """Lists equal except at ``paths``: entries removed from ``a`` (or added to ``b``) only at declared indices."""
    declared = sorted({path[len(prefix)] for path in paths if len(path) > len(prefix) and under([path], prefix)})
    declared = [index for index in declared if isinstance(index, int)]
    longer, shorter, removed_from_a = (a, b, True) if len(a) >= len(b) else (b, a, False)
    extra = len(longer) - len(shorter)
    for gone in itertools.combinations([i for i in declared if i < len(longer)], extra):
        kept = [i for i in range(len(longer)) if i not in gone]
        pairs = [(longer[i], shorter[j], i) for j, i in enumerate(kept)]
        if all(
            equal_except(x, y, paths, prefix + (i,)) if removed_from_a else equal_except(y, x, paths, prefix + (i,))
            for x, y, i in pairs
        ):
            return True
    return False


def outside_edits(
    original: str, fixed: str, touched: list[tuple[int, int]], loose: frozenset = frozenset()
) -> str | None:
    """None when ``fixed`` is ``original`` with only the ``touched`` line ranges replaced (and lines added next to
    them, or next to a ``loose`` line: one that must stay, but a line may be added before or after it); else a
    description of the first run of untouched lines that is not in the fixed text, in order."""
    lines = original.splitlines(keepends=True)
    inside = {number for first, last in touched for number in range(first, last + 1)}
    runs: list[list[int]] = []  # runs of consecutive untouched line numbers
    for number in range(len(lines)):
        if number in inside:
            continue
        if runs and runs[-1][-1] == number - 1 and number not in loose and number - 1 not in loose:
            runs[-1].append(number)
        else:
            runs.append([number])
    position = 0
    for run in runs:
        segment = "".join(lines[number] for number in run)
        found = fixed.find(segment, position)
        if run[0] == 0 and found != 0:
            found = -1  # the first lines stay first
        if run[-1] == len(lines) - 1 and not (
            found >= 0 and fixed.endswith(segment) and len(fixed) - len(segment) >= position
        ):
            found = -1  # the last lines stay last
        if found < 0:
            return f"the original's lines {run[0] + 1}..{run[-1] + 1} are not in the fixed text, in place"
        position = found + len(segment)
    return None


def after_regions(text: str, regions: list[tuple[int, int]]) -> frozenset:
    """The blank and comment-only lines right after each region (of a mapping a key is added to): the new line may
    go among them (after a blank line, before a trailing comment), as long as each of them stays."""
    lines = text.splitlines()
    loose = set()
    for _, last in regions:
        number = last + 1
        while number < len(lines) and (not lines[number].strip() or lines[number].lstrip().startswith("#")):
            loose.add(number)
            number += 1
    return frozenset(loose)


COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def comments(text: str) -> list[tuple[int, str]]:
    """(0-based line, comment) of every comment of ``text``, read with PyYAML's scanner's view of what is a
    comment: a `#` after whitespace outside a scalar (the generated texts put no `#` inside quotes)."""
    found = []
    for number, line in enumerate(text.splitlines()):
        if "'" in line.split("#")[0] or '"' in line.split("#")[0]:
            stripped = re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"", lambda m: " " * len(m.group()), line)
        else:
            stripped = line
        match = COMMENT.search(stripped)
        if match:
            found.append((number, line[match.start(1) :]))
    return found


@dataclass(frozen=True)
class Checked:
    """What a check saw: the fix, and the data of the original and fixed text."""

    result: object
    original: dict
    fixed: dict


def check_preserved(text: str, result, name: str = "<spec>") -> Checked:
    """Property (a). Raises AssertionError naming what changed where it should not."""
    paths = {tuple(fix.path) for fix in result.applied}
    original = source.parse(text, name).data
    fixed = source.parse(result.text, name).data
    assert equal_except(original, fixed, paths), (
        f"data changed outside the declared paths {sorted(paths, key=str)}:\n{text}\n---- fixed:\n{result.text}"
    )
    if not paths:
        assert result.text == text, "nothing applied, yet the text changed"
        return Checked(result, original, fixed)
    known = spans(text)
    touched = [region(known, path) for path in paths]
    added = [region(known, path) for path in paths if path not in known]
    problem = outside_edits(text, result.text, touched, after_regions(text, added))
    assert problem is None, (
        f"{problem} (edits declared at {sorted(paths, key=str)}):\n{text}\n---- fixed:\n{result.text}"
    )
    removed = [known[path] for path in paths if path in known and not exists(fixed, path)]
    gone_lines = {line for first, last in removed for line in range(first, last + 1)}
    kept = [comment for line, comment in comments(text) if line not in gone_lines]
    left = [comment for _, comment in comments(result.text)]
    for comment in kept:
        assert comment in left, f"comment {comment!r} lost:\n{text}\n---- fixed:\n{result.text}"
        left.remove(comment)
    return Checked(result, original, fixed)


def exists(data, path: Path) -> bool:
    for part in path:
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_list or (isinstance(data, dict) and part in data):
            data = data[part]
        else:
            return False
    return True


# --- (b) and (c) -------------------------------------------------------------------------------------------------


def check_idempotent(result, *, name: str = "<spec>", unsafe: bool) -> None:
    """Property (b): fixing the fixed text again changes nothing."""
    again = modelspec.fix(result.text, path=name, unsafe=unsafe)
    assert again.text == result.text, f"a second fix changed the text:\n{result.text}\n---- again:\n{again.text}"
    assert not again.applied and not again.changed, again.applied


def check_fixed_findings_gone(text: str, result, *, name: str = "<spec>") -> list:
    """Property (c): the fixed text validates; its lint has none of the applied fixes' findings (the same code at
    the same path: a finding of the original located at the fix's path or at an ancestor of it, looked for at
    that path in the fixed text); ``remaining`` is that lint. Returns the lint."""
    document = source.parse(result.text, name)
    after = modelspec.lint(from_document(document))  # validates (or raises SpecError), then lints
    before_document = source.parse(text, name)
    before = {(d.code, d.line, d.column) for d in modelspec.lint(from_document(before_document))}
    places = {(d.code, d.line, d.column) for d in after}
    for fix in result.applied:
        path = tuple(fix.path)
        if not exists(document.data, path):
            continue  # the fix removed what the finding was about
        for end in range(len(path), -1, -1):
            if (fix.code, *before_document.locate(path[:end])) in before:
                where = document.locate(path[:end])
                assert (fix.code, *where) not in places, (
                    f"{fix.code} at {path[:end]} was fixed, yet lint still reports it at {where}:\n{result.text}"
                )
                break
    remaining = sorted((d.code, d.line, d.column, d.message) for d in result.remaining)
    assert remaining == sorted((d.code, d.line, d.column, d.message) for d in after), "remaining is not the lint"
    return after


def check_all(text: str, *, name: str = "<spec>", unsafe: bool):
    """Fix ``text`` and check the three properties; return the FixResult."""
    result = modelspec.fix(text, path=name, unsafe=unsafe)
    assert result.changed == (result.text != text)
    allowed = {"safe", "unsafe"} if unsafe else {"safe"}
    for fix in result.applied:
        assert fix.applicability in allowed, fix
    check_preserved(text, result, name)
    check_idempotent(result, name=name, unsafe=unsafe)
    check_fixed_findings_gone(text, result, name=name)
    return result
