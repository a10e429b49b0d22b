"""`modelspec train` and `evaluate` with real TensorFlow: reproducible weights, resume equal to an uninterrupted run
(also after a real SIGTERM), atomic outputs that plain Keras loads, and data or settings errors before TensorFlow."""

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

from modelspec import DataError, evaluate, train
from modelspec.cli import cli
from modelspec.errors import SettingsError
from modelspec.requests import Options, Outputs

pytestmark = pytest.mark.tensorflow

SPEC = {
    "modelspec": 1,
    "name": "toy",
    "seed": 5,
    "input": {"shape": [6]},
    "layers": [
        {"type": "dense", "name": "hidden", "units": 16, "activation": "relu"},
        {"type": "dropout", "rate": 0.25},
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax"},
    ],
    "training": {
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "learning_rate_schedule": {"type": "exponential_decay", "decay_steps": 5, "decay_rate": 0.9},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 16,
        "epochs": 4,
        "validation_split": 0.2,
    },
}


def _data(folder: Path, rows: int = 240, name: str = "data.npz") -> Path:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    np.savez(folder / name, x=x, y=y)
    return folder / name


def _spec(folder: Path, **training) -> Path:
    spec = dict(SPEC, training={**SPEC["training"], **training})
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.weights]


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_the_same_seed_gives_bit_identical_weights_and_history(tmp_path):
    spec, data = _spec(tmp_path), _data(tmp_path)
    first, second = train(spec, data), train(spec, data)
    assert all(np.array_equal(a, b) for a, b in zip(_weights(first.model), _weights(second.model)))
    assert _without_time(first.history.rows) == _without_time(second.history.rows)
    assert [row["epoch"] for row in first.history.rows] == [1, 2, 3, 4]
    other = train(spec, data, Options(seed=6))
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(first.model), _weights(other.model)))


def test_two_epochs_then_resume_equal_four_in_one_go(tmp_path):
    spec, data = _spec(tmp_path, early_stopping={"monitor": "val_loss", "patience": 10}), _data(tmp_path)
    straight = train(spec, data, Options(checkpoints=tmp_path / "straight"))
    train(spec, data, Options(epochs=2, checkpoints=tmp_path / "run"))
    resumed = train(spec, data, Options(checkpoints=tmp_path / "run", resume=True))
    assert all(np.array_equal(a, b) for a, b in zip(_weights(straight.model), _weights(resumed.model)))
    assert _without_time(straight.history.rows) == _without_time(resumed.history.rows)
    # The optimizer and its schedule continued: iterations and every slot are the same.
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(straight.model.optimizer.variables, resumed.model.optimizer.variables)
    )


def test_outputs_are_written_and_load_with_plain_keras(tmp_path, keras):
    spec, data = _spec(tmp_path), _data(tmp_path)
    trained = train(
        spec,
        data,
        outputs=Outputs(model=tmp_path / "toy.keras", history=tmp_path / "run.json", plot=tmp_path / "c.png"),
    )
    loaded = keras.saving.load_model(tmp_path / "toy.keras")
    x = np.load(data)["x"][:8]
    assert np.allclose(loaded.predict(x, verbose=0), trained.model.predict(x, verbose=0))
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["columns"] == ["epoch", "loss", "val_loss", "accuracy", "val_accuracy", "learning_rate", "seconds"]
    assert report["seed"] == 5 and len(report["epochs"]) == 4
    lines = (tmp_path / "run.csv").read_text().splitlines()
    assert lines[0] == ",".join(report["columns"]) and len(lines) == 5
    rates = [row["learning_rate"] for row in report["epochs"]]
    assert rates == sorted(rates, reverse=True) and rates[0] < 0.01  # the schedule decays per step
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "data.npz", "run.csv", "run.json", "toy.keras",
                                                           "toy.yaml"]  # fmt: skip


def test_evaluate_a_trained_model_file_and_a_spec_with_its_weights(tmp_path):
    spec, data = _spec(tmp_path), _data(tmp_path)
    trained = train(spec, data, outputs=Outputs(model=tmp_path / "toy.keras"))
    expected = trained.model.evaluate(*np.load(data).values(), batch_size=16, return_dict=True, verbose=0)
    from_file = evaluate(tmp_path / "toy.keras", data)
    assert from_file.examples == 240
    assert from_file.results == pytest.approx(expected, rel=1e-6)
    assert evaluate(spec, data, Options(weights=tmp_path / "toy.keras")).results == pytest.approx(expected, rel=1e-6)


def test_evaluate_refuses_a_keras_file_modelspec_did_not_write(tmp_path, keras):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.save(tmp_path / "foreign.keras")
    with pytest.raises(SettingsError, match="was not written by modelspec"):
        evaluate(tmp_path / "foreign.keras", _data(tmp_path))


def test_class_weight_and_early_stopping_run(tmp_path):
    spec = _spec(tmp_path, class_weight="balanced", epochs=30, early_stopping={"patience": 1, "min_delta": 10})
    trained = train(spec, _data(tmp_path))
    assert len(trained.history.rows) == 2  # the first epoch sets the best; the second does not beat it by 10: stop


def test_resume_refuses_another_spec_and_a_missing_checkpoint(tmp_path):
    data = _data(tmp_path)
    train(_spec(tmp_path), data, Options(epochs=1, checkpoints=tmp_path / "run"))
    with pytest.raises(SettingsError, match="written for a different spec"):
        train(_spec(tmp_path, batch_size=8), data, Options(checkpoints=tmp_path / "run", resume=True))
    with pytest.raises(SettingsError, match="does not exist"):
        train(_spec(tmp_path), data, Options(checkpoints=tmp_path / "empty", resume=True))
    with pytest.raises(SettingsError, match="needs --checkpoints"):
        train(_spec(tmp_path), data, Options(resume=True))


def test_memory_mapped_folder_trains_like_the_arrays(tmp_path):
    spec, data = _spec(tmp_path, shuffle=False, validation_split=None), _data(tmp_path)
    folder = tmp_path / "mapped"
    folder.mkdir()
    for name, array in np.load(data).items():
        np.save(folder / f"{name}.npy", array)
    # Without shuffling both feed the same batches in the same order: the same weights.
    arrays, mapped = train(spec, data, Options(epochs=2)), train(spec, folder, Options(epochs=2))
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(_weights(arrays.model), _weights(mapped.model)))


# --- the command line -------------------------------------------------------------------------------------------


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_trains_and_writes_everything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec, data = _spec(tmp_path), _data(tmp_path)
    result = _run("train", spec, "--data", data, "--epochs", 2, "--plot", "loss.png", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Training toy on" in result.output and "epoch 2/2" in result.output
    assert "Wrote toy.keras, toy.history.json, toy.history.csv, loss.png" in result.output
    evaluated = _run("evaluate", "toy.keras", "--data", data, "--format", "json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.output)["examples"] == 240


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": None}, "no array for the input 'input'"),
        ({"y": np.full(240, 7)}, "classes"),
        ({"x": np.full((240, 6), np.nan, "float32")}, "NaN"),
    ],
)
def test_cli_data_errors_exit_2_before_tensorflow_with_nothing_written(tmp_path, change, message):
    spec, data = _spec(tmp_path), _data(tmp_path)
    arrays = dict(np.load(data))
    for name, value in change.items():
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value
    np.savez(data, **arrays)
    code = (
        "import sys\nfrom modelspec.cli import main\nsys.argv = ['modelspec', 'train', sys.argv[1], '--data', "
        "sys.argv[2], '-o', sys.argv[3]]\ntry:\n    main()\nexcept SystemExit as exit:\n"
        "    print('tf', 'tensorflow' in sys.modules); sys.exit(exit.code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(spec), str(data), str(tmp_path / "out.keras")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr and "tf False" in done.stdout
    assert not (tmp_path / "out.keras").exists()


def test_a_killed_run_keeps_its_last_epoch_and_resumes_to_the_same_weights(tmp_path):
    """SIGTERM to a real `modelspec train` mid-epoch: exit 143, the last complete epoch saved, and resuming gives
    the weights (and optimizer state) of an uninterrupted run."""
    spec, data = _spec(tmp_path, batch_size=8, validation_split=None), _data(tmp_path, rows=12_000)
    command = [sys.executable, "-m", "modelspec", "train", str(spec), "--data", str(data), "--quiet"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = subprocess.Popen(
        [*command, "--checkpoints", "run", "-o", "a.keras"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "last.npz").exists() and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the next epoch (an epoch takes more than a second)
    killed.send_signal(signal.SIGTERM)
    out, err = killed.communicate(timeout=60)
    assert killed.returncode == 143, err
    assert "stopped by SIGTERM during epoch" in err and "--resume" in err and "Traceback" not in err
    assert not (tmp_path / "a.keras").exists()
    kept = json.loads(np.load(tmp_path / "run" / "last.npz")["__state__"].tobytes())
    assert 1 <= kept["epoch"] < 4

    resumed = subprocess.run([*command, "--checkpoints", "run", "--resume", "-o", "a.keras"], cwd=tmp_path,
                             capture_output=True, text=True, env=environment, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    straight = subprocess.run([*command, "--checkpoints", "straight", "-o", "b.keras"], cwd=tmp_path,
                              capture_output=True, text=True, env=environment, timeout=300)  # fmt: skip
    assert straight.returncode == 0, straight.stderr
    with np.load(tmp_path / "run" / "last.npz") as a, np.load(tmp_path / "straight" / "last.npz") as b:
        names = [name for name in a.files if name != "__state__"]
        assert names and all(np.array_equal(a[name], b[name]) for name in names)


def test_text_labels_keep_their_numbers_from_training_to_evaluation(tmp_path):
    """A CSV's text labels are numbered in training; validation and evaluation data use the same numbers, even when
    a class is missing from them, and refuse a label training never saw."""
    spec = dict(SPEC, training={**SPEC["training"], "validation_split": None, "epochs": 2})
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    rng = np.random.default_rng(1)
    rows = [[*np.round(rng.standard_normal(6), 3), ("ant", "bee", "cat")[i % 3]] for i in range(90)]
    header = "a,b,c,d,e,f,kind\n"
    (tmp_path / "train.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))
    only_cats = [r for r in rows if r[-1] == "cat"]
    (tmp_path / "cats.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in only_cats))
    trained = train(tmp_path / "toy.yaml", tmp_path / "train.csv", outputs=Outputs(model=tmp_path / "toy.keras"))
    assert json.loads((tmp_path / "toy.classes.json").read_text()) == {"out": ["ant", "bee", "cat"]}
    x = np.array([r[:-1] for r in only_cats], "float32")
    expected = trained.model.evaluate(x, np.full(len(x), 2), batch_size=16, return_dict=True, verbose=0)
    assert evaluate(tmp_path / "toy.keras", tmp_path / "cats.csv").results == pytest.approx(expected, rel=1e-6)
    (tmp_path / "dogs.csv").write_text(header + "0,0,0,0,0,0,dog\n")
    with pytest.raises(DataError, match=r"line 2, column 'kind': 'dog' is not one of the classes the model was "):
        evaluate(tmp_path / "toy.keras", tmp_path / "dogs.csv")
