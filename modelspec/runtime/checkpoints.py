"""Training checkpoints: every variable of the model and its optimizer, with the run's state, in one file.

A checkpoint is an `.npz` written atomically (modelspec/atomic.py): the variables as arrays in the order the model
built from the spec creates them (so only a model built from the same spec can take them), and the run's state as
JSON (the epoch, the history so far, the callbacks' counters). One file, one rename: a run killed at any moment
leaves the previous checkpoint whole. Reading uses NumPy with `allow_pickle=False`; nothing is executed.

`DIR/last.npz` is the last complete epoch; `DIR/best.npz` the epoch with the best monitored quantity.

The same files serve distributed training (modelspec/runtime/distribute.py): the variables of a model built under a
strategy are mirrored, every replica holds the same values, and the chief alone writes them after each complete
epoch. Every worker of a restarted cluster reads `last.npz` (the folder must be one they all see, as for Keras's
BackupAndRestore), so a worker killed at any moment costs at most the epoch it was in, and a checkpoint taken on
one device resumes on several and back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from modelspec import archives
from modelspec.atomic import replacing
from modelspec.checkpoint_state import FORMAT, STATE, read_state
from modelspec.errors import SettingsError

HEADER_ROOM = 1 << 16  # bytes an .npy member may hold beyond its values: its header (NumPy writes 128 or so)


def _variables(keras_model) -> list:
    return [*keras_model.variables, *keras_model.optimizer.variables]


def save(path: Path, keras_model, state: dict[str, Any]) -> None:
    """Write the model's and the optimizer's variables and ``state`` to ``path`` atomically."""
    import numpy as np

    arrays = {f"v{i}": np.asarray(variable) for i, variable in enumerate(_variables(keras_model))}
    text = json.dumps({"format": FORMAT, "paths": [v.path for v in _variables(keras_model)], **state})
    arrays[STATE] = np.frombuffer(text.encode(), dtype=np.uint8)
    try:
        with replacing(path, ".npz") as temporary, open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as exc:  # the disk filled up, the folder went read-only or away during the run
        raise SettingsError(
            f"{path}: cannot write the checkpoint: {exc.strerror or exc}; the previous checkpoint is intact"
        ) from None


def restore(path: Path, keras_model) -> dict[str, Any]:
    """Assign a checkpoint's arrays to the model's and the optimizer's variables; return its state."""
    state = read_state(path)
    variables = _variables(keras_model)
    # Paths can differ between two builds in one process (Keras numbers repeated names): count and shapes decide.
    if len(state["paths"]) != len(variables):
        raise SettingsError(
            f"{path}: the checkpoint holds {len(state['paths'])} variables, this model {len(variables)}: was it "
            f"written for another spec?"
        )
    arrays = _arrays(path, variables)
    for variable, array in zip(variables, arrays):
        variable.assign(array)
    return state


def _arrays(path: Path, variables: list) -> list:
    """The checkpoint's array for each variable, each checked before it is read: present, of a size the variable
    explains (a member cannot inflate past it), numbers of the variable's shape (from its ``.npy`` header, before a
    byte of data is read). The archive is read through modelspec/archives.py's guards. ``SettingsError`` naming the
    file and the array otherwise."""
    import numpy as np

    def refusal(where: str, why: str) -> SettingsError:
        return SettingsError(f"{where}: a damaged checkpoint: {why}")

    arrays = []
    with (
        archives.guarded(str(path), refusal),
        archives.open_zip(path, refusal, "a checkpoint") as archive,
    ):
        sizes = {info.filename: info for info in archive.infolist()}
        for i, variable in enumerate(variables):
            name = f"v{i}"
            shape = tuple(variable.shape)
            room = np.dtype(variable.dtype).itemsize * math.prod(shape) + HEADER_ROOM
            info = sizes.get(f"{name}.npy")
            if info is None:
                raise SettingsError(f"{path}: array {name} ({variable.path}) is missing: a damaged checkpoint")
            if info.file_size > 8 * room:  # float64 saved for a float32 variable still fits
                raise SettingsError(
                    f"{path}: array {name} ({variable.path}) holds {info.file_size:,} bytes, more than {shape} values "
                    f"need"
                )
            item = archives.npy_member(path, archive, info, refusal)
            if item.dtype.kind not in "biuf":
                raise SettingsError(f"{path}: array {name} ({variable.path}) holds {item.dtype}, not numbers")
            if item.shape != shape:
                raise SettingsError(
                    f"{path}: array {name} ({variable.path}) has shape {item.shape} in the checkpoint, {shape} in the "
                    "model"
                )
            arrays.append(archives.read_npy(path, archive, item, refusal))
    return arrays


def model_weights(path: Path, keras_model) -> list:
    """The model's weights (``get_weights`` order) stored in a checkpoint, for EarlyStopping's best weights."""
    read_state(path)
    variables = list(keras_model.variables)
    stored = {id(variable): array for variable, array in zip(variables, _arrays(path, variables))}
    return [stored[id(weight)] for weight in keras_model.weights]
