"""Hostile archives and weights files (issue 21, part A): zip bombs, corrupt streams, lying sizes, symlinks out of
the tree, FIFOs, over-long names, near-cap configs, and signals during extraction.

Each case builds the hostile file, then asserts exit 2 (or the error), a one-line message naming the file, no
traceback, nothing written or left behind, and a bound on time and memory. The guards are modelspec/archives.py;
docs/security.md lists the limits.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modelspec.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 16 << 20  # one deflate block of zeros (16 MiB) is about 16 KB compressed
HDF5 = b"\x89HDF\r\n\x1a\n"


def config_json() -> bytes:
    """A Keras 3 config of one Dense layer (as model.to_json() writes it), which `modelspec import` converts."""
    tensor = {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 4], "dtype": "float32", "keras_history": ["x", 0, 0]},
    }
    source = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "x"},
        "registered_name": None,
        "name": "x",
        "inbound_nodes": [],
    }
    dense = {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": "d", "trainable": True, "dtype": "float32", "units": 3, "activation": "relu"},
        "registered_name": None,
        "name": "d",
        "inbound_nodes": [{"args": [tensor], "kwargs": {}}],
    }
    model = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "trainable": True,
            "layers": [source, dense],
            "input_layers": ["x", 0, 0],
            "output_layers": ["d", 0, 0],
        },
    }
    return json.dumps(model).encode()


def zeros_stream(blocks: int, head: bytes = b"") -> bytes:
    """A raw deflate stream of ``blocks`` x 16 MiB: ``head`` then zeros, built by repeating one compressed block
    (each is byte-aligned and independent after a full flush), so a bomb of gigabytes costs milliseconds to make."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head + bytes(BLOCK - len(head))) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(bytes(BLOCK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + repeated * (blocks - 1) + compressor.flush()


def raw_zip(path: Path, members: list[tuple]) -> Path:
    """Write a zip archive by hand: each member (name, method, stored bytes, crc, declared size), so the sizes and
    CRCs can lie the way a hostile archive's do (zipfile would write the true ones)."""
    body, directory = b"", b""
    for name, method, data, crc, size in members:
        name = name.encode()
        fields = (20, 0, method, 0, 0, crc, len(data), size, len(name), 0)
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + data
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


def deflated(name: str, data: bytes) -> tuple:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, zipfile.ZIP_DEFLATED, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


def stored(name: str, data: bytes) -> tuple:
    return (name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data))


def bomb_member(name: str, blocks: int, head: bytes = HDF5, declared: int | None = None) -> tuple:
    """``blocks`` x 16 MiB of zeros after ``head``, at the real ratio of about 1,028:1 (under deflate's 1,032:1).
    The CRC is left 0: the guards must refuse the member before reading it, and a reader that reads it anyway
    fails the time bound before it could notice."""
    return (name, zipfile.ZIP_DEFLATED, zeros_stream(blocks, head), 0, blocks * BLOCK if declared is None else declared)


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result


def assert_refused(result, names: str, *fragments: str) -> str:
    """Exit 2, a message naming the file, without a traceback; returns the error line."""
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("error") or names in line]
    assert errors, result.output
    text = result.output
    assert names in text, text
    for fragment in fragments:
        assert fragment in text, text
    return text


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temporary folder of the tests' own, where any temporary file modelspec leaves would show."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class Bounded:
    """Wall time and Python memory (tracemalloc: NumPy's buffers included) of a block."""

    def __enter__(self):
        tracemalloc.start()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


SPEC = {
    "modelspec": 1,
    "name": "base",
    "input": {"shape": [4]},
    "layers": [{"type": "dense", "name": "d", "units": 3}],
}


def project(folder: Path, pretrained: str | None = None) -> Path:
    """A project tree (a pyproject.toml marks it) with specs/spec.yaml, whose `pretrained.path` is ``pretrained``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("")
    (folder / "specs").mkdir()
    spec = dict(SPEC, pretrained={"path": pretrained}) if pretrained else SPEC
    path = folder / "specs" / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# --- 1. zip bombs: refused from the declared size, and while streaming when the size lies ---


@pytest.mark.parametrize("case", ["honest-size", "lying-size"])
def test_import_refuses_a_zip_bomb_weights_member_without_writing_it(tmp_path, private_tmp, case):
    # 2 GiB of zeros in 2 MB (the bomb, a fifth as large): declared honestly, or declared as 1 MiB.
    declared = None if case == "honest-size" else 1 << 20
    path = raw_zip(
        tmp_path / "bomb.keras",
        [deflated("config.json", config_json()), bomb_member("model.weights.h5", 128, declared=declared)],
    )
    assert path.stat().st_size < 3 << 20
    with Bounded() as bound:
        result = run_cli("import", str(path), "-o", str(tmp_path / "out.yaml"))
    text = assert_refused(result, str(path), "'model.weights.h5'")
    assert ("declares 2,147,483,648 bytes" if case == "honest-size" else "corrupt archive") in text
    assert bound.seconds < 5 and bound.peak < 64 << 20, (bound.seconds, bound.peak)
    assert list(private_tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.keras", "tmp"]


def test_build_plan_refuses_a_zip_bomb_as_weights(tmp_path):
    spec = project(tmp_path)
    path = raw_zip(tmp_path / "bomb.keras", [bomb_member("model.weights.h5", 128)])
    with Bounded() as bound:
        result = run_cli("build", str(spec), "--weights", str(path), "--plan")
    assert_refused(result, str(path), "'model.weights.h5' declares 2,147,483,648 bytes", "(more than 100:1")
    assert bound.seconds < 5 and bound.peak < 64 << 20, (bound.seconds, bound.peak)


def test_a_member_may_inflate_to_the_floor_and_a_stored_member_must_store_what_it_declares(tmp_path):
    spec = project(tmp_path)
    # STORED: the ratio means nothing; the member must hold the bytes it declares.
    path = raw_zip(tmp_path / "stored.keras", [("model.weights.h5", zipfile.ZIP_STORED, HDF5, 0, (4 << 30) - 1)])
    assert_refused(
        run_cli("build", str(spec), "--weights", str(path), "--plan"),
        str(path),
        "is stored uncompressed but declares 4,294,967,295 bytes for the 8 it stores",
    )
    # Other methods (bzip2, lzma: ratios far past deflate's) and encrypted members are not read at all.
    path = raw_zip(tmp_path / "lzma.keras", [("model.weights.h5", zipfile.ZIP_LZMA, b"x" * 64, 0, 64)])
    assert_refused(run_cli("build", str(spec), "--weights", str(path), "--plan"), str(path), "zip method 14")
    # Under the floor (256 MiB) a member may inflate past 100:1: it is read, then found not to be weights.
    path = raw_zip(tmp_path / "small.keras", [bomb_member("model.weights.h5", 1)])
    assert_refused(run_cli("build", str(spec), "--weights", str(path), "--plan"), str(path))


def test_members_together_may_not_exceed_the_archive_budget(tmp_path):
    spec = project(tmp_path)
    members = [bomb_member(f"d/v{i}.npy", 15, head=b"") for i in range(3)]  # 3 x 240 MiB, each under the floor
    path = raw_zip(tmp_path / "many.npz", members)
    assert_refused(
        run_cli("build", str(spec), "--weights", str(path), "--plan"),
        str(path),
        "its members declare 754,974,720 bytes in all, more than 268,435,456",
    )


@pytest.mark.parametrize(
    "signum, code, line",
    [(signal.SIGTERM, 143, "error: stopped by SIGTERM"), (signal.SIGINT, 130, "error: interrupted (Ctrl-C)")],
)
def test_a_signal_during_extraction_leaves_no_temporary_file(tmp_path, signum, code, line):
    """A real process, stopped while it copies a 240 MiB weights member (under the floor: allowed) to its
    temporary folder, must remove that folder and exit with the shell's code for the signal."""
    path = raw_zip(
        tmp_path / "slow.keras", [deflated("config.json", config_json()), bomb_member("model.weights.h5", 15)]
    )
    environment = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(ROOT))
    for _attempt in range(3):
        temporary = tmp_path / "tmp"
        temporary.mkdir(exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "modelspec", "import", str(path), "-o", str(tmp_path / "out.yaml")],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        started = False
        while process.poll() is None and time.monotonic() < deadline:
            member = list(temporary.glob("modelspec-import-*/model.weights.h5"))
            if member and member[0].exists() and member[0].stat().st_size > 0:
                process.send_signal(signum)
                started = True
                break
            time.sleep(0.002)
        out, err = process.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert list(temporary.iterdir()) == [], "a temporary file was left behind"
        assert not (tmp_path / "out.yaml").exists()
        if started and process.returncode == code:
            assert err.strip().splitlines()[-1] == line, err
            return
        assert process.returncode == 2, (process.returncode, err)  # it finished first: try again
    pytest.fail("the extraction always finished before the signal could be sent")


# --- 2. corrupt streams and bad CRCs: a located error, never a traceback ---


def corrupt_crc(member: tuple) -> tuple:
    name, method, data, crc, size = member
    return (name, method, data, crc ^ 0xFFFF, size)


def corrupt_stream(member: tuple) -> tuple:
    name, method, data, crc, size = member
    broken = bytearray(data)
    broken[0] = 0xFF  # a reserved block type (3): zlib.error "invalid block type"
    return (name, method, bytes(broken), crc, size)


@pytest.mark.parametrize(
    "damage, message",
    [(corrupt_crc, "corrupt archive (Bad CRC-32 for file 'config.json')"), (corrupt_stream, "corrupt compressed data")],
)
def test_import_of_a_corrupt_config_member_says_it_is_corrupt(tmp_path, damage, message):
    path = raw_zip(tmp_path / "model.keras", [damage(deflated("config.json", config_json()))])
    text = assert_refused(run_cli("import", str(path), "-o", "-"), str(path), message)
    assert "not a zip archive" not in text


def weights_bytes(tmp_path: Path) -> bytes:
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    path = tmp_path / "real.weights.h5"
    with h5py.File(path, "w") as h5:
        group = h5.create_group("layers").create_group("dense")
        group.create_group("vars").attrs["name"] = "d"
        group["vars"].create_dataset("0", data=np.ones((4, 3), "float32"))
        group["vars"].create_dataset("1", data=np.zeros((3,), "float32"))
        h5.create_group("vars")
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize("damage, message", [(corrupt_crc, "Bad CRC-32"), (corrupt_stream, "")])
def test_corrupt_weights_member_in_import_and_in_build(tmp_path, private_tmp, damage, message):
    weights = damage(deflated("model.weights.h5", weights_bytes(tmp_path)))
    path = raw_zip(tmp_path / "model.keras", [deflated("config.json", config_json()), weights])
    assert_refused(run_cli("import", str(path), "-o", str(tmp_path / "out.yaml")), str(path), message)
    assert not (tmp_path / "out.yaml").exists() and list(private_tmp.iterdir()) == []
    spec = project(tmp_path / "p")
    assert_refused(run_cli("build", str(spec), "--weights", str(path), "--plan"), str(path), message)


def test_a_pretrained_path_with_an_over_long_name_is_a_lint_finding(tmp_path):
    spec = project(tmp_path, "../" + "w" * 300 + ".npz")
    result = run_cli("lint", str(spec))
    assert result.exit_code in (1, 2)
    assert "MS401" in result.output and "File name too long" in result.output, result.output
    assert f"{spec}:" in result.output


def test_a_training_npz_header_declaring_a_terabyte_is_refused(tmp_path):
    np = pytest.importorskip("numpy")
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 64)})
    path = raw_zip(tmp_path / "data.npz", [stored("x.npy", header.getvalue() + bytes(1900))])
    assert path.stat().st_size < 2200
    from modelspec import load_spec
    from modelspec.data.load import load_data
    from modelspec.errors import DataError

    spec = load_spec(dict(SPEC, layers=[{"type": "dense", "units": 3}]))
    with Bounded() as bound, pytest.raises(DataError, match=r"data.npz: x declares 512,000,000,000,000 bytes"):
        load_data(str(path), spec)
    assert bound.seconds < 2 and bound.peak < 16 << 20


# --- 4. the training .npz reader and the pretrained one refuse the same files with the same words ---


def _npy(shape, dtype="<f4", extra: bytes = b"") -> bytes:
    np = pytest.importorskip("numpy")
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    return header.getvalue() + extra


HOSTILE_NPZ = {
    # 512 MiB of zeros in about 0.5 MB (the 3.7 GB from 3.7 MB, scaled down): past the 256 MiB floor.
    "bomb": (lambda name: [bomb_member(f"{name}.npy", 32, head=_npy((128 << 20,)))], "declares 536,870,912 bytes from"),
    "lying-header": (
        lambda name: [stored(f"{name}.npy", _npy((10**6, 10**6), extra=bytes(64)))],
        "declares 4,000,000,000,000 bytes",
    ),
    "not-npy": (lambda name: [stored(f"{name}.npy", b"hello")], "is not a NumPy array"),
    # a header NumPy's tokenizer chokes on (tokenize.TokenError escaped the training reader's guard)
    "broken-header": (
        lambda name: [
            stored(f"{name}.npy", b"\x93NUMPY\x01\x00\x36\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4,\n")
        ],
        "its .npy header does not parse (EOF in multi-line statement)",
    ),
    "crc": (lambda name: [corrupt_crc(deflated(f"{name}.npy", _npy((2,), extra=bytes(8))))], "Bad CRC-32"),
    "stored-lie": (
        lambda name: [(f"{name}.npy", zipfile.ZIP_STORED, _npy((2,)), 0, 10**9)],
        "stored uncompressed but declares",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_NPZ, ids=list(HOSTILE_NPZ))
def test_training_and_pretrained_npz_readers_share_their_guards(tmp_path, monkeypatch, case):
    pytest.importorskip("numpy")
    from modelspec import load_spec
    from modelspec.data.load import load_data
    from modelspec.errors import DataError, WeightsError
    from modelspec.pretrained.plan import plan_for

    build, message = HOSTILE_NPZ[case]
    monkeypatch.chdir(tmp_path)
    raw_zip(tmp_path / "data.npz", build("x"))
    spec = load_spec(dict(SPEC, layers=[{"type": "dense", "units": 3}]))
    with Bounded() as bound, pytest.raises(DataError) as training:
        load_data("data.npz", spec)
    assert message in str(training.value) and str(training.value).startswith("data.npz: ")
    spec_path = project(tmp_path / "p", "../base.npz")
    raw_zip(tmp_path / "p" / "base.npz", build("d/kernel"))
    with pytest.raises(WeightsError) as pretrained:
        plan_for(load_spec(spec_path))
    assert message in str(pretrained.value) and "base.npz: " in str(pretrained.value)
    assert bound.seconds < 3 and bound.peak < 32 << 20


# --- 6. symlinks out of the spec's tree; 8. FIFOs ---


def test_a_symlink_out_of_the_tree_is_refused_without_telling_whether_its_target_exists(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.weights.h5").write_bytes(b"secret")
    messages = []
    for target in (outside / "secret.weights.h5", outside / "missing.weights.h5"):
        root = tmp_path / target.stem
        root.mkdir()
        spec = project(root, "base.weights.h5")
        (root / "specs" / "base.weights.h5").symlink_to(target)
        result = run_cli("lint", str(spec))
        assert "MS401" in result.output and "symbolic link that leads outside the spec's tree" in result.output
        messages.append(result.output.replace(str(root), "ROOT"))
        assert_refused(run_cli("build", str(spec), "--plan"), str(spec), "symbolic link")
    assert messages[0] == messages[1]
    assert "secret" not in messages[0] and "missing" not in messages[0]


def test_a_symlink_inside_the_tree_is_followed(tmp_path):
    pytest.importorskip("h5py")  # the file it leads to is opened, and found not to be HDF5
    spec = project(tmp_path, "base.weights.h5")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "real.weights.h5").write_bytes(b"not hdf5")
    (tmp_path / "specs" / "base.weights.h5").symlink_to("../weights/real.weights.h5")
    assert "MS401" not in run_cli("lint", str(spec)).output
    assert_refused(run_cli("build", str(spec), "--plan"), "base.weights.h5", "not an HDF5 file")


def test_a_fifo_is_named_for_what_it_is(tmp_path):
    spec = project(tmp_path, "base.npz")
    os.mkfifo(tmp_path / "specs" / "base.npz")
    result = run_cli("lint", str(spec))
    assert "MS401" in result.output and "is a named pipe (FIFO), not a regular file" in result.output
    assert "does not exist" not in result.output
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    assert_refused(run_cli("import", str(fifo), "-o", "-"), str(fifo), "a named pipe (FIFO)")
    assert_refused(run_cli("build", str(spec), "--weights", str(fifo), "--plan"), str(fifo), "a named pipe (FIFO)")


# --- 7. a near-cap config: refused before parsing, in bounded memory ---


@pytest.mark.parametrize("suffix", [".keras", ".json"])
def test_a_config_of_millions_of_empty_objects_is_refused_before_parsing(tmp_path, suffix):
    data = b"[" + b"{}," * (21 << 20) + b"{}]"  # 63 MiB: 1.7 GB and 22 s in json.loads
    path = tmp_path / f"model{suffix}"
    if suffix == ".keras":
        raw_zip(path, [deflated("config.json", data)])
        assert path.stat().st_size < 128 << 10
    else:
        path.write_bytes(data)
    del data
    with Bounded() as bound:
        result = run_cli("import", str(path), "-o", "-")
    assert_refused(result, str(path), "more than 2,000,000 JSON values", "before parsing")
    assert bound.seconds < 3 and bound.peak < 40 << 20, (bound.seconds, bound.peak)


# Runs the command, then prints the process's peak resident size: VmHWM belongs to the process's own memory map, which
# exec starts anew (ru_maxrss would count the pages of the forked test runner).
PEAK = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("peak", int(line.split()[1]), file=sys.stderr)
atexit.register(peak)
sys.argv = ["modelspec", *sys.argv[1:]]
from modelspec.cli import main
main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status (Linux)")
@pytest.mark.parametrize("declared", [None, 1 << 20], ids=["honest-size", "lying-size"])
def test_a_zip_bomb_costs_a_real_process_little_memory(tmp_path, declared):
    """The whole process (h5py and zlib's own buffers included): its peak resident size, from the kernel."""
    path = raw_zip(
        tmp_path / "bomb.keras",
        [deflated("config.json", config_json()), bomb_member("model.weights.h5", 128, declared=declared)],
    )
    environment = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", PEAK, "import", str(path), "-o", str(tmp_path / "out.yaml")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 2 and "Traceback" not in result.stderr and str(path) in result.stderr, result.stderr
    peak = int(result.stderr.rsplit("peak ", 1)[1]) / 1024  # MiB
    assert peak < 150, f"{peak:.0f} MiB"  # the interpreter and modelspec alone take about 45
    assert seconds < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.keras"]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_keras_weights_are_read_in_place_or_from_a_copy_that_is_removed(tmp_path, private_tmp, method):
    """A STORED member is read in place; a deflated one from a temporary copy (h5py's backward seeks would inflate
    the stream again from its start each time), removed once the plan is made."""
    member = (stored if method == zipfile.ZIP_STORED else deflated)("model.weights.h5", weights_bytes(tmp_path))
    path = raw_zip(tmp_path / "base.keras", [deflated("config.json", config_json()), member])
    spec = project(tmp_path / "p")
    result = run_cli("build", str(spec), "--weights", str(path), "--plan")
    assert result.exit_code == 0, result.output
    assert "1 of 1 layers load" in result.output, result.output
    assert list(private_tmp.iterdir()) == []
