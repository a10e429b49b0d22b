"""Variants of a spec for `modelspec compare`: parse ``--vary FIELD=V1,V2,...``, apply each value to the spec, and
check every variant against the schema before anything trains; and ``--set PATH=VALUE``, one value set the same
way before a command reads the spec (`modelspec graph`). Pure Python, no TensorFlow.

``FIELD`` addresses the spec with dots:

- a field of `defaults:` alone (``kernel_initializer``, ``activation``, ``bias_initializer``...) sets that default,
  which every layer that does not set the field itself takes;
- ``layers.NAME.FIELD`` sets one layer's field, the layer named as the summary names it (``hidden1``, or ``dense_1``
  for the second unnamed dense layer) or by its position (``layers.0.units``);
- any other dotted path walks the spec's mappings (``training.optimizer.learning_rate``, ``seed``), creating
  the mappings it needs; an optimizer written as a name (``optimizer: adam``) becomes ``{type: adam}`` first.

The values are YAML, read with modelspec's safe reader as the items of a flow sequence: ``zeros,he_normal``,
``0.001,0.01``, ``{type: random_normal, stddev: 1.0},glorot_uniform`` (commas inside braces or brackets belong to
the value), or the whole list in brackets (``[zeros, he_normal]``). Several ``--vary`` options give one variant per
combination, the first option varying slowest. ``--set`` takes one such value (a list in brackets: ``[a, b]``);
several ``--set`` options apply in order.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from modelspec import source
from modelspec.diagnostics import Diagnostic, did_you_mean
from modelspec.errors import ECHO_LIMIT, SettingsError, SpecError, echoed
from modelspec.loader import ModelSpec, from_document
from modelspec.schema.base import SHORTHAND
from modelspec.schema.spec import Defaults

MAX_VARIANTS = 256  # a typing slip in --vary should not queue a week of training
SET = "--set"  # the option that overrides one field of the spec it reads
SHOWN_PROBLEMS = 3  # problems a --set error quotes (the rest counted): one line


@dataclass(frozen=True)
class Vary:
    """One ``--vary`` option: the field as written, the path it resolves to in the spec, and its values."""

    field: str
    path: tuple[str, ...]
    values: tuple[Any, ...]
    option: str = "--vary"  # the option that set it, for messages (`tune --search` sets fields this way too)


@dataclass
class Variant:
    """One variant: its label (``kernel_initializer=zeros``), the values it sets, and the loaded spec."""

    label: str
    settings: dict[str, Any]
    model: ModelSpec
    findings: list[Diagnostic] = field(default_factory=list)


def show(value: Any) -> str:
    """A value the way a person writes it on the command line: ``zeros``, ``0.01``, ``{type: random_normal, ...}``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


def _split(option: str, flag: str, usage: str) -> tuple[str, tuple[str, ...], str]:
    """``FIELD=TEXT`` split into the field as written, its dotted parts and the text after ``=`` (``flag``: the
    option, ``usage``: its form, for messages)."""
    name, equals, text = option.partition("=")
    name = name.strip()
    if not equals or not name:
        raise SettingsError(f"{flag} takes {usage} (received: {echoed(option)})")
    parts = tuple(part.strip() for part in name.split("."))
    if any(not part for part in parts):
        raise SettingsError(f"{flag} {echoed(option)}: the field {echoed(name)} has an empty part between dots")
    return name, parts, text.strip()


def _yaml_list(option: str, flag: str, name: str, text: str) -> Any:
    """The items of ``text`` read as a YAML flow sequence (``a,b`` or ``[a, b]``), with modelspec's safe reader."""
    listed = text if text.startswith("[") else f"[{text}]"
    what = "the values are not a YAML list" if flag == "--vary" else "the value is not YAML"
    try:
        doc = source.parse(f"values: {listed}\n", f"{flag} {name}")
    except SpecError as exc:
        problem = exc.diagnostics[0].message if exc.diagnostics else str(exc)
        raise SettingsError(f"{flag} {echoed(option)}: {what}: {problem}") from None
    if doc.problems:
        raise SettingsError(f"{flag} {echoed(option)}: {what}: {doc.problems[0].message}")
    return doc.data.get("values")


def parse_vary(option: str) -> Vary:
    """Parse one ``FIELD=V1,V2,...`` option.

    Raises:
        SettingsError: no ``=``, an empty field or value list, a value that is not YAML, or a value repeated.
    """
    name, parts, text = _split(option, "--vary", "FIELD=V1,V2,...")
    values = _yaml_list(option, "--vary", name, text)
    if not isinstance(values, list) or not values:
        raise SettingsError(f"--vary {echoed(option)}: give at least one value after '='")
    shown = [show(value) for value in values]
    repeated = sorted({text for text in shown if shown.count(text) > 1})
    if repeated:
        raise SettingsError(f"--vary {echoed(option)}: {', '.join(repeated)} appears more than once")
    return Vary(name, field_path(parts), tuple(values))


def parse_set(option: str) -> Vary:
    """Parse one ``--set PATH=VALUE`` option: the same dotted paths as ``--vary``, and one YAML value (a list is
    written in brackets: ``outputs=[a, b]``). The record is a ``Vary`` with that one value.

    Raises:
        SettingsError: no ``=``, an empty path or part of it, no value, several values, or a value that is not YAML.
    """
    name, parts, text = _split(option, SET, "PATH=VALUE")
    if not text:
        raise SettingsError(f"{SET} {echoed(option)}: give a value after '=' (null for none)")
    values = _yaml_list(option, SET, name, f"[{text}]" if text.startswith("[") else text)
    if not isinstance(values, list) or len(values) != 1:
        raise SettingsError(
            f"{SET} {echoed(option)}: give one value (a list in brackets: [a, b]; several values are --vary's)"
        )
    return Vary(name, field_path(parts), (values[0],), option=SET)


def parse_sets(options: Sequence[Union[str, Vary]]) -> tuple[Vary, ...]:
    """Every ``--set`` option parsed (a ``Vary`` passes as it is; one string is one option), in order; no path set
    twice."""
    if isinstance(options, (str, Vary)):
        options = [options]
    sets = tuple(option if isinstance(option, Vary) else parse_set(option) for option in options)
    for item in sets:
        if len(item.values) != 1:
            raise SettingsError(f"{SET} {_capped(item.field)}: an override sets one value, not {len(item.values)}")
    paths = [item.path for item in sets]
    for item in sets:
        if paths.count(item.path) > 1:
            raise SettingsError(f"two {SET} options set {_capped(item.field)}: give it one value")
    return sets


def setting_text(item: Vary) -> str:
    """A ``--set`` as a person writes it: ``layers.hidden.units=64``."""
    return f"{item.field}={show(item.values[0])}"


def overridden(model: ModelSpec, options: Sequence[Union[str, Vary]]) -> ModelSpec:
    """``model`` with every ``--set PATH=VALUE`` of ``options`` applied in order, validated and analysed like a
    spec file; its findings still point at the spec file's lines. No options: ``model`` itself.

    Raises:
        SettingsError: an option is malformed, names a layer the spec lacks, or makes the spec invalid (one line:
            the option that does, then each problem located in the spec file).
    """
    sets = parse_sets(options)
    if not sets:
        return model
    try:
        return variant_spec(model, [(item, item.values[0]) for item in sets])
    except SpecError as exc:
        failed = exc
    # which option made it invalid: the first whose prefix of the options fails (errors only: one more validation each)
    culprit = sets[-1]
    for end in range(1, len(sets)):
        try:
            variant_spec(model, [(item, item.values[0]) for item in sets[:end]])
        except SpecError as exc:
            culprit, failed = sets[end - 1], exc
            break
    shown = _capped(setting_text(culprit))
    problems = [f"{d.path}:{d.line}:{d.column}: {_problems_of([d])}" for d in failed.diagnostics[:SHOWN_PROBLEMS]]
    more = len(failed.diagnostics) - SHOWN_PROBLEMS
    text = "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    raise SettingsError(f"{SET} {shown} makes the spec invalid: {text}") from None


def field_path(parts: tuple[str, ...]) -> tuple[str, ...]:
    """The path in the spec's data that a dotted field addresses: a `defaults:` field alone sets that default."""
    return ("defaults", parts[0]) if len(parts) == 1 and parts[0] in Defaults.model_fields else parts


def _layer_index(model: ModelSpec, key: str, option: str) -> int:
    layers = model.analysis.layers
    if key in layers:
        return layers[key].index
    if key.isdigit() and int(key) < len(model.spec.layers):
        return int(key)

    raise SettingsError(f"{option}: the spec has no layer {echoed(key)}{did_you_mean(key, list(layers))}")


def _capped(text: str) -> str:
    """``text`` as a message shows it: as it is, or quoted and cut as ``errors.echoed`` cuts a long value."""
    return text if len(text) <= ECHO_LIMIT else echoed(text)


def _set(data: dict, vary: Vary, value: Any, model: ModelSpec) -> None:
    """Set ``vary.path`` in the spec's data to a copy of ``value``."""
    node: Any = data
    path = vary.path
    option = f"{vary.option} {_capped(vary.field)}"
    if path[0] == "layers":
        if len(path) < 3:
            raise SettingsError(f"{option}: name a layer and its field (layers.NAME.FIELD)")
        node, path = data["layers"][_layer_index(model, path[1], option)], path[2:]
    for depth, key in enumerate(path[:-1]):
        child = node.get(key)
        if isinstance(child, str) and key.endswith(SHORTHAND):  # `optimizer: adam` stands for {type: adam}
            child = {"type": child}
        elif child is None:
            child = {}
        if not isinstance(child, dict):
            where = ".".join(vary.path[: len(vary.path) - len(path) + depth + 1])
            raise SettingsError(f"{option}: {_capped(where)} is not a mapping (received: {_capped(show(child))})")
        node[key] = child
        node = child
    node[path[-1]] = copy.deepcopy(value)


def _problems_of(diagnostics: Sequence[Diagnostic]) -> str:
    return "; ".join(
        f"{d.layer + ': ' if d.layer and d.layer not in d.message else ''}{d.message}" for d in diagnostics
    )


def variants(model: ModelSpec, options: list[str]) -> list[Variant]:
    """Every variant of ``model`` that ``--vary`` options describe, each validated and analysed like a spec file.

    Raises:
        SettingsError: an option is malformed, names a layer the spec lacks, or makes an invalid spec (the message
            names the variant and what is wrong: an unknown initializer, a learning rate of 0...).
    """
    varies = [parse_vary(option) for option in options]
    if not varies:
        raise SettingsError("give at least one --vary FIELD=V1,V2,...")
    fields = [vary.path for vary in varies]
    if len(set(fields)) != len(fields):
        raise SettingsError("two --vary options set the same field: give its values in one option")
    count = 1
    for vary in varies:
        count *= len(vary.values)
    if count > MAX_VARIANTS:
        raise SettingsError(f"--vary makes {count} variants; at most {MAX_VARIANTS} are allowed")
    result = []
    for combination in itertools.product(*(vary.values for vary in varies)):
        label = ", ".join(f"{vary.field}={show(value)}" for vary, value in zip(varies, combination))
        try:
            loaded = variant_spec(model, list(zip(varies, combination)))
        except SpecError as exc:
            shown = label if len(label) <= ECHO_LIMIT else echoed(label)
            raise SettingsError(f"variant {shown} is not a valid spec: {_problems_of(exc.diagnostics)}") from None
        settings = {vary.field: value for vary, value in zip(varies, combination)}
        result.append(Variant(label, settings, loaded))
    return result


def variant_spec(model: ModelSpec, assignments: list[tuple[Vary, Any]]) -> ModelSpec:
    """``model`` with each (field, value) of ``assignments`` set, validated and analysed like a spec file
    (`compare --vary` and `tune --search` set fields this one way).

    Raises:
        SettingsError: a field names a layer the spec lacks, or walks through a value that is not a mapping.
        SpecError: the variant is not a valid spec (its diagnostics located in the spec it came from).
    """
    original = model.document
    in_blocks = [(vary, value) for vary, value in assignments if vary.path[0] == "blocks"]
    if in_blocks and original.raw is not None:  # a block's definition: set in the spec as written, expanded again
        raw = original.raw
        data = copy.deepcopy(raw.data)
        for vary, value in in_blocks:
            _set(data, vary, value, model)
        written = raw.edited_copy(data)
        model = from_document(written)
        original = model.document
        assignments = [(vary, value) for vary, value in assignments if vary.path[0] != "blocks"]
        if not assignments:
            return model
    data = copy.deepcopy(original.data)
    for vary, value in assignments:
        _set(data, vary, value, model)
    # The variant's findings point into the spec it came from: same layers, same places (a field --vary adds
    # is located at its nearest ancestor), and that file's inline ignores still apply. Edited: a variant is
    # written out as its data, not as the file's text.
    return from_document(original.edited_copy(data))
