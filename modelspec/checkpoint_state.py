"""A training checkpoint's state, read without TensorFlow: what the resolver checks before a run resumes.

A checkpoint (modelspec/runtime/checkpoints.py writes and restores it) holds the run's state as JSON beside the
variables: the format, the spec's ``digest``, the seed, the batch size, the epoch and the history so far. The resolver
(modelspec/resolve.py) reads it with ``read_state`` to decide the seed and the batch size once, before TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from modelspec.errors import SettingsError

FORMAT = 1
STATE = "__state__"


def digest(spec) -> str:
    """What a checkpoint must match: the model's architecture and its training settings, not the epoch count nor
    where it trains (`training.distribute`): a run checkpointed on one device resumes on a cluster and back."""
    # A top-level `distribute` is always empty in a spec that trains (MS311): left out, as it was before it existed.
    skipped = {"name": True, "lint": True, "distribute": True, "training": {"epochs", "distribute"}}
    data = spec.model_dump(mode="json", exclude=skipped)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def read_state(path: Path) -> dict[str, Any]:
    """The run's state stored in a checkpoint; ``SettingsError`` when the file is not a modelspec checkpoint."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            state = json.loads(archive[STATE].tobytes().decode())
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SettingsError(f"{path}: not a modelspec checkpoint ({exc})") from None
    if state.get("format") != FORMAT:
        raise SettingsError(f"{path}: checkpoint format {state.get('format')!r}, this modelspec reads {FORMAT}")
    return state


def folder(path: os.PathLike | str, create: bool = True) -> Path:
    """Create the checkpoint folder if needed (``create``: the process that writes it, the chief of a cluster); a
    file in its place is a settings error."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SettingsError(f"--checkpoints {path}: not a folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
