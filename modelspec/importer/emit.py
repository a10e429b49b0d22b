"""Write a spec as a person would: chains kept together, `inputs:` only where the graph branches, shared
settings in `defaults:`, one flow-style line per simple layer."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import yaml

from modelspec.importer.layers import field_default
from modelspec.schema.layers import LAYER_TYPES
from modelspec.schema.layers.base import Role
from modelspec.schema.spec import Defaults

if TYPE_CHECKING:
    from modelspec.importer.blocks import Block

LINE = 118  # a layer longer than this on one line is written as a block
# Merge layers are written with their inputs always (the schema's role says which types merge).
MERGES = frozenset(name for name, model in LAYER_TYPES.items() if model.ROLE is Role.MERGE)
USE_LINE = 120  # a use longer than this is broken over lines (its layers' names make it long: conv2d_57, ...)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
_PARAMETER = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")  # $filters: a block's parameter
_LOCAL = re.compile(r"^[0-9][A-Za-z0-9_]*$")  # 1_conv, 0_bn: a block's local names (plain unless YAML reads a number)
_STRING = "tag:yaml.org,2002:str"


# --- order --------------------------------------------------------------------------------------------------


def chain_order(names: list[str], inputs: dict[str, list[str]]) -> list[str]:
    """A topological order of ``names`` (given in one) that keeps chains together: after a layer, the next is one
    of its consumers that only it feeds, where there is one; otherwise the earliest layer whose inputs are ready."""
    index = {name: i for i, name in enumerate(names)}
    waiting = {name: sum(1 for ref in set(inputs[name]) if ref in index) for name in names}
    consumers: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for ref in set(inputs[name]):
            if ref in consumers:
                consumers[ref].append(name)
    ready = sorted((n for n in names if waiting[n] == 0), key=index.get)
    order: list[str] = []
    while ready:
        last = order[-1] if order else None
        follow = [n for n in ready if inputs[n] == [last]]
        chosen = follow[0] if follow else ready[0]
        ready.remove(chosen)
        order.append(chosen)
        for consumer in consumers[chosen]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
        ready.sort(key=index.get)
    return order


# --- defaults -----------------------------------------------------------------------------------------------


def _default(layer_type: str, key: str) -> Any:
    return field_default(LAYER_TYPES[layer_type], key)


def _targets(layers: list[dict], key: str) -> list[dict]:
    """The layer mappings a `defaults:` entry for ``key`` would apply to (a bidirectional's inner layer)."""
    found = []
    for layer in layers:
        target = layer["layer"] if layer["type"] == "bidirectional" else layer
        if key not in LAYER_TYPES[target["type"]].model_fields or is_parameter(target.get(key)):
            continue
        if (key == "padding" and target["type"] == "zero_padding2d") or (
            key == "activation" and target["type"] == "activation"
        ):
            continue  # padding there is an amount; an activation layer reads better with its activation written
        found.append(target)
    return found


def hoist(layers: list[dict]) -> dict:
    """Move each setting most layers share into `defaults:` when that saves lines of spec; return the defaults
    (the layer mappings are changed in place)."""
    defaults: dict[str, Any] = {}
    for key in Defaults.model_fields:
        targets = _targets(layers, key)
        if not targets:
            continue
        current = [(t, t.get(key, _default(t["type"], key))) for t in targets]
        counts = Counter(json.dumps(value, sort_keys=True) for _, value in current)
        best_text, _ = counts.most_common(1)[0]
        best = json.loads(best_text)
        saved = sum(1 for t, value in current if value == best and key in t)
        cost = sum(1 for t, value in current if value != best and key not in t)
        if saved - cost < 2:
            continue
        defaults[key] = best
        for target, value in current:
            if value == best:
                target.pop(key, None)
            else:
                target[key] = value
        if key == "activation":  # the default applies to activation layers too: they keep theirs written
            for layer in layers:
                if layer["type"] == "activation":
                    layer.setdefault("activation", "linear")
    return defaults


# --- YAML text ----------------------------------------------------------------------------------------------


def is_parameter(value: Any) -> bool:
    """Whether ``value`` is a block parameter (``$filters``), which `defaults:` never replaces."""
    return isinstance(value, str) and bool(_PARAMETER.match(value))


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    if _PARAMETER.match(text) or (_LOCAL.match(text) and _reads_as_string(text)):
        return text
    return json.dumps(text)


def _reads_as_string(text: str) -> bool:
    return yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False)) == _STRING


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def block(value: dict, indent: int) -> list[str]:
    """A mapping as block lines whose values are flow (or blocks, when a flow line would be too long)."""
    lines = []
    pad = " " * indent
    for key, item in value.items():
        text = f"{pad}{scalar(key)}: {flow(item)}"
        if isinstance(item, dict) and item and len(text) > LINE:
            lines.append(f"{pad}{scalar(key)}:")
            lines.extend(block(item, indent + 2))
        else:
            lines.append(text)
    return lines


def layer_lines(layer: dict, indent: int = 2) -> list[str]:
    """An entry of a `layers:` list at ``indent``: one flow line; when too long, a layer of `layers:` is written
    as a block, and a use or a layer of a block (mostly short values and parameters) as a flow mapping broken
    over lines."""
    pad = " " * indent
    text = f"{pad}- {flow(layer)}"
    if len(text) <= (USE_LINE if "block" in layer else LINE):
        return [text]
    if "block" in layer or indent > 2:
        return _wrapped(layer, f"{pad}- {{", " " * (indent + 3))
    lines = block(layer, indent + 2)
    return [f"{pad}- " + lines[0].lstrip(), *lines[1:]]


def _wrapped(value: dict, first: str, pad: str) -> list[str]:
    """A flow mapping broken between its entries so that each line fits."""
    lines, line = [], first
    parts = [f"{scalar(k)}: {flow(v)}" for k, v in value.items()]
    for n, part in enumerate(parts):
        part += "}" if n == len(parts) - 1 else ","
        if line not in (first, pad) and len(line) + 1 + len(part) > USE_LINE:
            lines.append(line)
            line = pad
        line += part if line in (first, pad) else " " + part
    return [*lines, line]


def block_lines(definition: Block) -> list[str]:
    """One entry of `blocks:`: its `params:` (one flow line when it fits) and its `layers:`."""
    lines = [f"  {scalar(definition.name)}:"]
    if definition.params:
        text = f"    params: {flow(definition.params)}"
        if len(text) <= LINE:
            lines.append(text)
        else:
            lines.append("    params:")
            lines.extend(block(definition.params, 6))
    lines.append("    layers:")
    for layer in definition.layers:
        lines.extend(layer_lines(layer, 6))
    return lines


def spec_text(header: list[str], spec: dict) -> str:
    """The spec's YAML: the header comments, then each top-level key (layers one per line)."""
    lines = [f"# {line}" if line else "#" for line in header]
    for key, value in spec.items():
        if key == "blocks":
            lines.append("blocks:")
            for definition in value:
                lines.extend(block_lines(definition))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"{key}:")  # layers, and several inputs: one line each
            for item in value:
                lines.extend(layer_lines(item))
        elif isinstance(value, dict) and (
            len(f"{key}: {flow(value)}") > LINE or key in ("defaults", "pretrained", "training")
        ):
            lines.append(f"{key}:")
            lines.extend(block(value, 2))
        else:
            lines.append(f"{key}: {flow(value)}")
    return "\n".join(lines) + "\n"
