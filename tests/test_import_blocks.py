"""`modelspec import` writes repeated parts of a graph as blocks, without TensorFlow: which parts become blocks,
their parameters, `repeat`/`start`, names passed as parameters, and that the block spec expands (modelspec's own
expansion, as `modelspec build` reads it) to exactly the layers of the flat import.

The configs are written by hand as Keras 3 serialises them; tests/test_import.py checks keras.applications.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from modelspec import load_spec
from modelspec.cli import cli
from modelspec.importer import UnsupportedModel, import_config
from modelspec.importer.blocks import Item, Use, find
from modelspec.schema.spec import with_defaults


def _tensor(layer: str) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 8], "keras_history": [layer, 0, 0]}}


def _layer(class_name: str, name: str, config: dict, inputs: list, module: str = "keras.layers") -> dict:
    args = [_tensor(i) for i in inputs] if len(inputs) == 1 else [[_tensor(i) for i in inputs]]
    return {
        "module": module,
        "class_name": class_name,
        "config": {"name": name, "trainable": True, "dtype": "float32", **config},
        "registered_name": None if module == "keras.layers" else class_name,
        "name": name,
        "inbound_nodes": [{"args": args, "kwargs": {}}],
    }


def _model(layers: list, output: str) -> dict:
    source = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 8], "dtype": "float32", "name": "x"},
        "name": "x",
        "inbound_nodes": [],
    }
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [source, *layers],
            "input_layers": ["x", 0, 0],
            "output_layers": [output, 0, 0],
        },
    }


def _residual(prefix: str, given: str, hidden: int) -> list:
    """A residual unit as Keras applications name theirs: prefix_fc1, prefix_fc2, prefix_add, prefix_out."""
    return [
        _layer("Dense", f"{prefix}_fc1", {"units": hidden, "activation": "relu"}, [given]),
        _layer("Dense", f"{prefix}_fc2", {"units": 8}, [f"{prefix}_fc1"]),
        _layer("Add", f"{prefix}_add", {}, [given, f"{prefix}_fc2"]),
        _layer("Activation", f"{prefix}_out", {"activation": "relu"}, [f"{prefix}_add"]),
    ]


def _residual_model() -> dict:
    layers = [_layer("Dense", "stem", {"units": 8}, ["x"])]
    given = "stem"
    for n, hidden in enumerate([16, 16, 16, 32, 32], start=1):
        layers += _residual(f"stage_unit{n}", given, hidden)
        given = f"stage_unit{n}_out"
    layers.append(_layer("Dense", "head", {"units": 2, "activation": "softmax"}, [given]))
    return _model(layers, "head")


RESIDUAL_SPEC = """\
blocks:
  stage_unit:
    params: {units: null}
    layers:
      - {type: dense, name: fc1, units: $units, activation: relu}
      - {type: dense, name: fc2, units: 8}
      - {type: add, name: add, inputs: [$input, fc2]}
      - {type: activation, name: out, activation: relu}
layers:
  - {type: dense, name: stem, units: 8}
  - {block: stage_unit, name: stage_unit, repeat: 3, units: 16}
  - {block: stage_unit, name: stage_unit, repeat: 2, start: 4, units: 32}
  - {type: dense, name: head, units: 2, activation: softmax}
"""


def _same_model(text: str, flat_text: str) -> None:
    """The block spec, expanded as `modelspec build` reads it, holds the flat spec's layers."""
    expanded, flat = load_spec(text), load_spec(flat_text)
    assert with_defaults(expanded.spec).layers == with_defaults(flat.spec).layers
    assert expanded.analysis.total_params == flat.analysis.total_params


def test_counted_units_become_one_block_used_with_repeat_and_start():
    config = _residual_model()
    text = import_config(config).text
    assert text.endswith(RESIDUAL_SPEC), text
    assert "# Repeated parts are written as `blocks:`; `modelspec import --flat` writes one line per layer.\n" in text
    flat = import_config(config, flat=True).text
    assert "blocks:" not in flat and "- {type: dense, name: stage_unit5_fc1, units: 32, activation: relu}" in flat
    _same_model(text, flat)
    names = [layer.name for layer in load_spec(text).spec.layers]
    assert names[:5] == ["stem", "stage_unit1_fc1", "stage_unit1_fc2", "stage_unit1_add", "stage_unit1_out"]
    assert names[-2:] == ["stage_unit5_out", "head"]
    assert import_config(config).text == text  # deterministic


def test_class_named_chains_pass_their_layer_names_as_parameters():
    """Inception-style: Dense -> BatchNormalization -> Activation named dense_3, batch_normalization_3, ... ; the
    uses have no `name:` and pass the three names."""
    layers, given = [], "x"
    for n, units in enumerate([8, 8, 16, 8, 8, 4]):
        suffix = f"_{n}" if n else ""
        layers += [
            _layer("Dense", f"dense{suffix}", {"units": units, "use_bias": False}, [given]),
            _layer("BatchNormalization", f"batch_normalization{suffix}", {"scale": False}, [f"dense{suffix}"]),
            _layer("Activation", f"activation{suffix}", {"activation": "relu"}, [f"batch_normalization{suffix}"]),
        ]
        given = f"activation{suffix}"
    config = _model(layers, given)
    text = import_config(config).text
    assert (
        "  dense_bn:\n"
        "    params: {dense: null, bn: null, act: null, units: 8}\n"
        "    layers:\n"
        "      - {type: dense, name: $dense, units: $units, use_bias: false}\n"
        "      - {type: batch_norm, name: $bn, scale: false}\n"
        "      - {type: activation, name: $act, activation: relu}\n"
    ) in text
    assert "  - {block: dense_bn, dense: dense, bn: batch_normalization, act: activation}\n" in text
    assert "  - {block: dense_bn, dense: dense_2, bn: batch_normalization_2, act: activation_2, units: 16}\n" in text
    _same_model(text, import_config(config, flat=True).text)


def test_a_part_that_only_grows_its_last_axis_is_repeated():
    """DenseNet-style: each unit concatenates what it receives with 4 new features; a repeated block may change
    its last axis (blocks.keeps_shape), so the five units are one use."""
    layers, given = [], "x"
    for n in range(1, 6):
        layers += [
            _layer("Dense", f"grow{n}_fc", {"units": 4, "activation": "relu"}, [given]),
            _layer("Dense", f"grow{n}_proj", {"units": 4}, [f"grow{n}_fc"]),
            _layer("Concatenate", f"grow{n}_cat", {"axis": -1}, [given, f"grow{n}_proj"]),
        ]
        given = f"grow{n}_cat"
    config = _model(layers, given)
    text = import_config(config).text
    assert [line for line in text.splitlines() if line.startswith("  - ")] == [
        "  - {block: grow, name: grow, repeat: 5}"
    ]
    _same_model(text, import_config(config, flat=True).text)


def test_a_graph_without_repeats_is_written_flat():
    layers = [_layer("Dense", "hidden", {"units": 8}, ["x"]), _layer("Dense", "out", {"units": 2}, ["hidden"])]
    config = _model(layers, "out")
    text = import_config(config).text
    assert "blocks:" not in text and "Repeated parts" not in text
    assert text == import_config(config, flat=True).text


def test_the_uses_stand_for_exactly_the_flat_layers():
    """``Blocked.flat()``, the layers the written blocks and uses stand for, is the flat import layer for layer."""
    items = [Item("stem", ("x",), {"type": "dense", "units": 8})]
    for n in range(1, 6):
        given = items[-1].name
        items += [
            Item(f"b{n}_fc", (given,), {"type": "dense", "units": 8 * n % 3 + 1}),
            Item(f"b{n}_act", (f"b{n}_fc",), {"type": "activation", "activation": "relu"}),
            Item(f"b{n}_add", (given, f"b{n}_act"), {"type": "add"}),
        ]
    written = [{"type": item.body["type"], "name": item.name} for item in items]
    found = find(items, written, "x", {})  # no shapes known: nothing is repeated
    assert [block.name for block in found.blocks] == ["b"]
    uses = [entry for entry in found.entries if isinstance(entry, Use)]
    # units 3, 2, 1, 3, 2: the first of the most common values is the parameter's default
    assert [(use.name, use.repeat, use.values) for use in uses] == [
        ("b1", 1, {}),
        ("b2", 1, {"units": 2}),
        ("b3", 1, {"units": 1}),
        ("b4", 1, {}),
        ("b5", 1, {"units": 2}),
    ]
    assert found.blocks[0].params == {"units": 3}
    assert found.flat() == items


def test_cli_flat_option(tmp_path):
    path = tmp_path / "units.json"
    path.write_text(json.dumps(_residual_model()))
    runner = CliRunner()
    blocked = runner.invoke(cli, ["import", str(path), "-o", "-"], catch_exceptions=False)
    flat = runner.invoke(cli, ["import", str(path), "-o", "-", "--flat"], catch_exceptions=False)
    assert blocked.exit_code == flat.exit_code == 0
    assert blocked.output.endswith(RESIDUAL_SPEC)
    assert "blocks:" not in flat.output and len([ln for ln in flat.output.splitlines() if ln.startswith("  - ")]) == 22
    assert "--flat" in runner.invoke(cli, ["import", "--help"]).output


def _custom_scale(name: str, inputs: list, **config) -> dict:
    return _layer(
        "CustomScaleLayer", name, {"scale": 0.17, **config}, inputs, module="keras.src.applications.inception_resnet_v2"
    )


def test_inception_resnet_v2_custom_scale_layer_is_a_rescaling_and_an_add():
    layers = [
        _layer("Dense", "shortcut", {"units": 8}, ["x"]),
        _layer("Dense", "branch", {"units": 8}, ["x"]),
        _custom_scale("custom_scale_layer", ["shortcut", "branch"]),
    ]
    text = import_config(_model(layers, "custom_scale_layer")).text
    assert "  - {type: rescaling, name: custom_scale_layer_scale, scale: 0.17}\n" in text
    assert "  - {type: add, name: custom_scale_layer, inputs: [shortcut, custom_scale_layer_scale]}\n" in text
    assert '# the Keras functional model "m", 3 layers.\n' in text


def test_a_custom_scale_layer_keras_would_not_write_stays_refused():
    layers = [
        _layer("Dense", "shortcut", {"units": 8}, ["x"]),
        _layer("Dense", "branch", {"units": 8}, ["x"]),
        _custom_scale("odd", ["shortcut", "branch"], activation="relu"),
    ]
    try:
        import_config(_model(layers, "odd"))
    except UnsupportedModel as caught:
        assert "odd (CustomScaleLayer): custom class" in str(caught)
    else:
        raise AssertionError("a CustomScaleLayer with an unknown argument was imported")


def test_odd_names_make_valid_blocks():
    """A 53-character prefix with a dash, and local names that are numbers: the block name is cut to fit, the
    numbers are quoted (YAML would read them as integers), and the spec expands to the flat layers."""
    stem = "a" * 50 + "-x_"
    layers, given = [_layer("Dense", "stem", {"units": 8}, ["x"])], "stem"
    for n in range(1, 5):
        prefix = f"{stem}{n}_"
        layers += [
            _layer("Dense", f"{prefix}1", {"units": 8}, [given]),
            _layer("Dense", f"{prefix}2", {"units": 8}, [f"{prefix}1"]),
            _layer("Add", f"{prefix}3", {}, [given, f"{prefix}2"]),
        ]
        given = f"{prefix}3"
    config = _model(layers, given)
    text = import_config(config).text
    assert f"  {'a' * 48}:\n" in text
    assert '      - {type: add, name: "3", inputs: [$input, "2"]}\n' in text
    assert f"     name: {stem}, repeat: 4}}\n" in text
    _same_model(text, import_config(config, flat=True).text)


def test_the_spec_does_not_depend_on_the_hash_seed(tmp_path):
    """Sets and dicts never decide an order: two processes with other hash seeds write the same spec."""
    path = tmp_path / "units.json"
    path.write_text(json.dumps(_residual_model()))
    texts = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-m", "modelspec", "import", str(path), "-o", "-"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        texts.add(result.stdout)
    assert len(texts) == 1 and next(iter(texts)).endswith(RESIDUAL_SPEC)
