"""The base model, shared field types and the named-or-mapping union helper used by every table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, GetCoreSchemaHandler
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
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
SEED_LIMIT = 2**32  # seeds are 0 <= seed < SEED_LIMIT: in the spec, on every `--seed`, in the library (NumPy's range)
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT, description="An explicit seed; prefer the model-level `seed`.")]
# Fields whose value may be a name that stands for the mapping `{type: name}` (`optimizer: adam`): `--set` and
# `extends:` turn the name into that mapping before they set or merge one of its keys.
SHORTHAND = ("optimizer", "loss", "learning_rate_schedule", "_initializer", "_regularizer", "_constraint")

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
    """Turn a Keras class name such as ``GlorotUniform`` into ``glorot_uniform``.

    A digit before a capital starts a word too (``Conv2D`` gives ``conv2_d``), which is why `canonical_name` also
    tries the plain lower-case spelling (``conv2d``).
    """
    return _CAMEL.sub("_", name).lower().replace("__", "_") if name != name.lower() else name


def canonical_name(value: Any, names: Iterable[str], aliases: dict[str, str], kind: str) -> Any:
    """Map a user's spelling to the canonical snake_case name, or raise an error with a did-you-mean (or, for a
    short table without a close match, every name it holds)."""
    if not isinstance(value, str):
        return value
    names = list(names)
    for candidate in (value, snake_case(value), value.lower()):
        if candidate in names:
            return candidate
        if candidate in aliases:
            return aliases[candidate]
    suggestion = did_you_mean(value, names + list(aliases))
    if not suggestion and len(names) <= 8:
        suggestion = f" (expected one of: {', '.join(names)})"
    raise PydanticCustomError(
        "unknown_name",
        "unknown {kind} '{value}'{suggestion}",
        {"kind": kind, "value": value, "suggestion": suggestion},
    )


# --- the JSON Schema of names ---------------------------------------------------------------------------------
#
# `canonical_name` accepts more than the canonical names: any letter case, Keras class names and aliases. The
# JSON Schema (`modelspec schema`, for editors) must accept the same spellings, or an editor marks valid specs as
# wrong. It lists the canonical names as an `enum`, which editors offer for completion, beside a `pattern` that
# accepts every other spelling. JSON Schema patterns are ECMA-262 regular expressions, which have no
# case-insensitive flag, hence the [hH][eE] classes.


def _spelling(name: str) -> str:
    words = name.split("_")
    return "_{0,2}".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word) for word in words)


def spelling_pattern(spellings: Iterable[str]) -> str:
    """Return a regular expression matching every way `canonical_name` accepts one of ``spellings``.

    Letters may have any case, and where a spelling has an underscore there may be none, one or two
    (``HeNormal``, ``HE_NORMAL`` and ``he_normal`` all match he_normal). That is a little wider than
    `canonical_name`, which refuses ``henormal``, and never narrower: a schema built from it must not refuse a
    spec that modelspec accepts. The pattern is valid in ECMA-262 (editors) and Python alike.
    """
    return "^(?:" + "|".join(sorted({_spelling(s) for s in spellings})) + ")$"


def names_schema(names: Iterable[str], aliases: Mapping[str, str], kind: str) -> JsonSchemaValue:
    """Return the JSON Schema of a string that `canonical_name` accepts: one of ``names`` (listed, so editors
    complete them), or another spelling of a name or of an alias."""
    names = list(names)
    return {
        "anyOf": [
            {"type": "string", "enum": names},
            {
                "type": "string",
                "pattern": spelling_pattern([*names, *aliases]),
                "patternErrorMessage": (
                    f"not a known {kind}: use one of the listed names, a Keras class name or an alias"
                ),
            },
        ]
    }


class Spelled:
    """Annotation of a ``str`` field that holds one of ``names``: validation turns every spelling that
    `canonical_name` accepts into the canonical name, and the JSON Schema accepts the same spellings.

    With ``null`` set, ``None`` (YAML ``null``) stands for that name.
    """

    def __init__(self, names: Iterable[str], aliases: Mapping[str, str], kind: str, null: Optional[str] = None):
        self.names = tuple(names)
        self.aliases = dict(aliases)
        self.kind = kind
        self.null = null

    def canonical(self, value: Any) -> Any:
        """Return the canonical name of ``value`` (unchanged when it is not a string, for the type check)."""
        if value is None and self.null is not None:
            return self.null
        return canonical_name(value, self.names, self.aliases, self.kind)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.canonical, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        names = names_schema(self.names, self.aliases, self.kind)
        if self.null is not None:
            names["anyOf"].append({"type": "null"})
        return names


class TaggedUnionSchema:
    """Annotation of a union of ``type:``-tagged models whose tag goes through `canonical_name`: it makes the
    JSON Schema accept what validation accepts, and changes nothing else.

    In each model's schema, ``type`` accepts every spelling of the model's name and of its aliases, as well as
    the name itself. With ``shorthand``, a bare name stands for ``{type: name}`` (only the names of models whose
    fields all have defaults: another bare name can never be valid). The OpenAPI ``discriminator`` keyword is
    dropped: its mapping lists only the canonical names, and a tool that honours it would refuse the others.
    """

    def __init__(
        self, models: Iterable[type[BaseModel]], aliases: Mapping[str, str], kind: str, shorthand: bool = True
    ):
        self.models = tuple(models)
        self.aliases = dict(aliases)
        self.kind = kind
        self.shorthand = shorthand

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        union = dict(handler(schema))
        union.pop("discriminator", None)
        description = union.pop("description", None)
        for reference in union["oneOf"]:
            self._spell_type(handler.resolve_ref_schema(reference))
        names = [type_name(m) for m in self.models if _all_fields_optional(m)] if self.shorthand else []
        if names:
            aliases = {alias: name for alias, name in self.aliases.items() if name in names}
            union = {"anyOf": [*names_schema(names, aliases, self.kind)["anyOf"], union]}
        return {**union, "description": description} if description else union

    def _spell_type(self, schema: JsonSchemaValue) -> None:
        """Let the ``type`` property of a model's schema accept every spelling of its name (once: a model's schema
        is shared by every field that refers to it)."""
        prop = schema["properties"]["type"]
        if "const" not in prop:
            return
        name = prop["const"]
        spellings = [name, *(alias for alias, target in self.aliases.items() if target == name)]
        description = prop.pop("description", None)
        prop.pop("title", None)
        schema["properties"]["type"] = {
            "anyOf": [prop, {"type": "string", "pattern": spelling_pattern(spellings)}],
            **({"description": description} if description else {}),
        }


def _all_fields_optional(model: type[BaseModel]) -> bool:
    return all(not field.is_required() for name, field in model.model_fields.items() if name != "type")


def tagged_union(
    alias_name: str,
    models: Iterable[type[StrictModel]],
    kind: str,
    aliases: dict[str, str] | None = None,
    description: str = "",
    shorthand: bool = True,
):
    """Build ``name | {type: name, ...options}`` as a discriminated union over ``models``.

    Each model declares ``type: Literal["name"]``. A bare string is shorthand for ``{type: name}`` (unless
    ``shorthand`` is false); Keras CamelCase names and ``aliases`` are normalised to the canonical name, in the
    validator and in the JSON Schema alike.
    """
    models = list(models)
    names = [type_name(m) for m in models]
    aliases = aliases or {}

    def coerce(value: Any) -> Any:
        if shorthand and isinstance(value, str):
            return {"type": canonical_name(value, names, aliases, kind)}
        if isinstance(value, dict) and "type" in value:
            return {**value, "type": canonical_name(value["type"], names, aliases, kind)}
        return value

    union = Annotated[Union[tuple(models)], Discriminator("type")]
    # A named alias: pydantic builds its schema once and refers to it from every field that uses it
    # (there are dozens of initializer slots), which keeps start-up and the JSON Schema small.
    return TypeAliasType(
        alias_name,
        Annotated[
            union,
            BeforeValidator(coerce),
            TaggedUnionSchema(models, aliases, kind, shorthand),
            Field(description=description),
        ],
    )


def field_error(field: str, message: str) -> PydanticCustomError:
    """Return the error a model validator raises about one of its fields, so the diagnostic points at it."""
    return PydanticCustomError("field_error", "{message}", {"field": field, "message": message})


def type_name(model: type[BaseModel]) -> str:
    """Return the ``type`` literal a tagged model declares."""
    return model.model_fields["type"].annotation.__args__[0]
