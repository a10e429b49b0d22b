"""Find the repeated parts of an imported graph and write them as blocks: `blocks:` definitions and uses with
`repeat` (the format: docs/blocks.md).

A *part* is a run of consecutive layers of the written order that takes one tensor from outside (the use's
`$input`) and whose other references stay inside it. Two parts are uses of one block when their layers have the
same types, the same wiring and, for named uses, the same names after their prefix (Keras names a block's layers
``conv2_block1_1_conv``, ``conv2_block1_1_bn``...: the prefix ``conv2_block1_`` is the use's, ``1_conv`` the
block's); the arguments that differ become the block's parameters. Parts come from two places:

- a name prefix ending in ``_`` that a run of layers shares (``conv2_block1_``, ``block_3_``, ``pool2_``); uses
  whose prefixes count up (``conv2_block2_``, ``conv2_block3_``) with the same arguments, each taking the last
  one's output, are one use with ``repeat`` (and ``start``);
- a short chain (2 to 4 layers, each taking the one before) whose names no prefix can give: Keras's names for
  layers it was given none for (``conv2d_57``, ``batch_normalization_57``, ``activation_57``), or names ending
  in one shared number (NASNet's cells): such a use has no `name:` and passes its layers' names as parameters.

The blocks are chosen greedily, the one that saves the most lines of spec first, among parts not yet taken;
ties go to the earliest part, so the result is deterministic. ``Blocked.flat()`` gives back the flat layers the
blocks and uses stand for: the import checks that it is the flat import, layer for layer.

Pure Python; no TensorFlow.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from modelspec.blocks import INPUT as INPUT_PARAMETER
from modelspec.blocks import INPUTS as INPUTS_PARAMETER
from modelspec.blocks import USE_KEYS, keeps_shape
from modelspec.importer import emit
from modelspec.importer.layers import field_default
from modelspec.schema.layers import LAYER_TYPES

MIN_SAVING = 4  # lines a block must save to be written (a block read once costs its reader more than it saves)
CHAIN_LENGTHS = (2, 3, 4)  # the chains of layers passing their names tried as blocks
_REPEATED = re.compile(r"^(.*[^0-9])(0|[1-9][0-9]*)_$")  # a prefix that counts: conv2_block3_ -> conv2_block, 3
_USE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")
_NUMBER = re.compile(r"_[0-9]+$")
# What a layer's name is called as a parameter of a block whose uses pass the names (a short word per type).
NAME_PARAMETER = {"conv2d": "conv", "batch_norm": "bn", "activation": "act", "depthwise_conv2d": "dwconv"}
INPUT = "$input"
_RESERVED = frozenset({*USE_KEYS, INPUT_PARAMETER, INPUTS_PARAMETER})  # a use's own keys: never a parameter


@dataclass(frozen=True)
class Item:
    """One layer of the flat import: its name, every layer it takes (in order), and its type and arguments."""

    name: str
    refs: tuple[str, ...]
    body: dict  # as written, without name and inputs: {"type": ..., argument: value, ...}
    class_named: bool = False  # named as Keras names a layer it was given no name for: conv2d_57


@dataclass
class Block:
    """A block definition: its parameters (name -> default; None: every use sets it) and its layers."""

    name: str
    params: dict
    layers: list[dict]  # as written: type, name (local, or "$param"), inputs (local names, "$input"), arguments


@dataclass
class Use:
    """A use of a block in `layers:`, standing for the flat layers ``first`` to ``end`` (exclusive)."""

    block: str
    name: Optional[str]  # the prefix without its "_" (or the repeated stem); None: the names are parameters
    repeat: int
    start: int
    values: dict  # parameter -> value, only those the use writes (the others take the block's default)
    input: str  # the layer it takes
    first: int
    end: int

    def written(self, previous: Optional[str]) -> dict:
        """The use as a `layers:` entry; ``previous`` is the output of the entry before it."""
        entry: dict[str, Any] = {"block": self.block}
        if self.name is not None:
            entry["name"] = self.name
        if self.repeat > 1:
            entry["repeat"] = self.repeat
            if self.start != 1:
                entry["start"] = self.start
        if self.input != previous:
            entry["inputs"] = [self.input]
        entry.update(self.values)
        return entry


@dataclass
class _Template:
    """What the parts of one group share: per layer its local name (or the parameter holding its name), its
    references (("local", j) or ("input",)), and its arguments (a value, or a parameter)."""

    locals: list[Any]  # str, or ("param", name)
    refs: list[tuple]
    bodies: list[dict]  # argument -> value, or ("param", name)
    params: dict = field(default_factory=dict)  # name -> default


@dataclass
class Blocked:
    """The flat import written with blocks: the definitions, and `layers:` as flat layers (their index in
    ``items``) and uses."""

    items: Sequence[Item]
    blocks: list[Block]
    entries: list[Union[int, Use]]
    first_input: Optional[str] = None  # what the first entry takes
    templates: dict = field(default_factory=dict)  # block name -> _Template

    def flat(self) -> list[Item]:
        """The flat layers that the entries stand for, uses instantiated from their block's template."""
        found: list[Item] = []
        for entry in self.entries:
            if isinstance(entry, int):
                found.append(self.items[entry])
                continue
            template = self.templates[entry.block]
            values = {**template.params, **entry.values}
            given = entry.input
            for number in range(entry.start, entry.start + entry.repeat):
                prefix = ""
                if entry.name is not None:
                    prefix = f"{entry.name}{number if entry.repeat > 1 else ''}_"
                copy = _instantiate(template, prefix, values, given)
                found.extend(copy)
                given = copy[-1].name
        return found


def _instantiate(template: _Template, prefix: str, values: dict, given: str) -> list[Item]:
    names = [prefix + local if isinstance(local, str) else values[local[1]] for local in template.locals]
    layers = []
    for j, body in enumerate(template.bodies):
        refs = tuple(given if ref == ("input",) else names[ref[1]] for ref in template.refs[j])
        written = {key: values[v[1]] if isinstance(v, tuple) else v for key, v in body.items()}
        layers.append(Item(names[j], refs, _minimal(written)))
    return layers


def _minimal(body: dict) -> dict:
    """``body`` without the arguments equal to the schema's default (as the flat import writes it)."""
    model = LAYER_TYPES[body["type"]]
    return {
        key: value
        for key, value in body.items()
        if key == "type" or key not in model.model_fields or value != field_default(model, key)
    }


# --- parts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    start: int
    end: int
    prefix: Optional[str]  # None: a chain whose names become parameters
    input: str


def _parts(items: Sequence[Item]) -> list[_Part]:
    """Every candidate part: the runs sharing a name prefix, and the short chains."""
    return _prefixed(items) + _chains(items)


def _prefixed(items: Sequence[Item]) -> list[_Part]:
    by_prefix: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        for cut, char in enumerate(item.name[:-1]):
            if char == "_":
                by_prefix.setdefault(item.name[: cut + 1], []).append(index)
    parts = []
    for prefix, indices in by_prefix.items():
        if len(indices) >= 2 and indices[-1] - indices[0] == len(indices) - 1:
            parts.append(_part(items, indices[0], indices[-1] + 1, prefix))
    return [part for part in parts if part is not None]


def _chains(items: Sequence[Item]) -> list[_Part]:
    """Chains of layers whose names a prefix cannot give (a person's names have a structure to keep)."""
    parts = []
    for length in CHAIN_LENGTHS:
        for start in range(len(items) - length + 1):
            if (
                len(items[start].refs) == 1
                and _numbered_alike(items[start : start + length])
                and all(items[start + j].refs == (items[start + j - 1].name,) for j in range(1, length))
            ):
                parts.append(_part(items, start, start + length, None))
    return [part for part in parts if part is not None]


def _numbered_alike(chain: Sequence[Item]) -> bool:
    """Whether the names of a chain are Keras's for unnamed layers (conv2d_57, batch_normalization_57), or end
    with one number (NASNet's cells: normal_bn_1_12, normal_relu_1_12...): names a block cannot prefix."""
    if all(item.class_named for item in chain):
        return True
    numbers = {_NUMBER.search(item.name).group(0) if _NUMBER.search(item.name) else None for item in chain}
    return len(numbers) == 1 and None not in numbers


def _part(items: Sequence[Item], start: int, end: int, prefix: Optional[str]) -> Optional[_Part]:
    inside = {items[i].name for i in range(start, end)}
    outside = {ref for i in range(start, end) for ref in items[i].refs if ref not in inside}
    if len(outside) != 1:
        return None
    return _Part(start, end, prefix, outside.pop())


def _signature(items: Sequence[Item], part: _Part) -> tuple:
    """What two parts must share to be uses of one block: types, local names (named parts) and wiring."""
    index = {items[i].name: i - part.start for i in range(part.start, part.end)}
    layers = []
    for i in range(part.start, part.end):
        item = items[i]
        local = item.name[len(part.prefix) :] if part.prefix is not None else None
        refs = tuple(index.get(ref, -1) for ref in item.refs)
        kind = (item.body["type"], item.body.get("class_name"))
        layers.append((local, kind, refs))
    return (part.prefix is None, tuple(layers))


# --- one group of parts as a block -------------------------------------------------------------------------


@dataclass
class _Plan:
    """A group of parts written as one block: its template, its uses, and the lines of spec that saves."""

    template: _Template
    uses: list[Use]
    saving: int
    parts: list[_Part]


def _values(items: Sequence[Item], part: _Part, keys: list[list[str]]) -> list[dict]:
    """Each layer's arguments over ``keys``, an absent one at the schema's default."""
    found = []
    for j, i in enumerate(range(part.start, part.end)):
        body = items[i].body
        model = LAYER_TYPES[body["type"]]
        found.append({key: body[key] if key in body else field_default(model, key) for key in keys[j]})
    return found


def _identifier(text: str) -> str:
    text = _NOT_IDENTIFIER.sub("_", text)
    return text if text[:1].isalpha() or text[:1] == "_" else "p" + text


def _template(items: Sequence[Item], parts: list[_Part]) -> tuple[_Template, list[dict]]:
    """The template the parts share and each part's parameter values."""
    first = parts[0]
    length = first.end - first.start
    keys = []
    for j in range(length):
        seen: dict[str, None] = {}
        for part in parts:
            seen.update(dict.fromkeys(k for k in items[part.start + j].body if k != "type"))
        keys.append(list(seen))
    values = [_values(items, part, keys) for part in parts]
    params: dict[str, tuple] = {}  # parameter -> its value in each part (as JSON, to compare)
    taken: dict[str, str] = {}  # the JSON of a value vector -> the parameter that holds it, per argument name
    bodies = []
    locals_: list[Any] = []
    for j in range(length):
        item = items[first.start + j]
        body: dict[str, Any] = {"type": item.body["type"]}
        for key in keys[j]:
            vector = tuple(json.dumps(v[j][key], sort_keys=True) for v in values)
            if len(set(vector)) == 1:
                body[key] = values[0][j][key]
                continue
            tag = f"{key}={json.dumps(vector)}"
            name = taken.get(tag)
            if name is None:
                name = key if key not in params else _identifier(f"{key}_{_local(item, first)}")
                while name in params or name in _RESERVED:
                    name += "_"
                params[name] = vector
                taken[tag] = name
            body[key] = ("param", name)
        bodies.append(body)
        if first.prefix is not None:
            locals_.append(item.name[len(first.prefix) :])
        else:
            name = NAME_PARAMETER.get(item.body["type"], _identifier(item.body["type"]))
            base, n = name, 2
            while name in params or name in _RESERVED:
                name, n = f"{base}{n}", n + 1
            params[name] = tuple(json.dumps(items[p.start + j].name) for p in parts)
            locals_.append(("param", name))
    index = {items[first.start + j].name: j for j in range(length)}
    refs = [
        tuple(("local", index[ref]) if ref in index else ("input",) for ref in items[first.start + j].refs)
        for j in range(length)
    ]
    named = [local[1] for local in locals_ if isinstance(local, tuple)]  # the names first: they say which use
    params = {**{name: params[name] for name in named}, **params}
    template = _Template(locals_, refs, bodies, dict.fromkeys(params))
    per_part = [{name: json.loads(vector[k]) for name, vector in params.items()} for k in range(len(parts))]
    return template, per_part


def _local(item: Item, part: _Part) -> str:
    return item.name[len(part.prefix) :] if part.prefix is not None else item.body["type"]


def _uses(flat: _Flat, parts: list[_Part], per_part: list[dict]) -> list[Use]:
    """The parts as uses: consecutive parts whose prefixes count up (conv2_block2_, conv2_block3_), with the same
    values, each taking the one before and keeping its shape, are one use with `repeat`; a counted prefix used
    once is the use's name (conv2_block1), not a repeat of one."""
    items = flat.items
    uses: list[Use] = []
    counted_uses: set[int] = set()  # uses with a counted prefix whose parts all keep their shape
    for part, values in zip(parts, per_part):
        last = uses[-1] if uses else None
        counted = _REPEATED.match(part.prefix) if part.prefix is not None else None
        if counted is not None and not _USE_NAME.match(counted.group(1)):
            counted = None
        if (
            counted is not None
            and last is not None
            and id(last) in counted_uses
            and flat.keeps_shape(part)
            and last.end == part.start
            and part.input == items[last.end - 1].name
            and last.values == values
            and last.name == counted.group(1)
            and int(counted.group(2)) == last.start + last.repeat
        ):
            last.repeat += 1
            last.end = part.end
            continue
        if counted is not None and flat.keeps_shape(part):
            use = Use("", counted.group(1), 1, int(counted.group(2)), values, part.input, part.start, part.end)
            counted_uses.add(id(use))
        elif counted is not None:
            use = Use("", part.prefix[:-1], 1, 1, values, part.input, part.start, part.end)
        else:
            prefix = part.prefix[:-1] if part.prefix is not None else None
            use = Use("", prefix, 1, 1, values, part.input, part.start, part.end)
        uses.append(use)
    for use in uses:
        if use.repeat == 1 and id(use) in counted_uses:
            use.name, use.start = f"{use.name}{use.start}", 1
    return uses


def _defaults(template: _Template, uses: list[Use]) -> None:
    """Give each parameter the value most uses pass as its default (when two or more do), and leave it out of
    those uses; a parameter no two uses agree on (or whose value is null) has no default."""
    for name in template.params:
        counts = Counter(json.dumps(use.values[name], sort_keys=True) for use in uses)
        best, count = counts.most_common(1)[0]
        default = json.loads(best)
        if count < 2 or default is None:
            continue
        template.params[name] = default
        for use in uses:
            if use.values[name] == default:
                del use.values[name]


def _plan(flat: _Flat, parts: list[_Part]) -> _Plan:
    template, per_part = _template(flat.items, parts)
    uses = _uses(flat, parts, per_part)
    _defaults(template, uses)
    definition = _definition("b", template)
    definition.layers = [flat.shown(layer) for layer in definition.layers]
    cost = len(emit.block_lines(definition))
    cost += sum(len(emit.layer_lines(use.written(flat.previous(use.first)))) for use in uses)
    saved = sum(flat.lines[i] for part in parts for i in range(part.start, part.end))
    return _Plan(template, uses, saved - cost, parts)


@dataclass
class _Flat:
    """The flat import: its layers, the lines each takes as the flat spec writes it, and the model's input."""

    items: Sequence[Item]
    first_input: Optional[str]
    defaults: dict  # what `defaults:` would hold for the flat spec
    shapes: dict  # each layer's (and input's) output shape, where the analysis knows it
    lines: list[int] = field(default_factory=list)

    def keeps_shape(self, part: _Part) -> bool:
        """Whether the part keeps the shape it receives: only such parts may be a `repeat` (``blocks.keeps_shape``)."""
        received, given = self.shapes.get(part.input), self.shapes.get(self.items[part.end - 1].name)
        return received is not None and given is not None and keeps_shape(received, given)

    def shown(self, layer: dict) -> dict:
        """``layer`` without the arguments `defaults:` would hold (to count the lines it takes)."""
        return {k: v for k, v in layer.items() if k not in self.defaults or v != self.defaults[k]}

    def previous(self, index: int) -> Optional[str]:
        """The output of what stands before layer ``index`` in `layers:` (a use ends with its last layer)."""
        return self.items[index - 1].name if index > 0 else self.first_input


def _definition(name: str, template: _Template) -> Block:
    layers = []
    for j, body in enumerate(template.bodies):
        local = template.locals[j]
        layer: dict[str, Any] = {"type": body["type"], "name": local if isinstance(local, str) else f"${local[1]}"}
        refs = template.refs[j]
        implied = ("input",) if j == 0 else ("local", j - 1)
        if refs != (implied,) or body["type"] in emit.MERGES:
            layer["inputs"] = [INPUT if ref == ("input",) else _local_name(template, ref[1]) for ref in refs]
        for key, value in body.items():
            if key != "type":
                layer[key] = f"${value[1]}" if isinstance(value, tuple) else value
        layers.append(_minimal_written(layer))
    return Block(name, dict(template.params), layers)


def _local_name(template: _Template, j: int) -> str:
    local = template.locals[j]
    return local if isinstance(local, str) else f"${local[1]}"


def _minimal_written(layer: dict) -> dict:
    model = LAYER_TYPES[layer["type"]]
    return {
        key: value
        for key, value in layer.items()
        if key in ("type", "name", "inputs")
        or key not in model.model_fields
        or isinstance(value, str)
        and value.startswith("$")
        or value != field_default(model, key)
    }


# --- choosing the blocks -----------------------------------------------------------------------------------


def find(items: Sequence[Item], written: list[dict], first_input: Optional[str], shapes: dict) -> Blocked:
    """The flat import ``items`` (``written``: each as the flat spec writes it, `inputs:` where it needs them)
    with its repeated parts as blocks; ``first_input`` is what the first layer takes (the model's single input,
    or None); ``shapes`` holds each layer's and input's output shape (a `repeat` must keep its shape).
    """
    hoisted = copy.deepcopy(written)
    flat = _Flat(items, first_input, emit.hoist(hoisted), shapes)
    flat.lines = [len(emit.layer_lines(layer)) for layer in hoisted]
    groups: dict[tuple, list[_Part]] = {}
    for part in _parts(items):
        groups.setdefault(_signature(items, part), []).append(part)
    repeated = [group for group in groups.values() if len(group) > 1]
    plans = sorted(_choose(flat, repeated), key=lambda plan: plan.parts[0].start)
    chosen: list[tuple[str, _Plan]] = []
    names: set[str] = set()
    for plan in plans:  # named in the order they are first used
        name = _block_name(items, plan.parts, names)
        names.add(name)
        for use in plan.uses:
            use.block = name
        chosen.append((name, plan))
    return _assemble(items, chosen, first_input)


def _choose(flat: _Flat, groups: list[list[_Part]]) -> list[_Plan]:
    """The blocks to write, greedily: the group that saves the most lines among the parts not yet taken."""
    free = [True] * len(flat.items)
    plans: list[_Plan] = []
    known: dict[tuple, _Plan] = {}  # a group's plan, for as long as none of its parts is taken
    while True:
        best: Optional[tuple] = None
        for group in groups:
            parts = _disjoint(p for p in group if all(free[p.start : p.end]))
            if len(parts) < 2:  # a block used once costs more lines than it saves
                continue
            plan = known.get(tuple(parts))
            if plan is None:
                plan = known[tuple(parts)] = _plan(flat, parts)
            key = (plan.saving, -parts[0].start, parts[0].end - parts[0].start)
            if best is None or key > best[0]:
                best = (key, plan)
        if best is None or best[0][0] < MIN_SAVING:
            return plans
        plans.append(best[1])
        for part in best[1].parts:
            free[part.start : part.end] = [False] * (part.end - part.start)


def _disjoint(parts) -> list[_Part]:
    found: list[_Part] = []
    for part in sorted(set(parts), key=lambda p: (p.start, p.end)):
        if not found or part.start >= found[-1].end:
            found.append(part)
    return found


def _block_name(items: Sequence[Item], parts: list[_Part], taken: set[str]) -> str:
    """A name for the block: its uses' prefix without the numbers (conv2_block1_ -> conv_block), or for uses that
    pass the names its layers' types, activations left out (conv_bn, like Keras's own helper conv2d_bn)."""
    first = parts[0]
    if first.prefix is not None:
        base = re.sub(r"[0-9]+", "", first.prefix).strip("_-")
        base = re.sub(r"_+", "_", base)
    else:
        types = [items[i].body["type"] for i in range(first.start, first.end)]
        base = "_".join(NAME_PARAMETER.get(t, t) for t in types if t != "activation") or "activation"
    base = base[:48] if _USE_NAME.match(base[:48]) else "block"  # room for a number
    name, n = base, 2
    while name in taken or not _USE_NAME.match(name):
        name, n = f"{base}{n}", n + 1
    return name


def _assemble(items: Sequence[Item], chosen: list[tuple[str, _Plan]], first_input: Optional[str]) -> Blocked:
    starts: dict[int, Use] = {}
    for _, plan in chosen:
        for use in plan.uses:
            starts[use.first] = use
    entries: list[Union[int, Use]] = []
    index = 0
    while index < len(items):
        use = starts.get(index)
        if use is None:
            entries.append(index)
            index += 1
        else:
            entries.append(use)
            index = use.end
    order = {name: min(use.first for use in plan.uses) for name, plan in chosen}
    ranked = sorted(chosen, key=lambda pair: order[pair[0]])
    blocks = [_definition(name, plan.template) for name, plan in ranked]
    templates = {name: plan.template for name, plan in ranked}
    return Blocked(items, blocks, entries, first_input, templates)


def class_named(name: str, class_name: str) -> bool:
    """Whether ``name`` is what Keras calls a layer of ``class_name`` given no name (conv2d, conv2d_57)."""
    snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)).lower()
    return name == snake or (name.startswith(snake + "_") and name[len(snake) + 1 :].isdigit())


def same_layers(found: Sequence[Item], items: Sequence[Item]) -> bool:
    """Whether two lists of flat layers are the same layers (arguments at their default written or not)."""
    return len(found) == len(items) and all(
        a.name == b.name and a.refs == b.refs and _minimal(a.body) == _minimal(b.body) for a, b in zip(found, items)
    )
