"""`--vary FIELD=V1,V2` and `--reach`, without TensorFlow: parsing, addressing the spec, and every invalid variant
refused (exit 2) before anything trains."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modelspec.errors import SettingsError
from modelspec.loader import load_spec
from modelspec.requests import parse_reach
from modelspec.variants import MAX_VARIANTS, parse_vary, show, variants

SPEC = textwrap.dedent(
    """\
    modelspec: 1
    name: toy
    seed: 3
    input: {shape: [8]}
    layers:
      - {type: dense, name: hidden1, units: 16, activation: relu}
      - {type: dense, units: 16, activation: relu}
      - {type: dense, name: out, units: 3, activation: softmax, kernel_initializer: glorot_uniform}
    training:
      optimizer: adam
      loss: sparse_categorical_crossentropy
      metrics: [accuracy]
    """
)


@pytest.fixture
def model():
    return load_spec(SPEC)


def test_values_are_yaml_scalars_and_flow_mappings():
    vary = parse_vary("kernel_initializer=zeros,{type: random_normal, stddev: 1.0}, he_normal")
    assert vary.path == ("defaults", "kernel_initializer")
    assert vary.values == ("zeros", {"type": "random_normal", "stddev": 1.0}, "he_normal")
    assert parse_vary("training.optimizer.learning_rate=0.001,1e-2").values == (0.001, 0.01)
    assert parse_vary("training.optimizer.learning_rate=[0.1, 1]").values == (0.1, 1)
    assert parse_vary("layers.hidden1.use_bias=true,false").values == (True, False)
    assert show({"type": "random_normal", "stddev": 1.0}) == "{type: random_normal, stddev: 1}"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("kernel_initializer", "--vary takes FIELD=V1,V2,... (received: 'kernel_initializer')"),
        ("=zeros", "--vary takes FIELD=V1,V2,..."),
        ("kernel_initializer=", "give at least one value after '='"),
        ("layers..units=3", "has an empty part between dots"),
        ("kernel_initializer=zeros,zeros", "zeros appears more than once"),
        ("kernel_initializer={type: zeros", "the values are not a YAML list"),
        ("kernel_initializer=!!python/object:os.system x", "the values are not a YAML list"),
    ],
)
def test_malformed_options(option, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_vary(option)


def test_defaults_field_reaches_every_layer_that_does_not_set_its_own(model):
    made = variants(model, ["kernel_initializer=zeros,he_uniform"])
    assert [v.label for v in made] == ["kernel_initializer=zeros", "kernel_initializer=he_uniform"]
    for variant, wanted in zip(made, ("zeros", "he_uniform")):
        kinds = {
            name: info.initializers["kernel_initializer"].type for name, info in variant.model.analysis.layers.items()
        }
        assert kinds == {"hidden1": wanted, "dense": wanted, "out": "glorot_uniform"}
    assert model.analysis.layers["hidden1"].initializers["kernel_initializer"].type == "he_normal"  # not mutated


def test_variant_findings_point_into_the_spec(model):
    (variant,) = variants(model, ["layers.dense.kernel_initializer=zeros"])
    from modelspec.linter.runner import lint

    (finding,) = [f for f in lint(variant.model) if f.code == "MS101"]
    assert (finding.path, finding.line, finding.layer) == ("<string>", 7, "dense")  # the second dense layer's line


def test_layers_by_name_and_position_and_optimizer_shorthand(model):
    (variant,) = variants(model, ["layers.dense.units=4"])
    assert variant.model.analysis.layers["dense"].output_shape == (4,)
    (variant,) = variants(model, ["layers.0.activation=tanh"])
    assert variant.model.spec.layers[0].activation == "tanh"
    made = variants(model, ["training.optimizer.learning_rate=0.01,0.1"])
    assert [(v.model.spec.training.optimizer.type, v.model.spec.training.optimizer.learning_rate) for v in made] == [
        ("adam", 0.01),
        ("adam", 0.1),
    ]


def test_several_options_give_every_combination_first_slowest(model):
    made = variants(model, ["kernel_initializer=zeros,auto", "training.optimizer.learning_rate=0.01,0.1,1.0"])
    assert [v.label for v in made][:4] == [
        "kernel_initializer=zeros, training.optimizer.learning_rate=0.01",
        "kernel_initializer=zeros, training.optimizer.learning_rate=0.1",
        "kernel_initializer=zeros, training.optimizer.learning_rate=1",
        "kernel_initializer=auto, training.optimizer.learning_rate=0.01",
    ]
    assert made[5].settings == {"kernel_initializer": "auto", "training.optimizer.learning_rate": 1.0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["kernel_initializer=zeros,he_normall"], "variant kernel_initializer=he_normall is not a valid spec: "),
        (["layers.hiden1.units=3"], "the spec has no layer 'hiden1'; did you mean 'hidden1'?"),
        (["layers.hidden1=3"], "name a layer and its field"),
        (["training.optimizer.learning_rate=0.1,0"], "learning_rate: must be positive"),
        (["layers.hidden1.unitz=3"], "unknown field 'unitz'"),
        (["name.x=3"], "name is not a mapping (received: toy)"),
        (["seed=1", "seed=2"], "two --vary options set the same field"),
        ([], "give at least one --vary"),
        ([f"seed={','.join(str(i) for i in range(MAX_VARIANTS + 1))}"], f"at most {MAX_VARIANTS} are allowed"),
    ],
)
def test_invalid_variants_are_settings_errors(model, options, message):
    with pytest.raises(SettingsError) as caught:
        variants(model, options)
    assert message in str(caught.value)


def test_reach():
    reach = parse_reach("val_accuracy=0.9")
    assert reach.higher and reach.text() == "val_accuracy ≥ 0.9"
    rows = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.95}]
    assert reach.epoch(rows) == 2
    loss = parse_reach("loss=0.3")
    assert not loss.higher and loss.epoch([{"epoch": 1, "loss": 0.5}]) is None
    for bad in ("val_accuracy", "=0.9", "loss=high", "loss=nan"):
        with pytest.raises(SettingsError, match="--reach takes QUANTITY=VALUE"):
            parse_reach(bad)


def test_an_invalid_variant_exits_2_before_tensorflow_starts(tmp_path):
    spec = tmp_path / "toy.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    script = textwrap.dedent(
        f"""\
        import sys
        from click.testing import CliRunner
        from modelspec.cli import cli
        arguments = ["compare", {str(spec)!r}, "--data", "digits", "-o", {str(tmp_path / "r.json")!r},
                     "--vary", "kernel_initializer=zeros,glorot_unifrom"]
        result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
        print(result.exit_code)
        print(result.output)
        print("tensorflow" in sys.modules, "keras" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0] == "2"
    assert "error: variant kernel_initializer=glorot_unifrom is not a valid spec" in done.stdout
    assert lines[-1] == "False False"
    assert not (tmp_path / "r.json").exists()
