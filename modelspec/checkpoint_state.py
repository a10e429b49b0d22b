"""A training checkpoint's state, read without TensorFlow: what the resolver checks before a run resumes.

A checkpoint (modelspec/runtime/checkpoints.py writes and restores it) holds the run's state as JSON beside the
variables: the format, the spec's ``digest``, the seed, the batch size, the epoch and the history so far. The resolver
(modelspec/resolve.py) reads it with ``read_state`` to decide the seed and the batch size once, before TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from modelspec import archives
from modelspec.atomic import writable_folder
from modelspec.errors import SettingsError, echoed
from modelspec.schema.base import SEED_LIMIT

FORMAT = 1
STATE = "__state__"
MAX_STATE_BYTES = 64 << 20  # the JSON state of a checkpoint (100,000 epochs of ten quantities: about 25 MB)
MAX_EPOCHS = 1_000_000  # a checkpoint's epoch count beyond this is no real run's
MAX_VARIABLES = 1_000_000  # variables listed in a checkpoint (a model with 1,000 layers has a few thousand)
# The counters of Keras's EarlyStopping and ReduceLROnPlateau that a checkpoint keeps, so a resumed run goes on
# counting where it stopped (modelspec/runtime/callbacks.py saves and restores them; nothing else is set back).
EARLY_STOPPING_STATE = ("wait", "stopped_epoch", "best", "best_epoch")
PLATEAU_STATE = ("wait", "best", "cooldown_counter")


def digest(spec) -> str:
    """What a checkpoint must match: the model's architecture and its training settings, not the epoch count nor
    where it trains (`training.distribute`): a run checkpointed on one device resumes on a cluster and back."""
    # A top-level `distribute` is always empty in a spec that trains (MS311): left out, as it was before it existed.
    skipped = {"name": True, "lint": True, "distribute": True, "training": {"epochs", "distribute"}}
    data = spec.model_dump(mode="json", exclude=skipped)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def read_state(path: Path) -> dict[str, Any]:
    """The run's state stored in a checkpoint, every field checked; ``SettingsError`` naming the file when it is
    not a modelspec checkpoint, or one whose state is damaged or tampered with. The archive is read through
    modelspec/archives.py's guards (members' sizes, the state's ``.npy`` header, then at most its declared bytes)."""
    path = Path(path)
    problem = archives.regular_file(path)  # a FIFO or a device would block or never end
    if problem:
        raise SettingsError(f"{path}: {problem}, so no modelspec checkpoint")

    def refusal(where: str, why: str) -> SettingsError:
        return SettingsError(f"{where}: not a modelspec checkpoint ({why})")

    with archives.guarded(str(path), refusal), archives.open_zip(path, refusal, "a checkpoint") as archive:
        info = archives.member(path, archive, f"{STATE}.npy", refusal)
        if info.file_size > MAX_STATE_BYTES:
            raise SettingsError(
                f"{path}: the checkpoint's state holds {info.file_size:,} bytes (at most {MAX_STATE_BYTES:,})"
            )
        item = archives.npy_member(path, archive, info, refusal)
        if item.dtype.str != "|u1" or len(item.shape) != 1:
            raise refusal(
                str(path), f"the state is an array of {item.dtype} and {len(item.shape)} dimensions, not bytes"
            )
        stored = archives.read_npy(path, archive, item, refusal)
    try:
        state = json.loads(stored.tobytes().decode())
    except RecursionError:
        raise SettingsError(f"{path}: not a modelspec checkpoint (its state is nested too deep)") from None
    except ValueError as exc:  # not UTF-8, not JSON
        raise refusal(str(path), f"its state is not JSON: {_reason(exc)}") from None
    if not isinstance(state, dict):
        raise SettingsError(f"{path}: not a modelspec checkpoint (its state is a JSON {type(state).__name__})")
    if state.get("format") != FORMAT:
        raise SettingsError(f"{path}: checkpoint format {_short(state.get('format'))}, this modelspec reads {FORMAT}")
    problem = _state_problem(state)
    if problem:
        raise SettingsError(f"{path}: a damaged or altered checkpoint: {problem}")
    return state


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _short(text)


def _short(value: Any) -> str:
    return echoed(value if isinstance(value, str) else json.dumps(value, default=str))


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _counters(saved: Any, names: tuple[str, ...]) -> bool:
    """A callback's saved counters: known names, numbers (or "inf", "-inf", as JSON writes no infinity)."""
    return isinstance(saved, dict) and all(
        name in names and (_number(value) or value in ("inf", "-inf", None)) for name, value in saved.items()
    )


def _state_problem(state: dict) -> str:
    """What is wrong with a checkpoint's state (the fields ``restore`` and the resolver use), or ``""``."""
    epoch, history, best = state.get("epoch"), state.get("history"), state.get("best")
    paths = state.get("paths")
    checks = [
        (_integer(epoch, 1, MAX_EPOCHS), f"epoch {_short(epoch)} is not a whole number from 1 to {MAX_EPOCHS:,}"),
        (isinstance(state.get("digest"), str), "it has no spec digest"),
        (_integer(state.get("seed"), 0, SEED_LIMIT - 1), f"seed {_short(state.get('seed'))} is not a seed"),
        (_integer(state.get("batch_size"), 1, 2**31), f"batch size {_short(state.get('batch_size'))} is not one"),
        (
            isinstance(paths, list) and len(paths) <= MAX_VARIABLES and all(isinstance(p, str) for p in paths),
            "its list of variables is not a list of names",
        ),
        (
            isinstance(history, list)
            and all(isinstance(row, dict) and all(_number(v) for v in row.values()) for row in history),
            "its history is not a list of epochs of numbers",
        ),
        (
            isinstance(history, list) and len(history) == epoch,
            f"its history holds {_count(history)} epochs, not {epoch}",
        ),
        (
            isinstance(best, dict)
            and isinstance(best.get("name"), str)
            and (best.get("value") is None or _number(best.get("value")))
            and (best.get("epoch") is None or _integer(best.get("epoch"), 1, MAX_EPOCHS)),
            "its best epoch is not a quantity's name, value and epoch",
        ),
        (_counters(state.get("early_stopping", {}), EARLY_STOPPING_STATE), "its early stopping counters are unknown"),
        (
            _counters(state.get("reduce_lr_on_plateau", {}), PLATEAU_STATE),
            "its learning-rate plateau counters are unknown",
        ),
    ]
    return next((problem for sound, problem in checks if not sound), "")


def _count(history: Any) -> str:
    return f"{len(history):,}" if isinstance(history, list) else "no"


def folder(path: os.PathLike | str, create: bool = True) -> Path:
    """Create the checkpoint folder if needed (``create``: the process that writes it, the chief of a cluster) and
    check that files can be written in it; a file in its place, or a folder that cannot be written, is a settings
    error."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SettingsError(f"--checkpoints {path}: not a folder")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"--checkpoints: cannot create the folder {path}: {exc.strerror or exc}") from None
        writable_folder(path, "--checkpoints")
    return path
