"""Where every node of a YAML text starts and ends, as character offsets: what an edit needs and the reader
(modelspec/source.py, which records starts only, on its hot path) does not keep.

Read only by `lint --fix`, once per file and round, after ``source.parse`` has accepted the text: the walk
here does not check anything the reader checks (tags, sizes, duplicate keys), it only measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

SCALAR, MAPPING, SEQUENCE, ALIAS = "scalar", "mapping", "sequence", "alias"


@dataclass
class Node:
    """One node: its kind, its text span [start, end), and for a value in a mapping, its key's span.

    ``flow``: written in flow style (``{...}``, ``[...]``); ``style``: a scalar's quoting (None plain, ``'``,
    ``"``, ``|``, ``>``); ``anchored``: the node or one around it has an anchor (an alias may repeat it, so an
    edit there would change more than one place); ``children``: a collection's child paths, in order.
    """

    kind: str
    start: int
    end: int
    line: int
    column: int
    flow: bool = False
    style: Optional[str] = None
    anchored: bool = False
    key_start: Optional[int] = None
    key_end: Optional[int] = None
    children: list = field(default_factory=list)


SpanPath = tuple[Any, ...]


@dataclass
class Spans:
    """The nodes of a text by path (as ``source.Document`` paths), and by (line, column) of their start."""

    text: str
    nodes: dict[SpanPath, Node]
    at: dict[tuple[int, int], SpanPath]

    def line_start(self, index: int) -> int:
        """The offset of the first character of the line holding ``index``."""
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """The offset just after the newline that ends the line holding ``index`` (the text's end if none)."""
        found = self.text.find("\n", index)
        return len(self.text) if found < 0 else found + 1


def _offsets(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def measure(text: str) -> Spans:  # noqa: C901 - one flat walk over the events, as source._walk
    """Return the spans of every node of ``text`` (a text ``source.parse`` accepted)."""
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    parser = loader(text)
    lines = _offsets(text)

    def offset(mark) -> int:
        return lines[mark.line] + mark.column if mark.line < len(lines) else len(text)

    nodes: dict[SpanPath, Node] = {}
    at: dict[tuple[int, int], SpanPath] = {}
    # a frame: [path, node, is_map, pending key (name, start, end) or None, anchored]
    stack: list[list] = []
    try:
        while (event := parser.get_event()) is not None:
            cls = event.__class__
            if cls in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                path, node, *_ = stack.pop()
                if node.flow:
                    node.end = offset(event.end_mark)
                else:  # a block collection ends where its last child does (not at the next token)
                    node.end = max((nodes[child].end for child in node.children), default=node.start)
                _finish(stack, nodes, path)
                continue
            if cls not in (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent):
                continue
            start, end = offset(event.start_mark), offset(event.end_mark)
            parent = stack[-1] if stack else None
            if parent is not None and parent[2] and parent[3] is None:
                parent[3] = (event.value, start, end)  # a key (the reader refused every key but a string)
                continue
            if parent is None:
                path: SpanPath = ()
            elif parent[2]:
                path = parent[0] + (parent[3][0],)
            else:
                path = parent[0] + (len(parent[1].children),)
            anchored = bool(getattr(event, "anchor", None)) or (parent is not None and parent[4])
            kind = {
                yaml.ScalarEvent: SCALAR,
                yaml.AliasEvent: ALIAS,
                yaml.MappingStartEvent: MAPPING,
                yaml.SequenceStartEvent: SEQUENCE,
            }[cls]
            node = Node(kind, start, end, event.start_mark.line + 1, event.start_mark.column + 1, anchored=anchored)
            if parent is not None and parent[2]:
                node.key_start, node.key_end = parent[3][1], parent[3][2]
            if cls is yaml.ScalarEvent:
                node.style = event.style or None
            if cls in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
                node.flow = bool(event.flow_style)
                nodes[path] = node
                at.setdefault((node.line, node.column), path)
                stack.append([path, node, cls is yaml.MappingStartEvent, None, anchored])
                continue
            nodes[path] = node
            at.setdefault((node.line, node.column), path)
            _finish(stack, nodes, path)
    except yaml.YAMLError:
        return Spans(text, {}, {})  # cannot happen for a text the reader accepted; no spans, so no edits
    return Spans(text, nodes, at)


def _finish(stack: list, nodes: dict, path: SpanPath) -> None:
    """Record ``path`` as the next child of the collection on top of the stack."""
    if stack:
        stack[-1][1].children.append(path)
        stack[-1][3] = None
