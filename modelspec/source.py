"""Read YAML safely, keeping the line and column of every node.

The YAML is read as an event stream (libyaml when available) and turned into plain dicts, lists and scalars
here, without PyYAML's constructors: no tag can build a Python object, duplicate keys are errors, and the size
of the file, the nesting depth and the number of nodes after alias expansion are capped before any of them can
cost real time or memory.

Scalars follow the YAML 1.2 core schema: only ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off``
stay strings), ``1:30`` is a string, not a sexagesimal number, and a decimal with a leading zero such as ``010``
is refused because YAML 1.1 reads it as octal 8 and YAML 1.2 as 10.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelspec.diagnostics import SpecError, error

Location = tuple[int, int]
SpecPath = tuple[Any, ...]


@dataclass(frozen=True)
class Limits:
    """Caps on what one spec file may cost to read. See docs/security.md."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 100_000
    max_number_chars: int = 64


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    """A parsed YAML file: plain data plus the position of every key and value."""

    path: str
    text: str
    data: dict
    key_locations: dict[SpecPath, Location] = field(default_factory=dict)
    value_locations: dict[SpecPath, Location] = field(default_factory=dict)

    def locate(self, path: SpecPath) -> Location:
        """Return the 1-based (line, column) of ``path``, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path:
            if path in self.key_locations:
                return self.key_locations[path]
            if path in self.value_locations:
                return self.value_locations[path]
            path = path[:-1]
        return self.value_locations.get((), (1, 1))

    def value_location(self, path: SpecPath) -> Location:
        """Return where the value at ``path`` starts (falls back to ``locate``)."""
        return self.value_locations.get(tuple(path)) or self.locate(path)


# --- scalar resolution (YAML 1.2 core schema) -------------------------------------------------------------

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + name for name in ("str", "int", "float", "bool", "null", "map", "seq")}


class _Fatal(Exception):
    def __init__(self, location: Location, message: str, hint: str | None = None):
        super().__init__(message)
        self.location = location
        self.message = message
        self.hint = hint


def _loc(mark) -> Location:
    return (mark.line + 1, mark.column + 1)


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _resolve_plain(text: str, location: Location, limits: Limits) -> Any:
    """Resolve a plain (unquoted) scalar the way the YAML 1.2 core schema does."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if len(text) > limits.max_number_chars and (_INT.match(text) or _FLOAT.match(text)):
        raise _Fatal(location, f"number has {len(text)} characters; at most {limits.max_number_chars} are allowed")
    if _INT.match(text):
        if _LEADING_ZERO.match(text):
            raise _Fatal(
                location,
                f"ambiguous number {text!r}: YAML 1.1 reads it as octal, YAML 1.2 as decimal",
                hint=f"write {int(text)} for decimal or 0o{text.lstrip('+-0') or '0'} for octal",
            )
        return int(text)
    if _INT_OCT.match(text):
        return int(text[2:], 8)
    if _INT_HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _scalar(event, limits: Limits) -> Any:
    location = _loc(event.start_mark)
    tag = event.tag
    plain = event.style is None or event.style == ""
    if tag in (None, "!") and (plain and event.implicit[0]):
        return _resolve_plain(event.value, location, limits)
    if tag in (None, "!"):
        return event.value
    if tag not in _ALLOWED_TAGS:
        raise _Fatal(
            location,
            f"YAML tag {_show_tag(tag)!r} is not allowed: a spec is plain data, so only the core tags "
            "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) are accepted",
        )
    if tag == _CORE + "str":
        return event.value
    value = _resolve_plain(event.value, location, limits)
    expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[tag[len(_CORE):]]
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise _Fatal(location, f"{event.value!r} is not a valid {_show_tag(tag)}")
    return float(value) if tag == _CORE + "float" else value


# --- the event walk -----------------------------------------------------------------------------------------

@dataclass
class _Frame:
    container: dict | list
    path: SpecPath
    anchor: str | None
    nodes_at_start: int
    key: Any = None
    has_key: bool = False


def _parser(text: str):
    loader_cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return loader_cls(text)


def _walk(text: str, doc: Document, limits: Limits, problems: list) -> Any:
    """Turn the event stream into data; fatal problems raise, recoverable ones are appended to ``problems``."""
    loader = _parser(text)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    seen_keys: dict[SpecPath, dict[str, Location]] = {}
    nodes = 0
    documents = 0
    root: Any = None
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Fatal(_loc(event.start_mark), "a spec file holds one YAML document; found a second")
                continue
            if not isinstance(event, (yaml.NodeEvent, yaml.CollectionEndEvent)):
                continue
            location = _loc(event.start_mark)

            if isinstance(event, yaml.CollectionEndEvent):
                frame = stack.pop()
                if frame.anchor:
                    anchors[frame.anchor] = (frame.container, nodes - frame.nodes_at_start)
                value, child_location = frame.container, None
            else:
                nodes += 1
                if isinstance(event, yaml.AliasEvent):
                    if event.anchor not in anchors:
                        raise _Fatal(location, f"alias *{event.anchor} refers to no finished anchor (undefined or recursive)")
                    value, size = anchors[event.anchor]
                    nodes += size - 1
                elif isinstance(event, yaml.ScalarEvent):
                    value = _scalar(event, limits)
                elif event.tag not in (None, "!") and event.tag not in _ALLOWED_TAGS:
                    raise _Fatal(location, f"YAML tag {_show_tag(event.tag)!r} is not allowed: a spec is plain data")
                else:
                    value = {} if isinstance(event, yaml.MappingStartEvent) else []
                if nodes > limits.max_nodes:
                    raise _Fatal(location, f"the document expands to more than {limits.max_nodes:,} nodes "
                                           "(aliases counted at every use)")
                child_location = location

            parent = stack[-1] if stack else None
            # A scalar in key position of a mapping is a key, not a value.
            if isinstance(parent and parent.container, dict) and not parent.has_key and child_location is not None:
                if not isinstance(event, yaml.ScalarEvent):
                    raise _Fatal(location, "mapping keys must be plain strings")
                if not isinstance(value, str):
                    shown = yaml.safe_dump(value).strip().removesuffix("...").strip()
                    raise _Fatal(location, f"mapping keys must be strings (received: {shown})",
                                 hint=f"quote the key: '{event.value}'")
                if value == "<<" and event.implicit[0]:
                    raise _Fatal(location, "merge keys ('<<') are not supported; repeat the fields or use `defaults:`")
                seen = seen_keys.setdefault(parent.path, {})
                if value in seen:
                    line = seen[value][0]
                    problems.append((location, f"duplicate key '{value}' (first defined on line {line})"))
                else:
                    seen[value] = location
                    doc.key_locations[parent.path + (value,)] = location
                parent.key, parent.has_key = value, True
                continue

            if parent is None:
                path: SpecPath = ()
            elif isinstance(parent.container, dict):
                path = parent.path + (parent.key,)
            else:
                path = parent.path + (len(parent.container),)

            if child_location is not None:
                doc.value_locations[path] = child_location
                if isinstance(event, yaml.CollectionStartEvent):
                    if len(stack) >= limits.max_depth:
                        raise _Fatal(location, f"nesting is deeper than {limits.max_depth} levels")
                    stack.append(_Frame(value, path, event.anchor, nodes))
                    continue
                if getattr(event, "anchor", None) and isinstance(event, yaml.ScalarEvent):
                    anchors[event.anchor] = (value, 1)

            if parent is None:
                root = value
            elif isinstance(parent.container, dict):
                parent.container.setdefault(parent.key, value)  # a duplicate key keeps its first value
                parent.has_key = False
            else:
                parent.container.append(value)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or str(exc)
        if exc.context:
            message = f"{message} ({exc.context})"
        raise _Fatal(_loc(mark) if mark else (1, 1), f"invalid YAML: {message}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise _Fatal((line, column), f"invalid YAML: character {exc.character!r} is not allowed") from None
    except yaml.YAMLError as exc:
        raise _Fatal((1, 1), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _Fatal((1, 1), f"nesting is deeper than {limits.max_depth} levels") from None
    return root


def parse(text: str, path: str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse YAML text into a ``Document``; raise ``SpecError`` for anything that is not one safe mapping."""
    doc = Document(path=path, text=text, data={})
    problems: list = []
    if len(text) > limits.max_bytes:
        raise SpecError([error(path, 1, 1, f"file is larger than {limits.max_bytes:,} bytes")])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SpecError([error(path, line, 1, "file contains NUL bytes: not a YAML text file")])
    try:
        root = _walk(text, doc, limits, problems)
    except _Fatal as fatal:
        raise SpecError([error(path, *fatal.location, fatal.message, hint=fatal.hint)]) from None
    if problems:
        raise SpecError([error(path, *loc, message) for loc, message in problems])
    if root is None:
        raise SpecError([error(path, 1, 1, "the file is empty; a spec is a mapping with `modelspec:` and `layers:`")])
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else f"a {type(root).__name__}"
        raise SpecError([error(path, *doc.value_locations.get((), (1, 1)),
                               f"a spec must be a mapping with `modelspec:` and `layers:` (received: {kind})")])
    doc.data = root
    return doc


def decode(raw: bytes, path: str) -> str:
    """Decode UTF-8 bytes (a BOM is allowed), reporting the position of the first bad byte."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start:exc.start + 1].hex()
        raise SpecError([error(path, line, column, f"file is not valid UTF-8 (byte 0x{bad})")]) from None


def read(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read and parse a spec file; every failure, including I/O, becomes a ``SpecError``."""
    shown = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise SpecError([error(shown, 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([error(shown, 1, 1, "is a directory, not a spec file")]) from None
    except OSError as exc:
        raise SpecError([error(shown, 1, 1, f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > limits.max_bytes:
        raise SpecError([error(shown, 1, 1, f"file is larger than {limits.max_bytes:,} bytes")])
    if b"\x00" in raw:
        raise SpecError([error(shown, 1, 1, "file contains NUL bytes: not a YAML text file")])
    return parse(decode(raw, shown), shown, limits)
