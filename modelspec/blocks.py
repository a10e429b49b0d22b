"""Blocks: named, parameterised sub-graphs of a spec, expanded into the flat `layers:` list before validation.

A spec may define ``blocks:`` (NAME -> ``{params, layers, description}``) and use them wherever a layer may stand,
as ``{block: NAME, name: USE, repeat: N, start: K, inputs: [...], PARAM: VALUE, ...}``. ``expand`` turns such a
document into the flat one every later step reads (schema, analysis, lint, build): the same data a person would
have written by hand, with every value located where it was written — a layer of a block at its line in the
block's definition, a value that came from a parameter at the use that gave it — and each expanded layer
remembering the uses that put it there (``Document.origins``), so that every finding can name both places.

Names: a use's prefix is ``USE_`` (``USE{i}_`` when repeated, ``i`` counting from ``start``, default 1), appended
to the enclosing use's prefix; a layer's expanded name is the prefix plus its local name (an unnamed layer's local
name is its type, ``type_1`` for the second of a type in the block). So ``{block: identity, name: conv2_block,
repeat: 3}`` whose definition uses ``{block: conv_bn, name: "1"}``, whose layer is ``conv``, gives
``conv2_block1_1_conv`` ... ``conv2_block3_1_conv``: Keras's ResNet names. A use without ``name:`` adds no prefix.

Expansion is bounded (docs/security.md): at most ``Limits.max_layers`` expanded layers, ``Limits.max_nodes``
expanded values, ``Limits.max_block_nesting`` nested uses and ``Limits.max_repeat`` copies of a use; it stops at
the first bound passed.
Pure Python; no TensorFlow.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from modelspec import source
from modelspec.analysis.graph import auto_names
from modelspec.analysis.shapes import show_shape
from modelspec.diagnostics import UNKNOWN_REFERENCE, Diagnostic, SpecError, Use, did_you_mean, error
from modelspec.schema.base import canonical_name
from modelspec.schema.layers import LAYER_ALIASES, LAYER_TYPES
from modelspec.validation_errors import spec_path_text

USE_KEYS = ("block", "name", "repeat", "start", "inputs")  # a use's own keys; every other key is a parameter
BLOCK_KEYS = ("description", "params", "layers")
INPUT, INPUTS = "input", "inputs"  # `$input`, `$inputs`: what the use receives
PARAMETER = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SpecPath = source.SpecPath


@dataclass(frozen=True)
class Repeated:
    """A use with ``repeat``: where it stands, the block, and each repetition's (first, last) expanded layer."""

    path: SpecPath
    block: str
    copies: tuple[tuple[int, int], ...]


@dataclass
class _Cell:
    """A reference inside a block (an `inputs:` entry), resolved once every layer of its scope is named."""

    scope: dict  # local name -> expanded name or _At
    name: Any


@dataclass(frozen=True)
class _At:
    """The expanded layer at an index of the flat list (its name is known only when every layer is named);
    -1 stands for the model's first input."""

    index: int


Ref = Union[str, _Cell, _At]


@dataclass
class _Scope:
    """One use being expanded: its prefix, parameter values, inputs, and the uses around it."""

    prefix: str
    values: dict  # parameter -> (value, path where it was written, uses around that place or None: this use's)
    inputs: Optional[list]  # the use's explicit inputs (refs), or None: the previous layer
    first: int  # the flat index of the use's first layer
    uses: tuple[Use, ...]
    block: str
    parent: Optional[_Scope] = None
    local: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)

    def input_refs(self) -> list:
        return list(self.inputs) if self.inputs is not None else [_At(self.first - 1)]


class _Expansion:
    """Walks `layers:` once, writing the flat list with its locations and origins; collects every problem."""

    def __init__(self, doc: source.Document, blocks: dict, limits: source.Limits):
        self.doc = doc
        self.blocks = blocks
        self.limits = limits
        self.layers: list = []
        self.key_locations: dict = {}
        self.value_locations: dict = {}
        self.origins: dict = {}
        self.repeats: list[Repeated] = []
        self.problems: list[Diagnostic] = []
        self.nodes = 0
        self.stack: list[str] = []
        self.cells: list[tuple[list, int]] = []  # (container, index) holding a _Cell or _At
        self._index = _LocationIndex(doc)

    # --- problems -------------------------------------------------------------------------------------------

    def fail(self, path: SpecPath, message: str, *, uses=(), code=None, hint=None, layer=None) -> None:
        file, line, column, outer = self.doc.place(path)
        self.problems.append(
            error(
                file,
                line,
                column,
                message,
                code=code or ("MS001", "invalid-spec"),
                hint=hint,
                layer=layer,
                uses=tuple(uses) + outer,
            )
        )

    # --- walking --------------------------------------------------------------------------------------------

    def items(self, items: list, path: SpecPath, scope: Optional[_Scope]) -> None:
        """Expand one `layers:` list (the spec's, or a block's for ``scope``)."""
        for index, item in enumerate(items):
            at = path + (index,)
            if isinstance(item, dict) and "block" in item:
                self.use(item, at, scope)
            else:
                self.layer(item, at, scope)
            if len(self.problems) > 50 or self.over:
                return

    @property
    def over(self) -> bool:
        return len(self.layers) > self.limits.max_layers or self.nodes > self.limits.max_nodes

    def layer(self, item: Any, at: SpecPath, scope: Optional[_Scope]) -> None:
        index = len(self.layers)
        target = ("layers", index)
        self._index.copy(at, target, self)
        self.origins[target] = (self.doc.place(at)[0], scope.uses if scope else ())
        if not isinstance(item, dict):
            self.layers.append(item)  # the schema says what is wrong with it
            return
        item = self.substitute(item, at, target, scope)
        if scope is not None:
            self.name_in_scope(item, scope)
            if "inputs" not in item and index == scope.first and scope.inputs is not None:
                item["inputs"] = list(scope.inputs)
        self.hold_cells(item)
        self.layers.append(item)

    def name_in_scope(self, item: dict, scope: _Scope) -> None:
        local = item.get("name")
        if local is None:
            if not scope.prefix:
                return
            kind = item.get("type")
            count = scope.counters.get(kind, 0)
            scope.counters[kind] = count + 1
            local = f"{kind}" if count == 0 else f"{kind}_{count}"
        elif not isinstance(local, (str, int)) or isinstance(local, bool):
            return
        full = scope.prefix + str(local)
        item["name"] = full
        # every enclosing block may refer to it by its name relative to that block: `3_bn` in the block that uses
        # `{block: conv_bn, name: "3"}`, whose layer is `bn`
        outer: Optional[_Scope] = scope
        while outer is not None and full.startswith(outer.prefix):
            outer.local.setdefault(full[len(outer.prefix) :], full)
            outer = outer.parent

    def use(self, item: dict, at: SpecPath, scope: Optional[_Scope]) -> None:
        """Expand one use: each copy of the block's layers, named with the use's prefix."""
        values = self.substitute(dict(item), at, None, scope)
        name, definition = self.definition(values, at, scope)
        given = None if definition is None else self.parameters(values, item, definition, name, at, scope)
        numbers = None if given is None else self.numbers(values, name, at, scope)
        if numbers is None:
            return
        file, line, column, _ = self.doc.place(at)
        uses = (Use(name, file, line, column), *(scope.uses if scope else ()))
        inputs = self.use_inputs(values, scope)
        outer_prefix = scope.prefix if scope else ""
        prefix_name = values.get("name")
        copies = []
        self.stack.append(name)
        for number in numbers:
            prefix = outer_prefix
            if prefix_name is not None:
                prefix += f"{prefix_name}{number if 'repeat' in values else ''}_"
            first = len(self.layers)
            inner = _Scope(prefix, given, inputs if number == numbers.start else None, first, uses, name, scope)
            self.items(definition["layers"], ("blocks", name, "layers"), inner)
            copies.append((first, len(self.layers) - 1))
            if self.problems or self.over:
                break
        self.stack.pop()
        if scope is not None and prefix_name is not None and self.layers:
            scope.local[str(prefix_name)] = _At(len(self.layers) - 1)
        if len(numbers) > 1:
            self.repeats.append(Repeated(at, name, tuple(copies)))

    def definition(self, values: dict, at: SpecPath, scope: Optional[_Scope]) -> tuple[str, Optional[dict]]:
        name = values.get("block")
        uses = scope.uses if scope else ()
        if not isinstance(name, str) or name not in self.blocks:
            shown = name if isinstance(name, str) else repr(name)
            known = ", ".join(sorted(self.blocks)) or "none (define them under `blocks:`)"
            self.fail(
                at + ("block",),
                f"unknown block '{shown}'{did_you_mean(shown, self.blocks)}",
                uses=uses,
                code=UNKNOWN_REFERENCE,
                hint=f"the spec's blocks: {known}",
            )
            return str(name), None
        if name in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(name) :], name])
            self.fail(at + ("block",), f"block '{name}' uses itself ({chain}): blocks cannot be recursive", uses=uses)
            return name, None
        return name, self.blocks[name]

    def parameters(self, values: dict, raw: dict, definition: dict, name: str, at: SpecPath, scope) -> Optional[dict]:
        """Parameter -> (value, where it was written, the uses around that place); None after a problem."""
        params = definition.get("params") or {}
        uses = scope.uses if scope else ()
        given = {}
        ok = True
        for key, value in values.items():
            if key in USE_KEYS:
                continue
            if key not in params:
                known = ", ".join(params) or "none"
                self.fail(
                    at + (key,),
                    f"block '{name}' has no parameter '{key}'{did_you_mean(key, params)}",
                    uses=uses,
                    hint=f"its parameters: {known}",
                )
                ok = False
                continue
            passed = PARAMETER.match(raw[key]) if isinstance(raw[key], str) else None
            if passed and scope is not None and passed.group(1) in scope.values:  # handed down: where it was written
                given[key] = (value, *scope.values[passed.group(1)][1:])
            else:
                given[key] = (value, at + (key,), uses)
        for key, default in params.items():
            if key in given:
                continue
            if default is None:
                self.fail(at, f"the use of block '{name}' must set its parameter '{key}'", uses=uses)
                ok = False
            else:
                given[key] = (default, ("blocks", name, "params", key), None)  # None: the uses of this block
        return given if ok else None

    def numbers(self, values: dict, name: str, at: SpecPath, scope) -> Optional[range]:
        """The numbers of the use's copies (``range(start, start + repeat)``); None after a problem."""
        uses = scope.uses if scope else ()
        repeat, start = values.get("repeat", 1), values.get("start", 1)
        most = self.limits.max_repeat
        if not _is_int(repeat) or not 1 <= repeat <= most:
            problem = (("repeat",), f"repeat must be a whole number from 1 to {most:,} (received: {repeat!r})")
        elif "start" in values and "repeat" not in values:
            problem = (("start",), "`start` numbers the copies of a use with `repeat`; add `repeat:`")
        elif not _is_int(start) or start < 0:
            problem = (("start",), f"start must be a whole number, 0 or more (received: {start!r})")
        elif repeat > 1 and values.get("name") is None:
            problem = (("repeat",), f"a use of block '{name}' with `repeat` needs a `name:` (its layers' prefix)")
        elif len(self.stack) >= self.limits.max_block_nesting:
            problem = ((), f"blocks are nested more than {self.limits.max_block_nesting} deep (block '{name}')")
        else:
            return range(start, start + repeat)
        self.fail(at + problem[0], problem[1], uses=uses)
        return None

    def use_inputs(self, values: dict, scope) -> Optional[list]:
        """The use's explicit inputs; a use that opens its block takes the inputs the block received."""
        if "inputs" not in values:
            return scope.inputs if scope is not None and len(self.layers) == scope.first else None
        inputs = values["inputs"]
        return list(inputs) if isinstance(inputs, list) else [inputs]

    # --- values ---------------------------------------------------------------------------------------------

    def substitute(self, item: dict, at: SpecPath, target, scope: Optional[_Scope]) -> dict:
        """A copy of ``item`` with every `$NAME` replaced; inputs inside a block become cells of its scope."""
        copied = {}
        self.nodes += len(item)
        for key, value in item.items():
            cls = value.__class__
            if cls is int or cls is float or value is None or cls is bool or cls is str and value[:1] != "$":
                copied[key] = value  # the common case: a plain value, nothing to replace or copy
            else:
                copied[key] = self.value(value, at + (key,), None if target is None else target + (key,), scope)
        if scope is not None and "inputs" in copied:
            copied["inputs"] = self.references(copied["inputs"], scope)
        return copied

    def value(self, value: Any, at: SpecPath, target, scope: Optional[_Scope]) -> Any:
        self.nodes += 1
        if isinstance(value, str) and value.startswith("$"):
            return self.parameter(value, at, target, scope)
        if isinstance(value, dict):
            return {
                k: self.value(v, at + (k,), None if target is None else target + (k,), scope) for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.value(v, at + (n,), None if target is None else target + (n,), scope) for n, v in enumerate(value)
            ]
        return value

    def parameter(self, text: str, at: SpecPath, target, scope: Optional[_Scope]) -> Any:
        match = PARAMETER.match(text)
        if match is None:
            return text
        name = match.group(1)
        if scope is None:
            self.fail(at, f"'{text}' names a block parameter, but this is not inside a block's definition")
            return None
        if name in (INPUT, INPUTS):
            refs = scope.input_refs()
            if name == INPUT and len(refs) != 1:
                self.fail(
                    at,
                    f"$input stands for one layer, but this use of block '{scope.block}' receives "
                    f"{len(refs)}: write $inputs",
                    uses=scope.uses,
                )
            return refs[0] if name == INPUT else refs
        if name not in scope.values:
            known = ", ".join(["$" + p for p in scope.values] + ["$input", "$inputs"])
            self.fail(
                at,
                f"block '{scope.block}' has no parameter '{name}'{did_you_mean(name, scope.values)}",
                uses=scope.uses,
                hint=f"declare it under blocks.{scope.block}.params, or use one of: {known}",
            )
            return None
        value, where, uses = scope.values[name]
        if target is not None:
            self._index.copy_value(where, target, self, isinstance(value, (dict, list)))
            self.origins[target] = (self.doc.place(where)[0], scope.uses if uses is None else uses)
        return _copy(value)

    def references(self, inputs: Any, scope: _Scope) -> Any:
        if not isinstance(inputs, list):
            return inputs
        return [
            _Cell(scope.local, ref) if isinstance(ref, (str, int)) and not isinstance(ref, bool) else ref
            for ref in inputs
        ]

    def hold_cells(self, item: dict) -> None:
        inputs = item.get("inputs")
        if isinstance(inputs, list):
            self.cells += [(inputs, n) for n, ref in enumerate(inputs) if isinstance(ref, (_Cell, _At))]

    # --- finishing ------------------------------------------------------------------------------------------

    def resolve(self, inputs: list[str]) -> None:
        """Replace every cell with the expanded name it stands for, once every layer is named."""
        names = _names(self.layers, set(inputs))
        model_input = inputs[0] if inputs else "input"
        for container, n in self.cells:
            ref = container[n]
            while isinstance(ref, _Cell):
                ref = ref.scope.get(str(ref.name), str(ref.name) if isinstance(ref.name, int) else ref.name)
            if isinstance(ref, _At):
                ref = model_input if ref.index < 0 else names[ref.index]
            container[n] = ref


class _LocationIndex:
    """The document's locations grouped by the layer (or block layer) they belong to, for copying to a target."""

    def __init__(self, doc: source.Document):
        self.doc = doc
        self.groups: dict = {}
        for kind, locations in (("key", doc.key_locations), ("value", doc.value_locations)):
            for path, location in locations.items():
                head = _head(path)
                if head is not None:
                    self.groups.setdefault(head, []).append((kind, path[len(head) :], location))

    def copy(self, layer: SpecPath, target: SpecPath, expansion: _Expansion) -> None:
        """Locate the layer at ``target`` and everything in it where the layer at ``layer`` was written."""
        entries = self.groups.get(layer, ())
        expansion.nodes += len(entries)
        keys, values = expansion.key_locations, expansion.value_locations
        for kind, suffix, location in entries:
            (keys if kind == "key" else values)[target + suffix] = location

    def copy_value(self, written: SpecPath, target: SpecPath, expansion: _Expansion, nested: bool) -> None:
        """Locate the value at ``target`` (everything in it, when ``nested``) where the value at ``written`` was."""
        keys, values = expansion.key_locations, expansion.value_locations
        for ours, theirs in ((keys, self.doc.key_locations), (values, self.doc.value_locations)):
            if written in theirs:
                ours[target] = theirs[written]
        head = _head(written)
        if nested and head is not None:
            rest = written[len(head) :]
            for kind, suffix, location in self.groups.get(head, ()):
                if len(suffix) > len(rest) and suffix[: len(rest)] == rest:
                    (keys if kind == "key" else values)[target + suffix[len(rest) :]] = location
                    expansion.nodes += 1


def _head(path: SpecPath) -> Optional[SpecPath]:
    """The layer a location belongs to: ``("layers", i)`` or ``("blocks", NAME, "layers", i)``."""
    if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
        return path[:2]
    if len(path) >= 4 and path[0] == "blocks" and path[2] == "layers" and isinstance(path[3], int):
        return path[:4]
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _names(layers: list, taken: set[str]) -> list[str]:
    """Every expanded layer's name, unnamed ones as the analysis names them (`type`, `type_1`, ...)."""
    pairs = []
    for item in layers:
        item = item if isinstance(item, dict) else {}
        kind = item.get("type")
        with contextlib.suppress(Exception):  # an unknown type keeps its spelling; the schema reports it
            kind = canonical_name(kind, LAYER_TYPES, LAYER_ALIASES, "layer type")
        name = item.get("name")
        pairs.append((str(kind), name if isinstance(name, str) else None))
    return auto_names(pairs, taken)


def uses_blocks(data: dict) -> bool:
    """Whether a spec's data has `blocks:` or a use in `layers:` (else ``expand`` returns it as it is)."""
    layers = data.get("layers")
    return "blocks" in data or (
        isinstance(layers, list) and any(isinstance(item, dict) and "block" in item for item in layers)
    )


def expand(doc: source.Document, limits: Optional[source.Limits] = None) -> source.Document:
    """The flat document of ``doc``: every use of a block replaced by the block's layers (see the module's doc).

    ``doc`` itself when it has no blocks. The result's ``raw`` is ``doc``; its ``repeats`` lists each repeated use.

    Raises:
        SpecError: every problem with the blocks and their uses (unknown block or parameter, missing parameter,
            recursion, a bound passed), located at the definition and naming the use.
    """
    if not uses_blocks(doc.data):
        return doc
    limits = limits or source.Limits.from_env()
    blocks = _definitions(doc)
    layers = doc.data.get("layers")
    expansion = _Expansion(doc, blocks, limits)
    if isinstance(layers, list):
        expansion.items(layers, ("layers",), None)
    if len(expansion.layers) > limits.max_layers:
        raise SpecError(
            [
                _bound(
                    doc,
                    f"the blocks expand to more than {limits.max_layers:,} layers",
                    "raise the limit with the MODELSPEC_MAX_LAYERS environment variable",
                )
            ]
        )
    if expansion.nodes > limits.max_nodes:
        raise SpecError([_bound(doc, f"the blocks expand to more than {limits.max_nodes:,} values", None)])
    if expansion.problems:
        raise SpecError(_once(expansion.problems))
    expansion.resolve(_input_names(doc.data))
    data = {}
    for key, value in doc.data.items():
        if key == "blocks":
            continue
        data[key] = expansion.layers if key == "layers" else value
    kept = lambda path: not path or path[0] not in ("blocks", "layers") or path == ("layers",)  # noqa: E731
    key_locations = {p: loc for p, loc in doc.key_locations.items() if kept(p)} | expansion.key_locations
    value_locations = {p: loc for p, loc in doc.value_locations.items() if kept(p)} | expansion.value_locations
    origins = {p: o for p, o in doc.origins.items() if kept(p)}
    for path, (file, uses) in expansion.origins.items():
        origins[path] = source.Origin(file, tuple(uses))
    return source.Document(
        doc.path,
        doc.text,
        data,
        key_locations,
        value_locations,
        list(doc.problems),
        edited=doc.edited,
        origins=origins,
        texts=dict(doc.texts),
        raw=doc,
        repeats=tuple(expansion.repeats),
    )


def _once(problems: list[Diagnostic]) -> list[Diagnostic]:
    """Each problem once: a mistake in a block's definition is reported with the first use that met it."""
    seen: dict = {}
    for problem in problems:
        seen.setdefault((problem.path, problem.line, problem.column, problem.message), problem)
    return list(seen.values())


def _bound(doc: source.Document, message: str, hint: Optional[str]) -> Diagnostic:
    line, column = doc.locate(("layers",))
    return error(doc.path, line, column, message, hint=hint)


def _input_names(data: dict) -> list[str]:
    """The model's input names as the analysis gives them (`input`, `input_1`, ... when unnamed)."""
    inputs = data.get("inputs") if isinstance(data.get("inputs"), list) else [data.get("input")]
    names = []
    for n, item in enumerate(inputs):
        name = item.get("name") if isinstance(item, dict) else None
        names.append(name if isinstance(name, str) else "input" if n == 0 else f"input_{n}")
    return names


def keeps_shape(received, given) -> bool:
    """Whether a block that turns shape ``received`` into ``given`` may be repeated: the same rank and the same axes
    but the last. The last axis (units, channels) may change — a stack of dense layers widens its input in the
    first copy, a DenseNet block adds channels in every one — but a copy that pools, strides, flattens or reshapes
    would make each copy see another input than the one written."""
    return len(received) == len(given) and tuple(received[:-1]) == tuple(given[:-1])


def repeat_problems(doc: source.Document, analysis) -> list[Diagnostic]:
    """A repeated use whose block changes the shape it receives beyond its last axis (``keeps_shape``)."""
    problems = []
    by_index = {info.index: info for info in analysis.layers.values()}
    for repeated in doc.repeats:
        for number, (first, last) in enumerate(repeated.copies):
            head, tail = by_index.get(first), by_index.get(last)
            if head is None or tail is None or len(head.input_shapes) != 1:
                continue
            received, given = head.input_shapes[0], tail.output_shape
            if received is None or given is None or keeps_shape(received, given):
                continue
            file, line, column, uses = (doc.raw or doc).place(repeated.path + ("repeat",))
            problems.append(
                error(
                    file,
                    line,
                    column,
                    f"block '{repeated.block}' is repeated, but copy {number + 1} turns shape {show_shape(received)} "
                    f"into {show_shape(given)}: a repeated block must keep the shape it receives (only the last axis, "
                    "units or channels, may change)",
                    code=("MS002", "shape-mismatch"),
                    layer=spec_path_text(repeated.path),
                    uses=uses,
                    hint="use the block once for the step that changes the shape, then repeat it for the rest",
                )
            )
            break
    return problems


def _definitions(doc: source.Document) -> dict:
    """The `blocks:` mapping, checked for shape (each a mapping with `layers:`, known keys, named parameters)."""
    blocks = doc.data.get("blocks") or {}
    problems: list[Diagnostic] = []

    def fail(path, message, hint=None):
        problems.append(doc.error(path, message, hint=hint))

    if not isinstance(blocks, dict):
        fail(("blocks",), "`blocks:` must be a mapping of block names to definitions")
        raise SpecError(problems)
    for name, definition in blocks.items():
        _check_definition(name, definition, fail)
    if problems:
        raise SpecError(problems)
    return blocks


def _check_definition(name: str, definition: Any, fail) -> None:
    at = ("blocks", name)
    if not IDENTIFIER.match(name.replace("-", "_").replace(".", "_")):
        fail(at, f"block name '{name}' must start with a letter and hold letters, digits, '_', '.' or '-'")
    if not isinstance(definition, dict):
        fail(at, f"block '{name}' must be a mapping with `params:` and `layers:`")
        return
    for key in definition:
        if key not in BLOCK_KEYS:
            fail(
                at + (key,),
                f"unknown field '{key}' in block '{name}'{did_you_mean(key, BLOCK_KEYS)}",
                hint="a block has `layers:`, and may have `params:` and `description:`",
            )
    layers = definition.get("layers")
    if not isinstance(layers, list) or not layers:
        where = at if layers is None else at + ("layers",)
        fail(where, f"block '{name}' needs `layers:`, a list of at least one layer or use")
    params = definition.get("params") or {}
    if not isinstance(params, dict):
        fail(at + ("params",), f"`params:` of block '{name}' must map parameter names to defaults (null: required)")
        return
    for param in params:
        if not IDENTIFIER.match(param):
            fail(at + ("params", param), f"parameter name '{param}' must be an identifier (letters, digits, '_')")
        elif param in USE_KEYS or param in (INPUT, INPUTS):
            fail(at + ("params", param), f"'{param}' is reserved in a use; choose another parameter name")
