"""`modelspec export` for real: every spec of specs/ written in each format, loaded by the format's own runtime
(TensorFlow, onnxruntime, the LiteRT interpreter) and compared with Keras; a .keras file from `modelspec train`; the
quantised LiteRT variants; layer_scale and normalization; the located refusals of the readiness rules; the options a
format does not take; a missing `export` extra (in a subprocess where the import really fails); atomic outputs.
The keras.applications matrix is `slow` (pytest -m slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.errors import EXIT_INVALID, EXIT_LINT

ROOT = Path(__file__).resolve().parent.parent
# ResNet-50 (224 x 224, 25.6M parameters) takes about 100 s and several GB to convert and verify in the three
# formats: it is in the slow matrix (`pytest -m slow`), with the keras.applications models.
HEAVY = {"resnet50"}
SPECS = [
    pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if path.stem in HEAVY else [])
    for path in sorted((ROOT / "specs").glob("*.yaml"))
]
SUFFIX = {"saved_model": ".saved_model", "onnx": ".onnx", "litert": ".tflite"}
# What the readiness rules refuse among specs/, checked against the converters in tests/test_export_rules.py.
REFUSED = {("multi_io", "onnx"): "MS501", ("lstm_text", "litert"): "MS502"}


def _invoke(*args: str):
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def _difference(output: str) -> float:
    line = next(line for line in output.splitlines() if line.startswith("Verified in"))
    return float(line.split("from Keras ")[1].split()[0])


@pytest.mark.tensorflow
@pytest.mark.parametrize("export_format", list(SUFFIX))
@pytest.mark.parametrize("spec", SPECS)
def test_every_spec_exports_and_agrees_with_keras(tmp_path, spec, export_format):
    output = tmp_path / f"model{SUFFIX[export_format]}"
    result = _invoke("export", spec, "--format", export_format, "-o", output)
    refused = REFUSED.get((spec.stem, export_format))
    if refused:
        assert result.exit_code == EXIT_LINT, result.output
        assert f"error[{refused}]" in result.output and f"{spec}:" in result.output
        assert not output.exists()
        return
    assert result.exit_code == 0, result.output
    assert _difference(result.output) <= 1e-5
    assert output.is_dir() if export_format == "saved_model" else output.is_file()
    assert [path.name for path in tmp_path.iterdir()] == [output.name]  # no temporary file left


@pytest.mark.tensorflow
def test_a_trained_model_exports_beside_itself(tmp_path):
    model = tmp_path / "digits.keras"
    result = _invoke("train", ROOT / "specs" / "digits_cnn.yaml", "--data", "digits", "--epochs", "1", "-o", model)
    assert result.exit_code == 0, result.output
    for export_format in ("onnx", "litert"):
        result = _invoke("export", model, "--format", export_format)
        assert result.exit_code == 0, result.output
        assert "has no weights" not in result.output
        assert (tmp_path / f"digits{SUFFIX[export_format]}").is_file()
        assert _difference(result.output) <= 1e-5

    # the export holds the trained weights: onnxruntime gives Keras's outputs of the trained model
    import numpy as np
    import onnxruntime

    from modelspec.runtime.tensorflow_env import import_keras

    keras_model = import_keras().saving.load_model(model)
    x = np.random.default_rng(3).random((5, 8, 8, 1), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "digits.onnx"))
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, keras_model(x), rtol=0, atol=1e-5)


@pytest.mark.tensorflow
@pytest.mark.parametrize(("mode", "bound"), [("dynamic", 5e-2), ("float16", 5e-3)])
def test_quantised_litert_is_smaller_and_within_its_bound(tmp_path, mode, bound):
    spec = ROOT / "specs" / "mlp.yaml"
    plain, quantised = tmp_path / "plain.tflite", tmp_path / "small.tflite"
    assert _invoke("export", spec, "--format", "litert", "-o", plain).exit_code == 0
    result = _invoke("export", spec, "--format", "litert", "--quantize", mode, "-o", quantised)
    assert result.exit_code == 0, result.output
    assert f"(tolerance {bound:g}" in result.output
    assert 1e-6 < _difference(result.output) <= bound  # really quantised, and within the documented bound
    assert quantised.stat().st_size < 0.6 * plain.stat().st_size


_NORMALIZATION = "{type: normalization, mean: [0.5, 0.4, 0.3], variance: [0.2, 0.3, 0.4]}"
LAYER_SCALE_AND_NORMALIZATION = """\
modelspec: 1
name: scaled
seed: 3
input: {shape: [16, 16, 3]}
layers:
  - {type: normalization, mean: [0.5, 0.4, 0.3], variance: [0.2, 0.3, 0.4]}
  - {type: conv2d, name: stem, filters: 8, kernel_size: 3, padding: same, activation: relu}
  - {type: conv2d, name: branch, filters: 8, kernel_size: 3, padding: same}
  - {type: layer_scale, name: scale, init_value: 0.1}
  - {type: add, name: join, inputs: [stem, scale]}
  - {type: global_average_pool2d}
  - {type: dense, units: 4, activation: softmax}
"""


@pytest.mark.tensorflow
@pytest.mark.parametrize("export_format", list(SUFFIX))
def test_layer_scale_and_normalization_export(tmp_path, export_format):
    spec = tmp_path / "scaled.yaml"
    spec.write_text(LAYER_SCALE_AND_NORMALIZATION)
    if export_format == "onnx":  # tf2onnx makes the normalization's statistics inputs (MS503): rescale instead
        result = _invoke("export", spec, "--format", export_format)
        assert result.exit_code == EXIT_LINT and "scaled.yaml:6:5: error[MS503]" in result.output
        spec.write_text(LAYER_SCALE_AND_NORMALIZATION.replace(_NORMALIZATION, "{type: rescaling, scale: 2.0}"))
    result = _invoke("export", spec, "--format", export_format)  # default output: beside the spec
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"scaled{SUFFIX[export_format]}").exists()
    assert _difference(result.output) <= 1e-5


@pytest.mark.tensorflow
def test_the_python_api_returns_what_it_verified(tmp_path):
    import modelspec

    exported = modelspec.export(ROOT / "specs" / "resnet.yaml", "onnx", tmp_path / "r.onnx", opset=17)
    assert exported.path == tmp_path / "r.onnx" and exported.format.name == "onnx"
    assert len(exported.verified.differences) == 1 and exported.verified.batch == 4
    assert exported.verified.difference <= exported.tolerance == 1e-5
    import onnx

    assert max(entry.version for entry in onnx.load(tmp_path / "r.onnx").opset_import if entry.domain == "") == 17


@pytest.mark.tensorflow
def test_a_saved_model_folder_is_replaced_whole(tmp_path):
    output = tmp_path / "served"
    spec = ROOT / "specs" / "digits_mlp.yaml"
    assert _invoke("export", spec, "--format", "saved_model", "-o", output).exit_code == 0
    (output / "stale.txt").write_text("from the older export")
    result = _invoke("export", spec, "--format", "saved_model", "-o", output)
    assert result.exit_code == 0, result.output
    assert (output / "saved_model.pb").is_file() and not (output / "stale.txt").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["served"]


def test_a_folder_that_is_no_saved_model_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _invoke("export", ROOT / "specs" / "mlp.yaml", "--format", "saved_model", "-o", tmp_path)
    assert result.exit_code == EXIT_INVALID
    assert "holds no saved_model.pb" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


# --- refused before TensorFlow starts -------------------------------------------------------------------------------


def test_format_check_runs_the_readiness_rules_only(tmp_path):
    result = _invoke("export", ROOT / "specs" / "lstm_text.yaml", "--format", "litert", "--format-check")
    assert result.exit_code == EXIT_LINT
    assert "lstm_text.yaml:9:5: error[MS502]" in result.output
    assert "error: export to litert stopped by lint errors" in result.output
    result = _invoke("export", ROOT / "specs" / "lstm_text.yaml", "--format", "onnx", "--format-check")
    assert result.exit_code == 0, result.output
    assert "ready for onnx" in result.output


def test_format_check_never_loads_tensorflow():
    code = (
        "import sys\nfrom modelspec.cli import main\nsys.argv = ['modelspec', 'export', 'specs/mlp.yaml', "
        "'--format', 'onnx', '--format-check']\ntry:\n    main()\nexcept SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\nassert 'tensorflow' not in sys.modules\nprint('clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "clean"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "saved_model", "--opset", "15"], "--opset applies to --format onnx only"),
        (["--format", "onnx", "--quantize", "dynamic"], "--quantize applies to --format litert only"),
        (["--format", "onnx", "-o", "model.tflite"], "-o/--output: the file name must end in .onnx"),
        (["--format", "litert", "-o", "missing/model.tflite"], "folder 'missing' does not exist"),
    ],
)
def test_options_the_format_does_not_take_are_refused(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = _invoke("export", ROOT / "specs" / "mlp.yaml", *args)
    assert result.exit_code == EXIT_INVALID
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_opset_tf2onnx_cannot_write_is_a_usage_error():
    result = _invoke("export", ROOT / "specs" / "mlp.yaml", "--format", "onnx", "--opset", "20")
    assert result.exit_code == EXIT_INVALID
    assert "20 is not in the range 13<=x<=18" in result.output


def test_a_keras_file_modelspec_did_not_write(tmp_path):
    stranger = tmp_path / "other.keras"
    stranger.write_bytes(b"not a zip")
    result = _invoke("export", stranger, "--format", "onnx")
    assert result.exit_code == EXIT_INVALID
    assert "not a .keras archive" in result.output
    result = _invoke("export", stranger, "--format", "onnx", "--weights", tmp_path / "w.weights.h5")
    assert result.exit_code == EXIT_INVALID
    assert f"--weights applies to a SPEC: {stranger} carries its own weights" in result.output


# --- the `export` extra missing -------------------------------------------------------------------------------------


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.tensorflow
@pytest.mark.parametrize(("export_format", "module"), [("onnx", "onnxruntime"), ("litert", "ai_edge_litert")])
def test_without_the_extra_export_names_it(tmp_path, export_format, module):
    # A process where the module cannot be imported, as without the extra: Python's own rule, sys.modules[name] =
    # None, makes `import name` raise ImportError; modelspec's code runs unchanged.
    code = (
        f"import sys\nsys.modules[{module!r}] = None\nfrom modelspec.cli import main\n"
        f"sys.argv = ['modelspec', 'export', 'specs/mlp.yaml', '--format', {export_format!r}, '-o', "
        f"{str(tmp_path / ('m' + SUFFIX[export_format]))!r}]\nmain()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=_env())
    assert done.returncode == EXIT_INVALID, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"error: --format {export_format} needs {module}, which did not import")
    assert lines[0].endswith("install it with pip install 'modelspec[export]'")
    assert list(tmp_path.iterdir()) == []


# --- keras.applications (slow) --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize("export_format", list(SUFFIX))
@pytest.mark.parametrize("architecture", ["ResNet50", "MobileNetV2", "DenseNet121", "VGG16", "InceptionV3"])
def test_applications_export_and_agree_with_keras(tmp_path, architecture, export_format):
    from modelspec import from_keras
    from tests.test_import import ARCHITECTURES, _randomise_statistics

    original = ARCHITECTURES[architecture]()
    _randomise_statistics(original)
    spec = tmp_path / f"{architecture}.yaml"
    from_keras(original, spec)  # with its weights, which the spec's `pretrained:` block loads
    result = _invoke("export", spec, "--format", export_format, "--max-params", "200000000")
    assert result.exit_code == 0, result.output
    assert _difference(result.output) <= 1e-5
