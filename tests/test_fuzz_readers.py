"""Fuzz the run-time readers (hypothesis): mutated and truncated CSV files, folders of .npy files, checkpoints and
TF_CONFIG texts are each read, or refused with a ``ModelspecError`` (exit 2 on the command line); never another
exception (a traceback, exit 1). Bounded for `make test`; ``MODELSPEC_FUZZ_EXAMPLES=5000`` runs a longer campaign.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec.errors import ModelspecError

EXAMPLES = int(os.environ.get("MODELSPEC_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

SPEC = {
    "modelspec": 1,
    "name": "fuzz",
    "input": {"shape": [3]},
    "layers": [{"type": "dense", "units": 2, "activation": "softmax"}],
    "training": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "batch_size": 4, "epochs": 2},
}
CSV = b"a,b,c,label\n0.5,1,2,cat\n1.5,-1,2e3,dog\n3,4,5,cat\n"


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` truncated, with bytes flipped, chunks inserted or removed, or repeated."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 20))
    return bytes(data)


def _model():
    from modelspec.loader import load_spec

    return load_spec(SPEC)


def _read(path: Path) -> None:
    from modelspec.data import load_data

    with contextlib.suppress(ModelspecError):  # refused with a message: what the command line prints with exit 2
        load_data(path, _model())


@pytest.mark.tensorflow
@FUZZ
@given(mutated(CSV), st.booleans())
def test_mutated_csv_files_are_read_or_refused(data, compressed):
    import gzip

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("data.csv.gz" if compressed else "data.csv")
        path.write_bytes(gzip.compress(data) if compressed and data[:1] != b"a" else data)
        _read(path)


def _npy(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.tensorflow
@FUZZ
@given(st.data())
def test_mutated_npy_folders_are_read_or_refused(data):
    import numpy as np

    x = _npy(np.arange(12, dtype="float32").reshape(4, 3))
    y = _npy(np.array([0, 1, 0, 1], dtype="int64"))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "x.npy").write_bytes(data.draw(mutated(x)))
        (Path(folder) / "y.npy").write_bytes(data.draw(st.sampled_from([y, b"", y[:20]])))
        _read(Path(folder))


def _checkpoint_bytes(state: bytes) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, __state__=np.frombuffer(state, dtype=np.uint8), v0=np.zeros(3, dtype="float32"))
    return buffer.getvalue()


SOUND_STATE = json.dumps(
    {
        "format": 1,
        "paths": ["a"],
        "epoch": 1,
        "digest": "d",
        "seed": 1,
        "batch_size": 4,
        "history": [{"epoch": 1, "loss": 0.5}],
        "best": {"name": "loss", "value": 0.5, "epoch": 1},
        "early_stopping": {"wait": 0},
        "reduce_lr_on_plateau": {},
    }  # fmt: skip
).encode()


@pytest.mark.tensorflow
@FUZZ
@given(st.data())
def test_mutated_checkpoints_are_read_or_refused(data):
    from modelspec.checkpoint_state import read_state

    whole = data.draw(st.booleans())  # mutate the archive's bytes, or the JSON state inside a sound archive
    content = data.draw(mutated(_checkpoint_bytes(SOUND_STATE))) if whole else _checkpoint_bytes(
        data.draw(mutated(SOUND_STATE))
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.npz"
        path.write_bytes(content)
        try:
            state = read_state(path)
        except ModelspecError:
            return
        assert isinstance(state["epoch"], int) and 1 <= state["epoch"] <= 1_000_000


TF_CONFIG = json.dumps(
    {"cluster": {"chief": ["c:2222"], "worker": ["w0:2222", "[::1]:2223"]}, "task": {"type": "worker", "index": 1}}
).encode()


@FUZZ
@given(st.one_of(mutated(TF_CONFIG), st.text(max_size=200).map(str.encode)))
def test_mutated_tf_config_is_read_or_refused(text):
    from modelspec.cluster import MAX_WORKERS, role
    from modelspec.schema.distribute import Distribute

    try:
        found = role(Distribute(strategy="multi_worker_mirrored"), {"TF_CONFIG": text.decode("utf-8", "replace")})
    except ModelspecError:
        return
    assert 0 <= found.worker < found.workers <= MAX_WORKERS
