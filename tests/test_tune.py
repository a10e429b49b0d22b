"""`modelspec tune` for real: Optuna studies in this process and in several processes sharing one SQLite study,
a process killed mid-trial, the lint pre-flight, the best spec trained again, the report hook and TensorBoard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.tensorflow

optuna = pytest.importorskip("optuna")
np = pytest.importorskip("numpy")
yaml = pytest.importorskip("yaml")
sqlalchemy = pytest.importorskip("sqlalchemy")

SPEC = {
    "modelspec": 1,
    "name": "toy",
    "seed": 5,
    "input": {"shape": [6]},
    "layers": [
        {"type": "dense", "name": "hidden", "units": 16, "activation": "relu"},
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax", "kernel_initializer": "glorot_uniform"},
    ],
    "training": {
        "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 16,
        "epochs": 3,
        "validation_split": 0.2,
    },
}
LR = "training.optimizer.learning_rate=loguniform(0.01, 0.3)"
INIT = "kernel_initializer=choice(zeros, he_normal)"


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((240, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    spec = tmp_path / "toy.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    return spec, tmp_path / "data.npz"


def test_tune_refuses_zeros_before_training_and_the_best_spec_trains_to_the_reported_metric(files, tmp_path):
    from click.testing import CliRunner

    from modelspec import Options, Outputs, Search, tune
    from modelspec.cli import cli

    spec, data = files
    outputs = Outputs(results=tmp_path / "r.json", plot=tmp_path / "p.png", best_spec=tmp_path / "best.yaml",
                      tensorboard=tmp_path / "tb")  # fmt: skip
    result = tune(spec, data, Search((LR, INIT), trials=6, sampler="random", prune="none"), None,
                  Options(seed=100), outputs)  # fmt: skip
    document = json.loads((tmp_path / "r.json").read_text())
    assert [t["number"] for t in document["trials"]] == list(range(6))
    refused = [t for t in document["trials"] if t["state"] == "refused"]
    trained = [t for t in document["trials"] if t["state"] == "complete"]
    assert refused and trained and len(refused) + len(trained) == 6
    for trial in refused:  # every zeros trial, and only those, refused with its finding and never trained
        assert trial["params"]["kernel_initializer"] == "zeros"
        assert trial["pruned_by"] == "lint" and trial["epochs"] == 0 and trial["history"] == []
        assert "MS101" in [finding["code"] for finding in trial["findings"]]
    for trial in trained:
        assert trial["params"]["kernel_initializer"] == "he_normal" and trial["epochs"] == 3
        assert trial["seed"] == 100 + trial["number"]
    assert document["summary"]["refused"] == len(refused)
    logged = sorted(path.name for path in (tmp_path / "tb").iterdir())  # TensorBoard: one folder per trained trial
    assert logged == sorted(f"trial_{t['number']}" for t in trained)
    assert document["summary"]["seconds_saved_by_lint"] == pytest.approx(
        len(refused) * document["summary"]["median_trial_seconds"]
    )
    best = result.best
    assert best.value == min(t["value"] for t in trained)
    assert (tmp_path / "p.png").stat().st_size > 10_000
    text = (tmp_path / "best.yaml").read_text()
    assert text.startswith("# The best trial of `modelspec tune")
    assert f"--seed {best.seed}" in text
    # `train` accepts the best spec, and with its seed trains to the metric the study reported
    history = tmp_path / "again"
    run = CliRunner().invoke(
        cli,
        ["train", str(tmp_path / "best.yaml"), "--data", str(data), "--seed", str(best.seed), "-o",
         str(tmp_path / "again.keras"), "--history", str(history), "--quiet"],
        catch_exceptions=False,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    rows = json.loads((tmp_path / "again.json").read_text())["epochs"]
    assert rows[-1]["val_loss"] == pytest.approx(best.value, rel=1e-6)


def test_report_hook_stops_a_run_and_tensorboard_writes_logs(files, tmp_path):
    from modelspec.requests import Data, Options, Outputs, TrainRequest
    from modelspec.resolve import resolve_train
    from modelspec.trainer import run_train

    spec, data = files
    seen = []

    def report(epoch, row):
        seen.append((epoch, sorted(row)))
        return epoch >= 2

    request = TrainRequest(spec, Data(data), Options(epochs=5), Outputs(tensorboard=tmp_path / "tb"), report=report)
    trained = run_train(resolve_train(request))
    assert [row["epoch"] for row in trained.history.rows] == [1, 2]
    assert [epoch for epoch, _ in seen] == [1, 2] and "val_loss" in seen[0][1]
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert events, "TensorBoard wrote no event file"


def _tune_command(spec, data, storage, *extra, init: str = INIT) -> list[str]:
    return [
        sys.executable, "-m", "modelspec", "tune", str(spec), "--data", str(data), "--search", LR, "--search", init,
        "--sampler", "random", "--prune", "none", "--storage", storage, "--quiet", *extra,
    ]  # fmt: skip


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_two_processes_share_one_sqlite_study(files, tmp_path):
    spec, data = files
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    workers = [
        subprocess.Popen(_tune_command(spec, data, storage, "--trials", "5", "--epochs", "1", "-o",
                                       str(tmp_path / f"r{k}.json")),
                         cwd=tmp_path, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for k in range(2)
    ]  # fmt: skip
    outputs = [worker.communicate(timeout=300)[0][-6000:] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="toy", storage=storage)
    trials = study.get_trials()
    states = {trial.state for trial in trials}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}  # none left running
    # 5 in all, or one more when both processes started their last trial at once
    assert 5 <= len(trials) <= 6
    ran_by = [trial.user_attrs["outcome"]["worker"] for trial in trials]
    assert all(ran_by)  # each trial ran once, in one process, and says which
    rates = [trial.params["training.optimizer.learning_rate"] for trial in trials]
    assert len(set(rates)) == len(rates)  # the processes sampled apart, not the same values twice
    assert [trial.user_attrs["outcome"]["seed"] for trial in trials] == [5 + trial.number for trial in trials]
    # the process that ended last gathered both processes' trials, each once
    documents = [json.loads((tmp_path / f"r{k}.json").read_text()) for k in range(2)]
    numbers = max((sorted(t["number"] for t in document["trials"]) for document in documents), key=len)
    assert numbers == list(range(len(trials)))


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_process_killed_mid_trial_is_retried_and_the_study_completes(files, tmp_path):
    spec, data = files
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    # Every trial trains: with `zeros` among the choices, a process that samples its own values (as each process
    # sharing a study does) could draw zeros three times, be refused three times and never train (1 run in 8).
    init = "kernel_initializer=choice(he_normal, glorot_uniform)"
    command = _tune_command(spec, data, storage, "--trials", "3", "--heartbeat", "1", "-o", init=init)
    first = subprocess.Popen([*command, str(tmp_path / "r0.json"), "--epochs", "400"], cwd=tmp_path,
                             env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    killed = None
    deadline = time.monotonic() + 180
    while killed is None and time.monotonic() < deadline:  # wait until it trains a trial
        time.sleep(0.5)
        if not (tmp_path / "study.db").exists():
            continue
        try:
            running = optuna.load_study(study_name="toy", storage=storage).get_trials(
                states=(optuna.trial.TrialState.RUNNING,)
            )
        except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # the study, or its tables, are not created yet: the
            continue  # first process may be creating them this moment (this poll then races it, as two processes do)
        if running:
            time.sleep(1.0)
            killed = running[0].number
    assert killed is not None, "the first process never trained a trial"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    time.sleep(4)  # three heartbeats of silence: the trial is stale
    second = subprocess.run([*command, str(tmp_path / "r1.json"), "--epochs", "2"], cwd=tmp_path,
                            env=_environment(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    study = optuna.load_study(study_name="toy", storage=storage)
    trials = {trial.number: trial for trial in study.get_trials()}
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    retried = [
        t for t in trials.values() if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed
    ]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == trials[killed].params
    finished = [t for t in trials.values() if t.state in (optuna.trial.TrialState.COMPLETE,
                                                           optuna.trial.TrialState.PRUNED)]  # fmt: skip
    assert len(finished) == 3
    document = json.loads((tmp_path / "r1.json").read_text())
    failed = [t for t in document["trials"] if t["state"] == "failed"]
    assert [t["number"] for t in failed] == [killed]
    assert failed[0]["error"] == f"its process died while it ran: retried as trial {retried[0].number}"
