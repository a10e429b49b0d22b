"""`--set PATH=VALUE` on every command that reads a spec (validate, lint, build, train, evaluate, probe, compare,
expand; graph's own tests are in test_graph.py): the override really changes what the command does, its findings
still point at the file's lines, a bad option is one line and exit 2 before anything is read, and `--help` says so.
The Python API takes the same options (``overrides=``, ``Options.overrides``)."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from modelspec import lint
from modelspec.cli import cli
from modelspec.errors import SettingsError
from modelspec.loader import load_spec
from modelspec.pipeline import SPEC_MEMBER, prepare
from modelspec.requests import CompareRequest, Data, Options
from modelspec.resolve import resolve_compare
from tests.conftest import python, write_spec

# 20 -> 32 relu -> 3 softmax: 20·32 + 32 + 32·3 + 3 = 771 parameters; with 7 hidden units 20·7 + 7 + 7·3 + 3 = 171.
SETTABLE = """\
modelspec: 1
name: settable
seed: 1
input: {shape: [20]}
layers:
  - {type: dense, name: hidden, units: 32, activation: relu}
  - {type: dense, name: out, units: 3, activation: softmax}
"""
# The bundled digits (64 features, 10 classes), small enough to train an epoch in a moment.
DIGITS = """\
modelspec: 1
name: tiny_digits
seed: 3
input: {shape: [64]}
layers:
  - {type: rescaling, scale: 0.0625}
  - {type: dense, name: hidden, units: 16, activation: relu}
  - {type: dense, name: digit, units: 10, activation: softmax}
training:
  optimizer: {type: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  batch_size: 128
  epochs: 4
"""
COMMANDS = ["validate", "lint", "build", "train", "evaluate", "probe", "compare", "expand"]
# what each command needs besides the spec to get as far as reading it
EXTRA = {"train": ["--data", "digits"], "evaluate": ["--data", "digits"], "compare": ["--data", "digits",
         "--vary", "seed=1,2"]}  # fmt: skip


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _run(command, spec, *sets, extra=()):
    arguments = [command, spec, *EXTRA.get(command, []), *extra]
    for option in sets:
        arguments += ["--set", option]
    return invoke(*arguments)


# --- what every command shares ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_describes_set(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--set PATH=VALUE" in text
    assert "as `compare --vary` addresses it" in text and "Findings still point at the file's lines." in text
    assert "a --set that is malformed" in text.lower()  # the epilog says what exit 2 covers


@pytest.mark.parametrize("command", COMMANDS)
def test_a_malformed_set_is_one_line_and_exit_2_before_the_spec_is_read(tmp_path, command):
    missing = tmp_path / "absent.yaml"  # never read: the option is refused first
    result = _run(command, missing, "units")
    assert result.exit_code == 2
    assert result.output == "error: --set takes PATH=VALUE (received: 'units')\n"
    twice = _run(command, missing, "seed=1", "seed=2")
    assert (twice.exit_code, twice.output) == (2, "error: two --set options set seed: give it one value\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_set_that_makes_the_spec_invalid_is_located_in_the_file(tmp_path, command):
    spec = write_spec(tmp_path, SETTABLE)
    result = _run(command, spec, "layers.hidden.units=0")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: --set layers.hidden.units=0 makes the spec invalid: {spec}:6:33: "
        "layers[0].units: must be a positive integer (received: 0)"
    ]
    unknown = _run(command, spec, "layers.hiden.units=3")
    assert unknown.exit_code == 2
    assert unknown.output.endswith("--set layers.hiden.units: the spec has no layer 'hiden'; did you mean 'hidden'?\n")
    assert len(unknown.output.splitlines()) == 1


def test_no_command_imports_tensorflow_to_refuse_a_set(tmp_path):
    spec = write_spec(tmp_path, DIGITS)
    code = f"""
        import sys
        from click.testing import CliRunner
        from modelspec.cli import cli
        for command in ("build", "train", "probe", "evaluate"):
            extra = ["--data", "digits"] if command in ("train", "evaluate") else []
            result = CliRunner().invoke(cli, [command, {str(spec)!r}, *extra, "--set", "layers.hidden.units=-1"])
            print(result.exit_code)
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """
    process = python(code, cwd=tmp_path)
    assert process.stdout.split("\n")[:5] == ["2", "2", "2", "2", "[]"], process.stdout + process.stderr


# --- validate and lint: no TensorFlow -----------------------------------------------------------------------


def test_validate_checks_the_spec_with_the_field_set(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    assert invoke("validate", spec).output == f"{spec}: ok (2 layers, 771 parameters)\n"
    result = _run("validate", spec, "layers.hidden.units=7")
    assert (result.exit_code, result.output) == (0, f"{spec}: ok (2 layers, 171 parameters)\n")
    by_position = _run("validate", spec, "layers.1.units=5")  # 20·32 + 32 + 32·5 + 5
    assert by_position.output == f"{spec}: ok (2 layers, 837 parameters)\n"


def test_validate_and_lint_apply_the_sets_to_every_file(tmp_path):
    first = write_spec(tmp_path, SETTABLE, "a.yaml")
    second = write_spec(tmp_path, SETTABLE.replace("units: 32", "units: 8"), "b.yaml")
    result = _run("validate", tmp_path, "layers.0.units=7")
    assert result.output == f"{first}: ok (2 layers, 171 parameters)\n{second}: ok (2 layers, 171 parameters)\n"
    linted = _run("lint", tmp_path, "kernel_initializer=zeros", extra=["--format", "json"])
    assert linted.exit_code == 1
    found = json.loads(linted.output)["diagnostics"]
    assert sorted((d["path"], d["code"], d["layer"]) for d in found if d["code"] == "MS101") == [
        (str(first), "MS101", "hidden"),
        (str(second), "MS101", "hidden"),
    ]


def test_a_set_that_does_not_fit_one_of_several_files_names_that_file(tmp_path):
    write_spec(tmp_path, SETTABLE, "a.yaml")
    other = write_spec(tmp_path, SETTABLE.replace("name: hidden", "name: first"), "b.yaml")
    for command in ("validate", "lint"):
        result = _run(command, tmp_path, "layers.hidden.units=7")
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == (
            f"error: {other}: --set layers.hidden.units: the spec has no layer 'hidden'"
        )


def test_lint_finds_what_the_set_introduces_at_the_file_s_lines(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    assert "MS101" not in invoke("lint", spec).output
    result = _run("lint", spec, "layers.hidden.kernel_initializer=zeros")
    assert result.exit_code == 1
    # located at the layer's line (the field the option added has no line of its own)
    assert result.output.startswith(f"{spec}:6:5: error[MS101] hidden: kernel of 'hidden' is zeros")
    default = _run("lint", spec, "kernel_initializer=zeros")  # a `defaults:` field the file lacks: the layer's line
    assert default.output.startswith(f"{spec}:6:5: error[MS101] hidden:")
    # the Python API takes the same options
    findings = lint(spec, overrides=["layers.hidden.kernel_initializer=zeros"])
    assert [(f.code, f.line, f.layer) for f in findings if f.code == "MS101"] == [("MS101", 6, "hidden")]
    assert not [f for f in lint(spec) if f.code == "MS101"]


def test_lint_keeps_the_file_s_inline_ignores_under_a_set(tmp_path):
    ignored = SETTABLE.replace("activation: relu}", "activation: relu}  # modelspec: ignore[MS101]")
    spec = write_spec(tmp_path, ignored)
    result = _run("lint", spec, "kernel_initializer=zeros")
    assert result.exit_code == 0 and "MS101" not in result.output, result.output


def test_prepare_and_build_plan_see_the_set(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    prepared = prepare(spec, overrides=["layers.hidden.units=7", "seed=9"])
    assert (prepared.model.analysis.total_params, prepared.model.spec.seed) == (171, 9)
    with pytest.raises(SettingsError, match="no layer 'hiden'"):
        prepare(spec, overrides=["layers.hiden.units=7"])


# --- compare: the spec every variant starts from --------------------------------------------------------------


def test_compare_varies_the_spec_the_set_changed(tmp_path):
    pytest.importorskip("numpy", reason="compare reads the data (its findings) with NumPy")
    spec = write_spec(tmp_path, DIGITS)
    options = Options(epochs=1, overrides=("layers.hidden.units=5",))
    resolved = resolve_compare(CompareRequest(spec, Data("digits"), ("layers.digit.activation=softmax,sigmoid",),
                                              options))  # fmt: skip
    models = [variant.runs[0].prepared.model for variant in resolved.variants]
    assert [m.analysis.layers["hidden"].output_shape for m in models] == [(5,), (5,)]
    assert [m.spec.layers[2].activation for m in models] == ["softmax", "sigmoid"]
    assert resolved.model.analysis.total_params == 64 * 5 + 5 + 5 * 10 + 10


def test_compare_refuses_a_field_both_set_and_varied(tmp_path):
    spec = write_spec(tmp_path, DIGITS)
    result = _run("compare", spec, "defaults.kernel_initializer=zeros",
                  extra=["--vary", "kernel_initializer=zeros,auto"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "error: --set defaults.kernel_initializer and --vary kernel_initializer set the same field: "
        "give it to one of them\n"
    )


# --- build, train, evaluate, probe: real TensorFlow -----------------------------------------------------------


@pytest.mark.tensorflow
def test_build_set_changes_the_model_keras_builds(tmp_path):
    from modelspec import build_model

    spec = write_spec(tmp_path, SETTABLE)
    out = tmp_path / "settable.keras"
    result = _run("build", spec, "layers.hidden.units=7", extra=["-o", out])
    assert result.exit_code == 0, result.output
    assert "Total params: 171\n" in result.output and "(None, 7)" in result.output
    import keras

    assert keras.saving.load_model(out).count_params() == 171
    with zipfile.ZipFile(out) as archive:  # the spec it carries is the one built
        assert load_spec(archive.read(SPEC_MEMBER).decode()).analysis.total_params == 171
    assert build_model(spec, overrides=["layers.hidden.units=7"]).count_params() == 171
    assert build_model(spec).count_params() == 771


@pytest.mark.tensorflow
def test_train_set_runs_one_epoch_and_evaluate_set_changes_the_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, DIGITS)
    result = _run("train", spec, "training.epochs=1", "layers.hidden.units=8", extra=["--quiet"])
    assert result.exit_code == 0, result.output
    assert "Trained 1 epoch:" in result.output
    rows = json.loads((tmp_path / "tiny_digits.history.json").read_text())["epochs"]
    assert [row["epoch"] for row in rows] == [1]
    import keras

    assert keras.saving.load_model("tiny_digits.keras").get_layer("hidden").units == 8
    plain = invoke("evaluate", "tiny_digits.keras", "--data", "digits", "--format", "json")
    assert set(json.loads(plain.output)["results"]) == {"loss", "accuracy"}
    more = _run("evaluate", "tiny_digits.keras", "training.metrics=[accuracy, sparse_top_k_categorical_accuracy]",
                extra=["--format", "json"])  # fmt: skip
    assert more.exit_code == 0, more.output
    assert set(json.loads(more.output)["results"]) == {"loss", "accuracy", "sparse_top_k_categorical_accuracy"}


@pytest.mark.tensorflow
def test_probe_set_measures_the_changed_initialisation(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    result = _run("probe", spec, "layers.hidden.kernel_initializer=zeros", extra=["--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    hidden = next(layer for layer in report["layers"] if layer["name"] == "hidden")
    assert hidden["rms"] == 0.0 and hidden["dead"] == 1.0  # zeros kernel, zero bias, relu: every unit dead
    assert [(d["code"], d["line"]) for d in report["diagnostics"] if d["code"] == "MS101"] == [("MS101", 6)]
    plain = json.loads(invoke("probe", spec, "--format", "json").output)
    assert next(layer for layer in plain["layers"] if layer["name"] == "hidden")["rms"] > 0.1


def test_build_plan_shows_the_plan_of_the_changed_spec(tmp_path):
    np = pytest.importorskip("numpy")
    np.savez(
        tmp_path / "w.npz", **{"hidden/kernel": np.zeros((20, 32), "float32"), "hidden/bias": np.zeros(32, "float32")}
    )
    spec = write_spec(tmp_path, SETTABLE + "pretrained: {path: w.npz}\n")
    plain = invoke("build", spec, "--plan")
    assert plain.exit_code == 0, plain.output
    assert "1 of 2 layers load (0 frozen)" in " ".join(plain.output.split())
    frozen = _run("build", spec, "pretrained.freeze=[hidden]", extra=["--plan"])
    assert frozen.exit_code == 0, frozen.output
    assert "1 of 2 layers load (1 frozen)" in " ".join(frozen.output.split())
    narrower = _run("build", spec, "layers.hidden.units=7", extra=["--plan"])  # the file's kernel no longer fits
    assert narrower.exit_code == 2 and "(20, 32)" in narrower.output and "(20, 7)" in narrower.output, narrower.output


@pytest.mark.tensorflow
def test_compare_set_trains_every_variant_of_the_changed_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, DIGITS)
    result = invoke("compare", spec, "--data", "digits", "--vary", "training.optimizer.learning_rate=0.01,0.001",
                    "--set", "training.epochs=1", "--set", "layers.hidden.kernel_initializer=zeros",
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    variants = json.loads(result.output)["variants"]
    assert [v["label"] for v in variants] == ["training.optimizer.learning_rate=0.01",
                                              "training.optimizer.learning_rate=0.001"]  # fmt: skip
    for variant in variants:
        assert [len(run["epochs"]) for run in variant["runs"]] == [1]  # the spec's epochs, as --set made it
        assert [(f["code"], f["line"]) for f in variant["findings"] if f["code"] == "MS101"] == [("MS101", 7)]
