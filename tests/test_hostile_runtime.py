"""Hostile and faulty input at run time (issue 21, part B): data files and folders, checkpoints, output folders,
TF_CONFIG, the wait for a cluster, and the values a message echoes. Each case builds the hostile file or process,
and asserts exit 2 (or 130/143 for a signal) with one message naming the file or option, no traceback, nothing
left behind, within a bound on time.

See docs/security.md for each limit and what is trusted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.cluster import MAX_WORKERS

SPEC = {
    "modelspec": 1,
    "name": "toy",
    "seed": 5,
    "input": {"shape": [4]},
    "layers": [{"type": "dense", "name": "out", "units": 3, "activation": "softmax"}],
    "training": {
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 8,
        "epochs": 2,
    },
}
ROWS = 32


def _spec(folder: Path, **training) -> Path:
    spec = dict(SPEC, training={**SPEC["training"], **training})
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _arrays(folder: Path):
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _npz(folder: Path) -> Path:
    np = pytest.importorskip("numpy")
    x, y = _arrays(folder)
    np.savez(folder / "data.npz", x=x, y=y)
    return folder / "data.npz"


def _refused(result, *fragments: str, code: int = 2) -> str:
    """The run ended with ``code`` and one error line holding every fragment, without a traceback."""
    output = result.output if hasattr(result, "output") else result.stdout + result.stderr
    assert (result.exit_code if hasattr(result, "exit_code") else result.returncode) == code, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], output
    return errors[0]


def _children_memory_bounded(limit: int = 3 << 30) -> None:
    """The largest resident memory of any child process this test run waited for stayed under ``limit`` bytes (a
    fresh `modelspec train` with TensorFlow takes about 0.6 GB)."""
    import resource

    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 < limit


def _train(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["train", *args], env=env)


# --- data files and folders -----------------------------------------------------------------------------------------


@pytest.mark.tensorflow
def test_an_npy_linked_to_proc_self_mem_is_refused_naming_it(tmp_path):
    np = pytest.importorskip("numpy")
    if not Path("/proc/self/mem").exists():
        pytest.skip("no /proc/self/mem on this system")
    folder = tmp_path / "data"
    folder.mkdir()
    x, _ = _arrays(tmp_path)
    np.save(folder / "x.npy", x)
    (folder / "y.npy").symlink_to("/proc/self/mem")
    started = time.monotonic()
    result = _train(str(_spec(tmp_path)), "--data", str(folder), "-o", str(tmp_path / "out.keras"))
    _refused(result, f"{folder}/y.npy: cannot read the file")
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out.keras").exists()


@pytest.mark.tensorflow
def test_a_fifo_as_data_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    spec = _spec(tmp_path)
    # A fresh process with a bound: the old code blocked forever in open()
    command = [
        sys.executable,
        "-m",
        "modelspec",
        "train",
        str(spec),
        "--data",
        str(fifo),
        "-o",
        str(tmp_path / "o.keras"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    _refused(result, f"{fifo}: not a regular file")
    _children_memory_bounded()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "toy.yaml"]


@pytest.mark.tensorflow
@pytest.mark.parametrize("where", ["header", "rows"])
def test_a_csv_gz_with_a_damaged_deflate_stream_is_refused_naming_it(tmp_path, where):
    import gzip

    rows = "".join(f"{i % 7},{i % 5},{i % 3},{i % 2},{i % 3}\n" for i in range(4000))
    data = bytearray(gzip.compress(f"a,b,c,d,y\n{rows}".encode()))
    at = 12 if where == "header" else len(data) // 2  # past gzip's 10-byte header: inside the deflate stream
    data[at : at + 4] = bytes(byte ^ 0xA5 for byte in data[at : at + 4])
    (tmp_path / "bad.csv.gz").write_bytes(bytes(data))
    result = _train(str(_spec(tmp_path)), "--data", str(tmp_path / "bad.csv.gz"), "-o", str(tmp_path / "o.keras"))
    _refused(result, f"{tmp_path / 'bad.csv.gz'}: ")
    assert not (tmp_path / "o.keras").exists()


LARGE = os.environ.get("MODELSPEC_HOSTILE_LARGE") == "1"  # also a header of 1,000,000 columns (about 10 s)


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    "columns",
    [
        100_000,
        pytest.param(1_000_000, marks=pytest.mark.skipif(not LARGE, reason="about 10 s: MODELSPEC_HOSTILE_LARGE=1")),
    ],
)
def test_a_csv_header_of_many_columns_is_read_in_linear_time(tmp_path, columns):
    from modelspec.data import load_data
    from modelspec.loader import load_spec

    names = [f"c{i}" for i in range(columns)]
    spec = dict(SPEC, input={"shape": [columns - 1]}, data={"target": names[-1]})
    model = load_spec(spec)
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["1"] * columns) + "\n", encoding="utf-8")
    started = time.monotonic()
    found = load_data(path, model)
    assert found.size == 1 and found.inputs["input"].shape == (1, columns - 1)
    duplicated = tmp_path / "twice.csv"
    duplicated.write_text(",".join([*names[:-1], "c0"]) + "\n", encoding="utf-8")
    from modelspec.errors import DataError

    with pytest.raises(DataError, match="column 'c0' appears twice in the header"):
        load_data(duplicated, model)
    assert time.monotonic() - started < columns / 10_000  # 100,000 columns took 98 s before (a quadratic scan)


# --- checkpoints ----------------------------------------------------------------------------------------------------


def _checkpoint(folder: Path, spec: Path, **state) -> Path:
    """A checkpoint folder whose last.npz holds ``state`` (over a sound one for ``spec``) and no variables."""
    np = pytest.importorskip("numpy")
    from modelspec.checkpoint_state import FORMAT, STATE, digest
    from modelspec.loader import load_spec

    sound = {"format": FORMAT, "paths": [], "epoch": 1, "digest": digest(load_spec(spec).spec), "seed": 5,
             "batch_size": 8, "history": [{"epoch": 1, "loss": 1.0}], "early_stopping": {},
             "best": {"name": "loss", "value": 1.0, "epoch": 1}, "reduce_lr_on_plateau": {}}  # fmt: skip
    text = json.dumps(state.pop("whole")) if "whole" in state else json.dumps({**sound, **state})
    folder.mkdir(exist_ok=True)
    np.savez(folder / "last.npz", **{STATE: np.frombuffer(text.encode(), dtype=np.uint8)})
    return folder


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        ({"epoch": "x"}, "epoch 'x' is not a whole number"),
        ({"epoch": 1e30}, "epoch '1e+30' is not a whole number"),
        ({"epoch": True}, "epoch 'true' is not a whole number"),
        ({"epoch": 3}, "its history holds 1 epochs, not 3"),
        ({"seed": -1}, "seed '-1' is not a seed"),
        ({"batch_size": "8"}, "batch size"),
        ({"history": [{"epoch": 1, "loss": "\x1b[31m"}]}, "its history is not a list of epochs of numbers"),
        ({"early_stopping": {"model": 1}}, "its early stopping counters are unknown"),
        ({"whole": [1, 2, 3]}, "not a modelspec checkpoint (its state is a JSON list)"),
        ({"whole": "text"}, "not a modelspec checkpoint (its state is a JSON str)"),
    ],
    ids=[
        "epoch-text",
        "epoch-1e30",
        "epoch-bool",
        "epoch-history",
        "seed",
        "batch",
        "history",
        "counters",
        "list",
        "string",
    ],  # fmt: skip
)
def test_a_tampered_checkpoint_state_is_refused_before_training(tmp_path, state, fragment):
    spec = _spec(tmp_path)
    folder = _checkpoint(tmp_path / "ck", spec, **state)
    before = (folder / "last.npz").read_bytes()
    result = _train(str(spec), "--data", str(_npz(tmp_path)), "--checkpoints", str(folder), "--resume",
                    "-o", str(tmp_path / "out.keras"))  # fmt: skip
    _refused(result, f"{folder / 'last.npz'}: ", fragment)
    assert (folder / "last.npz").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["last.npz"]
    assert not (tmp_path / "out.keras").exists()


@pytest.mark.tensorflow
def test_a_checkpoint_nested_deep_or_not_a_zip_is_refused(tmp_path):
    np = pytest.importorskip("numpy")
    spec = _spec(tmp_path)
    folder = tmp_path / "ck"
    folder.mkdir()
    deep = ("[" * 60_000 + "]" * 60_000).encode()
    np.savez(folder / "last.npz", __state__=np.frombuffer(deep, dtype=np.uint8))
    args = ["--data", str(_npz(tmp_path)), "--checkpoints", str(folder), "--resume", "-o", str(tmp_path / "o.keras")]
    _refused(_train(str(spec), *args), "last.npz: not a modelspec checkpoint (its state is nested too deep)")
    broken = b"\x93NUMPY\x01\x00v\x00\x00'descr': '|u1', 'fortran_order': False, 'shape': (4,), }" + b" " * 60 + b"\n"
    with zipfile.ZipFile(folder / "last.npz", "w") as archive:  # a header NumPy's tokenizer chokes on
        archive.writestr("__state__.npy", broken + b"{}{}")
    _refused(_train(str(spec), *args), "last.npz: not a modelspec checkpoint")
    (folder / "last.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
    _refused(_train(str(spec), *args), "last.npz: not a modelspec checkpoint")
    (folder / "last.npz").unlink()
    os.mkfifo(folder / "last.npz")
    _refused(_train(str(spec), *args), "last.npz: a named pipe (FIFO), not a regular file, so no modelspec checkpoint")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real checkpoint folder of one epoch of the toy spec, to tamper with."""
    folder = tmp_path_factory.mktemp("trained")
    spec, data = _spec(folder, epochs=1), _npz(folder)
    result = _train(str(spec), "--data", str(data), "--checkpoints", str(folder / "ck"), "-o", str(folder / "t.keras"))
    assert result.exit_code == 0, result.output
    return folder


def _tampered(trained: Path, tmp_path: Path, change) -> Path:
    np = pytest.importorskip("numpy")
    folder = tmp_path / "ck"
    folder.mkdir()
    with np.load(trained / "ck" / "last.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    np.savez(folder / "last.npz", **arrays)
    return folder


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda a: a.pop("v1"), "array v1 (out/bias) is missing"),
        (lambda a: a.__setitem__("v1", __import__("numpy").array(["a", "b", "c"])), "holds <U1, not numbers"),
        (
            lambda a: a.__setitem__("v1", __import__("numpy").array([object(), 1, 2], dtype=object)),
            "holds object, not numbers",
        ),
        (lambda a: a.__setitem__("v1", __import__("numpy").zeros(4)), "has shape (4,) in the checkpoint"),
        (lambda a: a.__setitem__("v1", __import__("numpy").zeros(10**6)), "more than (3,) values need"),
    ],
    ids=["missing", "strings", "objects", "shape", "oversized"],
)
def test_tampered_checkpoint_arrays_are_refused_naming_the_checkpoint(trained, tmp_path, change, fragment):
    spec = _spec(tmp_path, epochs=2)
    folder = _tampered(trained, tmp_path, change)
    result = _train(str(spec), "--data", str(trained / "data.npz"), "--checkpoints", str(folder), "--resume",
                    "-o", str(tmp_path / "out.keras"))  # fmt: skip
    _refused(result, f"{folder / 'last.npz'}: ", fragment)
    assert sorted(p.name for p in folder.iterdir()) == ["last.npz"] and not (tmp_path / "out.keras").exists()


def _broken_npy() -> bytes:
    """An .npy whose header NumPy's tokenizer chokes on (an unclosed bracket: ``tokenize.TokenError``, which escaped
    every reader's guard before archives.UNREADABLE held it), with the 16 bytes its shape would need."""
    text = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,"
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + bytes(16)


def _broken_npz(tmp_path: Path, trained: Path) -> tuple[list[str], str]:
    """A training .npz whose x.npy has the broken header (y.npy sound)."""
    with zipfile.ZipFile(tmp_path / "data.npz", "w") as archive:
        archive.writestr("x.npy", _broken_npy())
        with zipfile.ZipFile(trained / "data.npz") as sound:
            archive.writestr("y.npy", sound.read("y.npy"))
    return ["--data", str(tmp_path / "data.npz")], f"{tmp_path / 'data.npz'}: member 'x.npy' is unreadable: "


def _broken_folder(tmp_path: Path, trained: Path) -> tuple[list[str], str]:
    """A folder of .npy files whose x.npy has the broken header."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "x.npy").write_bytes(_broken_npy())
    with zipfile.ZipFile(trained / "data.npz") as sound:
        (folder / "y.npy").write_bytes(sound.read("y.npy"))
    return ["--data", str(folder)], f"{folder / 'x.npy'}: not a readable .npy file: "


def _broken_checkpoint(tmp_path: Path, trained: Path) -> tuple[list[str], str]:
    """A real checkpoint whose first variable (out/kernel) has the broken header: read by restore, after the state."""
    folder = tmp_path / "ck"
    folder.mkdir()
    with zipfile.ZipFile(trained / "ck" / "last.npz") as sound, zipfile.ZipFile(folder / "last.npz", "w") as archive:
        for name in sound.namelist():
            archive.writestr(name, _broken_npy() if name == "v0.npy" else sound.read(name))
    args = ["--data", str(trained / "data.npz"), "--checkpoints", str(folder), "--resume"]
    return args, f"{folder / 'last.npz'}: a damaged checkpoint: member 'v0.npy' is unreadable: "


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    "build", [_broken_npz, _broken_folder, _broken_checkpoint], ids=["npz", "folder", "checkpoint"]
)
def test_an_npy_header_numpys_tokenizer_chokes_on_is_refused_naming_the_file(trained, tmp_path, build):
    spec = _spec(tmp_path, epochs=2)
    args, where = build(tmp_path, trained)
    started = time.monotonic()
    result = _train(str(spec), *args, "-o", str(tmp_path / "out.keras"))
    _refused(result, where, "its .npy header does not parse (EOF in multi-line statement)")
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out.keras").exists()


def _read_only_train(tmp_path: Path, existing: bool) -> subprocess.CompletedProcess:
    """`modelspec train --checkpoints` under a folder that cannot be written: a read-only tmpfs in a private mount
    namespace as root (chmod does not stop root), else a folder of mode 0o555."""
    spec, data = _spec(tmp_path), _npz(tmp_path)
    mount = tmp_path / "readonly"
    mount.mkdir()
    target = mount / "ck" if not existing else mount
    train = [sys.executable, "-m", "modelspec", "train", str(spec), "--data", str(data), "--checkpoints", str(target),
             "-o", str(tmp_path / "out.keras")]  # fmt: skip
    if os.geteuid() != 0:
        mount.chmod(0o555)
        try:
            return subprocess.run(train, capture_output=True, text=True, timeout=120)
        finally:
            mount.chmod(0o755)
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("root without a private mount namespace (unshare -m): no read-only folder to test with")
    script = f'mount -t tmpfs -o ro tmpfs "{mount}" && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *train], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.tensorflow
@pytest.mark.parametrize("existing", [False, True], ids=["to-create", "existing"])
def test_checkpoints_on_a_read_only_folder_are_refused_before_training(tmp_path, existing):
    started = time.monotonic()
    result = _read_only_train(tmp_path, existing)
    fragment = "cannot create the folder" if not existing else "cannot write in"
    line = _refused(result, "--checkpoints: ", fragment, "Read-only file system" if os.geteuid() == 0 else "")
    assert "Training" not in result.stdout, line  # refused at resolve time, before TensorFlow
    assert time.monotonic() - started < 60 and not (tmp_path / "out.keras").exists()
    _children_memory_bounded()


# --- TF_CONFIG and the cluster --------------------------------------------------------------------------------------


def _multi(folder: Path) -> Path:
    return _spec(folder, distribute={"strategy": "multi_worker_mirrored"})


def _tf_config(hosts: list, index: int = 0) -> str:
    return json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("tf_config", "fragment"),
    [
        ("[" * 60_000 + "]" * 60_000, "TF_CONFIG is not a cluster description: it is nested too deep"),
        (_tf_config([f"h{i}:1" for i in range(5_000)]), f"5,000 workers; modelspec trains on at most {MAX_WORKERS:,}"),
        (_tf_config(["a b:1", "c:2"]), "cluster.worker[0] holds no valid host name"),
        (_tf_config(["a:1", "c:70000"]), "cluster.worker[1] is not host:port with a port from 1 to 65535"),
        (_tf_config(["a:1", "a:1"]), "cluster.worker[1] a:1 is listed twice"),
        (_tf_config(["[zz]:1"]), "holds no valid IPv6 address"),
        (_tf_config([7]), "is not a host:port text"),
        ("{" + '"x": 1, ' * 200_000 + "}", "characters, more than a cluster needs"),
    ],
    ids=["deep", "5000-workers", "host", "port", "twice", "ipv6", "number", "huge"],
)
def test_a_hostile_tf_config_is_refused_before_tensorflow(tmp_path, tf_config, fragment):
    result = _train(str(_multi(tmp_path)), "--data", str(_npz(tmp_path)), "-o", str(tmp_path / "o.keras"),
                    env={"TF_CONFIG": tf_config})  # fmt: skip
    line = _refused(result, fragment)
    assert len(line) < 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "toy.yaml"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.tensorflow
def test_a_worker_waiting_for_a_peer_that_never_comes_stops_on_signals_and_at_its_deadline(tmp_path):
    """Three workers of two-worker clusters whose second worker never starts: SIGTERM ends one with 143, SIGINT
    another with 130, each within seconds; the third gives up at MODELSPEC_CLUSTER_WAIT with exit 2."""
    spec, data = _multi(tmp_path), _npz(tmp_path)
    ports = _free_ports(6)
    cases = {"SIGTERM": 120, "SIGINT": 120, "deadline": 3}
    workers = {}
    for (name, wait), (mine, missing) in zip(cases.items(), [ports[0:2], ports[2:4], ports[4:6]]):
        folder = tmp_path / name
        folder.mkdir()
        env = {**os.environ, "TF_CONFIG": _tf_config([f"127.0.0.1:{mine}", f"127.0.0.1:{missing}"]),
               "MODELSPEC_CLUSTER_WAIT": str(wait), "PYTHONUNBUFFERED": "1"}  # fmt: skip
        command = [sys.executable, "-m", "modelspec", "train", str(spec), "--data", str(data), "--quiet"]
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        workers[name] = (process, mine)
    try:
        stopped = {}
        for name, number in (("SIGTERM", signal.SIGTERM), ("SIGINT", signal.SIGINT)):
            process, port = workers[name]
            bound = time.monotonic() + 240
            while not _listening(port):  # the worker waits for its peer now
                assert process.poll() is None and time.monotonic() < bound, process.communicate()
                time.sleep(0.2)
            process.send_signal(number)
            started = time.monotonic()
            out, err = process.communicate(timeout=60)
            stopped[name] = (process.returncode, out, err, time.monotonic() - started)
        out, err = workers["deadline"][0].communicate(timeout=240)
        stopped["deadline"] = (workers["deadline"][0].returncode, out, err, 0.0)
    finally:
        for process, _ in workers.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for name, code, fragment in (
        ("SIGTERM", 143, "stopped by SIGTERM while worker 0 waited for the cluster's other workers (TF_CONFIG)"),
        ("SIGINT", 130, "stopped by SIGINT while worker 0 waited"),
        ("deadline", 2, f"worker 0 waited 3 seconds for the 2 workers of the cluster (TF_CONFIG); no answer from "
                        f"127.0.0.1:{ports[5]}"),
    ):  # fmt: skip
        returncode, out, err, seconds = stopped[name]
        assert returncode == code, (name, out, err)
        assert "Traceback" not in err and [line for line in err.splitlines() if line.startswith("error: ")] == [
            line for line in err.splitlines() if fragment in line
        ], (name, err)
        assert seconds < 30, (name, seconds)
        assert list((tmp_path / name).iterdir()) == [], name  # nothing written, not even a temporary file
    _children_memory_bounded()


@pytest.mark.tensorflow
def test_a_bad_cluster_wait_is_refused(tmp_path):
    env = {"TF_CONFIG": _tf_config(["127.0.0.1:1", "127.0.0.1:2"]), "MODELSPEC_CLUSTER_WAIT": "\x1b[2Jsoon"}
    result = _train(str(_multi(tmp_path)), "--data", str(_npz(tmp_path)), "-o", str(tmp_path / "o.keras"), env=env)
    line = _refused(result, "MODELSPEC_CLUSTER_WAIT is the number of seconds")
    assert "\x1b" not in result.output and "\\x1b[2Jsoon" in line


# --- values echoed in messages --------------------------------------------------------------------------------------


@pytest.mark.tensorflow
def test_a_100_kb_vary_value_is_echoed_cut_to_80_characters(tmp_path):
    value = "x" * 100_000
    result = CliRunner().invoke(cli, ["compare", str(_spec(tmp_path)), "--data", str(_npz(tmp_path)),
                                      "--vary", f"seed={value}"])  # fmt: skip
    line = _refused(result, "(100,005 characters)")
    assert len(line) < 300, len(line)
    # a value short enough to parse, which makes an invalid variant: its label is cut too
    result = CliRunner().invoke(cli, ["compare", str(_spec(tmp_path)), "--data", str(_npz(tmp_path)),
                                      "--vary", "training.optimizer.learning_rate=" + "y" * 4000])  # fmt: skip
    line = _refused(result, "(4,033 characters) is not a valid spec")
    assert len(line) < 400, len(line)


@pytest.mark.tensorflow
def test_ansi_escapes_in_reach_never_reach_the_terminal(tmp_path):
    for reach in ("\x1b[2J\x1b[31mloss=0.5", "loss\x1b[31m=x", "a\x1b]0;title\x07=1"):
        result = CliRunner().invoke(cli, ["compare", str(_spec(tmp_path)), "--data", str(_npz(tmp_path)),
                                          "--vary", "seed=1,2", "--reach", reach])  # fmt: skip
        _refused(result, "--reach takes QUANTITY=VALUE")
        assert "\x1b" not in result.output and "\x07" not in result.output and "\\x1b" in result.output
