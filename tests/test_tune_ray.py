"""`modelspec tune --engine ray` on real Ray clusters on 127.0.0.1: a running one (`--address`) with two worker
processes runs the same search as the Optuna engine (the same trials, the lint pre-flight refusing the same ones
before they reach a worker, the best spec training to the reported metric); on the local cluster a study starts
for itself, a worker process killed in the middle of a trial is run again and the study completes (and the cluster
is gone after it); the refusals of a missing extra and of an address where no cluster answers.

The cluster is a head node started as `ray start --head --block` in a session of its own (module fixture): killing
that session ends exactly its processes, where `ray stop` would end every Ray process of the user on the machine.
One node with two CPUs: on one machine Ray listens on 127.0.0.1 only with a single node (a second node there gets
the machine's address and listens on every interface), so "two workers" are two worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelspec.tuning import ray_engine

pytestmark = pytest.mark.tensorflow
pytest.importorskip("ray")
pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"
LEARNING_RATE = "training.optimizer.learning_rate=loguniform(1e-4,1e-1)"
INITIALIZER = "kernel_initializer=choice(zeros,auto)"
SEED = 3  # trials 0..3 sample zeros, auto, zeros, auto: two refused by lint (MS101), two trained
TRAIN_WORKER = "ray::ImplicitFunc"  # the title of a Ray Tune function trial's worker process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _session_processes(session: int) -> dict[int, str]:
    """The live processes of a session: pid -> command line (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == session:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _resident_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _listening(pids) -> list[str]:
    """The local addresses (hex, as /proc/net shows them) of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.append(fields[1].split(":")[0])
    return addresses


def _loopback(address: str) -> bool:
    """127.0.0.0/8, as IPv4 (little-endian hex) or IPv4-mapped IPv6 in /proc/net/tcp6, or ::1."""
    if len(address) == 8:
        return address.endswith("7F")
    return address == "00000000000000000000000001000000" or (
        address.startswith("0000000000000000FFFF0000") and address.endswith("7F")
    )


@dataclass
class Cluster:
    address: str
    env: dict
    head: subprocess.Popen

    def processes(self) -> dict[int, str]:
        return _session_processes(self.head.pid)


@pytest.fixture(scope="module")
def cluster():
    """A Ray head node on 127.0.0.1 with two CPUs, a token of its own and its files in a temporary folder."""
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's unix sockets live below it
    port = _free_port()
    env = {**os.environ, **ray_engine.loopback_environment(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [
        str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
        f"--port={port}", "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats",
    ]  # fmt: skip
    with open(temp / "head.log", "wb") as log:
        head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert head.poll() is None, (temp / "head.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Ray head did not open its port in 120 s"
                time.sleep(0.3)
        yield Cluster(f"127.0.0.1:{port}", env, head)
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(60)
        deadline = time.monotonic() + 30
        while _session_processes(head.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _session_processes(head.pid)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"processes of the Ray cluster left after it was stopped: {left}"


def _tune_command(out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "modelspec", "tune", str(SPEC), "--data", "digits", "-o", str(out), *options]


def _trials(out: Path) -> list[dict]:
    return json.loads(out.read_text())["trials"]


def test_a_two_worker_cluster_runs_the_same_search_as_the_optuna_engine(cluster, tmp_path, keras):
    import optuna

    from modelspec import train
    from modelspec.requests import Data, Engine, Options, Search, TuneRequest
    from modelspec.tuning.optuna_engine import sampler, suggest
    from modelspec.tuning.plan import resolve_tune

    out, best = tmp_path / "ray.json", tmp_path / "best.yaml"
    options = ["--search", LEARNING_RATE, "--search", INITIALIZER, "--trials", "4", "--epochs", "2",
               "--best-spec", str(best), "--seed", str(SEED), "--prune", "none", "--engine", "ray", "--workers", "2",
               "--address", cluster.address]  # fmt: skip
    done = subprocess.run(_tune_command(out, *options), env=cluster.env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = {trial["number"]: trial for trial in _trials(out)}
    assert sorted(trials) == [0, 1, 2, 3]

    # the values the Optuna engine's sampler gives these trial numbers, asked in the same order
    plan = resolve_tune(TuneRequest(SPEC, Data("digits"), Search((LEARNING_RATE, INITIALIZER), trials=4),
                                    Engine(), Options(seed=SEED, epochs=2)))  # fmt: skip
    study = optuna.create_study(sampler=sampler(optuna, plan))
    for number in range(4):
        asked = study.ask()
        expected = {search.field: search.value(suggest(asked, search)) for search in plan.space}
        assert trials[number]["params"] == pytest.approx(expected)

    refused = [n for n, trial in trials.items() if trial["params"]["kernel_initializer"] == "zeros"]
    trained = [n for n in trials if n not in refused]
    assert refused and len(trained) >= 2
    driver = None
    for number in refused:  # refused in the driver, before a worker saw them
        trial = trials[number]
        assert trial["state"] == "refused" and trial["pruned_by"] == "lint" and trial["history"] == []
        assert "MS101" in {finding["code"] for finding in trial["findings"]}
        driver = driver or trial["worker"]
        assert trial["worker"] == driver
    workers = {trials[number]["worker"] for number in trained}
    assert len(workers) == 2 and driver not in workers  # two worker processes of the cluster, not the driver
    for number in trained:
        trial = trials[number]
        assert trial["state"] == "complete" and trial["epochs"] == 2
        assert trial["seed"] == SEED + number
        assert trial["value"] == pytest.approx(trial["history"][-1]["val_loss"])
    assert "Lint refused" in done.stdout

    # the best trial, trained in a Ray worker on one thread, trains to the same metric here with its spec and seed
    winner = min((trials[number] for number in trained), key=lambda trial: trial["value"])
    _, history = train(best, "digits", Options(seed=winner["seed"]))
    assert history.rows[-1]["val_loss"] == pytest.approx(winner["value"], rel=1e-5)

    # nothing of the cluster listens beyond 127.0.0.1
    addresses = _listening(cluster.processes())
    assert addresses and all(_loopback(address) for address in addresses), addresses


def test_a_worker_killed_during_a_trial_on_a_local_cluster_is_retried_and_the_study_completes(tmp_path):
    # no --address: the study starts its own local cluster, whose processes live in the driver's session
    out = tmp_path / "ray.json"
    options = ["--search", LEARNING_RATE, "--trials", "2", "--epochs", "2", "--seed", "3", "--prune", "none",
               "--engine", "ray", "--workers", "2"]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        driver = subprocess.Popen(_tune_command(out, *options), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=stderr, text=True, start_new_session=True)  # fmt: skip
        killed, addresses = None, []
        deadline = time.monotonic() + 300
        while killed is None and driver.poll() is None and time.monotonic() < deadline:
            processes = _session_processes(driver.pid)
            for pid, command in processes.items():
                # a trial's worker that has started TensorFlow: its trial is running
                if command.startswith(TRAIN_WORKER) and _resident_mb(pid) > 300:
                    addresses = _listening(processes)
                    os.kill(pid, signal.SIGKILL)
                    killed = pid
                    break
            time.sleep(0.2)
        stdout, _ = driver.communicate(timeout=400)
        stderr.seek(0)
        errors = stderr.read()
    assert killed is not None, "no trial worker process was seen"
    assert driver.returncode == 0, stdout + errors
    assert "its worker process died; Ray runs it again (attempt 2 of 3)" in errors
    trials = _trials(out)
    assert sorted(trial["number"] for trial in trials) == [0, 1]
    assert all(trial["state"] == "complete" and trial["epochs"] == 2 for trial in trials), trials
    assert all(not trial["worker"].endswith(f":{killed}") for trial in trials)
    # the local cluster listened on 127.0.0.1 only, and is gone with the study
    assert addresses and all(_loopback(address) for address in addresses), addresses
    deadline = time.monotonic() + 30
    while _session_processes(driver.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session_processes(driver.pid)


def test_engine_ray_without_ray_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed: `import ray` raises ImportError
        "from modelspec.cli import main\n"
        f"sys.argv = ['modelspec', 'tune', {str(SPEC)!r}, '--data', 'digits', '--search', {LEARNING_RATE!r},"
        " '--trials', '2', '--engine', 'ray']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'modelspec tune --engine ray needs Ray: pip install "modelspec[ray]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_an_address_where_no_cluster_answers_is_a_settings_error(tmp_path):
    port = _free_port()  # closed again: nothing listens there
    options = ["--search", LEARNING_RATE, "--trials", "2", "--engine", "ray", "--address", f"127.0.0.1:{port}"]
    done = subprocess.run(_tune_command(tmp_path / "r.json", *options), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--address 127.0.0.1:{port}: no Ray cluster answers there" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "r.json").exists()
