"""`modelspec build --plan` and `--weights`: the plan table, exit codes, no output file after a failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modelspec.cli import cli

pytestmark = pytest.mark.tensorflow

SPEC = {
    "modelspec": 1,
    "name": "derived",
    "seed": 1,
    "input": {"shape": [4]},
    "layers": [
        {"type": "dense", "name": "hidden1", "units": 3, "activation": "relu"},
        {"type": "dense", "name": "head", "units": 2, "activation": "softmax"},
    ],
    "pretrained": {"path": "base.npz", "freeze": ["hidden1"]},
}


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    np.savez(
        tmp_path / "base.npz",
        **{
            "hidden1/kernel": np.ones((4, 3), "float32"),
            "hidden1/bias": np.zeros(3, "float32"),
            "old_head/kernel": np.ones((3, 5), "float32"),
        },
    )
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_prints_one_row_per_weighted_layer_and_writes_nothing(folder):
    result = _run("build", "spec.yaml", "--plan")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("hidden1" in line and "(4, 3)" in line and "frozen" in line and "no" in line for line in lines)
    assert any("head" in line and "new (not in the file)" in line for line in lines)
    assert "1 of 2 layers load (1 frozen), 0 skipped, 1 new; unused in the file: old_head" in result.output
    assert not (folder / "derived.keras").exists()


def test_plan_does_not_import_tensorflow(folder):
    code = (
        "import sys; from modelspec.cli import cli\n"
        "try:\n    cli(['build', 'spec.yaml', '--plan'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_build_loads_and_prints_the_plan_first(folder):
    result = _run("build", "spec.yaml", "-o", "out.keras")
    assert result.exit_code == 0, result.output
    assert result.output.index("Pretrained weights") < result.output.index("Wrote out.keras")
    assert (folder / "out.keras").exists()


@pytest.mark.parametrize(
    "freeze, trainable",
    [(["hidden1"], 8), (True, 8), (False, 23), (["h.*"], 0)],  # hidden1: 4 x 3 + 3; head: 3 x 2 + 2
)
def test_the_summary_counts_what_the_pretrained_block_freezes_as_keras_does(folder, freeze, trainable):
    import keras

    spec = {**SPEC, "pretrained": {**SPEC["pretrained"], "freeze": freeze}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = _run("build", "spec.yaml", "-o", "out.keras")
    assert result.exit_code == 0, result.output
    saved = keras.saving.load_model(folder / "out.keras")
    keras_trainable = sum(int(np.prod(v.shape)) for v in saved.trainable_weights)
    assert keras_trainable == trainable
    assert f"Trainable params: {trainable:,}\n" in result.output
    assert f"Non-trainable params: {23 - trainable:,}\n" in result.output


@pytest.mark.parametrize(
    ("args", "change", "message"),
    [
        (["--weights", "nothere.npz"], None, "error: nothere.npz: no such file"),
        ([], {"path": "../base.npz"}, "error[MS401] pretrained.path: pretrained.path leaves the spec's tree"),
        ([], {"map": {"head": "ghost"}}, "map target 'ghost' is not a layer with weights in"),
        ([], {"freeze": ["enc.*"]}, "freeze pattern matches no layer with weights (received: 'enc.*')"),
        ([], {"map": {"head": "old_head"}}, "layer 'head' (from 'old_head' in"),
    ],
)
@pytest.mark.parametrize("plan", [True, False])
def test_errors_exit_2_without_traceback_or_output_file(folder, args, change, message, plan):
    if change:
        (folder / "spec.yaml").write_text(
            yaml.safe_dump(dict(SPEC, pretrained={**SPEC["pretrained"], **change})), encoding="utf-8"
        )
    result = _run("build", "spec.yaml", "-o", "out.keras", *args, *(["--plan"] if plan else []))
    output = result.output  # click 8.2: stdout and stderr together
    assert result.exit_code == 2, output
    assert message in output and "Traceback" not in output
    assert not list(Path(folder).glob("*.keras")) and not list(Path(folder).glob(".modelspec-*"))


def test_weights_option_needs_no_pretrained_block(folder):
    (folder / "spec.yaml").write_text(
        yaml.safe_dump({k: v for k, v in SPEC.items() if k != "pretrained"}), encoding="utf-8"
    )
    result = _run("build", "spec.yaml", "--weights", "base.npz", "--plan")
    assert result.exit_code == 0 and "1 of 2 layers load (0 frozen)" in result.output


def test_weights_option_silences_the_missing_spec_path(folder):
    (folder / "spec.yaml").write_text(yaml.safe_dump(dict(SPEC, pretrained={"path": "gone.npz"})), encoding="utf-8")
    assert _run("build", "spec.yaml", "-o", "out.keras").exit_code == 2
    result = _run("build", "spec.yaml", "-o", "out.keras", "--weights", "base.npz")
    assert result.exit_code == 0, result.output


def test_transfer_learning_example_runs():
    script = Path(__file__).resolve().parents[1] / "examples" / "transfer_learning" / "run.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the frozen layers did not change" in done.stdout
