"""The three edits a fix may make to a spec's text, each at located spans, every other byte left as it is:
replace one value, add one key to a mapping (in the mapping's style), remove one entry (a key or a list item).

A ``Change`` says what to do in the data of the file (its raw paths, before `extends:` and blocks); ``edit``
turns it into a ``TextEdit`` (a span of the text and what replaces it), or raises ``Refused`` with the reason
when the text around it is not one this module can edit without touching something else.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from modelspec.fixing.spans import MAPPING, SCALAR, SEQUENCE, Node, SpanPath, Spans

SET, ADD, REMOVE = "set", "add", "remove"


class Refused(Exception):
    """An edit that cannot be made here without changing more than it should; the message says why."""


@dataclass(frozen=True)
class Change:
    """One change to a file's data: ``set`` the value at ``path`` (adding the key when its mapping lacks it),
    or ``remove`` the entry at ``path``. ``after``: for a key that is added, the key it goes after (else last)."""

    op: str
    path: SpanPath
    value: Any = None
    after: Optional[str] = None


@dataclass(frozen=True, order=True)
class TextEdit:
    """Replace ``text[start:end]`` with ``replacement`` (``start == end``: an insertion)."""

    start: int
    end: int
    replacement: str

    def overlaps(self, other: TextEdit) -> bool:
        """Whether the two edits touch the same text (two insertions at one place count: their order matters)."""
        if self == other:
            return False
        return self.start < other.end and other.start < self.end or self.start == other.start


# A plain scalar that reads back as the same string under the YAML 1.2 core schema: a name, a word.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_TYPED = re.compile(r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|\.inf|\.nan)$")


def scalar_text(value: Any, style: Optional[str] = None) -> str:
    """``value`` written as a YAML scalar: in ``style`` (the quote of the scalar it replaces) when it is a string
    that quotes can hold, else plain when plain reads back the same, else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise Refused(f"cannot write {value!r}")
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    if not isinstance(value, str):
        raise Refused(f"can only write a scalar, not {type(value).__name__}")
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value, ensure_ascii=False)
    if _PLAIN.match(value) and not _TYPED.match(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def edit(spans: Spans, change: Change) -> TextEdit:
    """The text edit that makes ``change``; raises ``Refused`` when it cannot be made in place."""
    if change.op == REMOVE:
        return _remove(spans, change.path)
    node = spans.nodes.get(change.path)
    if node is not None:
        return _replace(spans, node, change.value)
    parent = spans.nodes.get(change.path[:-1])
    if parent is None or parent.kind != MAPPING:
        raise Refused(f"no mapping at {_show(change.path[:-1])} to add `{change.path[-1]}` to")
    return _add(spans, change.path[:-1], parent, str(change.path[-1]), change.value, change.after)


def _show(path: SpanPath) -> str:
    return ".".join(str(part) for part in path) or "the top level"


def _guard(node: Node, what: str) -> None:
    if node.anchored:
        raise Refused(f"{what} has an anchor (or is inside one): an alias may repeat it elsewhere")


def _replace(spans: Spans, node: Node, value: Any) -> TextEdit:
    _guard(node, "the value")
    if node.kind == SCALAR:
        if node.style in ("|", ">"):
            raise Refused("the value is a block scalar (| or >)")
        return TextEdit(node.start, node.end, scalar_text(value, node.style))
    if node.kind in (MAPPING, SEQUENCE) and node.flow:
        return TextEdit(node.start, node.end, scalar_text(value))
    if node.kind in (MAPPING, SEQUENCE) and node.key_end is not None:
        # A block collection under a key: from just after `key:` to its last character, on the key's line.
        colon = spans.text.find(":", node.key_end)
        if colon < 0 or "#" in spans.text[colon : node.end]:
            raise Refused("the value is a block mapping with comments inside: replacing it would lose them")
        return TextEdit(colon + 1, node.end, " " + scalar_text(value))
    raise Refused("the value is not a scalar or a flow collection")


def _add(spans: Spans, path: SpanPath, parent: Node, key: str, value: Any, after: Optional[str]) -> TextEdit:
    _guard(parent, "the mapping")
    entry = f"{scalar_text(key)}: {scalar_text(value)}"
    children = [spans.nodes[child] for child in parent.children]
    if after is not None and path + (after,) in spans.nodes:
        index = parent.children.index(path + (after,))
    else:
        index = len(children) - 1
    if parent.flow:
        if not children:
            return TextEdit(parent.start + 1, parent.start + 1, entry)
        return TextEdit(children[index].end, children[index].end, ", " + entry)
    if not children:
        raise Refused("the mapping is empty")
    first = children[0]
    indent = first.key_start - spans.line_start(first.key_start)
    if spans.text[spans.line_start(first.key_start) : first.key_start].strip(" -") != "":
        raise Refused("the mapping's first key does not start its line")
    end = children[index].end
    where = spans.line_end(end - 1 if end > 0 and spans.text[end - 1] == "\n" else end)
    eol = "\r\n" if "\r\n" in spans.text else "\n"  # a new line ends as the file's lines do
    newline = "" if spans.text[:where].endswith("\n") or where == 0 else eol
    return TextEdit(where, where, newline + " " * indent + entry + eol)


def _remove(spans: Spans, path: SpanPath) -> TextEdit:
    node = spans.nodes.get(path)
    parent = spans.nodes.get(path[:-1])
    if node is None or parent is None:
        raise Refused(f"nothing at {_show(path)} to remove")
    _guard(node, "the entry")
    start = node.key_start if node.key_start is not None else node.start
    position = parent.children.index(path)
    siblings = [spans.nodes[child] for child in parent.children]
    text = spans.text
    if parent.flow:
        if len(siblings) == 1:
            return TextEdit(start, node.end, "")
        if position > 0:  # from the end of the entry before: `, seed: 3`
            return TextEdit(siblings[position - 1].end, node.end, "")
        after = siblings[1]
        return TextEdit(start, after.key_start if after.key_start is not None else after.start, "")
    # Block style: the entry's whole lines, when it has them to itself (a key alone before it on its line, or a
    # list item's `- `).
    lead = text[spans.line_start(start) : start].strip()
    if lead != ("" if node.key_start is not None else "-"):
        raise Refused("the entry does not start its line")
    line_start = spans.line_start(start)
    end = spans.line_end(max(node.end - 1, start))
    rest = text[node.end : end].strip()
    if rest and not rest.startswith("#"):
        raise Refused("something else follows the entry on its line")
    if len(siblings) == 1:
        raise Refused("the entry is the mapping's only one: removing it would change the mapping's type")
    if rest:  # a comment after the entry stays, on a line of its own at the entry's indentation
        newline = text[node.end : end][len(text[node.end : end].rstrip("\r\n")) :]
        return TextEdit(line_start, end, text[line_start:start].replace("-", " ") + rest + newline)
    return TextEdit(line_start, end, "")


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """``text`` with non-overlapping ``edits`` made, from the end backwards so that no offset moves."""
    for one in sorted(set(edits), reverse=True):
        text = text[: one.start] + one.replacement + text[one.end :]
    return text


def apply_changes(data: Any, changes: list[Change]) -> Any:
    """A copy of ``data`` with ``changes`` made (each once; list removals from the last index): what the text must
    read as."""
    data = copy.deepcopy(data)
    changes = [c for index, c in enumerate(changes) if c not in changes[:index]]  # the same change once
    removals = sorted((c for c in changes if c.op == REMOVE), key=lambda c: c.path, reverse=True)
    for change in [c for c in changes if c.op != REMOVE] + removals:
        target = data
        for part in change.path[:-1]:
            target = target[part]
        if change.op == REMOVE:
            del target[change.path[-1]]
        else:
            target[change.path[-1]] = change.value
    return data
