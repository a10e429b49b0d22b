"""The JSON Schema as an editor reads it: the raw file a person writes, shaped for yaml-language-server.

pydantic's schema describes the flat spec that modelspec validates. An editor (yaml-language-server, the engine
of VS Code's YAML extension) sees the file as written, before blocks are expanded and `extends:` is merged, and
uses the schema to complete, to explain on hover and to flag mistakes. Its heuristics need a different shape:

- layers are a `type` enum with one `if`/`then` per type, not a `oneOf`: the server has no `discriminator`, picks
  a `oneOf` branch by heuristic and answers an unknown type with 4 of the 44 types;
- one `defaultSnippets` entry per layer type, whose required fields come from each field's `examples`;
- no `default: null` and no mapping defaults where a name will do (the server inserts defaults on completion);
- `markdownDescription` beside every `description` (the server escapes backticks in a plain description),
  `markdownEnumDescriptions` for every table of types, and a `title` on every property (else a hover's heading
  is the title of the enclosing model, a layer's name);
- `blocks:`, `extends:`, block uses in `layers:` and `$param` values inside a block's layers.

Nothing here changes what modelspec accepts: validation is pydantic's, on the expanded spec.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

from modelspec.schema.base import spelling_pattern, type_name
from modelspec.schema.layers import LAYER_ALIASES, LAYER_MODELS

PARAM_PATTERN = r"^\$[A-Za-z_][A-Za-z0-9_]*$"
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"  # base.Name
# Inside a block a local name is prefixed with its use's name on expansion: it may start with a digit ("1", 3_bn).
LOCAL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_REPEAT = 1024  # blocks-format: repeat <= 1,024 (docs/security.md)
REF = "#/$defs/"


def ref(name: str) -> dict:
    """Return a reference to ``$defs[name]``."""
    return {"$ref": REF + name}


def editor_schema(schema: dict) -> dict:
    """Return pydantic's schema of the flat spec reshaped for editors, blocks and `extends:` included."""
    schema = copy.deepcopy(schema)
    defs = schema["$defs"]
    _add_layer_schemas(defs)
    _add_block_schemas(defs)
    _edit_root(schema)
    _enum_descriptions(defs)
    for node in _nodes(schema):
        _edit_node(node, defs)
    _merged_mappings(schema)
    return schema


# --- `extends:`: a spec's mappings are merged into its base's --------------------------------------------------

# Where a partial mapping keeps its meaning: lists replace the base's (their items are whole), an `if` is a
# condition, and the rest are values.
_WHOLE = frozenset(("items", "prefixItems", "if", "propertyNames", "not", "contains", "defaultSnippets", "examples"))


def _merged_mappings(schema: dict) -> None:
    """In a spec that extends another, every mapping is merged into the base's: `training: {epochs: 30}` is
    complete. The root's properties are loosened for that (no `required` in any mapping reached through mappings,
    through ``Partial*`` copies of the definitions they use; `oneOf` becomes `anyOf`, since a partial mapping may fit
    several types), and the `else` branch (no `extends:`) adds the strict ones back."""
    loosen = _Loosen(schema["$defs"])
    strict = {}
    for key, prop in list(schema["properties"].items()):
        loosened = loosen(prop)
        if loosened != prop:
            schema["properties"][key] = loosened
            strict[key] = prop
    schema["else"]["properties"] = strict


class _Loosen:
    """A schema node as a partial mapping may fill it (see ``_merged_mappings``)."""

    def __init__(self, defs: dict):
        self.defs = defs

    def partial(self, reference: str) -> str:
        name = reference.rsplit("/", 1)[-1]
        if name.startswith("Partial") or name not in self.defs:
            return reference
        copy_name = f"Partial{name}"
        if copy_name not in self.defs:
            self.defs[copy_name] = {}  # taken before it is filled: a definition may refer to itself
            self.defs[copy_name] = self(self.defs[name])
        return f"#/$defs/{copy_name}"

    def __call__(self, node):
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        result = {}
        for key, value in node.items():
            if key == "required":
                continue
            if key == "$ref":
                result[key] = self.partial(value)
            elif key in _WHOLE:
                result[key] = value
            elif key in ("properties", "patternProperties"):
                result[key] = {name: self(item) for name, item in value.items()}
            elif key == "oneOf":  # partial mappings of several types may fit more than one
                result["anyOf"] = self(value)
            elif key in ("additionalProperties", "then", "else", "anyOf", "allOf"):
                result[key] = self(value)
            else:
                result[key] = value
        return result


# --- layers: a type enum and one if/then per type ----------------------------------------------------------------


def _type_description(model) -> str:
    return model.model_fields["type"].description


def _spellings(name: str) -> list[str]:
    return [name, *(alias for alias, target in LAYER_ALIASES.items() if target == name)]


def snippet(model) -> dict:
    """Return the completion snippet of a layer type: `type:` and every required field, set to its first example."""
    body = {"type": type_name(model)}
    for key, field in model.model_fields.items():
        if key != "type" and field.is_required():
            body[key] = field.examples[0]
    return {"label": type_name(model), "description": _type_description(model), "body": body}


SNIPPETS = [
    *(snippet(m) for m in LAYER_MODELS),
    {
        "label": "block use",
        "description": "Use a block from `blocks:`, named, repeated twice.",
        "body": {"block": "${1:block}", "name": "${2:name}", "repeat": 2},
    },
]


def _add_layer_schemas(defs: dict) -> None:
    names = [type_name(m) for m in LAYER_MODELS]
    defs["LayerType"] = {
        "title": "type",
        "description": "The layer type: one of the listed names (any letter case), a Keras class name such as "
        "`Conv2D`, or an alias such as `batch_normalization`.",
        "anyOf": [
            {
                "type": "string",
                "enum": names,
                "markdownEnumDescriptions": [_type_description(m) for m in LAYER_MODELS],
            },
            {
                "type": "string",
                "pattern": spelling_pattern([*names, *LAYER_ALIASES]),
                "patternErrorMessage": f"unknown layer type: use one of {', '.join(names)} (any letter case), "
                "a Keras class name or an alias",
            },
        ],
    }
    for prefix in ("", "Block"):
        defs[f"{prefix}Layer"] = {
            "title": "layer",
            "description": defs["Layer"]["description"]
            + (" Inside a block, any value may be a `$parameter`." if prefix else ""),
            "type": "object",
            "properties": {
                "type": {
                    "description": defs["LayerType"]["description"],
                    **(ref("LayerType") if not prefix else _param_or(ref("LayerType"))),
                }
            },
            "required": ["type"],
            "allOf": [
                {
                    "if": {
                        "type": "object",
                        "properties": {
                            "type": {
                                "description": f"`{type_name(m)}`, in any of its spellings.",
                                "type": "string",
                                "pattern": spelling_pattern(_spellings(type_name(m))),
                            }
                        },
                        "required": ["type"],
                    },
                    "then": ref(prefix + m.__name__),
                }
                for m in LAYER_MODELS
            ],
        }
    for model in LAYER_MODELS:
        defs["Block" + model.__name__] = _in_block(defs[model.__name__], model.__name__)


# --- blocks, uses and $parameters --------------------------------------------------------------------------------


def _param_or(schema: dict) -> dict:
    return {"anyOf": [ref("Param"), schema]}


def _in_block(model: dict, name: str) -> dict:
    """Return a layer model's schema as it stands inside a block: every value may be a `$parameter`, in lists too,
    and names are local (the use's name is put in front of them on expansion). A value's schema that needs no
    change is referred to, not copied: the schema stays small."""
    model = copy.deepcopy(model)
    for key, prop in model["properties"].items():
        if key == "type":
            continue
        outer = {k: prop[k] for k in ("title", "description") if k in prop}
        local = _local(prop)
        value = ref(f"{name}/properties/{key}") if local == prop else {k: v for k, v in local.items() if k not in outer}
        model["properties"][key] = {**outer, **_param_or(value)}
    return model


def _local(schema):
    """Let a value's schema take `$parameter` list items and local names, recursively through anyOf and items."""
    if isinstance(schema, list):
        return [_local(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _local(value) if key in ("anyOf", "oneOf", "items") else value for key, value in schema.items()}
    if schema.get("pattern") == NAME_PATTERN:
        schema["pattern"] = LOCAL_NAME_PATTERN
    if isinstance(schema.get("items"), dict):
        schema["items"] = _param_or(schema["items"])
    return schema


def _use(block: bool) -> dict:
    name = LOCAL_NAME_PATTERN if block else NAME_PATTERN
    properties = {
        "block": {
            "title": "block",
            "description": "The block to use: one of the names under the top-level `blocks:`.",
            "type": "string",
            "pattern": NAME_PATTERN,
        },
        "name": {
            "title": "name",
            "description": "The use's name: it is put in front of the block's layer names (`NAME_` or, with "
            "`repeat`, `NAME1_`, `NAME2_`, ...); without it the block's names are used as written.",
            "type": "string",
            "pattern": name,
        },
        "repeat": {
            "title": "repeat",
            "description": f"Chain this many uses of the block, each taking the previous one's output "
            f"(1 to {MAX_REPEAT}; needs `name`).",
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_REPEAT,
            "examples": [2],
        },
        "start": {
            "title": "start",
            "description": "The first repeat's index in the names (default 1; with `repeat` only).",
            "type": "integer",
            "minimum": 0,
            "examples": [1],
        },
        "inputs": {
            "title": "inputs",
            "description": "Names of the layers or inputs feeding the block's first layer; default: the previous one.",
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": name},
        },
    }
    if block:
        properties = {
            key: {"title": value["title"], "description": value["description"], **_param_or(_local(value))}
            for key, value in properties.items()
        }
    return {
        "title": "block use",
        "description": "A use of a block: `block:`, an optional `name`, `repeat`, `start` and `inputs`, and the "
        "block's parameters, each `PARAM: value`.",
        "type": "object",
        "properties": properties,
        "required": ["block"],
        "dependentRequired": {"repeat": ["name"], "start": ["repeat"]},
        "propertyNames": {
            "title": "parameter",
            "description": "A parameter of the block, one of the names in its `params:`.",
            "pattern": IDENTIFIER_PATTERN,
        },
        "additionalProperties": {
            "title": "parameter",
            "description": "The value of one of the block's parameters (declared in its `params:`): it replaces "
            "every `$PARAM` in the block's layers.",
        },
    }


def _layer_or_use(prefix: str) -> dict:
    use = ref(f"{prefix}Use")
    return {
        "title": "layer or block use",
        "description": "A layer (`type:` and that type's fields) or a use of a block (`block:` and its parameters).",
        "type": "object",
        "if": {"type": "object", "required": ["block"]},
        "then": use,
        "else": ref(f"{prefix}Layer"),
        # Snippets for an item that has neither `type:` nor `block:` yet (a bare `- `), not inside a layer or use.
        "allOf": [
            {
                "if": {"type": "object", "anyOf": [{"required": ["type"]}, {"required": ["block"]}]},
                "else": {"defaultSnippets": SNIPPETS},
            }
        ],
    }


def _add_block_schemas(defs: dict) -> None:
    defs["Param"] = {
        "title": "$parameter",
        "description": "`$NAME`: the value of the block's parameter NAME, given by each use (or its default); "
        "`$input` and `$inputs`: the layer name(s) the use receives.",
        "type": "string",
        "pattern": PARAM_PATTERN,
        "patternErrorMessage": "neither a value this field takes nor a `$parameter` (`$` and a parameter name, "
        "e.g. `$filters`)",
    }
    defs["Use"] = _use(block=False)
    defs["BlockUse"] = _use(block=True)
    defs["LayerOrUse"] = _layer_or_use("")
    defs["BlockLayerOrUse"] = _layer_or_use("Block")
    defs["Block"] = {
        "title": "block",
        "description": "A named, parameterised list of layers, used in `layers:` as `{block: NAME, name: USE, "
        "PARAM: value}`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["layers"],
        "properties": {
            "description": {"title": "description", "description": "What the block is, for readers.", "type": "string"},
            "params": {
                "title": "params",
                "description": "The block's parameters and their defaults: `null` means every use must set it.",
                "type": "object",
                "propertyNames": {
                    "title": "parameter",
                    "description": "A parameter name: a letter or `_`, then letters, digits or `_` (not `input` "
                    "or `inputs`, which are reserved).",
                    "pattern": IDENTIFIER_PATTERN,
                    "not": {"enum": ["input", "inputs"]},
                },
                "additionalProperties": {
                    "title": "default",
                    "description": "The parameter's default value; `null`: every use must set it.",
                },
                "examples": [{"filters": None, "kernel_size": 3}],
            },
            "layers": {
                "title": "layers",
                "description": "The block's layers and uses of other blocks, in order: the first takes the use's "
                "input; `$PARAM` values are replaced by the use's parameters.",
                "type": "array",
                "minItems": 1,
                "items": ref("BlockLayerOrUse"),
            },
        },
    }


# --- the top level -------------------------------------------------------------------------------------------------


def _edit_root(schema: dict) -> None:
    properties = schema["properties"]
    properties["layers"]["items"] = ref("LayerOrUse")
    properties["distribute"]["doNotSuggest"] = True
    extends = {
        "title": "extends",
        "description": "A base spec, as a path relative to this file: this spec's mappings are merged into the "
        "base's, its lists replace the base's, and `null` deletes a key.",
        "type": "string",
        "minLength": 1,
        "examples": ["base.yaml"],
    }
    blocks = {
        "title": "blocks",
        "description": "Named, parameterised lists of layers, used in `layers:` as `{block: NAME, ...}`.",
        "type": "object",
        "propertyNames": {
            "title": "block name",
            "description": "A block name, as a layer name.",
            "pattern": NAME_PATTERN,
        },
        "additionalProperties": ref("Block"),
    }
    order = list(properties)
    order[order.index("modelspec") + 1 : order.index("modelspec") + 1] = ["extends"]
    order[order.index("layers") : order.index("layers")] = ["blocks"]
    known = {**properties, "extends": extends, "blocks": blocks}
    schema["properties"] = {key: known[key] for key in order}
    # A spec that extends a base may leave out what the base has (`modelspec:` and `layers:` included).
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": schema.pop("required")}


# --- every node ----------------------------------------------------------------------------------------------------


def _nodes(node) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _refs(schema: dict) -> Iterator[str]:
    if "$ref" in schema:
        yield schema["$ref"].removeprefix(REF)
    for alternative in schema.get("anyOf", []):
        yield from _refs(alternative)


def _shorthand(default, schema: dict, defs: dict):
    """Return a `{type: NAME}` default as the bare NAME where the schema takes the name bare."""
    if not (isinstance(default, dict) and list(default) == ["type"]):
        return default
    for name in _refs(schema):
        alternatives = defs.get(name, {}).get("anyOf", [])
        if alternatives and default["type"] in alternatives[0].get("enum", ()):
            return default["type"]
    return default


PATTERN_MESSAGES = {
    NAME_PATTERN: "not a name: a letter, then up to 63 letters, digits, '_' or '-'",
    LOCAL_NAME_PATTERN: "not a name: a letter or digit, then up to 63 letters, digits, '_' or '-'",
    IDENTIFIER_PATTERN: "not a parameter name: a letter or '_', then letters, digits or '_'",
}


def _edit_node(node: dict, defs: dict) -> None:
    if "description" in node and isinstance(node["description"], str):
        node.setdefault("markdownDescription", node["description"])
    if node.get("pattern") in PATTERN_MESSAGES:
        node.setdefault("patternErrorMessage", PATTERN_MESSAGES[node["pattern"]])
    properties = node.get("properties")
    if not isinstance(properties, dict):
        return
    for key, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        prop["title"] = key  # the hover's heading: the field's own name, never the enclosing model's title
        _nullable(prop)
        if "default" in prop:
            if prop["default"] is None:
                del prop["default"]  # an editor would insert `key: null`
            else:
                prop["default"] = _shorthand(prop["default"], prop, defs)


def _nullable(prop: dict) -> None:
    """Write `anyOf: [{type: T, ...}, {type: null}]` as `{type: [T, null], ...}`, which means the same, and let the
    property's own description be the one a hover shows.

    The server takes a hover's text from the first schema that matched, the alternatives before the property,
    and with two untitled alternatives it shows the heading twice (`inputs || inputs`).
    """
    alternatives = prop.get("anyOf")
    if not (isinstance(alternatives, list) and len(alternatives) == 2 and alternatives[1] == {"type": "null"}):
        return
    value = alternatives[0]
    if not isinstance(value.get("type"), str) or {"$ref", "anyOf", "oneOf", "enum", "const"} & set(value):
        return
    del prop["anyOf"]
    for key, item in value.items():
        if key not in ("description", "markdownDescription", "title"):
            prop[key] = item
    prop["type"] = [value["type"], "null"]


def _enum_descriptions(defs: dict) -> None:
    """Describe each name of a table of types (initializers, optimizers, ...) by its model's `type` description."""
    for schema in defs.values():
        alternatives = schema.get("anyOf", [])
        if not alternatives or "enum" not in alternatives[0] or "markdownEnumDescriptions" in alternatives[0]:
            continue
        described = {}
        for alternative in alternatives:
            for reference in alternative.get("oneOf", []):
                model = defs[reference["$ref"].removeprefix(REF)]
                prop = model["properties"]["type"]
                const = next((a["const"] for a in prop.get("anyOf", [prop]) if "const" in a), None)
                described[const] = prop.get("description", "")
        if described:
            alternatives[0]["markdownEnumDescriptions"] = [described.get(n, "") for n in alternatives[0]["enum"]]


# --- one spec's blocks -----------------------------------------------------------------------------------------


def for_blocks(schema: dict, blocks) -> dict:
    """Return the editor schema narrowed to one spec's ``blocks:`` (the raw mapping, as read): `block:` offers
    their names, and a use of one of them completes its parameter names, needs those without a default and
    refuses others.

    A schema cannot read the file it checks, so this is the one way it can know a block's parameters; the names
    of blocks the spec does not define (in a base it extends, say) are still accepted, unchecked.
    """
    schema = copy.deepcopy(schema)
    blocks = (
        {name: block for name, block in blocks.items() if isinstance(block, dict)} if isinstance(blocks, dict) else {}
    )
    for use in (schema["$defs"]["Use"], schema["$defs"]["BlockUse"]):
        reserved = list(use["properties"])
        block = use["properties"]["block"]
        (block if "type" in block else block["anyOf"][1]).setdefault("examples", list(blocks))
        use["allOf"] = [
            {
                "if": {"type": "object", "properties": {"block": {"const": name}}, "required": ["block"]},
                "then": _parameters(name, block.get("params")),
            }
            for name, block in blocks.items()
        ]
        for branch in use["allOf"]:
            branch["then"]["properties"] = {**dict.fromkeys(reserved, True), **branch["then"]["properties"]}
    return schema


def _parameters(block: str, params) -> dict:
    params = params if isinstance(params, dict) else {}
    properties = {}
    for name, default in params.items():
        text = "required: every use sets it" if default is None else f"default: {json.dumps(default)}"
        description = f"Parameter `{name}` of block `{block}` ({text})."
        # Any value; the anyOf makes the server insert `name: ` (with nothing to go on it would insert `name`).
        prop = {"title": str(name), "description": description, "markdownDescription": description}
        properties[str(name)] = {**prop, "anyOf": [{"title": str(name)}]}
        if default is not None:
            properties[str(name)]["examples"] = [default]  # inserted as the value: the default, to edit
    return {
        "properties": properties,
        "required": [str(name) for name, default in params.items() if default is None],
        "additionalProperties": False,
    }
