"""The command line, through click's CliRunner: exit codes, output, files written (or not)."""

from __future__ import annotations

import json
import re
import subprocess

import click
import pytest
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.cli.commands import COMMANDS
from tests.conftest import ROOT, python, write_spec

MLP = ROOT / "specs" / "mlp.yaml"

TYPO = """
modelspec: 1
input: {shape: [4]}
layers:
  - {type: dense, unit: 2}
"""
DUPLICATE_KEY = """
modelspec: 1
input: {shape: [4]}
layers:
  - type: dense
    units: 2
    units: 3
"""
UNKNOWN_REFERENCE = """
modelspec: 1
input: {shape: [4]}
layers:
  - {type: dense, name: hidden, units: 2}
  - {type: dense, units: 2, inputs: [hiden]}
"""
SHAPE_MISMATCH = """
modelspec: 1
input: {shape: [4]}
layers:
  - {type: reshape, target_shape: [3, 2]}
"""
BROKEN = {
    "typo": (TYPO, "spec.yaml:4:19: error[MS001] layers[0].unit: unknown field 'unit'; did you mean 'units'?"),
    "duplicate_key": (DUPLICATE_KEY, "spec.yaml:6:5: error[MS001] duplicate key 'units' (first defined on line 5)"),
    "unknown_reference": (
        UNKNOWN_REFERENCE,
        "spec.yaml:5:38: error[MS003] dense: unknown layer or input 'hiden'; did you mean 'hidden'?",
    ),
    "shape_mismatch": (
        SHAPE_MISMATCH,
        "spec.yaml:4:5: error[MS002] reshape: cannot reshape (4,) (4 values) to "
        "(3, 2) (6 values)\n  hint: input shape: (None, 4)",
    ),
}
# Three dense layers of 10**6 x 10**6: 3 * 10**12 parameters, far above any --max-params.
HUGE = """
modelspec: 1
name: huge
input: {shape: [1000000]}
layers:
  - {type: dense, units: 1000000}
  - {type: dense, units: 1000000}
  - {type: dense, units: 1000000}
"""


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --- validate ---------------------------------------------------------------------------------------------


def test_validate_ok(runner):
    result = invoke(runner, "validate", MLP)
    assert result.exit_code == 0
    assert result.output == f"{MLP}: ok (5 layers, 235,146 parameters)\n"


def test_validate_every_committed_spec(runner):
    result = invoke(runner, "validate", *sorted((ROOT / "specs").glob("*.yaml")))
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == len(list((ROOT / "specs").glob("*.yaml")))


@pytest.mark.parametrize("case", list(BROKEN))
def test_validate_reports_located_errors_and_exits_2(runner, tmp_path, monkeypatch, case):
    text, expected = BROKEN[case]
    write_spec(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "validate", "spec.yaml")
    assert result.exit_code == 2
    assert result.output == expected + "\n"


def test_validate_reports_good_and_bad_files_and_exits_2(runner, tmp_path, monkeypatch):
    write_spec(tmp_path, TYPO, "bad.yaml")
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "validate", MLP, "bad.yaml", "missing.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines() == [  # in the order of the arguments
        f"{MLP}: ok (5 layers, 235,146 parameters)",
        "bad.yaml:4:19: error[MS001] layers[0].unit: unknown field 'unit'; did you mean 'units'?",
        "missing.yaml:1:1: error[MS001] no such file",
    ]


def test_validate_takes_folders_like_lint(runner, tmp_path, monkeypatch):
    (tmp_path / "specs" / "deeper").mkdir(parents=True)
    write_spec(tmp_path / "specs", TYPO, "b.yaml")
    write_spec(tmp_path / "specs" / "deeper", MLP.read_text(), "a.yml")
    (tmp_path / "specs" / "notes.txt").write_text("not a spec")
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "validate", "specs")
    assert result.exit_code == 2
    assert result.output.splitlines() == [  # every *.yaml / *.yml below the folder, sorted, as `lint` reads them
        "specs/b.yaml:4:19: error[MS001] layers[0].unit: unknown field 'unit'; did you mean 'units'?",
        "specs/deeper/a.yml: ok (5 layers, 235,146 parameters)",
    ]
    assert invoke(runner, "validate", ROOT / "specs").output.count(": ok (") == len(
        list((ROOT / "specs").glob("*.yaml"))
    )


def test_validate_refuses_a_folder_without_specs(runner, tmp_path):
    result = invoke(runner, "validate", tmp_path)
    assert result.exit_code == 2
    assert f"no .yaml or .yml files under {tmp_path}" in result.output


# --- build ------------------------------------------------------------------------------------------------


def test_build_writes_default_file_and_prints_summary(runner, tmp_path, monkeypatch, keras):
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "build", MLP)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mnist_mlp.keras").is_file()
    assert "Wrote mnist_mlp.keras" in result.output
    for text in (
        "hidden1",
        "hidden2",
        "output",
        "he_normal (auto)",
        "glorot_uniform (auto)",
        "(None, 256)",
        "200,960",
        "Total params: 235,146",
        "Trainable params: 235,146",
        "Non-trainable params: 0",
    ):
        assert text in result.output, text
    assert [p.name for p in tmp_path.iterdir()] == ["mnist_mlp.keras"]  # no temporary file left behind
    model = keras.saving.load_model(tmp_path / "mnist_mlp.keras")
    assert model.name == "mnist_mlp" and model.count_params() == 235_146


def test_build_writes_output_option(runner, tmp_path, keras):
    out = tmp_path / "sub" / "model.keras"
    out.parent.mkdir()
    result = invoke(runner, "build", ROOT / "specs" / "lstm_text.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file()
    for text in ("bidirectional", "(None, 100, 64)", "random_uniform", "glorot_uniform (auto)"):
        assert text in result.output, text
    assert f"Wrote {out}" in result.output


@pytest.mark.parametrize("case", list(BROKEN))
def test_build_of_broken_spec_exits_2_and_writes_nothing(runner, tmp_path, monkeypatch, case):
    text, expected = BROKEN[case]
    write_spec(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "build", "spec.yaml", "-o", "out.keras")
    assert result.exit_code == 2
    assert result.output == expected + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]
    result = invoke(runner, "build", "spec.yaml")  # the default output name, too
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize("case", ["typo", "keras_refuses_config"])
def test_failed_build_leaves_existing_output_untouched(runner, tmp_path, monkeypatch, case, keras):
    text = (
        TYPO
        if case == "typo"
        else (
            "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - {type: keras, class_name: LeakyReLU, config: {bogus: 1}}\n"
        )
    )
    write_spec(tmp_path, text)
    (tmp_path / "out.keras").write_bytes(b"previous model")
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "build", "spec.yaml", "-o", "out.keras")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert (tmp_path / "out.keras").read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.keras", "spec.yaml"]


def test_build_refuses_over_budget_spec(runner, tmp_path, monkeypatch):
    write_spec(tmp_path, HUGE)
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "build", "spec.yaml")
    assert result.exit_code == 2
    assert result.output == (
        "spec.yaml:1:1: error[MS001] the model has 3,000,003,000,000 parameters, more than --max-params 2,000,000,000\n"
    )
    result = invoke(runner, "build", MLP, "--max-params", 1000, "-o", tmp_path / "small.keras")
    assert result.exit_code == 2
    assert "more than --max-params 1,000" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.tensorflow
def test_build_counts_opaque_layers_against_the_budget_before_saving(runner, tmp_path):
    # PReLU is opaque to the static analysis (validate shows "0+"): its 10,000 alphas are counted once Keras
    # has built the layer, and the build still stops before anything is written.
    spec = write_spec(
        tmp_path,
        """
        modelspec: 1
        name: prelu
        seed: 1
        input: {shape: [100, 100]}
        layers:
          - {type: keras, class_name: PReLU}
        """,
    )
    result = invoke(runner, "build", spec, "--max-params", 9_999, "-o", tmp_path / "prelu.keras")
    assert result.exit_code == 2
    assert "the model has 10,000 parameters, more than --max-params 9,999" in result.output
    assert not (tmp_path / "prelu.keras").exists()
    result = invoke(runner, "build", spec, "--max-params", 10_000, "-o", tmp_path / "prelu.keras")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "prelu.keras").exists()


NO_TENSORFLOW = """
import json, sys
from modelspec.cli import main

def run(*args):
    sys.argv = ["modelspec", *args]
    try:
        main()
    except SystemExit as exc:
        return exc.code
    return 0

report = {"validate": run("validate", SPEC), "validate_bad": run("validate", "bad.yaml")}
report["after_validate"] = sorted({"tensorflow", "keras"} & set(sys.modules))
report["build_huge"] = run("build", "huge.yaml")
report["build_over_budget"] = run("build", SPEC, "--max-params", "1000", "-o", "mlp.keras")
report["after_build"] = sorted({"tensorflow", "keras"} & set(sys.modules))
print(json.dumps(report))
"""


def test_validate_and_refused_builds_never_import_tensorflow(tmp_path):
    write_spec(tmp_path, HUGE, "huge.yaml")
    write_spec(tmp_path, TYPO, "bad.yaml")
    process = python(f"SPEC = {str(MLP)!r}\n" + NO_TENSORFLOW, cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(process.stdout.strip().splitlines()[-1])
    assert report == {
        "validate": 0,
        "validate_bad": 2,
        "after_validate": [],
        "build_huge": 2,
        "build_over_budget": 2,
        "after_build": [],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "huge.yaml"]


# --- usage errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["validate"],
        ["build"],
        ["build", MLP, "--max-params", "0"],
        ["build", MLP, "--seed", "-1"],
        ["build", MLP, "--frobnicate"],
    ],
)
def test_usage_errors_exit_2(runner, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, [str(a) for a in args])  # usage errors are click's own, reported not raised
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output
    assert list(tmp_path.iterdir()) == []


# The exit codes each command can return: its --help lists these and no other.
EXIT_CODES = {
    None: [0, 1, 2, 130, 143],  # `modelspec --help`: every code of every command
    "validate": [0, 2],
    "lint": [0, 1, 2],
    "build": [0, 1, 2],
    "train": [0, 1, 2, 130, 143],
    "evaluate": [0, 2],
    "probe": [0, 2],
    "compare": [0, 2, 130, 143],
    "tune": [0, 2, 130, 143],
    "export": [0, 1, 2],
    "import": [0, 2],
    "graph": [0, 2],
    "expand": [0, 2],
    "rules": [0, 2],
    "schema": [0, 2],
}


@pytest.mark.parametrize("name", list(EXIT_CODES), ids=lambda name: name or "modelspec")
def test_every_command_documents_the_exit_codes_it_can_return(runner, name):
    result = invoke(runner, *([name] if name else []), "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    listed = re.search(r"Exit codes: ([^.]*)\.", text)
    assert listed, text
    assert [int(code) for code in re.findall(r"(?:^|; )(\d+) ", listed.group(1))] == EXIT_CODES[name], text
    assert "Exit codes: 0 clean;" in text
    assert ("1 lint failures" in text) == (1 in EXIT_CODES[name])


def test_every_command_is_in_the_exit_code_table():
    assert set(EXIT_CODES) - {None} == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_a_help_text(name):
    for param in cli.get_command(None, name).params:
        if isinstance(param, click.Option) and not param.hidden and "--help" not in param.opts:
            assert param.help, f"modelspec {name} {param.opts[-1]} has no help text"


def test_version():
    process = python(
        "import runpy, sys; sys.argv = ['modelspec', '--version']; runpy.run_module('modelspec', run_name='__main__')",
        cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout == "modelspec, version 0.1.0\n"


# --- schema -----------------------------------------------------------------------------------------------


def test_schema_prints_json_schema(runner):
    result = invoke(runner, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert {"modelspec", "layers"} <= set(schema["else"]["required"])  # `extends:` makes them optional
    assert "Dense" in schema["$defs"]


def test_committed_schema_file_is_up_to_date(runner):
    """`make schema` regenerates modelspec.schema.json; this fails when someone forgot to run it."""
    result = invoke(runner, "schema")
    assert result.output == (ROOT / "modelspec.schema.json").read_text(encoding="utf-8")


def test_schema_output_option_writes_the_same_text(runner, tmp_path):
    out = tmp_path / "schema.json"
    result = invoke(runner, "schema", "-o", out)
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == invoke(runner, "schema").output
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]


# What following the README writes into a clone (its commands, run in a fresh one; mnist_mlp is specs/mlp.yaml's).
README_OUTPUTS = [
    "mnist_mlp.keras",
    "digits_cnn.keras",
    "digits_cnn.history.json",
    "digits_cnn.history.csv",
    "digits_cnn.classes.json",
    "digits_cnn.png",
    "digits_mlp.compare.json",
    "compare.png",
    "digits_mlp.tune.json",
    "tune.png",
    "best.yaml",
    "probe.png",
    "deep_relu_probe.png",
    "digits_cnn.onnx",
    "digits_cnn.int8.tflite",
    "mobilenetv2.keras",
    "mobilenetv2.yaml",
    "mobilenetv2.weights.h5",
    "examples/transfer_learning/base.weights.h5",
    "examples/init_experiments/output/mlp.json",
    "resnet.svg",
    "resnet50.html",
    "densenet121.png",
    "mlp.svg",
]


def test_what_the_readme_writes_is_ignored_and_no_tracked_file_is():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *README_OUTPUTS], cwd=ROOT, capture_output=True, text=True
    )
    assert sorted(ignored.stdout.split()) == sorted(README_OUTPUTS)
    hidden = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    assert hidden.stdout == ""
