"""Fuzzing the archive and weights readers (issue 21): mutated and truncated `.keras` archives, `.weights.h5` files,
pretrained and training `.npz` files and import `.json` configs, through the command line. Whatever the bytes, the
command exits 0, 1 or 2, with no traceback and no temporary file left behind.

Bounded for `make test` (120 examples per reader, about 25 s in all); a longer run:
MODELSPEC_FUZZ_EXAMPLES=5000 (examples per reader).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec.cli import cli

EXAMPLES = int(os.environ.get("MODELSPEC_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
SPEC = {"modelspec": 1, "name": "fuzz", "input": {"shape": [4]}, "layers": [{"type": "dense", "name": "d", "units": 3}]}
CONFIG = {
    "module": "keras.src.models.functional",
    "class_name": "Functional",
    "config": {
        "name": "m",
        "trainable": True,
        "layers": [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "x"},
                "registered_name": None,
                "name": "x",
                "inbound_nodes": [],
            },
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {"name": "d", "trainable": True, "dtype": "float32", "units": 3},
                "registered_name": None,
                "name": "d",
                "inbound_nodes": [
                    {
                        "args": [
                            {
                                "class_name": "__keras_tensor__",
                                "config": {"shape": [None, 4], "dtype": "float32", "keras_history": ["x", 0, 0]},
                            }
                        ],
                        "kwargs": {},
                    }
                ],
            },
        ],
        "input_layers": ["x", 0, 0],
        "output_layers": ["d", 0, 0],
    },
}


def _weights_h5() -> bytes:
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        group = h5.create_group("layers").create_group("dense")
        group.create_group("vars").attrs["name"] = "d"
        group["vars"].create_dataset("0", data=np.arange(12, dtype="float32").reshape(4, 3))
        group["vars"].create_dataset("1", data=np.zeros((3,), "float32"))
        h5.create_group("vars")
    return buffer.getvalue()


def _zip(members: dict[str, bytes], compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npz(arrays: dict, compressed: bool) -> bytes:
    np = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _seeds() -> dict:
    """The valid file each reader starts from, by case: (file name, bytes, the command's arguments)."""
    np = pytest.importorskip("numpy")
    h5 = _weights_h5()
    config = json.dumps(CONFIG).encode()
    kernel = {"d/kernel": np.ones((4, 3), "float32"), "d/bias": np.zeros(3, "float32")}
    data = {"x": np.ones((8, 4), "float32"), "y": np.zeros((8, 3), "float32")}
    return {
        "import-keras": ("model.keras", _zip({"config.json": config, "model.weights.h5": h5}, zipfile.ZIP_DEFLATED)),
        "import-keras-stored": (
            "model.keras",
            _zip({"config.json": config, "model.weights.h5": h5}, zipfile.ZIP_STORED),
        ),
        "import-json": ("model.json", config),
        "weights-h5": ("base.weights.h5", h5),
        "weights-keras": ("base.keras", _zip({"config.json": config, "model.weights.h5": h5}, zipfile.ZIP_DEFLATED)),
        "weights-keras-stored": ("base.keras", _zip({"model.weights.h5": h5}, zipfile.ZIP_STORED)),
        "weights-npz": ("base.npz", _npz(kernel, compressed=True)),
        "training-npz": ("data.npz", _npz(data, compressed=False)),
        "training-npz-compressed": ("data.npz", _npz(data, compressed=True)),
    }


@st.composite
def mutations(draw, seed: bytes) -> bytes:
    """``seed`` with a few bytes replaced, a run of bytes flipped, zeroed or repeated, and perhaps cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["byte", "flip", "zero", "ff", "repeat"]))
        length = draw(st.integers(1, 16))
        if kind == "byte":
            data[position] = draw(st.integers(0, 255))
        elif kind == "flip":
            data[position : position + length] = bytes(b ^ 0xFF for b in data[position : position + length])
        elif kind in ("zero", "ff"):
            data[position : position + length] = (b"\0" if kind == "zero" else b"\xff") * length
        else:
            data[position:position] = data[position : position + length] * draw(st.integers(1, 8))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _command(case: str, folder: Path, name: str) -> list[str]:
    if case.startswith("import"):
        return ["import", str(folder / name), "-o", str(folder / "out.yaml")]
    if case.startswith("weights"):
        spec = folder / "spec.yaml"
        spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
        return ["build", str(spec), "--weights", str(folder / name), "--plan"]
    return []


def _run(case: str, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as scratch:
        folder = Path(folder)
        (folder / name).write_bytes(data)
        previous, tempfile.tempdir = tempfile.tempdir, scratch
        try:
            if case.startswith("training"):
                _load_training(folder / name)
                return
            result = CliRunner().invoke(cli, _command(case, folder, name))
        finally:
            tempfile.tempdir = previous
        assert os.listdir(scratch) == [], "a temporary file was left behind"
    assert result.exit_code in (0, 1, 2), result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error" in result.output.lower(), result.output


def _load_training(path: Path) -> None:
    """The training reader: a ``DataError`` (exit 2 on the command line) or arrays; nothing else."""
    from modelspec import load_spec
    from modelspec.data.load import load_data
    from modelspec.errors import DataError

    spec = load_spec(dict(SPEC, layers=[{"type": "dense", "units": 3}]))
    try:
        load_data(str(path), spec)
    except DataError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


CASES = [
    "import-keras",
    "import-keras-stored",
    "import-json",
    "weights-h5",
    "weights-keras",
    "weights-keras-stored",
    "weights-npz",
    "training-npz",
    "training-npz-compressed",
]


@pytest.mark.parametrize("case", CASES)
def test_mutated_files_never_give_a_traceback(case):
    name, seed = _seeds()[case]
    _run(case, name, seed)  # the seed itself is accepted (exit 0) or refused cleanly

    @FUZZ
    @given(data=mutations(seed))
    def fuzz(data):
        _run(case, name, data)

    fuzz()
