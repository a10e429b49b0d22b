"""Training that really distributes, on this machine: `mirrored` over two logical CPU devices, and
`multi_worker_mirrored` with two `modelspec train` processes on 127.0.0.1, one of them killed mid-epoch.

Each claim is checked against a run on one device: the same global batches in the same order, so the same loss
trajectory and the same final weights (and optimizer state), within float32 round-off.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelspec import evaluate, train
from modelspec.errors import SettingsError
from modelspec.requests import Options, Outputs
from tests.conftest import python

pytestmark = pytest.mark.tensorflow

SPEC = {
    "modelspec": 1,
    "name": "toy",
    "seed": 5,
    "input": {"shape": [6]},
    "layers": [
        {
            "type": "dense",
            "name": "hidden",
            "units": 16,
            "activation": "relu",
            "kernel_regularizer": {"type": "l2", "l2": 0.001},
        },
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax"},
    ],  # fmt: skip
    "training": {
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "learning_rate_schedule": {"type": "exponential_decay", "decay_steps": 5, "decay_rate": 0.9},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 16,
        "epochs": 3,
        "validation_split": 0.2,
        # Run on every path, the cluster's loop included: sample weights from the classes, and the callbacks' state
        # (best epoch, patience counter) kept in the checkpoints and restored on every worker.
        "class_weight": "balanced",
        "early_stopping": {"monitor": "val_loss", "patience": 10},
    },
}
ROWS = 400  # 320 to train on (20 global batches of 16, 8 rows per replica), 80 to validate on
TOLERANCE = 1e-5
TIMEOUT = 240  # seconds a worker may take, on a machine shared with other work


def _files(folder: Path, distribute) -> tuple[Path, Path]:
    spec = dict(SPEC, training={**SPEC["training"], "distribute": distribute})
    (folder / "toy.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, 6)).astype("float32")
    np.savez(folder / "data.npz", x=x, y=(x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5))
    return folder / "toy.yaml", folder / "data.npz"


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _close_rows(a: list[dict], b: list[dict]) -> bool:
    a, b = _without_time(a), _without_time(b)
    return len(a) == len(b) and all(x.keys() == y.keys() and all(abs(x[k] - y[k]) <= TOLERANCE for k in x)
                                    for x, y in zip(a, b))  # fmt: skip


def _arrays(checkpoint: Path) -> list[np.ndarray]:
    """The model's and the optimizer's variables a checkpoint holds."""
    with np.load(checkpoint) as archive:
        return [archive[name] for name in sorted(archive.files, key=lambda n: (len(n), n)) if name != "__state__"]


def _state(checkpoint: Path) -> dict:
    with np.load(checkpoint) as archive:
        return json.loads(archive["__state__"].tobytes())


# --- mirrored: two logical CPU devices in one process -------------------------------------------------------------


def test_mirrored_on_two_logical_cpus_follows_the_single_device_trajectory(tmp_path):
    """Logical CPU devices can only be made before TensorFlow starts: a fresh process trains both ways."""
    _files(tmp_path, {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]})
    done = python(
        """
        import json
        import warnings
        import numpy as np
        from modelspec import Options, evaluate, load_spec, train
        from modelspec.data import load_data
        from modelspec.runtime.multi_worker import evaluate_distributed
        mirrored = train("toy.yaml", "data.npz")
        single = train("toy.yaml", "data.npz", Options(distribute="none"))
        # The loop that multi_worker_mirrored uses, here with two replicas in one process: each reads its slice
        data = load_data("data.npz", load_spec("toy.yaml"))
        strategy = mirrored.model.distribute_strategy
        # ... and training with it, as a worker with two GPUs would: the loop of multi_worker_mirrored, 2 replicas
        from modelspec.pipeline import build, prepare
        from modelspec.cluster import Role
        from modelspec.resolve import Settings, load_datasets
        from modelspec.requests import Data
        from modelspec.runtime.distribute import Run
        from modelspec.runtime.train import deterministic, fit
        from modelspec.schema.distribute import Distribute
        prepared = prepare("toy.yaml")
        deterministic(5)
        with strategy.scope():
            model = build(prepared)
        run = Run(Distribute(strategy="multi_worker_mirrored"), Role(), strategy)
        checked = load_datasets(prepared.model, Data("data.npz"))
        looped = fit(model, prepared.model.spec, *checked, Settings(3, 16, 5, True),
                     run=run)
        with warnings.catch_warnings(record=True) as uneven:
            warnings.simplefilter("always")
            train("toy.yaml", "data.npz", Options(batch_size=15, epochs=1))
        print(json.dumps({
            "uneven": [str(warning.message) for warning in uneven], "looped": looped.rows,
            "sliced": evaluate_distributed(mirrored.model, strategy, data, 16),
            "evaluated": mirrored.model.evaluate(*data.inputs.values(), *data.targets.values(), batch_size=16,
                                                 return_dict=True, verbose=0),
            "replicas": mirrored.model.distribute_strategy.num_replicas_in_sync,
            "devices": list(mirrored.model.distribute_strategy.extended.worker_devices),
            "mirrored": mirrored.history.rows, "single": single.history.rows,
            "weights": max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                           for a, b in zip(mirrored.model.weights, single.model.weights)),
        }))
        """,
        cwd=tmp_path,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["replicas"] == 2
    assert [device.rsplit("/", 1)[-1] for device in result["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert [row["epoch"] for row in result["mirrored"]] == [1, 2, 3]
    assert _close_rows(result["mirrored"], result["single"]), (result["mirrored"], result["single"])
    assert result["weights"] <= TOLERANCE
    assert result["sliced"] == pytest.approx(result["evaluated"], abs=TOLERANCE)
    assert _close_rows(result["looped"], result["single"]), (result["looped"], result["single"])
    assert any(m.startswith("batch_size 15 is not a multiple of the 2 replicas: each step splits it into shares of 8 "
                            "and fewer") for m in result["uneven"]), result["uneven"]  # fmt: skip


def test_more_logical_cpus_than_a_started_tensorflow_has_is_a_settings_error(tmp_path, keras):
    spec, data = _files(tmp_path, {"strategy": "mirrored", "devices": [f"/cpu:{i}" for i in range(64)]})
    keras.ops.ones(1)  # TensorFlow has now initialised its devices in this process
    with pytest.raises(SettingsError, match="lists 64 CPU devices, but TensorFlow already started"):
        train(spec, data)


def test_a_device_the_machine_lacks_is_a_settings_error(tmp_path):
    spec, data = _files(tmp_path, {"strategy": "mirrored", "devices": ["/gpu:0"]})
    with pytest.raises(SettingsError, match=r"this machine has no /gpu:0 \(it has /device:CPU:0"):
        train(spec, data)


# --- multi_worker_mirrored: two `modelspec train` processes on 127.0.0.1 --------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start_cluster(root: Path, *extra: str) -> list[subprocess.Popen]:
    """Start two workers, each `python -m modelspec train` in its own folder (w0 is the chief) with its TF_CONFIG."""
    hosts = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    workers = []
    for index in range(2):
        folder = root / f"w{index}"
        folder.mkdir(exist_ok=True)
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        environment = {**os.environ, "TF_CONFIG": json.dumps(config), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "modelspec", "train", "../toy.yaml", "--data", "../data.npz", "--quiet",
                   "--checkpoints", "../checkpoints", "--plot", "curves.png", *extra]  # fmt: skip
        workers.append(subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))  # fmt: skip
    return workers


def _finish(workers: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    """Wait for every worker (bounded); kill any that outlive the bound."""
    try:
        outputs = [worker.communicate(timeout=TIMEOUT) for worker in workers]
        return [(worker.returncode, *output) for worker, output in zip(workers, outputs)]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The run on one device that the cluster runs must reproduce: its history and its last checkpoint."""
    folder = tmp_path_factory.mktemp("single")
    spec, data = _files(folder, "multi_worker_mirrored")
    trained = train(
        spec, data, Options(distribute="none", checkpoints=folder / "checkpoints"), Outputs(model=folder / "toy.keras")
    )
    return trained.history.rows, folder / "checkpoints" / "last.npz"


def test_evaluate_under_mirrored_gives_the_single_device_results(single):
    folder = single[1].parents[1]
    plain = evaluate(folder / "toy.keras", folder / "data.npz", Options(distribute="none"))
    mirrored = evaluate(folder / "toy.keras", folder / "data.npz", Options(distribute="mirrored"))
    assert mirrored.examples == plain.examples == ROWS
    assert mirrored.results == pytest.approx(plain.results, abs=TOLERANCE)


def _check_like_single(root: Path, single, chief_output: str) -> None:
    rows, checkpoint = single
    assert "Wrote toy.keras" in chief_output
    assert sorted(p.name for p in (root / "w0").iterdir()) == ["curves.png", "toy.history.csv", "toy.history.json",
                                                               "toy.keras"]  # fmt: skip
    assert list((root / "w1").iterdir()) == []  # the other worker wrote nothing, not even a temporary file
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["best.npz", "last.npz"]
    history = json.loads((root / "w0" / "toy.history.json").read_text())["epochs"]
    assert _close_rows(history, rows), (history, rows)
    cluster = _arrays(root / "checkpoints" / "last.npz")
    reference = _arrays(checkpoint)
    assert len(cluster) == len(reference) > 4  # the model's 4 weights, then the optimizer's step count and moments
    assert all(np.allclose(a, b, rtol=0, atol=TOLERANCE) for a, b in zip(cluster, reference))
    # The chief's model file is plain Keras (no strategy inside), holding the best epoch's weights (early stopping)
    from modelspec.runtime.tensorflow_env import import_keras

    saved = import_keras().saving.load_model(root / "w0" / "toy.keras")
    best = _arrays(root / "checkpoints" / "best.npz")[: len(saved.weights)]
    assert all(np.allclose(np.asarray(a), b, rtol=0, atol=0) for a, b in zip(saved.weights, best))


def test_two_workers_train_like_one_device_and_only_the_chief_writes(tmp_path, single):
    _files(tmp_path, "multi_worker_mirrored")
    (chief_code, chief_out, chief_err), (code, out, err) = _finish(_start_cluster(tmp_path))
    assert chief_code == 0 and code == 0, chief_err + err
    assert "epoch 3/3" in out and "Traceback" not in err
    _check_like_single(tmp_path, single, chief_out)


def _wait_for_epoch(workers: list[subprocess.Popen], last: Path, epoch: int) -> None:
    """Wait (bounded) until the chief's last checkpoint holds ``epoch``."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and all(worker.poll() is None for worker in workers):
        if last.exists() and _state(last)["epoch"] >= epoch:
            return
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of epoch {epoch}: {workers[0].communicate(timeout=5)}")


def test_a_stopped_or_killed_worker_resumes_from_the_last_complete_epoch(tmp_path, single):
    """Three starts of the same two workers: SIGTERM to worker 1 in epoch 2 stops both after the same batch (exit
    143); resumed, the chief is SIGKILLed in epoch 3 and worker 1 stops with exit 2, naming the checkpoint; resumed
    again, they finish as the uninterrupted run on one device did."""
    _files(tmp_path, "multi_worker_mirrored")
    last = tmp_path / "checkpoints" / "last.npz"
    workers = _start_cluster(tmp_path)
    try:
        _wait_for_epoch(workers, last, 1)
        workers[1].send_signal(signal.SIGTERM)  # in epoch 2: an epoch takes more than a second
    finally:
        stopped = _finish(workers)
    assert [code for code, _, _ in stopped] == [143, 143], stopped
    lines = [err.strip().splitlines()[-1] for _, _, err in stopped]
    assert lines[0] == lines[1] and "stopped by SIGTERM during epoch 2 (after batch" in lines[0], lines
    assert _state(last)["epoch"] == 1

    workers = _start_cluster(tmp_path, "--resume")
    try:
        _wait_for_epoch(workers, last, 2)
        workers[0].kill()
        _, err = workers[1].communicate(timeout=TIMEOUT)
        code = workers[1].returncode
    finally:
        _finish(workers)
    assert code == 2, err
    assert "a worker of the cluster is gone" in err and "--resume" in err and "Traceback" not in err
    assert _state(last)["epoch"] == 2
    assert list((tmp_path / "w1").iterdir()) == [] and not (tmp_path / "w0" / "toy.keras").exists()

    (chief_code, chief_out, chief_err), (code, _, err) = _finish(_start_cluster(tmp_path, "--resume"))
    assert chief_code == 0 and code == 0, chief_err + err
    assert _state(last)["epoch"] == 3
    _check_like_single(tmp_path, single, chief_out)


def test_resume_auto_starts_a_new_run_and_continues_a_saved_one(tmp_path):
    """What a cluster scheduler needs to restart failed workers with one unchanged command (BackupAndRestore)."""
    spec, data = _files(tmp_path, None)
    first = train(spec, data, Options(epochs=2, checkpoints=tmp_path / "run", resume="auto"))
    assert [row["epoch"] for row in first.history.rows] == [1, 2]
    assert _state(tmp_path / "run" / "last.npz")["epoch"] == 2
    second = train(spec, data, Options(checkpoints=tmp_path / "run", resume="auto"))
    assert [row["epoch"] for row in second.history.rows] == [1, 2, 3]
    assert _without_time(second.history.rows[:2]) == _without_time(first.history.rows)


def test_a_slurm_cluster_the_resolver_cannot_read_is_a_settings_error(tmp_path, monkeypatch):
    """Outside a job step (here: no SLURM_STEP_NODELIST) TensorFlow's SlurmClusterResolver refuses; modelspec says so
    before any strategy exists."""
    spec, data = _files(tmp_path, "multi_worker_mirrored")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("SLURM_STEP_NODELIST", raising=False)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    with pytest.raises(SettingsError, match="could not start the cluster Slurm describes .*SLURM_STEP_NODELIST"):
        train(spec, data, outputs=Outputs(model=tmp_path / "toy.keras"))
    assert not (tmp_path / "toy.keras").exists()
