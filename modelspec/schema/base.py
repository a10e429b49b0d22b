"""The base model, shared field types and the named-or-mapping union helper used by every table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from modelspec.diagnostics import did_you_mean


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, no type coercion, finite numbers only."""

    # defer_build: validators are built once, for the whole Spec, on first use rather than per class at import.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, defer_build=True)


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, lt=1, description="A fraction in [0, 1).")]
Seed = Annotated[int, Field(ge=0, lt=2**32, description="An explicit seed; prefer the model-level `seed`.")]
Name = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
        description="A name: a letter, then up to 63 letters, digits, '_' or '-'.",
    ),
]
IntOrList = Annotated[
    Union[PositiveInt, Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]],
    Field(description="One positive integer for every spatial axis, or one per axis."),
]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """Turn a Keras class name such as ``GlorotUniform`` or ``Conv2D`` into ``glorot_uniform`` / ``conv2d``."""
    return _CAMEL.sub("_", name).lower().replace("__", "_") if name != name.lower() else name


def canonical_name(value: Any, names: Iterable[str], aliases: dict[str, str], kind: str) -> Any:
    """Map a user's spelling to the canonical snake_case name, or raise a did-you-mean error."""
    if not isinstance(value, str):
        return value
    names = list(names)
    for candidate in (value, snake_case(value), value.lower()):
        if candidate in names:
            return candidate
        if candidate in aliases:
            return aliases[candidate]
    raise PydanticCustomError(
        "unknown_name",
        "unknown {kind} '{value}'{suggestion}",
        {"kind": kind, "value": value, "suggestion": did_you_mean(value, names + list(aliases))},
    )


def tagged_union(alias_name: str, models: Iterable[type[StrictModel]], kind: str,
                 aliases: dict[str, str] | None = None, description: str = ""):
    """Build ``name | {type: name, ...options}`` as a discriminated union over ``models``.

    Each model declares ``type: Literal["name"]``. A bare string is shorthand for ``{type: name}``;
    Keras CamelCase names and ``aliases`` are normalised to the canonical name.
    """
    models = list(models)
    names = [type_name(m) for m in models]
    aliases = aliases or {}

    def coerce(value: Any) -> Any:
        if isinstance(value, str):
            return {"type": canonical_name(value, names, aliases, kind)}
        if isinstance(value, dict) and "type" in value:
            return {**value, "type": canonical_name(value["type"], names, aliases, kind)}
        return value

    union = Annotated[Union[tuple(models)], Discriminator("type")]
    shorthand = Literal[tuple(names)]
    # A named alias: pydantic builds its schema once and refers to it from every field that uses it
    # (there are dozens of initializer slots), which keeps start-up and the JSON Schema small.
    return TypeAliasType(alias_name, Annotated[
        union,
        BeforeValidator(coerce, json_schema_input_type=Union[shorthand, union]),
        Field(description=description),
    ])


def field_error(field: str, message: str) -> PydanticCustomError:
    """Return the error a model validator raises about one of its fields, so the diagnostic points at it."""
    return PydanticCustomError("field_error", "{message}", {"field": field, "message": message})


def type_name(model: type[BaseModel]) -> str:
    """Return the ``type`` literal a tagged model declares."""
    return model.model_fields["type"].annotation.__args__[0]
