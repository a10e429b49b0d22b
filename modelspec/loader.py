"""load_spec: YAML (file, text or dict) -> validated, analysed spec, or a SpecError listing every problem."""

from __future__ import annotations

import math
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ValidationError
from typing_extensions import TypeAliasType

from modelspec import source
from modelspec.analysis import Analysis, analyse
from modelspec.diagnostics import Diagnostic, SpecError, did_you_mean, error
from modelspec.schema import Spec, with_defaults


@dataclass
class ModelSpec:
    """A loaded spec: the validated model, where it came from, and its analysis."""

    spec: Spec
    document: source.Document
    analysis: Analysis

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def folder(self) -> Path:
        """The folder relative paths in the spec (pretrained weights) are resolved against."""
        return Path(self.path).parent if not self.path.startswith("<") else Path.cwd()


def load_spec(spec: Union[str, os.PathLike, dict, ModelSpec], *, limits: Optional[source.Limits] = None
              ) -> ModelSpec:
    """Load a spec from a path, a YAML string or a dict; raise ``SpecError`` with every problem found.

    A ``str`` is read as a path when it names an existing file or ends in ``.yaml``/``.yml``, else as YAML text.
    """
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        doc = source.Document(path="<dict>", text="", data=spec)
    elif isinstance(spec, os.PathLike) or (isinstance(spec, str) and _looks_like_path(spec)):
        doc = source.read(spec, limits)
    elif isinstance(spec, str):
        doc = source.parse(spec, "<string>", limits)
    else:
        raise TypeError(f"load_spec takes a path, a YAML string or a dict (received: {type(spec).__name__})")
    return from_document(doc)


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and (text.endswith((".yaml", ".yml")) or os.path.isfile(text))


def from_document(doc: source.Document) -> ModelSpec:
    """Validate and analyse a parsed document."""
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(validation_diagnostics(exc, doc)) from None
    return ModelSpec(spec, doc, analyse(with_defaults(spec), doc))


# --- pydantic errors -> diagnostics ------------------------------------------------------------------------

_TYPE_NOUNS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "none_required": "null",
    "literal_error": None,
}
# Keys people bring from PyTorch or older Keras, and what a spec calls them.
_SYNONYMS = {"lr": "learning_rate", "out_features": "units", "num_units": "units", "p": "rate",
             "out_channels": "filters", "num_filters": "filters", "init": "kernel_initializer",
             "kernel_init": "kernel_initializer", "bias": "use_bias", "stride": "strides", "dilation": "dilation_rate",
             "hidden_size": "units", "num_embeddings": "input_dim", "embedding_dim": "output_dim"}


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


def _data_path(loc: tuple, data: Any, kind: str) -> tuple:
    """Map a pydantic error location onto the data, dropping union tags and validator names."""
    path, current = [], data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and isinstance(part, str) and (part in current or
                                                                     (last and kind in ("missing", "extra_forbidden"))):
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


def _message(err: dict) -> tuple[str, Optional[str]]:
    kind, ctx, received = err["type"], err.get("ctx") or {}, err.get("input")
    hint = None
    if kind == "missing":
        return f"missing required field '{err['loc'][-1]}'", None
    if kind == "extra_forbidden":
        key, fields = err["loc"][-1], _fields_at(err["loc"])
        if _SYNONYMS.get(key) in fields:
            return f"unknown field '{key}'; did you mean '{_SYNONYMS[key]}'?", None
        return f"unknown field '{key}'{did_you_mean(key, fields)}", None
    if kind == "union_tag_not_found":
        return f"missing required field '{ctx.get('discriminator', 'type').strip(chr(39))}'", None
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"])).removeprefix("Value error, "), None
    if kind in ("unknown_name", "field_error"):
        return err["msg"], None
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        discriminator = ctx.get("discriminator", "type").strip("'")
        received = received.get(discriminator) if isinstance(received, dict) else received
        if not isinstance(received, str):
            return f"must be a type name such as '{tags[0]}' (received: {show_value(received)})", None
        return (f"must be one of {', '.join(repr(t) for t in tags)}{did_you_mean(received, tags)} "
                f"(received: {show_value(received)})"), None
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        message = f"must be {expected}" + (did_you_mean(received, re.findall(r"'([^']*)'", expected))
                                           if isinstance(received, str) else "")
    elif kind in _TYPE_NOUNS:
        message = f"must be {_TYPE_NOUNS[kind]}"
        if kind.startswith("bool") and received in ("yes", "no", "on", "off", "y", "n"):
            hint = "YAML 1.2 booleans are true and false only"
    elif kind == "greater_than_equal":
        message = "must be a positive integer" if ctx.get("ge") == 1 and isinstance(received, int) \
            else f"must be at least {ctx.get('ge')}"
    elif kind == "greater_than":
        message = "must be positive" if ctx.get("gt") == 0 else f"must be greater than {ctx.get('gt')}"
    elif kind == "less_than":
        message = f"must be less than {ctx.get('lt')}"
    elif kind == "less_than_equal":
        message = f"must be at most {ctx.get('le')}"
    elif kind == "finite_number":
        message = "must be a finite number"
    elif kind == "too_short":
        message = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":
        message = f"must have at most {ctx.get('max_length')} item(s)"
    elif kind == "string_pattern_mismatch":
        message = "must be a name: a letter, then up to 63 letters, digits, '_' or '-'"
    else:
        message = err["msg"][0].lower() + err["msg"][1:]
    return f"{message} (received: {show_value(received)})", hint


def validation_diagnostics(exc: ValidationError, doc: source.Document) -> list[Diagnostic]:
    """Turn a pydantic ``ValidationError`` into located diagnostics, one per problem, union noise removed."""
    by_path: dict[tuple, list[dict]] = {}
    suggested: set[tuple] = set()  # (parent path, field) that an unknown key's did-you-mean names
    for err in exc.errors(include_url=False):
        path = _data_path(err["loc"], doc.data, err["type"])
        ctx = err.get("ctx") or {}
        if err["type"] == "unknown_name" and ctx.get("kind") == "layer type" or err["type"] == "union_tag_invalid":
            path = path + (ctx.get("discriminator", "type").strip("'"),)
        elif err["type"] == "field_error":
            path = path + (ctx["field"],)
        elif err["type"] == "extra_forbidden":
            match = re.search(r"did you mean '([^']*)'", _message(err)[0])
            if match:
                suggested.add((path[:-1], match.group(1)))
        by_path.setdefault(path, []).append(err)
    # `unit: 2` is one mistake: report the unknown key with its suggestion, not also the missing `units`.
    for path, errors in list(by_path.items()):
        if (path[:-1], path[-1] if path else None) in suggested:
            errors[:] = [e for e in errors if e["type"] != "missing"]
            if not errors:
                del by_path[path]

    # A value that matched one member of a union well enough to fail deeper down: the other members' type
    # errors ("must be a list") on the value itself are noise.
    for path in [p for p, errors in by_path.items() if all(e["type"] in _TYPE_NOUNS and e["type"] != "literal_error"
                                                            for e in errors)]:
        if any(len(other) > len(path) and other[:len(path)] == path for other in by_path):
            del by_path[path]

    diagnostics = []
    for path, errors in by_path.items():
        # A value that fits no member of a union yields one error per member: keep the informative ones.
        informative = [e for e in errors if e["type"] not in _TYPE_NOUNS or e["type"] == "literal_error"]
        if informative or len(errors) == 1:  # a lone type error keeps its own message and hint
            chosen = informative or errors
        else:
            nouns = list(dict.fromkeys(_TYPE_NOUNS[e["type"]] for e in errors))
            first = dict(errors[0], type="combined", msg="")
            chosen = [first]
            message = f"must be {' or '.join(nouns)} (received: {show_value(errors[0].get('input'))})"
        seen = set()
        for err in chosen:
            if err["type"] == "combined":
                text, hint = message, None
            else:
                text, hint = _message(err)
            if text in seen:
                continue
            seen.add(text)
            where = path[:-1] if err["type"] == "missing" else path
            line, column = doc.locate(where)
            diagnostics.append(error(doc.path, line, column, text, layer=spec_path_text(path) or None, hint=hint))
    return diagnostics
