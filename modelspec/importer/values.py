"""Keras serialised objects (initializers, regularizers, constraints, activations) as spec values.

Each converter returns the compact value a person would write — a bare name when every parameter is at its
default, else a mapping with ``type:`` and the parameters that differ — or raises ``Inexpressible``.
"""

from __future__ import annotations

import struct
from typing import Any

from pydantic import BaseModel

from modelspec.importer.graph import mapping
from modelspec.schema.activations import ACTIVATIONS, ALIASES
from modelspec.schema.base import canonical_name, type_name
from modelspec.schema.initializers import INITIALIZER_MODELS, L1, L1L2, L2, MaxNorm, MinMaxNorm, NonNeg, UnitNorm

# Keras modules that hold only built-in objects (a serialised object naming any other module is refused).
_BUILTIN_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints", "keras.src.")


class Inexpressible(ValueError):
    """A value the spec format cannot hold; the message says what and why."""


def _regularizer_models():
    return (L1, L2, L1L2)


def _constraint_models():
    return (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)


def serialized(value: Any, kind: str, models) -> Any:
    """Convert a serialised Keras object (``{"class_name", "config", "module"}``) or a name into a spec value."""
    if value is None:
        return None
    by_class = {model.KERAS_CLASS: model for model in models if model.KERAS_CLASS}
    by_name = {type_name(model): model for model in models}
    if isinstance(value, str):
        try:
            return canonical_name(value, by_name, {}, kind)
        except ValueError:
            raise Inexpressible(f"unknown {kind} {value!r}") from None
    if not isinstance(value, dict):
        raise Inexpressible(f"{kind} {value!r} is not a Keras {kind}")
    class_name = value.get("class_name")
    if not isinstance(class_name, str):
        raise Inexpressible(f"{kind} {value!r} is not a Keras {kind}")
    module = value.get("module")
    if module is not None and (not isinstance(module, str) or not module.startswith(_BUILTIN_MODULES)):
        raise Inexpressible(f"custom {kind} {class_name!r} from module {module!r}")
    model = by_class.get(class_name)
    if model is None:
        raise Inexpressible(f"{kind} {class_name!r} has no spec form")
    config = mapping(value.get("config"))
    if not isinstance(config, dict):
        raise Inexpressible(f"{kind} {class_name!r} has an unreadable config")
    return compact(model, config, kind, {"input_axes": None, "output_axes": None})


def compact(model: type[BaseModel], config: dict, kind: str, neutral: dict) -> Any:
    """The spec value of ``model`` with ``config``: a bare name, or a mapping of the non-default parameters."""
    name = type_name(model)
    params = {}
    for key, raw in config.items():
        if key in model.model_fields and key != "type":
            if raw != model.model_fields[key].default:
                params[key] = plain(raw)
        elif key in neutral and raw == neutral[key] or key == "name":
            continue
        else:
            raise Inexpressible(f"{kind} {name} argument {key}={raw!r} has no spec field")
    try:
        model.model_validate({"type": name, **params})
    except ValueError as exc:
        raise Inexpressible(f"{kind} {name}: {first_error(exc)}") from None
    params = {key: params[key] for key in model.model_fields if key in params}  # in the schema's order
    return {"type": name, **params} if params else name


def initializer(value: Any) -> Any:
    return serialized(value, "initializer", INITIALIZER_MODELS)


def regularizer(value: Any) -> Any:
    return serialized(value, "regularizer", _regularizer_models())


def constraint(value: Any) -> Any:
    return serialized(value, "constraint", _constraint_models())


def activation(value: Any) -> str:
    """A Keras activation (a name, or a serialised built-in function) as a spec activation name."""
    if isinstance(value, dict):
        module = value.get("module")
        if module not in ("keras.activations", "keras.src.activations.activations") or not isinstance(
            value.get("config"), str
        ):
            raise Inexpressible(f"custom activation {value.get('config')!r} from module {module!r}")
        value = value["config"]
    if value is None:
        return "linear"
    if not isinstance(value, str):
        raise Inexpressible(f"activation {value!r} is not a Keras activation name")
    try:
        return canonical_name(value, ACTIVATIONS, ALIASES, "activation")
    except ValueError:
        raise Inexpressible(f"activation {value!r} has no spec form") from None


def plain(value: Any) -> Any:
    """Tuples as lists, recursively (JSON already gives lists)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def float32(value: float) -> float:
    """The shortest decimal that is the same float32 as ``value`` (optimizer settings are float32 variables:
    0.0010000000474974513 is written 0.001)."""
    if not isinstance(value, float):
        return value
    try:
        target = struct.pack("<f", value)
    except OverflowError:
        return value
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == target:
            return candidate
    return value


def first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')} (received: {first.get('input')!r})" if where else first.get("msg", "")
    return str(exc)
