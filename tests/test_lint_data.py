"""`modelspec lint SPEC --data DATA`: the data-aware rules (MS6xx) on real data files, the exit codes and formats of
lint, no TensorFlow, and the same rules at the start of `train` (a gate) and `compare` (reported).

The rules' own cases are tests/rules/MS60x.yaml (tests/test_rules.py); this file covers what a fixture cannot: the
bundled digits, .npz files and folders of .npy files, one-hot labels, the command line and the training commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numpy", reason="lint --data reads the data with NumPy")
from click.testing import CliRunner

from modelspec import lint
from modelspec.cli import cli
from modelspec.linter.data_checks import output_range

SIGMOID_REGRESSION = """\
modelspec: 1
name: digit_value
seed: 1
input: {shape: [64]}
layers:
  - {type: rescaling, scale: 0.0625}
  - {type: dense, units: 16, activation: relu}
  - {type: dense, name: value, units: 1, activation: sigmoid}
training:
  optimizer: adam
  loss: mse
  epochs: 1
"""


def _spec(tmp_path, text=SIGMOID_REGRESSION, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _invoke(*arguments):
    return CliRunner().invoke(cli, [str(a) for a in arguments], catch_exceptions=False)


def test_output_ranges_come_from_the_activation_functions():
    assert output_range("sigmoid") == (0.0, 1.0)
    assert output_range("softmax") == (0.0, 1.0)
    assert output_range("tanh") == (-1.0, 1.0)
    assert output_range("relu") == (0.0, float("inf"))
    assert output_range("relu6") == (0.0, 6.0)
    assert output_range("elu") == (-1.0, float("inf"))
    assert output_range("linear") == (float("-inf"), float("inf"))
    assert output_range("leaky_relu") == (float("-inf"), float("inf"))
    assert output_range("exponential") == (0.0, float("inf"))


def test_digits_labels_on_a_sigmoid_regression_output_are_an_error_at_its_activation(tmp_path):
    spec = _spec(tmp_path)
    result = _invoke("lint", spec, "--data", "digits")
    assert result.exit_code == 1, result.output
    line = next(line for line in result.output.splitlines() if "MS601" in line)
    # located at the output's activation (line 8, the `activation:` key), naming the data and the floor
    assert line.startswith(f"{spec}:8:")
    assert "error[MS601] value:" in line
    assert "the targets of 'value' in digits" in line and "outside [0, 1]" in line
    assert "no weights bring the mean squared error below" in line


def test_lint_without_data_says_nothing_of_it(tmp_path):
    result = _invoke("lint", _spec(tmp_path))
    assert result.exit_code == 0, result.output
    assert "MS6" not in result.output


@pytest.mark.parametrize("output_format", ["json", "github", "sarif"])
def test_the_formats_of_lint_carry_the_data_findings(tmp_path, output_format):
    spec = _spec(tmp_path)
    result = _invoke("lint", spec, "--data", "digits", "--format", output_format)
    assert result.exit_code == 1
    if output_format == "json":
        found = [d for d in json.loads(result.output)["diagnostics"] if d["code"] == "MS601"]
        assert found and found[0]["line"] == 8 and found[0]["level"] == "error"
    elif output_format == "github":
        assert f"::error file={spec},line=8," in result.output and "MS601" in result.output
    else:
        results = json.loads(result.output)["runs"][0]["results"]
        hit = next(r for r in results if r["ruleId"] == "MS601")
        assert hit["level"] == "error"
        assert hit["locations"][0]["physicalLocation"]["region"]["startLine"] == 8


def test_data_that_does_not_fit_exits_2_as_train_refuses_it(tmp_path):
    result = _invoke("lint", _spec(tmp_path), "--data", tmp_path / "missing.csv")
    assert result.exit_code == 2
    assert "missing.csv: no such file or folder for the training data" in result.output


def test_target_needs_data(tmp_path):
    result = _invoke("lint", _spec(tmp_path), "--target", "y")
    assert result.exit_code == 2
    assert "--target needs --data" in result.output


def test_a_csv_target_column_as_train_takes_it(tmp_path):
    csv = tmp_path / "houses.csv"
    csv.write_text("rooms,price,area\n3,250000,0.1\n2,180000,-0.5\n4,320000,1.2\n1,99000,0.3\n", encoding="utf-8")
    spec = _spec(
        tmp_path,
        "modelspec: 1\nname: houses\nseed: 1\ninput: {shape: [2]}\nlayers:\n  - {type: dense, units: 4, "
        "activation: relu}\n  - {type: dense, name: price, units: 1}\ntraining:\n  optimizer: adam\n  loss: mse\n",
    )
    result = _invoke("lint", spec, "--data", csv, "--target", "price", "--select", "MS604")
    assert result.exit_code == 0
    assert "warning[MS604] price: the targets of 'price' in" in result.output and "mean 2.122e+05" in result.output


def test_one_hot_labels_in_an_npz_with_a_class_never_hot(tmp_path):
    np = pytest.importorskip("numpy")
    x = np.random.RandomState(0).normal(size=(6, 2)).astype("float32")
    y = np.eye(4, dtype="float32")[[0, 1, 2, 0, 1, 2]]  # column 3 never 1
    np.savez(tmp_path / "data.npz", x=x, y=y)
    spec = _spec(
        tmp_path,
        "modelspec: 1\nname: kinds\nseed: 1\ninput: {shape: [2]}\nlayers:\n  - {type: dense, units: 4, "
        "activation: relu}\n  - {type: dense, name: kind, units: 4, activation: softmax}\ntraining:\n"
        "  optimizer: adam\n  loss: categorical_crossentropy\n",
    )
    found = [d for d in lint(spec, data=tmp_path / "data.npz") if d.code == "MS602"]
    assert [(d.line, d.column) for d in found] == [(7, 31)]
    assert "set 3 of the 4 columns (0, 1, 2)" in found[0].message


def test_a_folder_of_npy_files_is_read_memory_mapped(tmp_path):
    np = pytest.importorskip("numpy")
    folder = tmp_path / "arrays"
    folder.mkdir()
    rng = np.random.RandomState(0)
    np.save(folder / "x.npy", (rng.uniform(0, 255, size=(50, 2))).astype("float32"))
    np.save(folder / "y.npy", rng.randint(0, 2, size=(50,)).astype("int64"))
    spec = _spec(
        tmp_path,
        "modelspec: 1\nname: pixels\nseed: 1\ninput: {shape: [2]}\nlayers:\n  - {type: dense, units: 4, "
        "activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\ntraining:\n"
        "  optimizer: adam\n  loss: binary_crossentropy\n",
    )
    codes = {d.code: d for d in lint(spec, data=folder)}
    assert set(codes) == {"MS603"}
    assert codes["MS603"].line == 4 and "in " + str(folder) in codes["MS603"].message


def test_the_bundled_spec_and_digits_give_only_the_constant_corner_pixels():
    found = lint("specs/digits_mlp.yaml", data="digits")
    assert [(d.code, d.level.value) for d in found] == [("MS605", "info")]
    assert "3 of the 64 features of 'input' in digits never change (flat positions 0, 32, 39)" in found[0].message


def test_an_inline_ignore_suppresses_a_data_finding(tmp_path):
    text = SIGMOID_REGRESSION.replace("activation: sigmoid}", "activation: sigmoid}  # modelspec: ignore[MS601]")
    assert [d.code for d in lint(_spec(tmp_path, text), data="digits")] == ["MS605", "MS606"]


def test_lint_data_leaves_tensorflow_and_keras_out_of_sys_modules(tmp_path):
    spec = _spec(tmp_path)
    script = textwrap.dedent(
        f"""\
        import sys
        from click.testing import CliRunner
        from modelspec.cli import cli
        result = CliRunner().invoke(cli, ["lint", {str(spec)!r}, "--data", "digits"], catch_exceptions=False)
        print(result.exit_code)
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.splitlines()[-2:] == ["1", "[]"], done.stdout + done.stderr


def test_train_stops_on_a_data_error_before_tensorflow(tmp_path):
    spec = _spec(tmp_path)
    model = tmp_path / "model.keras"
    script = textwrap.dedent(
        f"""\
        import sys
        from click.testing import CliRunner
        from modelspec.cli import cli
        arguments = ["train", {str(spec)!r}, "--data", "digits", "-o", {str(model)!r}]
        result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
        print(result.exit_code)
        print(result.output)
        print("tensorflow" in sys.modules, "keras" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0] == "1", done.stdout + done.stderr
    assert "error[MS601] value:" in done.stdout
    assert f"error: training stopped by lint errors in {spec}" in done.stdout
    assert "MS605" not in done.stdout  # info stays lint's: train prints warnings and errors of the data
    assert lines[-1] == "False False"
    assert not model.exists()


def test_compare_reports_the_data_error_per_variant_and_does_not_stop(tmp_path):
    from modelspec.requests import CompareRequest, Data, Options
    from modelspec.resolve import resolve_compare

    request = CompareRequest(
        spec=_spec(tmp_path),
        data=Data(data="digits"),
        vary=("layers.value.activation=sigmoid,linear",),
        options=Options(),
    )
    resolved = resolve_compare(request)
    codes = {v.label: [d.code for d in v.findings if d.code.startswith("MS6")] for v in resolved.variants}
    assert codes == {"layers.value.activation=sigmoid": ["MS601"], "layers.value.activation=linear": []}


FIVE_UNITS = SIGMOID_REGRESSION.replace("units: 1, activation: sigmoid", "units: 5, activation: softmax").replace(
    "loss: mse", "loss: sparse_categorical_crossentropy"
)


def test_more_classes_than_units_is_located_at_the_units_and_exits_2_as_train(tmp_path):
    spec = _spec(tmp_path, FIVE_UNITS)
    result = _invoke("lint", spec, "specs/digits_mlp.yaml", "--data", "digits")
    assert result.exit_code == 2, result.output
    assert (
        f"{spec}:8:32: error[MS004] value: digits: the labels: labels up to 9 (10 classes), but the output 'value' "
        "has 5 units: give it 10 units, or check the labels"
    ) in result.output
    assert "specs/digits_mlp.yaml:7:1: info[MS605]" in result.output  # the other spec is still linted
    train = _invoke("train", spec, "--data", "digits", "-o", tmp_path / "m.keras")
    assert train.exit_code == 2 and "labels up to 9 (10 classes), but the output 'value' has 5 units" in train.output


def test_one_hot_labels_of_another_width_are_located_at_the_units(tmp_path):
    np = pytest.importorskip("numpy")
    np.savez(tmp_path / "data.npz", x=np.zeros((4, 2), "float32") + np.arange(4)[:, None], y=np.eye(3)[[0, 1, 2, 0]])
    spec = _spec(
        tmp_path,
        "modelspec: 1\nname: kinds\nseed: 1\ninput: {shape: [2]}\nlayers:\n  - {type: dense, units: 4, "
        "activation: relu}\n  - {type: dense, name: kind, units: 4, activation: softmax}\ntraining:\n"
        "  optimizer: adam\n  loss: categorical_crossentropy\n",
    )
    result = _invoke("lint", spec, "--data", tmp_path / "data.npz", "--format", "json")
    assert result.exit_code == 2
    (found,) = json.loads(result.output)["diagnostics"]
    assert (found["code"], found["line"], found["column"]) == ("MS004", 7, 31)
    assert "array 'y': shape (4, 3), but the output 'kind' gives (None, 4)" in found["message"]


def test_train_carries_a_data_warning_into_the_findings_it_prints_and_strict_stops_on_it(tmp_path):
    from modelspec.errors import LintFailure
    from modelspec.requests import Data, Options, TrainRequest
    from modelspec.resolve import resolve_train

    csv = tmp_path / "houses.csv"
    csv.write_text("rooms,area,price\n3,0.1,250000\n2,-0.5,180000\n4,1.2,320000\n1,0.3,99000\n", encoding="utf-8")
    spec = _spec(
        tmp_path,
        "modelspec: 1\nname: houses\nseed: 1\ninput: {shape: [2]}\nlayers:\n  - {type: dense, units: 4, "
        "activation: relu}\n  - {type: dense, name: price, units: 1}\ntraining:\n  optimizer: adam\n  loss: mse\n",
    )
    resolved = resolve_train(TrainRequest(spec=spec, data=Data(data=csv)))
    assert [(d.code, d.line) for d in resolved.prepared.findings if d.code.startswith("MS6")] == [("MS604", 10)]
    with pytest.raises(LintFailure, match="training stopped by lint errors or warnings"):
        resolve_train(TrainRequest(spec=spec, data=Data(data=csv), options=Options(strict=True)))


def test_the_profile_agrees_with_numpy_across_chunks(tmp_path, monkeypatch):
    np = pytest.importorskip("numpy")
    from modelspec.data import load_data
    from modelspec.linter import data_checks
    from modelspec.loader import load_spec

    monkeypatch.setattr(data_checks, "CHUNK_VALUES", 64)  # 21 rows of 3 features a chunk: many chunks
    rng = np.random.RandomState(1)
    x = (rng.normal(size=(1000, 3)) * [1.0, 50.0, 0.0] + [0.0, 7.0, 2.0]).astype("float32")
    y = rng.randint(0, 3, size=(1000,)).astype("float64") * 2.0  # 0, 2, 4 under a sigmoid: 2 and 4 outside
    np.savez(tmp_path / "data.npz", x=x, y=y)
    model = load_spec(
        "modelspec: 1\nname: p\ninput: {shape: [3]}\nlayers:\n  - {type: dense, name: y, units: 1, activation: "
        "sigmoid}\ntraining: {optimizer: adam, loss: mse}\n"
    )
    found = data_checks.profile(model, load_data(tmp_path / "data.npz", model))
    inputs, targets = found.inputs["input"], found.targets["y"]
    assert inputs.constant == (2,) and inputs.low == pytest.approx(float(x.min()))
    assert inputs.mean == pytest.approx(float(x.mean()), rel=1e-6) and inputs.std == pytest.approx(
        float(x.std()), rel=1e-5
    )
    assert targets.values == (0.0, 2.0, 4.0) and targets.whole
    assert targets.outside == int(np.count_nonzero(y > 1))
    assert targets.floor == pytest.approx(float(np.mean((y - np.clip(y, 0, 1)) ** 2)))
