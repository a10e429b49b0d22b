"""pydantic's validation errors -> located diagnostics: one message per problem, in the spec's words.

Each pydantic error type has one entry in ``_MESSAGES``; a message about a value ends, as Keras ends its argument
errors, with the value received. ``validation_diagnostics`` locates each error in the YAML and drops the noise
that unions make (one type error per member the value did not fit). Pure Python: never imports TensorFlow.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable
from typing import Any, Optional, Union

from pydantic import BaseModel, ValidationError
from typing_extensions import TypeAliasType

from modelspec import source
from modelspec.diagnostics import Diagnostic, did_you_mean
from modelspec.schema import Spec

# The type errors, by what the value should have been. A value that fails them all gets "must be A or B".
_TYPE_NOUNS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}
# Keys people bring from PyTorch or older Keras, and what a spec calls them.
_SYNONYMS = {
    "lr": "learning_rate",
    "out_features": "units",
    "num_units": "units",
    "p": "rate",
    "out_channels": "filters",
    "num_filters": "filters",
    "init": "kernel_initializer",
    "kernel_init": "kernel_initializer",
    "bias": "use_bias",
    "stride": "strides",
    "dilation": "dilation_rate",
    "hidden_size": "units",
    "num_embeddings": "input_dim",
    "embedding_dim": "output_dim",
}
_YAML_11_BOOLEANS = ("yes", "no", "on", "off", "y", "n")


def show_value(value: Any, limit: int = 60) -> str:
    """Render a received value the way it would be written in YAML."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {show_value(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spec_path_text(path: tuple) -> str:
    """Render ``("layers", 2, "units")`` as ``layers[2].units``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- where: from pydantic's location to the spec's path and the model's fields -------------------------------


def _data_path(loc: tuple, data: Any, kind: str) -> tuple:
    """Map a pydantic error location onto the data, dropping union tags and validator names."""
    path, current = [], data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (
            isinstance(current, dict)
            and isinstance(part, str)
            and (part in current or (last and kind in ("missing", "extra_forbidden")))
        ):
            path.append(part)
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
    return tuple(path)


def _unwrap(annotation) -> list:
    """Return the model classes (or containers) an annotation may hold."""
    if isinstance(annotation, TypeAliasType):
        return _unwrap(annotation.__value__)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is Union:
        return [c for arg in typing.get_args(annotation) for c in _unwrap(arg)]
    return [annotation]


def _is_model(candidate) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _tag(model) -> Optional[str]:
    annotation = model.model_fields.get("type")
    args = typing.get_args(annotation.annotation) if annotation else ()
    return args[0] if len(args) == 1 else None


def _fields_at(loc: tuple) -> list[str]:
    """Return the field names of the model an ``extra_forbidden`` error occurred in (for did-you-mean)."""
    candidates: list = [Spec]
    for part in loc[:-1]:
        tagged = [c for c in candidates if _is_model(c) and _tag(c) == part]
        if tagged:  # a discriminator tag in the location: stay on that variant
            candidates = tagged
            continue
        following = []
        for candidate in candidates:
            if _is_model(candidate) and part in candidate.model_fields:
                following += _unwrap(candidate.model_fields[part].annotation)
            elif typing.get_origin(candidate) in (list, dict):
                following += _unwrap(typing.get_args(candidate)[-1])
        candidates = following
    return sorted({name for c in candidates if _is_model(c) for name in c.model_fields})


# --- what: one message (and hint) per pydantic error type ------------------------------------------------------

Message = tuple[str, Optional[str]]  # (message, hint)


def _received(text: str, err: dict) -> str:
    return f"{text} (received: {show_value(err.get('input'))})"


def _context(err: dict) -> dict:
    return err.get("ctx") or {}


def _missing(err: dict) -> Message:
    return f"missing required field '{err['loc'][-1]}'", None


def _unknown_field(err: dict) -> Message:
    key, fields = err["loc"][-1], _fields_at(err["loc"])
    if _SYNONYMS.get(key) in fields:
        return f"unknown field '{key}'; did you mean '{_SYNONYMS[key]}'?", None
    return f"unknown field '{key}'{did_you_mean(key, fields)}", None


def _missing_tag(err: dict) -> Message:
    return f"missing required field '{_context(err).get('discriminator', 'type').strip(chr(39))}'", None


def _validator_text(err: dict) -> Message:
    """A schema validator's own message, which already says what was received."""
    return str(_context(err).get("error", err["msg"])).removeprefix("Value error, "), None


def _own_text(err: dict) -> Message:
    """Errors modelspec raises itself (unknown names, a field of a model-level check), worded already."""
    return err["msg"], None


def _unknown_tag(err: dict) -> Message:
    ctx, received = _context(err), err.get("input")
    tags = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
    discriminator = ctx.get("discriminator", "type").strip("'")
    received = received.get(discriminator) if isinstance(received, dict) else received
    if not isinstance(received, str):
        return f"must be a type name such as '{tags[0]}' (received: {show_value(received)})", None
    return (
        f"must be one of {', '.join(repr(t) for t in tags)}{did_you_mean(received, tags)} "
        f"(received: {show_value(received)})"
    ), None


def _not_literal(err: dict) -> Message:
    expected, received = _context(err).get("expected", ""), err.get("input")
    suggestion = did_you_mean(received, re.findall(r"'([^']*)'", expected)) if isinstance(received, str) else ""
    return _received(f"must be {expected}{suggestion}", err), None


def _wrong_type(err: dict) -> Message:
    kind = err["type"]
    hint = None
    if kind.startswith("bool") and err.get("input") in _YAML_11_BOOLEANS:
        hint = "YAML 1.2 booleans are true and false only"
    return _received(f"must be {_TYPE_NOUNS[kind]}", err), hint


def _at_least(err: dict) -> Message:
    bound = _context(err).get("ge")
    text = (
        "must be a positive integer"
        if bound == 1 and isinstance(err.get("input"), int)
        else f"must be at least {bound}"
    )
    return _received(text, err), None


def _greater(err: dict) -> Message:
    bound = _context(err).get("gt")
    return _received("must be positive" if bound == 0 else f"must be greater than {bound}", err), None


class _Context(dict):
    def __missing__(self, key: str) -> None:
        return None


def _template(text: str) -> Callable[[dict], Message]:
    """A message from ``text`` with the error's context filled in, e.g. ``must be less than {lt}``."""
    return lambda err: (_received(text.format_map(_Context(_context(err))), err), None)


def _pydantic_text(err: dict) -> Message:
    """Any other error: pydantic's own words, as a clause."""
    return _received(err["msg"][0].lower() + err["msg"][1:], err), None


_MESSAGES: dict[str, Callable[[dict], Message]] = {
    "missing": _missing,
    "extra_forbidden": _unknown_field,
    "union_tag_not_found": _missing_tag,
    "value_error": _validator_text,
    "assertion_error": _validator_text,
    "unknown_name": _own_text,
    "field_error": _own_text,
    "union_tag_invalid": _unknown_tag,
    "literal_error": _not_literal,
    **dict.fromkeys(_TYPE_NOUNS, _wrong_type),
    "greater_than_equal": _at_least,
    "greater_than": _greater,
    "less_than": _template("must be less than {lt}"),
    "less_than_equal": _template("must be at most {le}"),
    "finite_number": _template("must be a finite number"),
    "too_short": _template("must have at least {min_length} item(s)"),
    "too_long": _template("must have at most {max_length} item(s)"),
    "string_pattern_mismatch": _template("must be a name: a letter, then up to 63 letters, digits, '_' or '-'"),
}


def _message(err: dict) -> Message:
    return _MESSAGES.get(err["type"], _pydantic_text)(err)


# --- all together --------------------------------------------------------------------------------------------


def validation_diagnostics(exc: ValidationError, doc: source.Document) -> list[Diagnostic]:
    """Turn a pydantic ``ValidationError`` into located diagnostics, one per problem, union noise removed."""
    by_path, suggested = _by_path(exc, doc)
    _drop_noise(by_path, suggested)
    return [diagnostic for path, errors in by_path.items() for diagnostic in _located(path, errors, doc)]


def _by_path(exc: ValidationError, doc: source.Document) -> tuple[dict[tuple, list[dict]], set[tuple]]:
    """Group the errors by the place in the data they are about; also return the (parent path, field) pairs
    that an unknown key's did-you-mean names."""
    by_path: dict[tuple, list[dict]] = {}
    suggested: set[tuple] = set()
    for err in exc.errors(include_url=False):
        path = _data_path(err["loc"], doc.data, err["type"])
        ctx = err.get("ctx") or {}
        if (
            err["type"] == "unknown_name"
            and ctx.get("kind", "").endswith("layer type")
            or err["type"] == "union_tag_invalid"
        ):
            path = path + (ctx.get("discriminator", "type").strip("'"),)
        elif err["type"] == "field_error":
            path = path + (ctx["field"],)
        elif err["type"] == "extra_forbidden":
            match = re.search(r"did you mean '([^']*)'", _message(err)[0])
            if match:
                suggested.add((path[:-1], match.group(1)))
        by_path.setdefault(path, []).append(err)
    return by_path, suggested


def _drop_noise(by_path: dict[tuple, list[dict]], suggested: set[tuple]) -> None:
    # `unit: 2` is one mistake: report the unknown key with its suggestion, not also the missing `units`.
    for path, errors in list(by_path.items()):
        if (path[:-1], path[-1] if path else None) in suggested:
            errors[:] = [e for e in errors if e["type"] != "missing"]
            if not errors:
                del by_path[path]
    # A value that matched one member of a union well enough to fail deeper down: the other members' type
    # errors ("must be a list") on the value itself are noise.
    for path in [p for p, errors in by_path.items() if all(e["type"] in _TYPE_NOUNS for e in errors)]:
        if any(len(other) > len(path) and other[: len(path)] == path for other in by_path):
            del by_path[path]


def _located(path: tuple, errors: list[dict], doc: source.Document) -> list[Diagnostic]:
    """The diagnostics of one place: its informative errors, or one "must be a or b" for a value that fits no
    member of a union (which yields one type error per member)."""
    informative = [e for e in errors if e["type"] not in _TYPE_NOUNS]
    if not informative and len(errors) > 1:
        nouns = list(dict.fromkeys(_TYPE_NOUNS[e["type"]] for e in errors))
        messages = [(f"must be {' or '.join(nouns)} (received: {show_value(errors[0].get('input'))})", None, errors[0])]
    else:  # a lone type error keeps its own message and hint
        messages = [(*_message(err), err) for err in informative or errors]
    diagnostics, seen = [], set()
    for text, hint, err in messages:
        if text in seen:
            continue
        seen.add(text)
        where = path[:-1] if err["type"] == "missing" else path
        diagnostics.append(doc.error(where, text, layer=spec_path_text(path) or None, hint=hint))
    return diagnostics
