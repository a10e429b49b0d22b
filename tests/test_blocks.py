"""Blocks (`blocks:`, uses, `$params`, `repeat`) and `extends:`: expansion, names, locations, errors and bounds.

The expansion is pure Python; the ResNet-50 test builds the spec and Keras's own ResNet50 and compares them.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.diagnostics import SpecError
from modelspec.linter.runner import LintResult, lint
from modelspec.loader import load_spec
from modelspec.report import github, sarif
from modelspec.report.json_report import document as json_document
from modelspec.variants import overridden

ROOT = Path(__file__).resolve().parent.parent

ISSUE_EXAMPLE = """\
modelspec: 1
name: tiny_resnet
seed: 1
input: {shape: [32, 32, 3]}
blocks:
  conv_bn:
    params: {filters: null, kernel_size: 3, strides: 1}      # null = the use must set it
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
      - {type: conv2d, name: 3_conv, filters: $out, kernel_size: 1, use_bias: false}
      - {type: batch_norm, name: 3_bn}
      - {type: add, name: add, inputs: [$input, 3_bn]}
      - {type: activation, name: out, activation: relu}
layers:
  - {block: conv_bn, name: stem, filters: 16, kernel_size: 7, strides: 2}
  - {block: identity, name: conv2_block, repeat: 3, filters: 8, out: 16}
  - {type: global_average_pool2d}
  - {type: dense, units: 10, activation: softmax}
"""


def write(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(spec) -> list:
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    return caught.value.diagnostics


def names(model) -> list[str]:
    return list(model.analysis.layers)


# --- expansion ----------------------------------------------------------------------------------------------


def test_the_issue_example_expands_to_keras_resnet_names_and_wires_the_residual():
    model = load_spec(ISSUE_EXAMPLE)
    expected_block = [
        "1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out",
    ]  # fmt: skip
    assert names(model) == [
        "stem_conv", "stem_bn", "stem_relu",
        *[f"conv2_block{i}_{local}" for i in (1, 2, 3) for local in expected_block],
        "global_average_pool2d", "dense",
    ]  # fmt: skip
    layers = model.analysis.layers
    assert layers["conv2_block1_add"].inputs == ["stem_relu", "conv2_block1_3_bn"]  # $input: what the use receives
    assert layers["conv2_block2_add"].inputs == ["conv2_block1_out", "conv2_block2_3_bn"]  # repeat chains copies
    assert layers["conv2_block2_1_conv"].inputs == ["conv2_block1_out"]
    assert layers["stem_conv"].spec.strides == 2 and layers["conv2_block1_2_conv"].spec.kernel_size == 3
    assert model.document.raw is not None and "blocks" not in model.document.data


def test_expanded_spec_equals_its_hand_written_flat_twin():
    model = load_spec(ISSUE_EXAMPLE)
    flat = load_spec(model.document.data)
    assert names(flat) == names(model)
    assert flat.analysis.total_params == model.analysis.total_params
    assert [info.inputs for info in flat.analysis.layers.values()] == [
        info.inputs for info in model.analysis.layers.values()
    ]


def test_start_numbers_the_copies_and_a_use_without_name_adds_no_prefix():
    model = load_spec(
        """\
        modelspec: 1
        input: {shape: [4]}
        blocks:
          named:
            params: {a: null, b: null}
            layers:
              - {type: dense, name: $a, units: 4}
              - {type: dense, name: $b, units: 4}
          dense4:
            layers: [{type: dense, units: 4}, {type: dropout, rate: 0.1}]
        layers:
          - {block: named, a: first, b: second}
          - {block: dense4, name: s, repeat: 2, start: 5}
        """.replace("        ", "")
    )
    assert names(model) == ["first", "second", "s5_dense", "s5_dropout", "s6_dense", "s6_dropout"]


# --- locations ----------------------------------------------------------------------------------------------


def test_a_finding_inside_a_block_is_located_in_the_definition_and_names_every_use(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "padding: same, use_bias: false}", "padding: same, use_bias: false, kernel_initializer: zeros}", 1
    )
    path = write(tmp_path, text)
    found = [d for d in lint(path) if d.code == "MS101"]
    assert found, "zeros on a hidden conv must be reported"
    first = found[0]
    assert (first.line, first.path) == (10, str(path))  # the conv layer's line in conv_bn's definition
    assert first.uses[0].block == "conv_bn" and first.uses[-1].block in ("conv_bn", "identity")
    text_form = first.format()
    assert f"(block conv_bn, used at {path}:" in text_form
    nested = next(d for d in found if len(d.uses) == 2)
    assert [u.block for u in nested.uses] == ["conv_bn", "identity"]
    assert (nested.uses[1].line, nested.uses[1].column) == (24, 5)  # the identity use in layers:


def test_json_github_and_sarif_carry_both_locations(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "padding: same, use_bias: false}", "padding: same, use_bias: false, kernel_initializer: zeros}", 1
    )
    path = write(tmp_path, text)
    found = [d for d in lint(path) if d.uses]
    result = LintResult(found, 1)
    entry = json_document(result)["diagnostics"][0]
    assert entry["use"]["name"] == found[0].uses[0].block and entry["use"]["line"] == found[0].uses[0].line
    assert entry["uses"][0] == entry["use"]
    stream = io.StringIO()
    github.render(result, stream)
    assert f"(block conv_bn, used at {path}:" in stream.getvalue().splitlines()[0]
    related = sarif.document(result)["runs"][0]["results"][0]["relatedLocations"]
    assert related[0]["physicalLocation"]["region"]["startLine"] == found[0].uses[0].line


def test_a_wrong_parameter_is_located_at_the_use(tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE.replace("repeat: 3, filters: 8,", "repeat: 3, filters: -8,"))
    (problem,) = {(d.line, d.column): d for d in errors_of(path)}.values()
    assert problem.line == 24 and problem.column == ISSUE_EXAMPLE.splitlines()[23].index("filters") + 1


def test_an_inline_ignore_inside_a_block_applies_to_every_use(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "padding: same, use_bias: false}", "padding: same, use_bias: false, kernel_initializer: zeros}", 1
    )
    assert [d for d in lint(write(tmp_path, text)) if d.code == "MS101"]
    lines = text.splitlines()
    lines[8] += "  # modelspec: ignore[MS101]"  # the conv's first line in conv_bn (line 9)
    assert not [d for d in lint(write(tmp_path, "\n".join(lines) + "\n")) if d.code == "MS101"]


def test_an_inline_ignore_on_a_use_applies_to_what_that_use_expands_to(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "padding: same, use_bias: false}", "padding: same, use_bias: false, kernel_initializer: zeros}", 1
    )
    text = text.replace("out: 16}\n", "out: 16}  # modelspec: ignore[MS101]\n")
    left = [d for d in lint(write(tmp_path, text)) if d.code == "MS101"]
    assert left and all(not d.layer.startswith("conv2_block") for d in left)  # the stem's use is not ignored


# --- errors -------------------------------------------------------------------------------------------------

BROKEN = {
    "unknown block": (
        "- {block: identiti, name: b, filters: 8, out: 16}",
        "MS003",
        "unknown block 'identiti'; did you mean 'identity'?",
    ),
    "unknown parameter": ("- {block: identity, name: b, filters: 8, out: 16, outs: 3}", "MS001", "did you mean 'out'?"),
    "missing parameter": ("- {block: identity, name: b, filters: 8}", "MS001", "must set its parameter 'out'"),
    "repeat without name": ("- {block: identity, repeat: 2, filters: 8, out: 16}", "MS001", "needs a `name:`"),
    "repeat out of range": ("- {block: identity, name: b, repeat: 5000, filters: 8, out: 16}", "MS001", "1 to 1,024"),
    "parameter outside a block": ("- {type: dense, units: $units}", "MS001", "not inside a block"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_mistake_in_a_use_is_one_located_error(tmp_path, case):
    line, code, words = BROKEN[case]
    text = ISSUE_EXAMPLE.replace("- {block: identity, name: conv2_block, repeat: 3, filters: 8, out: 16}", line)
    (problem,) = errors_of(write(tmp_path, text))
    assert problem.code == code and words in problem.message, problem.format()
    assert problem.line == 24 and problem.path == str(tmp_path / "spec.yaml")


def test_a_parameter_the_block_does_not_declare_is_located_in_the_definition_and_names_the_use(tmp_path):
    text = ISSUE_EXAMPLE.replace("filters: $out, kernel_size: 1", "filters: $outs, kernel_size: 1")
    (problem,) = errors_of(write(tmp_path, text))
    assert problem.line == 18 and "no parameter 'outs'; did you mean 'out'?" in problem.message
    assert problem.uses and problem.uses[0].block == "identity" and problem.uses[0].line == 24


def test_a_mistake_in_a_definition_is_reported_once_for_all_its_uses(tmp_path):
    text = ISSUE_EXAMPLE.replace("filters: $out, kernel_size: 1", "filters: $outs, kernel_size: 1").replace(
        "  - {type: global_average_pool2d}",
        "  - {block: identity, name: again, filters: 16, out: 16}\n  - {type: global_average_pool2d}",
    )
    (problem,) = errors_of(write(tmp_path, text))
    assert problem.uses[0].line == 24  # the first use that met it


def test_a_recursive_block_is_refused(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "      - {type: activation, name: out, activation: relu}",
        "      - {block: identity, name: again, filters: $filters, out: $out}",
    )
    problems = errors_of(write(tmp_path, text))
    assert any("cannot be recursive" in d.message and "identity -> identity" in d.message for d in problems)


def test_a_repeated_block_must_keep_the_shape_it_receives(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        "{block: identity, name: conv2_block, repeat: 3, filters: 8, out: 16}",
        "{block: conv_bn, name: down, repeat: 2, filters: 16, strides: 2}",
    )
    (problem,) = errors_of(write(tmp_path, text))
    assert problem.code == "MS002" and problem.line == 24, problem.format()
    assert "copy 1 turns shape (None, 16, 16, 16) into (None, 8, 8, 16)" in problem.message


def test_a_repeated_block_may_change_its_last_axis_only():
    dense = """\
modelspec: 1
input: {shape: [16]}
blocks:
  hidden: {params: {units: 64}, layers: [{type: dense, name: dense, units: $units, activation: relu}]}
  grow:
    layers:
      - {type: dense, name: dense, units: 8, activation: relu}
      - {type: concatenate, name: concat, inputs: [$input, dense]}
layers:
  - {block: hidden, name: h, repeat: 3}
  - {block: grow, name: g, repeat: 3}
  - {type: dense, units: 1}
"""
    model = load_spec(dense)  # the first copy widens 16 -> 64; each `grow` adds 8 features, as DenseNet adds channels
    assert model.analysis.layers["g3_concat"].output_shape == (88,)


def test_expansion_is_bounded_before_anything_is_built(tmp_path):
    nested = ["modelspec: 1", "input: {shape: [4]}", "blocks:", "  b0: {layers: [{type: dense, units: 4}]}"]
    for n in range(1, 8):  # each level repeats the one below 10 times: 10**7 layers if nothing stopped it
        nested.append(f"  b{n}: {{layers: [{{block: b{n - 1}, name: x, repeat: 10}}]}}")
    nested.append("layers: [{block: b7, name: top}]")
    (problem,) = errors_of(write(tmp_path, "\n".join(nested) + "\n"))
    assert "more than 10,000 layers" in problem.message


def test_nesting_deeper_than_the_limit_is_refused(tmp_path):
    lines = ["modelspec: 1", "input: {shape: [4]}", "blocks:", "  b0: {layers: [{type: dense, units: 4}]}"]
    lines += [f"  b{n}: {{layers: [{{block: b{n - 1}}}]}}" for n in range(1, 20)]
    lines.append("layers: [{block: b19}]")
    problems = errors_of(write(tmp_path, "\n".join(lines) + "\n"))
    assert any("nested more than 16 deep" in d.message for d in problems)


def test_a_malformed_block_definition_is_located(tmp_path):
    text = ISSUE_EXAMPLE.replace("    params: {filters: null, out: null}\n", "    parms: {filters: null, out: null}\n")
    problems = errors_of(write(tmp_path, text))
    assert any("unknown field 'parms'" in d.message and "did you mean 'params'" in d.message for d in problems)


# --- --set ----------------------------------------------------------------------------------------------------


def test_set_changes_a_block_definition_or_one_expanded_layer():
    model = load_spec(ISSUE_EXAMPLE)
    wider = overridden(model, ["blocks.conv_bn.params.kernel_size=5"])
    assert wider.analysis.layers["conv2_block1_2_conv"].spec.kernel_size == 5
    assert wider.analysis.layers["conv2_block1_1_conv"].spec.kernel_size == 1  # the use sets it
    one = overridden(model, ["layers.conv2_block2_2_conv.kernel_size=5"])
    assert one.analysis.layers["conv2_block2_2_conv"].spec.kernel_size == 5
    assert one.analysis.layers["conv2_block1_2_conv"].spec.kernel_size == 3


# --- extends --------------------------------------------------------------------------------------------------

BASE = """\
modelspec: 1
name: base
seed: 3
input: {shape: [16]}
blocks:
  hidden:
    params: {units: 16}
    layers:
      - {type: dense, name: dense, units: $units, activation: relu}
      - {type: dropout, name: drop, rate: 0.1}
layers:
  - {type: dense, name: first, units: 16, activation: relu}
  - {block: hidden, name: h, repeat: 2}
  - {type: dense, name: out, units: 3, activation: softmax}
training: {optimizer: adam, loss: sparse_categorical_crossentropy, epochs: 3}
"""


def test_extends_merges_mappings_replaces_lists_and_null_deletes(tmp_path):
    write(tmp_path, BASE, "base.yaml")
    child = write(
        tmp_path,
        """\
        extends: base.yaml
        name: wide
        seed: null
        blocks:
          hidden: {params: {units: 64}}
        layers:
          - {type: dense, name: first, units: 64, activation: relu}
          - {block: hidden, name: h, repeat: 2}
          - {type: dense, name: out, units: 3, activation: softmax}
        training: {epochs: 5, optimizer: {learning_rate: 0.01}}   # the base's `adam` merges as {type: adam}
        """,
        "wide.yaml",
    )
    model = load_spec(child)
    assert model.spec.name == "wide" and model.spec.seed is None
    assert model.analysis.layers["h2_dense"].spec.units == 64
    optimizer = model.spec.training.optimizer
    assert model.spec.training.epochs == 5 and (optimizer.type, optimizer.learning_rate) == ("adam", 0.01)


def test_a_finding_in_the_base_points_at_the_base_and_its_inline_ignores_apply(tmp_path):
    base = write(
        tmp_path,
        BASE.replace(
            "activation: relu}\n      - {type: dropout",
            "activation: relu, kernel_initializer: zeros}\n      - {type: dropout",
        ),
        "base.yaml",
    )
    child = write(tmp_path, "extends: base.yaml\nname: child\n", "child.yaml")
    found = [d for d in lint(child) if d.code == "MS101"]
    assert found and all(d.path == str(base) and d.line == 9 for d in found)
    base.write_text(
        base.read_text().replace("kernel_initializer: zeros}", "kernel_initializer: zeros}  # modelspec: ignore[MS101]")
    )
    assert not [d for d in lint(child) if d.code == "MS101"]


def test_an_extends_cycle_a_missing_base_and_a_base_outside_the_tree_are_located_errors(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    project = tmp_path
    write(project, "extends: b.yaml\n", "a.yaml")
    write(project, "extends: a.yaml\n", "b.yaml")
    (problem,) = errors_of(project / "a.yaml")
    assert "cycle" in problem.message and problem.line == 1
    write(project, "extends: bse.yaml\nname: x\n", "c.yaml")
    write(project, BASE, "base.yaml")
    (problem,) = errors_of(project / "c.yaml")
    assert "names no file" in problem.message and "did you mean 'base.yaml'" in problem.message
    sub = project / "inner"
    sub.mkdir()
    write(sub, "extends: ../../elsewhere.yaml\n", "d.yaml")
    (problem,) = errors_of(sub / "d.yaml")
    assert "leaves the spec's tree" in problem.message


def test_a_relative_weights_path_in_a_base_is_rebased_onto_the_spec(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "bases").mkdir()
    write(tmp_path / "bases", BASE + "pretrained: {path: weights/base.weights.h5}\n", "base.yaml")
    child = write(tmp_path, "extends: bases/base.yaml\n", "child.yaml")
    assert load_spec(child).spec.pretrained.path == "bases/weights/base.weights.h5"


# --- the examples ---------------------------------------------------------------------------------------------


def test_the_resnet50_example_fits_in_a_page_and_the_extends_pair_validates():
    assert len((ROOT / "specs" / "resnet50.yaml").read_text().splitlines()) <= 50
    model = load_spec(ROOT / "specs" / "resnet50.yaml")
    assert model.analysis.total_params == 25_636_712  # keras.applications.ResNet50(weights=None).count_params()
    wide = load_spec(ROOT / "specs" / "digits_blocks_wide.yaml")
    narrow = load_spec(ROOT / "specs" / "digits_blocks.yaml")
    assert wide.analysis.total_params > narrow.analysis.total_params


def test_cli_validate_reports_a_block_error_with_both_places(tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE.replace("filters: $out, kernel_size: 1", "filters: $outs, kernel_size: 1"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:18:" in result.output and f"(block identity, used at {path}:24:5)" in result.output
    result = CliRunner().invoke(cli, ["lint", str(path), "--format", "json"])
    entry = json.loads(result.output)["diagnostics"][0]
    assert entry["use"] == {"path": str(path), "line": 24, "column": 5, "name": "identity"}


@pytest.mark.tensorflow
def test_resnet50_spec_builds_keras_resnet50_names_parameters_and_outputs():
    import keras
    import numpy as np

    from modelspec.pipeline import build_model

    model = overridden(load_spec(ROOT / "specs" / "resnet50.yaml"), ["input.shape=[64, 64, 3]"])
    ours = build_model(model)
    theirs = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    assert ours.count_params() == theirs.count_params() == 25_636_712
    keras_names = [layer.name for layer in theirs.layers[1:]]
    assert sorted(layer.name for layer in ours.layers[1:]) == sorted(keras_names)
    for layer in theirs.layers[1:]:
        ours.get_layer(layer.name).set_weights(layer.get_weights())
    batch = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(ours(batch, training=False), theirs(batch, training=False), atol=1e-6)
