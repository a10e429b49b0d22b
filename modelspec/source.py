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
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import yaml

from modelspec.diagnostics import INVALID_SPEC, Diagnostic, SpecError, error

Location = tuple[int, int]
SpecPath = tuple[Any, ...]


@dataclass(frozen=True)
class Limits:
    """Caps on what one spec file may cost to read. See docs/security.md.

    ``max_bytes`` and ``max_layers`` are the ones a legitimate spec may reach; ``from_env`` lets a user raise
    them with ``MODELSPEC_MAX_FILE_BYTES`` and ``MODELSPEC_MAX_LAYERS``. The others only stop hostile input.
    """

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 200_000
    max_number_chars: int = 64
    max_string_chars: int = 4096
    max_layers: int = 10_000  # also after blocks are expanded
    max_block_nesting: int = 16  # uses of blocks inside blocks
    max_repeat: int = 1024  # copies of one use
    max_extends: int = 16  # files in an `extends:` chain

    @classmethod
    def from_env(cls, environ=None) -> Limits:
        """Return the default limits, with ``MODELSPEC_MAX_FILE_BYTES`` / ``MODELSPEC_MAX_LAYERS`` applied.

        Raises:
            SpecError: a variable is set but is not a positive integer.
        """
        environ = os.environ if environ is None else environ
        changes = {}
        for variable, name in ENV_VARIABLES.items():
            text = environ.get(variable)
            if text is None or text.strip() == "":
                continue
            if not text.strip().isdigit() or int(text) < 1:
                raise SpecError(
                    [
                        error(
                            variable,
                            1,
                            1,
                            f"environment variable {variable} must be a positive integer (received: {text!r})",
                        )
                    ]
                )
            changes[name] = int(text)
        return cls(**changes) if changes else DEFAULT_LIMITS


# Environment variables that raise (or lower) the limits a legitimate spec may reach, and the field each sets.
ENV_VARIABLES = {"MODELSPEC_MAX_FILE_BYTES": "max_bytes", "MODELSPEC_MAX_LAYERS": "max_layers"}
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Origin:
    """Where a part of a composed or expanded document was written: its file, and the block uses that put it
    there (innermost first; empty outside blocks)."""

    file: str
    uses: tuple = ()


@dataclass
class Document:
    """A parsed YAML file: plain data plus the position of every key and value.

    ``problems`` holds what was wrong but did not stop the reading (a duplicate key, whose first value is kept):
    ``loader.from_document`` reports them together with the validation errors, so that one run shows them all.
    ``edited``: ``data`` was changed after reading (`--set`, a `--vary` variant): ``text`` is still the file whose
    lines the locations and inline ignores refer to, but no longer what ``data`` holds.

    A document composed from several files (`extends:`) or expanded from blocks also has ``origins``: spec path ->
    ``Origin`` for the parts written elsewhere than ``path`` or put there by a block's use (the nearest ancestor
    counts, see ``place``); ``texts``: the other files' text, for their inline ignores; ``raw``: the document as
    written, before the blocks were expanded (`--set blocks...` edits it); ``repeats``: the uses with ``repeat``.
    """

    path: str
    text: str
    data: dict
    key_locations: dict[SpecPath, Location] = field(default_factory=dict)
    value_locations: dict[SpecPath, Location] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    edited: bool = False
    origins: dict[SpecPath, Origin] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    raw: Optional[Document] = None
    repeats: tuple = ()

    def place(self, path: SpecPath) -> tuple[str, int, int, tuple]:
        """Return (file, line, column, block uses) of ``path``: ``locate`` and the origin of its nearest ancestor."""
        line, column = self.locate(path)
        if self.origins:
            path = tuple(path)
            for end in range(len(path), -1, -1):
                origin = self.origins.get(path[:end])
                if origin is not None:
                    return origin.file, line, column, origin.uses
        return self.path, line, column, ()

    def edited_copy(self, data: dict) -> Document:
        """This document holding ``data`` (`--set`, a `--vary` variant): the same file, lines, origins and inline
        ignores; ``edited``, since ``text`` no longer holds ``data``."""
        return replace(
            self,
            data=data,
            key_locations=dict(self.key_locations),
            value_locations=dict(self.value_locations),
            problems=[],
            edited=True,
            origins=dict(self.origins),
            texts=dict(self.texts),
        )

    def error(self, path: SpecPath, message: str, *, code=INVALID_SPEC, layer=None, hint=None) -> Diagnostic:
        """An error-level diagnostic at ``path``: in the file it was written in, naming the block uses."""
        file, line, column, uses = self.place(path)
        return error(file, line, column, message, code=code, layer=layer, hint=hint, uses=uses)

    def text_of(self, file: str) -> str:
        """The text of ``file``, this document's own or one it was composed from."""
        return self.text if file == self.path else self.texts.get(file, "")

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


class _OverLimit(_Fatal):
    """A cap of ``Limits`` was passed: reported before any parser error found later in the text."""


def _loc(mark) -> Location:
    return (mark.line + 1, mark.column + 1)


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


# First characters that may start a null, boolean or number; any other plain scalar is a string.
_MAYBE_TYPED = frozenset("~nNtTfF0123456789+-.")
_NOT_NUMERIC = frozenset("~nNtTfF")  # of those, the ones that start no number


def _resolve_plain(text: str, location: Location, limits: Limits) -> Any:
    """Resolve a plain (unquoted) scalar the way the YAML 1.2 core schema does."""
    if text and text[0] not in _MAYBE_TYPED:
        return text
    if (
        text.isascii()
        and text.isdigit()
        and len(text) <= limits.max_number_chars
        and (text[0] != "0" or len(text) == 1)
    ):
        return int(text)  # the common case, a plain decimal integer, without the regular expressions below
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if text[0] in _NOT_NUMERIC:
        return text  # `tanh`, `float32`: a letter that starts no null or boolean starts no number either
    return _number(text, location, limits)


def _number(text: str, location: Location, limits: Limits) -> Any:
    """Resolve a plain scalar that is not null or a boolean: a number of the core schema, else a string."""
    if len(text) > limits.max_number_chars and (
        _INT.match(text) or _FLOAT.match(text) or _INT_HEX.match(text) or _INT_OCT.match(text)
    ):
        raise _OverLimit(location, f"number has {len(text)} characters; at most {limits.max_number_chars} are allowed")
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


def _scalar(event, location: Location, limits: Limits) -> Any:
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
    expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[tag[len(_CORE) :]]
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise _Fatal(location, f"{event.value!r} is not a valid {_show_tag(tag)}")
    return float(value) if tag == _CORE + "float" else value


# C0 and C1 control characters (newline and tab included), Unicode line separators and bidirectional
# overrides. Strings and keys are echoed in diagnostics: in a terminal or a CI log such characters could forge
# lines (GitHub workflow commands such as `::error::`), recolour output or reorder text ("Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _check_string(value: str, location: Location, limits: Limits) -> None:
    """Refuse strings that are absurdly long or hold characters that would be unsafe to print back."""
    if value.isprintable() and len(value) <= limits.max_string_chars:
        return  # fast path: everything _UNPRINTABLE matches is also unprintable to Python
    if len(value) > limits.max_string_chars:
        raise _OverLimit(
            location, f"string has {len(value):,} characters; at most {limits.max_string_chars:,} are allowed"
        )
    bad = _UNPRINTABLE.search(value)
    if bad:
        raise _Fatal(
            location,
            f"string contains the control character U+{ord(bad.group()):04X}; spec strings "
            "are names and short words, so control, line-separator and bidirectional "
            "characters are refused",
            hint="write the string on one line" if bad.group() == "\n" else None,
        )


def _check_key(event, value: Any, location: Location) -> None:
    """Mapping keys are plain strings; merge keys are refused."""
    if event.__class__ is not _SCALAR:
        raise _Fatal(location, "mapping keys must be plain strings")
    if not isinstance(value, str):
        shown = yaml.safe_dump(value).strip().removesuffix("...").strip()
        raise _Fatal(
            location, f"mapping keys must be strings (received: {shown})", hint=f"quote the key: '{event.value}'"
        )
    if value == "<<" and event.implicit[0]:
        raise _Fatal(location, "merge keys ('<<') are not supported; repeat the fields or use `defaults:`")


# --- the event walk -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    container: Any  # dict or list
    path: SpecPath
    anchor: Optional[str]
    nodes_at_start: int
    is_map: bool
    key: Any = None
    has_key: bool = False
    seen: Optional[dict] = None  # a mapping's keys so far -> where they stand, for duplicate-key errors


def _parser(text: str):
    loader_cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return loader_cls(text)


_SCALAR, _ALIAS = yaml.ScalarEvent, yaml.AliasEvent
_MAP_START, _SEQ_START = yaml.MappingStartEvent, yaml.SequenceStartEvent
_MAP_END, _SEQ_END = yaml.MappingEndEvent, yaml.SequenceEndEvent


# One flat loop over the event stream on purpose: this is the measured hot path of every load (docs/security.md,
# benchmarks/validate_speed.py); splitting it into a function per event kind costs a call per YAML node.
def _walk(text: str, doc: Document, limits: Limits, problems: list) -> Any:  # noqa: C901
    """Turn the event stream into data; fatal problems raise, recoverable ones are appended to ``problems``.

    One flat loop over the events (no recursion, so no depth can overflow the stack), dispatching on the
    event's class; this loop is the hot path of `modelspec validate` and `lint`.
    """
    loader = _parser(text)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    key_locations, value_locations = doc.key_locations, doc.value_locations
    max_nodes = limits.max_nodes
    nodes = documents = 0
    root: Any = None
    mark = None  # the start of the last node event: where a parser error is judged from
    try:
        while (event := loader.get_event()) is not None:
            cls = event.__class__
            if cls is _MAP_END or cls is _SEQ_END:
                frame = stack.pop()
                if frame.anchor:
                    anchors[frame.anchor] = (frame.container, nodes - frame.nodes_at_start)
                value, location = frame.container, None
            elif cls is _SCALAR or cls is _ALIAS or cls is _MAP_START or cls is _SEQ_START:
                mark = event.start_mark
                location = (mark.line + 1, mark.column + 1)
                nodes += 1
                if cls is _SCALAR:
                    raw, style = event.value, event.style
                    if event.tag is not None:
                        value = _scalar(event, location, limits)
                    elif (style is None or style == "") and (not raw or raw[0] in _MAYBE_TYPED):
                        value = _resolve_plain(raw, location, limits)
                    else:
                        value = raw  # quoted, or plain text that cannot be a null, boolean or number
                    if value.__class__ is str:
                        _check_string(value, location, limits)
                elif cls is _ALIAS:
                    if event.anchor not in anchors:
                        raise _Fatal(
                            location, f"alias *{event.anchor} refers to no finished anchor (undefined or recursive)"
                        )
                    value, size = anchors[event.anchor]
                    nodes += size - 1
                elif event.tag not in (None, "!") and event.tag not in _ALLOWED_TAGS:
                    raise _Fatal(location, f"YAML tag {_show_tag(event.tag)!r} is not allowed: a spec is plain data")
                else:
                    value = {} if cls is _MAP_START else []
                if nodes > max_nodes:
                    raise _OverLimit(
                        location,
                        f"the document expands to more than {limits.max_nodes:,} nodes (aliases counted at every use)",
                    )
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Fatal(_loc(event.start_mark), "a spec file holds one YAML document; found a second")
                if event.version is not None and tuple(event.version) != (1, 2):
                    raise _Fatal(
                        _loc(event.start_mark),
                        f"%YAML {'.'.join(map(str, event.version))} directive: modelspec reads every spec "
                        "as YAML 1.2 (core schema) and will not apply YAML 1.1 rules such as yes/no "
                        "booleans or 010 as octal",
                        hint="remove the %YAML line, or write %YAML 1.2",
                    )
                continue
            else:
                continue

            parent = stack[-1] if stack else None
            if parent is not None and parent.is_map and not parent.has_key:
                if location is None:
                    continue  # cannot happen: a mapping closes only after a value
                if cls is not _SCALAR or value.__class__ is not str or value == "<<":
                    _check_key(event, value, location)
                seen = parent.seen
                if value in seen:
                    problems.append((location, f"duplicate key '{value}' (first defined on line {seen[value][0]})"))
                else:
                    seen[value] = location
                    key_locations[parent.path + (value,)] = location
                parent.key, parent.has_key = value, True
                continue

            if parent is None:
                path: SpecPath = ()
            elif parent.is_map:
                path = parent.path + (parent.key,)
            else:
                path = parent.path + (len(parent.container),)

            if location is not None:
                value_locations[path] = location
                if cls is _MAP_START or cls is _SEQ_START:
                    if len(stack) >= limits.max_depth:
                        raise _OverLimit(location, f"nesting is deeper than {limits.max_depth} levels")
                    is_map = cls is _MAP_START
                    stack.append(_Frame(value, path, event.anchor, nodes, is_map, seen={} if is_map else None))
                    continue
                if cls is _SCALAR and event.anchor:
                    anchors[event.anchor] = (value, 1)

            if parent is None:
                root = value
            elif parent.is_map:
                parent.container.setdefault(parent.key, value)  # a duplicate key keeps its first value
                parent.has_key = False
            else:
                parent.container.append(value)
    except yaml.MarkedYAMLError as exc:
        if exc.problem_mark is not None:
            # From the last node the walk saw (not its bracket: the walk counted that one) to where the parser stopped.
            start = 0 if mark is None else mark.index + (text[mark.index : mark.index + 1] in ("[", "{"))
            passed = _flow_depth_passed(text, start, exc.problem_mark.index, len(stack), limits.max_depth)
            if passed is not None:
                raise _OverLimit(_position(text, passed), f"nesting is deeper than {limits.max_depth} levels") from None
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or str(exc)
        if exc.context:
            message = f"{message} ({exc.context})"
        raise _Fatal(_loc(mark) if mark else (1, 1), f"invalid YAML: {message}") from None
    except yaml.reader.ReaderError as exc:
        raise _Fatal(
            _position(text, exc.position), f"invalid YAML: character {exc.character!r} is not allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise _Fatal((1, 1), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _Fatal((1, 1), f"nesting is deeper than {limits.max_depth} levels") from None
    return root


# What can open or close a flow collection, and what hides brackets from that count: a quoted scalar, a comment.
_FLOW_BRACKETS = re.compile(r"""[\[\]{}]|(?<![^\s\[{,:])(?:'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|#[^\n]*)""")


def _flow_depth_passed(text: str, start: int, end: int, depth: int, max_depth: int) -> Optional[int]:
    """Return the index in ``text[start:end]`` where flow nesting, from ``depth``, passes ``max_depth``; else None.

    libyaml scans up to 1,024 characters ahead (for a possible implicit key) before it hands over the events, so
    its own nesting cap (1,000 levels in the libyaml of PyYAML 6.0.4) can stop the parser before our walk has seen
    ``max_depth`` levels. When the parser gives up, the brackets between the last event the walk saw and where
    the parser stopped are counted here, so that our cap answers whichever PyYAML is installed. The count is
    approximate (a quote inside a plain word is taken as opening a string), which is enough: the two caps are
    far apart, and it only chooses which of two refusals to report.
    """
    for match in _FLOW_BRACKETS.finditer(text, start, min(end, len(text))):
        character = match.group()[0]
        if character in "[{":
            depth += 1
            if depth > max_depth:
                return match.start()
        elif character in "]}":
            depth -= 1
    return None


def _position(text: str, index: int) -> Location:
    """Return the 1-based (line, column) of a character index."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


# NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR: YAML (1.1, as PyYAML reads it) breaks lines on them, so every
# reported line number after one would disagree with what a reviewer sees. Refused anywhere in the file. Lone
# surrogates cannot come from a decoded file, but a Python string may hold them and libyaml cannot encode them.
_ODD_CHARACTER = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


def parse(text: str, path: str = "<string>", limits: Optional[Limits] = None) -> Document:
    """Parse YAML text into a ``Document``; raise ``SpecError`` for anything that is not one safe mapping.

    ``limits`` defaults to ``Limits.from_env()``.
    """
    limits = limits or Limits.from_env()
    doc = Document(path=path, text=text, data={})
    problems: list = []
    if len(text) > limits.max_bytes:
        raise SpecError([error(path, 1, 1, f"file is larger than {limits.max_bytes:,} bytes")])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SpecError([error(path, line, 1, "file contains NUL bytes: not a YAML text file")])
    odd = _ODD_CHARACTER.search(text)
    if odd:
        start, character = odd.start(), ord(odd.group())
        line, column = _position(text, start)
        problem = (
            f"text contains the lone surrogate U+{character:04X}: not valid Unicode"
            if 0xD800 <= character <= 0xDFFF
            else f"file contains U+{character:04X}, which YAML reads as a line break but most editors do not show"
        )
        raise SpecError([error(path, line, column, problem)])
    try:
        root = _walk(text, doc, limits, problems)
    except _Fatal as fatal:
        raise SpecError([error(path, *fatal.location, fatal.message, hint=fatal.hint)]) from None
    doc.problems = [error(path, *loc, message) for loc, message in problems]
    if root is None:
        raise SpecError([error(path, 1, 1, "the file is empty; a spec is a mapping with `modelspec:` and `layers:`")])
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else f"a {type(root).__name__}"
        raise SpecError(
            [
                error(
                    path,
                    *doc.value_locations.get((), (1, 1)),
                    f"a spec must be a mapping with `modelspec:` and `layers:` (received: {kind})",
                )
            ]
        )
    layers = root.get("layers")
    if isinstance(layers, list) and len(layers) > limits.max_layers:
        line, column = doc.locate(("layers",))
        raise SpecError(
            [
                error(
                    path,
                    line,
                    column,
                    f"the spec has {len(layers):,} layers; at most {limits.max_layers:,} are allowed",
                    layer="layers",
                    hint="raise the limit with the MODELSPEC_MAX_LAYERS environment variable",
                )
            ]
        )
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
        bad = raw[exc.start : exc.start + 1].hex()
        raise SpecError([error(path, line, column, f"file is not valid UTF-8 (byte 0x{bad})")]) from None


def read(path: str | os.PathLike, limits: Optional[Limits] = None) -> Document:
    """Read and parse a spec file; every failure, including I/O, becomes a ``SpecError``.

    ``limits`` defaults to ``Limits.from_env()``.
    """
    limits = limits or Limits.from_env()
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
        raise SpecError(
            [
                error(
                    shown,
                    1,
                    1,
                    f"file is larger than {limits.max_bytes:,} bytes",
                    hint="raise the limit with the MODELSPEC_MAX_FILE_BYTES environment variable",
                )
            ]
        )
    if b"\x00" in raw:
        raise SpecError([error(shown, 1, 1, "file contains NUL bytes: not a YAML text file")])
    return parse(decode(raw, shown), shown, limits)
