"""modelspec.schema.json against modelspec itself, with a real JSON Schema validator (Draft 2020-12).

Editors (yaml-language-server) check specs with the schema: it must accept every spec that modelspec accepts,
with every spelling modelspec accepts (shorthands, aliases, Keras class names, any letter case), and should
still refuse what is plainly wrong. The committed file is the one `modelspec schema` prints (test_cli.py).
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from modelspec import SpecError, load_spec, source
from modelspec.schema import Spec
from modelspec.schema.activations import ActivationName
from modelspec.schema.base import Spelled, TaggedUnionSchema, canonical_name, type_name
from modelspec.schema.editor_schema import for_blocks
from modelspec.schema.initializers import Constraint, Initializer, Regularizer
from modelspec.schema.training import LOSS_ALIASES, LOSSES, Loss, MetricName, Optimizer, Schedule

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "modelspec.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)
FILES = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "examples").rglob("*.yaml"))


def errors(data) -> list[str]:
    """Return the schema's complaints about ``data``, one line each."""
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in VALIDATOR.iter_errors(data)
    ]


def accepted_by_modelspec(data) -> bool:
    try:
        load_spec(data)
    except SpecError:
        return False
    return True


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


# --- every spec modelspec accepts --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_spec_files_are_valid(path):
    load_spec(path)  # modelspec accepts it ...
    assert errors(source.read(path).data) == []  # ... and so does the schema


def _fixture_specs():
    for path in sorted((ROOT / "tests" / "rules").glob("MS*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            yield pytest.param(case["spec"], id=f"{path.stem}: {case['name']}")


FIXTURE_SPECS = list(_fixture_specs())


def test_there_are_rule_fixtures_to_check():
    assert len(FIXTURE_SPECS) > 50


@pytest.mark.parametrize("text", FIXTURE_SPECS)
def test_rule_fixture_specs_that_load_are_valid(text, tmp_path, monkeypatch):
    (tmp_path / "base.weights.h5").touch()  # as tests/test_rules.py: pretrained.path resolves against the cwd
    monkeypatch.chdir(tmp_path)
    data = source.parse(text).data  # what modelspec reads: the YAML 1.2 core schema, as yaml-language-server
    if not accepted_by_modelspec(data):
        pytest.skip("modelspec refuses this fixture")
    assert errors(data) == []


# --- shorthands, aliases and other spellings in whole specs ------------------------------------------------------

BASE = """\
modelspec: 1
seed: 1
input: {shape: [8, 8, 3]}
layers:
  - {type: conv2d, filters: 4, kernel_size: 3, activation: relu}
  - {type: flatten}
  - {type: dense, name: hidden, units: 16, activation: relu}
  - {type: dense, name: out, units: 4, activation: softmax}
training:
  optimizer: adam
  loss: categorical_crossentropy
"""


def edited(changes: dict) -> dict:
    """Return BASE with ``changes`` applied: ``layers.2.kernel_initializer`` sets that key in the third layer."""
    data = source.parse(BASE).data
    for dotted, value in changes.items():
        *parents, key = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        target = data
        for part in parents:
            target = target[part]
        target[key] = value
    return data


SHORTHANDS = {
    "loss: mse": {"training.loss": "mse"},
    "loss: MeanSquaredError": {"training.loss": "MeanSquaredError"},
    "loss: {type: CategoricalCrossentropy}": {
        "training.loss": {"type": "CategoricalCrossentropy", "label_smoothing": 0.1}
    },
    "loss: {type: huber_loss, delta: 2}": {"training.loss": {"type": "huber_loss", "delta": 2.0}},
    "metrics: [acc, AUC, rmse]": {"training.metrics": ["acc", "AUC", "rmse"]},
    "optimizer: Adam": {"training.optimizer": "Adam"},
    "optimizer: {type: RMSprop}": {"training.optimizer": {"type": "RMSprop", "learning_rate": 0.001}},
    "optimizer: SGD": {"training.optimizer": "SGD"},
    "learning_rate_schedule: {type: ExponentialDecay}": {
        "training.learning_rate_schedule": {"type": "ExponentialDecay", "decay_steps": 100, "decay_rate": 0.9}
    },
    "kernel_initializer: HeNormal": {"layers.2.kernel_initializer": "HeNormal"},
    "kernel_initializer: xavier_uniform": {"layers.3.kernel_initializer": "xavier_uniform"},
    "kernel_initializer: {type: GlorotUniform, seed: 3}": {
        "layers.3.kernel_initializer": {"type": "GlorotUniform", "seed": 3}
    },
    "bias_initializer: Zeros": {"layers.2.bias_initializer": "Zeros"},
    "activation: null": {"layers.2.activation": None},
    "activation: swish": {"layers.2.activation": "swish"},
    "activation: ReLU": {"layers.2.activation": "ReLU"},
    "activation: LeakyReLU": {"layers.2.activation": "LeakyReLU"},
    "kernel_regularizer: L2": {"layers.2.kernel_regularizer": "L2"},
    "kernel_regularizer: {type: l1l2}": {"layers.2.kernel_regularizer": {"type": "l1l2", "l1": 0.01}},
    "kernel_constraint: MaxNorm": {"layers.2.kernel_constraint": "MaxNorm"},
    "kernel_constraint: nonneg": {"layers.2.kernel_constraint": "nonneg"},
    "type: Conv2D": {"layers.0.type": "Conv2D"},
    "type: Dense": {"layers.2.type": "Dense"},
    "type: DENSE": {"layers.2.type": "DENSE"},
    "type: Flatten": {"layers.1.type": "Flatten"},
    "defaults: {kernel_initializer: HeNormal, activation: null}": {
        "defaults": {"kernel_initializer": "HeNormal", "bias_initializer": "zeros", "activation": None}
    },
}


@pytest.mark.parametrize("changes", SHORTHANDS.values(), ids=SHORTHANDS.keys())
def test_every_shorthand_modelspec_accepts_is_valid(changes):
    data = edited(changes)
    assert accepted_by_modelspec(data)
    assert errors(data) == []


LAYER_ALIAS_SPECS = {
    "BatchNormalization": "  - {type: BatchNormalization}\n",
    "batch_normalization": "  - {type: batch_normalization}\n",
    "MaxPooling2D": "  - {type: MaxPooling2D}\n",
    "GlobalAveragePooling2D": "  - {type: GlobalAveragePooling2D}\n",
    "SeparableConv2D": "  - {type: SeparableConv2D, filters: 2, kernel_size: 1}\n",
    "mha": "  - {type: reshape, target_shape: [64, 3]}\n  - {type: mha, num_heads: 1, key_dim: 2}\n",
    "SimpleRNN": "  - {type: reshape, target_shape: [64, 3]}\n  - {type: SimpleRNN, units: 2}\n",
    "Keras": "  - {type: Keras, class_name: LeakyReLU}\n",
}


@pytest.mark.parametrize("layers", LAYER_ALIAS_SPECS.values(), ids=LAYER_ALIAS_SPECS.keys())
def test_layer_type_aliases_are_valid(layers):
    data = source.parse(f"modelspec: 1\nseed: 1\ninput: {{shape: [8, 8, 3]}}\nlayers:\n{layers}").data
    assert accepted_by_modelspec(data)
    assert errors(data) == []


# --- what the schema refuses ---------------------------------------------------------------------------------------

WRONG = {
    "unknown top-level field": {"epochs": 3},
    "unknown layer field": {"layers.2.unit": 16},
    "units: 0": {"layers.2.units": 0},
    "units: 1.5": {"layers.2.units": 1.5},
    "dropout rate 1.5": {"layers.1": {"type": "dropout", "rate": 1.5}},
    "unknown layer type": {"layers.1.type": "flaten"},
    "modelspec: 2": {"modelspec": 2},
    "unknown activation": {"layers.2.activation": "relu7"},
    "unknown initializer": {"layers.2.kernel_initializer": "he_nromal"},
    "initializer with an unknown parameter": {"layers.2.kernel_initializer": {"type": "he_normal", "gain": 2.0}},
    "unknown loss": {"training.loss": "categorical_crossentropyy"},
    "unknown metric": {"training.metrics": ["accuracyy"]},
    "unknown optimizer": {"training.optimizer": "adamx"},
    "negative learning rate": {"training.optimizer": {"type": "sgd", "learning_rate": -0.1}},
    "schedule without its steps": {"training.learning_rate_schedule": "exponential_decay"},
    "a layer type in the wrong place": {"layers.2.kernel_initializer": "dense"},
}


@pytest.mark.parametrize("changes", WRONG.values(), ids=WRONG.keys())
def test_the_schema_refuses_what_modelspec_refuses(changes):
    data = edited(changes)
    assert not accepted_by_modelspec(data)
    assert errors(data), "the schema accepts a spec that modelspec refuses"


def test_the_base_spec_is_valid():
    assert accepted_by_modelspec(edited({})) and errors(edited({})) == []


# --- every spelling of every name ----------------------------------------------------------------------------------
#
# Each table of names (activations, metrics, losses, initializers, ..., layer types) is checked against modelspec
# itself, for every name and alias in it and many spellings of each (letter case, CamelCase, Keras class names,
# random case and underscores): whenever modelspec accepts a spelling, so does the schema, at the place where it
# is written: as a bare name (`activation: ReLU`, `kernel_initializer: HeNormal`) or as a `type:` (`type: Conv2D`).


@dataclass
class Table:
    """One table of names: how modelspec reads a spelling of them, and the schemas of the places they go."""

    id: str
    names: tuple[str, ...]
    aliases: dict[str, str]
    kind: str
    accepts_bare: Optional[Callable[[str], bool]] = field(repr=False)  # does modelspec take the name bare there?
    bare_schema: Optional[dict] = field(repr=False)  # the schema there; both None for layers (never bare)
    types: dict[str, dict] = field(default_factory=dict, repr=False)  # name -> schema of `type:` in its model
    keras_names: frozenset[str] = field(default=frozenset(), repr=False)

    def type_of(self, spelling: str) -> Optional[str]:
        """The name `type: spelling` stands for, or None when modelspec refuses it."""
        try:
            return canonical_name(spelling, self.names, self.aliases, self.kind)
        except PydanticCustomError:
            return None


def _accepts(annotation, wrap=lambda spelling: spelling) -> Callable[[str], bool]:
    """Return whether modelspec validates ``wrap(spelling)`` as ``annotation``."""
    adapter = TypeAdapter(annotation)

    def accepts(spelling: str) -> bool:
        try:
            adapter.validate_python(wrap(spelling))
        except ValidationError:
            return False
        return True

    return accepts


def _metadata(annotation, kind):
    """Return the ``kind`` instance in an annotation's metadata, looking through named type aliases, nested
    ``Annotated`` and ``list[...]``."""
    annotation = getattr(annotation, "__value__", annotation)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        found = [m for m in args[1:] if isinstance(m, kind)]
        return found[0] if found else _metadata(args[0], kind)
    if typing.get_origin(annotation) is list:
        return _metadata(args[0], kind)
    raise AssertionError(f"no {kind.__name__} in {annotation}")


def _types(models) -> dict[str, dict]:
    return {type_name(m): SCHEMA["$defs"][m.__name__]["properties"]["type"] for m in models}


def _tables() -> list[Table]:
    tables = []
    for table_id, annotation, pointer in (
        ("activation", ActivationName, SCHEMA["$defs"]["Dense"]["properties"]["activation"]),
        ("metric", MetricName, SCHEMA["$defs"]["Training"]["properties"]["metrics"]["items"]),
    ):
        spelled = _metadata(annotation, Spelled)
        tables.append(Table(table_id, spelled.names, spelled.aliases, spelled.kind, _accepts(annotation), pointer))
    # One model for every loss: `type:` of a mapping is checked like a bare name, against its own schema.
    loss_type = SCHEMA["$defs"]["Loss"]["anyOf"][-1]["properties"]["type"]
    keras_losses = frozenset(facts.keras_class for facts in LOSSES.values())
    tables.append(
        Table(
            "loss",
            tuple(LOSSES),
            LOSS_ALIASES,
            "loss",
            _accepts(Loss),
            {"$ref": "#/$defs/Loss"},
            keras_names=keras_losses,
        )
    )
    tables.append(
        Table(
            "loss type",
            tuple(LOSSES),
            LOSS_ALIASES,
            "loss",
            _accepts(Loss, lambda spelling: {"type": spelling}),
            loss_type,
            keras_names=keras_losses,
        )
    )
    for table_id, alias in (
        ("Initializer", Initializer),
        ("Regularizer", Regularizer),
        ("Constraint", Constraint),
        ("Optimizer", Optimizer),
        ("Schedule", Schedule),
    ):
        union = _metadata(alias, TaggedUnionSchema)
        tables.append(
            Table(
                table_id,
                tuple(map(type_name, union.models)),
                union.aliases,
                union.kind,
                _accepts(alias),
                {"$ref": f"#/$defs/{table_id}"},
                _types(union.models),
                frozenset(m.KERAS_CLASS for m in union.models if m.KERAS_CLASS),
            )
        )
    layers = _metadata(Spec.model_fields["layers"].annotation, TaggedUnionSchema)
    tables.append(
        Table(
            "layer",
            tuple(map(type_name, layers.models)),
            layers.aliases,
            layers.kind,
            None,
            None,
            _types(layers.models),
            frozenset(m.KERAS_CLASS for m in layers.models if m.KERAS_CLASS),
        )
    )
    return tables


TABLES = {table.id: table for table in _tables()}


def _valid(schema: dict, value) -> bool:
    return Draft202012Validator({**schema, "$defs": SCHEMA["$defs"]}).is_valid(value)


def check_spelling(table: Table, spelling: str) -> None:
    """Assert that the schema accepts ``spelling`` wherever modelspec does, and as the `type:` of the same model."""
    if table.accepts_bare is not None and table.accepts_bare(spelling):
        assert _valid(table.bare_schema, spelling), f"{table.id}: the schema refuses {spelling!r}"
    name = table.type_of(spelling)
    if name is not None and table.types:
        matching = [n for n, schema in table.types.items() if _valid(schema, spelling)]
        assert matching == [name], f"{table.id}: `type: {spelling}` ({name}) is accepted by the type of {matching}"


def _camel(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in name.split("_"))


@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_every_spelling_modelspec_accepts_is_in_the_schema(table):
    spellings = set(table.keras_names)
    for name in [*table.names, *table.aliases]:
        spellings |= {name, name.upper(), name.title(), _camel(name), _camel(name).upper()}
    for spelling in sorted(spellings):
        check_spelling(table, spelling)
    assert sum(table.type_of(s) is not None for s in spellings) >= 2 * len(table.names), "too few spellings to test"


@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_misspelt_names_are_refused(table):
    for name in table.names:
        wrong = name + "x"
        if table.bare_schema is not None:
            assert not _valid(table.bare_schema, wrong), f"{table.id}: the schema accepts {wrong!r}"
        for schema in table.types.values():
            assert not _valid(schema, wrong), f"{table.id}: `type: {wrong}` is accepted"


def test_bare_names_are_where_modelspec_takes_them():
    """Schedules all need parameters: a bare schedule name is never a valid spec, and the schema says so."""
    schedule = TABLES["Schedule"]
    assert not any(schedule.accepts_bare(n) or _valid(schedule.bare_schema, n) for n in schedule.names)
    for table in TABLES.values():
        if table.accepts_bare is not None and table.id != "Schedule":
            assert all(table.accepts_bare(n) and _valid(table.bare_schema, n) for n in table.names), table.id


@st.composite
def spellings(draw):
    """A table, and one of its names or aliases with random letter case and none to two underscores for each."""
    table = draw(st.sampled_from(list(TABLES.values())))
    name = draw(st.sampled_from(sorted([*table.names, *table.aliases])))
    out = []
    for ch in name:
        if ch == "_":
            out.append("_" * draw(st.integers(0, 2)))
        else:
            out.append(ch.upper() if ch.isalpha() and draw(st.booleans()) else ch)
    return table, "".join(out)


@settings(max_examples=300, deadline=None)
@given(spellings())
def test_random_spellings_modelspec_accepts_are_in_the_schema(case):
    table, spelling = case
    check_spelling(table, spelling)


def test_patterns_are_ecma_262_friendly():
    """Editors compile patterns as JavaScript regular expressions: no inline flags, lookbehinds or named groups."""
    text = json.dumps(SCHEMA)
    for pattern in re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', text):
        assert "(?i" not in pattern and "(?<" not in pattern and "(?P" not in pattern, pattern


def test_spec_model_and_file_agree_on_the_top_level_fields():
    """The file has the raw format's keys too, which expansion removes before the model sees the spec."""
    assert set(SCHEMA["properties"]) == set(Spec.model_fields) | {"blocks", "extends"}


# --- the raw format: blocks, uses, $parameters and extends ---------------------------------------------------------

BLOCKS = """\
modelspec: 1
input: {shape: [32, 32, 3]}
blocks:
  conv_bn:
    description: convolution, batch norm, relu
    params: {filters: null, kernel_size: 3, strides: 1}
    layers:
      - {type: conv2d, name: conv, filters: $filters, kernel_size: $kernel_size, strides: $strides,
         padding: same, use_bias: false}
      - {type: batch_norm, name: bn}
      - {type: activation, name: relu, activation: relu}
  identity:
    params: {filters: null, out: null}
    layers:
      - {block: conv_bn, name: "1", filters: $filters, kernel_size: 1}
      - {block: conv_bn, name: "2", filters: $filters}
      - {type: conv2d, name: 3_conv, filters: $out, kernel_size: [1, $k], use_bias: false}
      - {type: batch_norm, name: 3_bn}
      - {type: add, name: add, inputs: [$input, 3_bn]}
      - {type: activation, name: out, activation: relu}
layers:
  - {block: conv_bn, name: stem, filters: 64, kernel_size: 7, strides: 2}
  - {block: identity, name: conv2_block, repeat: 3, start: 1, filters: 64, out: 256}
  - {type: global_average_pool2d}
  - {type: dense, units: 10, activation: softmax}
"""


def blocks_edited(changes: dict) -> dict:
    data = source.parse(BLOCKS).data
    for dotted, value in changes.items():
        *parents, key = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        target = data
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[key]
        else:
            target[key] = value
    return data


DELETE = object()


def test_blocks_uses_and_parameters_are_valid():
    assert errors(blocks_edited({})) == []


BLOCK_VALID = {
    "a parameter as a whole list": {"blocks.identity.layers.4.inputs": "$inputs"},
    "a parameter as a layer type": {"blocks.conv_bn.layers.1.type": "$norm"},
    "a parameter as a repeat count inside a block": {"blocks.identity.layers.0.repeat": "$n"},
    "a block without params": {"blocks.conv_bn.params": DELETE},
    "a use without a name": {"layers.0.name": DELETE},
}


@pytest.mark.parametrize("changes", BLOCK_VALID.values(), ids=BLOCK_VALID.keys())
def test_what_the_raw_format_allows_is_valid(changes):
    assert errors(blocks_edited(changes)) == []


BLOCK_WRONG = {
    "a parameter at the top level": {"layers.3.units": "$units"},
    "a parameter in a top-level use's reserved key": {"layers.1.repeat": "$n"},
    "an unknown field in a block's layer": {"blocks.conv_bn.layers.1.unit": 3},
    "a wrong value in a block's layer": {"blocks.conv_bn.layers.0.filters": 0},
    "a block without layers": {"blocks.conv_bn.layers": DELETE},
    "an unknown key in a block": {"blocks.conv_bn.parameters": {}},
    "repeat without name": {"layers.1.name": DELETE},
    "start without repeat": {"layers.0.start": 2},
    "repeat 0": {"layers.1.repeat": 0},
    "a reserved parameter name": {"blocks.conv_bn.params.input": None},
    "a use without block": {"layers.0.block": DELETE},
    "a block name that is not a name": {"blocks.3x": {"layers": [{"type": "flatten"}]}},
    "a malformed parameter": {"blocks.conv_bn.layers.0.filters": "$"},
}


@pytest.mark.parametrize("changes", BLOCK_WRONG.values(), ids=BLOCK_WRONG.keys())
def test_what_the_raw_format_refuses_is_refused(changes):
    assert errors(blocks_edited(changes)), "the schema accepts it"


def test_a_spec_that_extends_a_base_needs_nothing_else():
    assert errors({"extends": "base.yaml", "name": "wider"}) == []
    assert errors({"name": "wider"})  # without `extends:`, `modelspec:` and `layers:` are required
    assert errors({"extends": ""})


def test_a_spec_that_extends_a_base_writes_partial_mappings_which_keep_their_types():
    partial = {
        "extends": "base.yaml",
        "training": {"epochs": 30, "optimizer": {"learning_rate": 0.1}},  # merged into the base's training
        "blocks": {"hidden": {"params": {"units": 128}}},  # the base's block keeps its layers
        "input": {"dtype": "int32"},
    }
    assert errors(partial) == []
    assert errors({**partial, "extends": None} | {"modelspec": 1, "layers": [{"type": "dense", "units": 1}]})
    assert errors({**partial, "training": {"epochs": "thirty"}})  # types still hold
    assert errors({**partial, "training": {"epoch": 30}})  # and unknown keys are still wrong
    layers = {"extends": "base.yaml", "layers": [{"type": "dense"}]}  # a list replaces the base's: whole items
    assert errors(layers)


# --- the shape editors need (tests/test_lsp.py tries it with the real server) ----------------------------------


def _walk(node, where="#"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}[{index}]")


def test_layers_are_a_type_enum_with_one_if_then_per_type_not_a_one_of():
    layer = SCHEMA["$defs"]["Layer"]
    models = _metadata(Spec.model_fields["layers"].annotation, TaggedUnionSchema).models
    assert "oneOf" not in layer and len(layer["allOf"]) == len(models)
    assert SCHEMA["$defs"]["LayerType"]["anyOf"][0]["enum"] == [type_name(m) for m in models]
    assert len(SCHEMA["$defs"]["LayerType"]["anyOf"][0]["markdownEnumDescriptions"]) == len(models)


def test_every_layer_snippet_is_a_valid_layer():
    """The snippets are the whole layer: `type:` and every required field, which modelspec accepts as written."""
    from modelspec.schema.layers import Layer

    (condition,) = SCHEMA["$defs"]["LayerOrUse"]["allOf"]
    snippets = condition["else"]["defaultSnippets"]
    models = _metadata(Spec.model_fields["layers"].annotation, TaggedUnionSchema).models
    assert [s["label"] for s in snippets] == [*map(type_name, models), "block use"]
    adapter = TypeAdapter(Layer)
    for snippet in snippets[:-1]:
        adapter.validate_python(snippet["body"])
        assert _valid({"$ref": "#/$defs/Layer"}, snippet["body"]), snippet


def test_no_placeholder_defaults_and_every_description_renders_as_markdown():
    for where, node in _walk(SCHEMA):
        if isinstance(node.get("description"), str):
            assert node.get("markdownDescription") == node["description"], where
        for key, prop in node.get("properties", {}).items():
            assert prop.get("title") == key, f"{where}.{key}: the hover's heading"
            assert "default" not in prop or prop["default"] is not None, f"{where}.{key}: default null"
            assert not (isinstance(prop.get("default"), dict) and list(prop["default"]) == ["type"]), (
                f"{where}.{key}: a bare name would do"
            )


def test_initializer_defaults_are_names():
    dense = SCHEMA["$defs"]["Dense"]["properties"]
    assert dense["kernel_initializer"]["default"] == "auto" and dense["bias_initializer"]["default"] == "zeros"


def test_the_misplaced_top_level_distribute_is_not_suggested():
    assert SCHEMA["properties"]["distribute"]["doNotSuggest"] is True
    assert "doNotSuggest" not in SCHEMA["$defs"]["Training"]["properties"]["distribute"]


# --- narrowed to one spec's blocks (`modelspec schema --blocks-of SPEC`) -------------------------------------------


def narrowed_errors(data) -> list[str]:
    validator = Draft202012Validator(for_blocks(SCHEMA, source.parse(BLOCKS).data["blocks"]))
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in validator.iter_errors(data)
    ]


def test_the_narrowed_schema_is_valid_and_accepts_the_spec():
    Draft202012Validator.check_schema(for_blocks(SCHEMA, source.parse(BLOCKS).data["blocks"]))
    assert narrowed_errors(blocks_edited({})) == []
    assert narrowed_errors(blocks_edited({"layers.0.block": "from_the_base"})) == []  # a block it does not know


NARROWED_WRONG = {
    "a missing parameter": ({"layers.0.filters": DELETE}, "'filters' is a required property"),
    "an unknown parameter": ({"layers.1.outs": 3}, "'outs' was unexpected"),
    "a missing parameter in a nested use": ({"blocks.identity.layers.1.filters": DELETE}, "'filters' is a required"),
}


@pytest.mark.parametrize(("changes", "message"), NARROWED_WRONG.values(), ids=NARROWED_WRONG.keys())
def test_the_narrowed_schema_checks_each_use_s_parameters(changes, message):
    assert errors(blocks_edited(changes)) == []  # the general schema cannot know them
    assert any(message in error for error in narrowed_errors(blocks_edited(changes))), narrowed_errors(
        blocks_edited(changes)
    )


def test_schema_blocks_of_writes_the_narrowed_schema(tmp_path):
    from click.testing import CliRunner

    from modelspec.cli import cli

    spec = tmp_path / "spec.yaml"
    spec.write_text(BLOCKS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "--blocks-of", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.output) == for_blocks(SCHEMA, source.parse(BLOCKS).data["blocks"])
    missing = CliRunner().invoke(cli, ["schema", "--blocks-of", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml" in missing.output and "Traceback" not in missing.output
