"""Resolve once, then run: every decision of train / evaluate / probe / compare is made before TensorFlow starts, by
one pure function, and what runs is exactly what was resolved (the seed recorded reproduces the run, the output
paths are checked before any work, a Ctrl-C exits 130 from the first instant)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modelspec import train
from modelspec.cli import cli
from modelspec.errors import SettingsError
from modelspec.requests import Data, Options, Outputs, TrainRequest
from modelspec.resolve import resolve_train

# Every test here writes its data with NumPy, or trains: the module needs the [tf] extra (the layering of the
# resolver itself is tests/test_layering.py's, which runs without TensorFlow too).
pytestmark = pytest.mark.tensorflow

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "specs" / "digits_mlp.yaml"
SPEC = {
    "modelspec": 1,
    "name": "toy",
    "input": {"shape": [6]},
    "layers": [
        {"type": "dense", "name": "hidden", "units": 8, "activation": "relu"},
        {"type": "dropout", "rate": 0.25},
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax"},
    ],
    "training": {
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 16,
        "epochs": 2,
        "validation_split": 0.2,
    },
}


def _files(folder: Path, **changes) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype("float32")
    np.savez(folder / "data.npz", x=x, y=(x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5))
    (folder / "toy.yaml").write_text(yaml.safe_dump({**SPEC, **changes}, sort_keys=False), encoding="utf-8")
    return folder / "toy.yaml", folder / "data.npz"


@pytest.fixture
def runner():
    return CliRunner()


def test_resolving_a_training_run_starts_no_tensorflow(tmp_path):
    spec, data = _files(tmp_path)
    code = (
        "import sys\nfrom modelspec.requests import TrainRequest, Data, Options, Outputs\n"
        "from modelspec.resolve import resolve_train\n"
        f"r = resolve_train(TrainRequest({str(spec)!r}, Data({str(data)!r}), Options(), Outputs(named=True)))\n"
        "print(r.settings.seed, r.outputs.model, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    seed, model, loaded = done.stdout.split(" ", 2)
    assert 0 <= int(seed) < 2**31 and model == "toy.keras" and loaded.strip() == "[]"


# --- the seed: drawn once, recorded, and what the run used ------------------------------------------------------


def test_an_unseeded_run_is_reproduced_by_its_recorded_seed(tmp_path):
    spec, data = _files(tmp_path)  # no `seed:` in the spec
    first = train(spec, data, outputs=Outputs(history=tmp_path / "run"))
    recorded = json.loads((tmp_path / "run.json").read_text())["seed"]
    again = train(spec, data, Options(seed=recorded))
    weights = [np.asarray(v) for v in first.model.weights]
    assert weights and all(np.array_equal(a, np.asarray(b)) for a, b in zip(weights, again.model.weights))
    assert first.history.rows[-1]["loss"] == again.history.rows[-1]["loss"]


def test_one_seed_range_everywhere(tmp_path, runner):
    spec, data = _files(tmp_path)
    resolved = resolve_train(TrainRequest(spec, Data(data), Options(seed=3_000_000_000)))
    assert resolved.settings.seed == 3_000_000_000  # the spec's own range, as `seed: 3000000000` in the spec
    with pytest.raises(SettingsError, match="between 0 and 4294967295"):
        resolve_train(TrainRequest(spec, Data(data), Options(seed=2**32)))
    for command in (["train", spec, "--data", data], ["probe", spec], ["compare", spec, "--data", data, "--vary",
                    "kernel_initializer=zeros"], ["build", spec]):  # fmt: skip
        refused = runner.invoke(cli, [*map(str, command), "--seed", str(2**32)])
        assert refused.exit_code == 2 and "0<=x<=4294967295" in refused.output, refused.output


# --- every output path checked before any work starts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "{spec}", "-o", "model.h5"], "-o/--output: the file name must end in .keras"),
        (["build", "{spec}", "-o", "no/such/model.keras"], "folder 'no/such' does not exist"),
        (["train", "{spec}", "--data", "{data}", "-o", "nodir/sub/m.keras"], "folder 'nodir/sub' does not exist"),
        (["train", "{spec}", "--data", "{data}", "--plot", "nodir/x.png"], "--plot: folder 'nodir' does not exist"),
        (["train", "{spec}", "--data", "{data}", "--plot", "x.jpg"], "--plot: the file name must end in .png"),
        (["train", "{spec}", "--data", "{data}", "--history", "nodir/h"], "--history: folder 'nodir' does not exist"),
        (["probe", "{spec}", "--plot", "nodir/x.png"], "--plot: folder 'nodir' does not exist"),
        (["compare", "{spec}", "--data", "{data}", "--vary", "kernel_initializer=zeros", "-o", "nodir/q.json"],
         "-o/--output: folder 'nodir' does not exist"),
        (["compare", "{spec}", "--data", "{data}", "--vary", "kernel_initializer=zeros", "--plot", "nodir/x.png"],
         "--plot: folder 'nodir' does not exist"),
    ],
)  # fmt: skip
def test_an_unwritable_output_is_refused_before_any_work(tmp_path, monkeypatch, runner, args, message):
    spec, data = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(cli, [a.format(spec=spec, data=data) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing trained, nothing written


# --- evaluate, compare: refusals before TensorFlow ---------------------------------------------------------------


def test_evaluate_refuses_a_spec_without_weights(tmp_path, runner):
    spec, data = _files(tmp_path)
    result = runner.invoke(cli, ["evaluate", str(spec), "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert "randomly initialised model" in result.output and "--weights" in result.output


def test_compare_refuses_a_reach_quantity_the_runs_never_log(tmp_path, runner):
    spec, data = _files(tmp_path)
    args = ["compare", str(spec), "--data", str(data), "--vary", "kernel_initializer=zeros,auto"]
    result = runner.invoke(cli, [*args, "--reach", "val_acc=0.9", "-o", str(tmp_path / "q.json")])
    assert result.exit_code == 2, result.output
    assert "--reach val_acc: the runs never log it; they log loss, accuracy, val_loss, val_accuracy" in result.output
    assert not (tmp_path / "q.json").exists()


def test_compare_prints_json_with_format_json(tmp_path, runner):
    spec, data = _files(tmp_path, seed=3)
    args = ["compare", str(spec), "--data", str(data), "--vary", "kernel_initializer=zeros,auto", "--epochs", "1"]
    result = runner.invoke(cli, [*args, "--format", "json", "-o", str(tmp_path / "q.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads((tmp_path / "q.json").read_text())
    assert [v["label"] for v in printed["variants"]] == ["kernel_initializer=zeros", "kernel_initializer=auto"]


def test_train_says_one_epoch_and_names_every_file_written(tmp_path, monkeypatch, runner):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,d,e,f,label"] + [
        ",".join(f"{v:.3f}" for v in rng.standard_normal(6)) + f",{['cat', 'dog', 'eel'][i % 3]}" for i in range(48)
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    spec, _ = _files(tmp_path, seed=1)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["train", str(spec), "--data", "train.csv", "--epochs", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Trained 1 epoch: " in result.output
    wrote = "Wrote toy.keras, toy.classes.json, toy.history.json, toy.history.csv"
    assert wrote in result.output and (tmp_path / "toy.classes.json").is_file()


# --- Ctrl-C: exit 130 from the first instant ---------------------------------------------------------------------


@pytest.mark.parametrize("after", [0.2, 0.6, 1.5])  # from the interpreter's start (its own first ~0.1 s) to training
def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(tmp_path, after):
    spec, data = _files(tmp_path, seed=1)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "modelspec", "train", str(spec), "--data", str(data), "--epochs", "50"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    text = (out + err).decode()
    assert process.returncode == 130, text
    assert "Traceback" not in text and "Aborted!" not in text


def test_ctrl_c_during_compare_exits_130_and_offers_no_checkpoints(tmp_path):
    spec, data = _files(tmp_path, seed=1)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "modelspec", "compare", str(spec), "--data", str(data), "--epochs", "200",
               "--vary", "kernel_initializer=zeros,auto"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()  # the first variant's findings: every variant resolved, training starts
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    text = (first + out + err).decode()
    assert process.returncode == 130, text
    assert "--checkpoints" not in text and "Traceback" not in text
    assert not (tmp_path / "toy.compare.json").exists()
