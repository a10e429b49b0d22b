"""Which process of a training cluster this is, read from the environment before TensorFlow starts.

``role`` reads TF_CONFIG (or a Slurm job step) and says whether this process is the chief, the one process that
writes files. Pure Python: the resolver (modelspec/resolve.py) decides the role once, and modelspec/runtime/
distribute.py starts the strategy for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

from modelspec.errors import SettingsError
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, Distribute

TF_CONFIG = "TF_CONFIG"


@dataclass(frozen=True)
class Role:
    """This process's part in a run: whether it is the chief (the only one that writes), its worker index (task
    index among the chief and workers) and how many workers train together."""

    chief: bool = True
    worker: int = 0
    workers: int = 1


def role(setting: Optional[Distribute], environ: Optional[dict] = None) -> Role:
    """Which process of the cluster this is, from TF_CONFIG (or Slurm); one process on its own without a cluster.

    Raises:
        SettingsError: `multi_worker_mirrored` without a cluster, TF_CONFIG that is not valid, or a task type that
            modelspec does not train with (parameter servers, evaluators).
    """
    if setting is None or setting.strategy != MULTI_WORKER_MIRRORED:
        return Role()
    environ = os.environ if environ is None else environ
    if environ.get(TF_CONFIG):
        return _tf_config_role(environ[TF_CONFIG])
    # What SlurmClusterResolver reads: set by srun inside a job step (SLURM_NTASKS alone is no step)
    tasks = int(environ["SLURM_STEP_NUM_TASKS"]) if environ.get("SLURM_STEP_NUM_TASKS", "").isdigit() else 0
    if tasks > 1 and environ.get("SLURM_PROCID", "").isdigit():
        worker = int(environ["SLURM_PROCID"])
        return Role(chief=worker == 0, worker=worker, workers=tasks)
    raise SettingsError(
        "multi_worker_mirrored needs a cluster: set the TF_CONFIG environment variable on every worker, e.g. "
        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}, or run '
        "inside a Slurm job step with several tasks (srun; docs/distributed.md); for the devices of one machine use "
        "mirrored (received: no TF_CONFIG)"
    )


def _tf_config_role(text: str) -> Role:
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        workers = [*cluster.get("chief", []), *cluster.get("worker", [])]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(
            f"TF_CONFIG is not a cluster description: it needs `cluster` (task type -> list of host:port) and "
            f"`task` (type and index) ({type(exc).__name__}: {exc}) (received: {text[:200]})"
        ) from None
    unsupported = sorted(set(cluster) - {"chief", "worker"})
    if kind not in ("chief", "worker") or unsupported:
        raise SettingsError(
            "multi_worker_mirrored trains on chief and worker tasks only; parameter-server training and "
            f"evaluator tasks are not supported (received: task type {kind!r}, cluster task types "
            f"{sorted(cluster)})"
        )
    listed = len(cluster.get(kind, []))
    if not 0 <= index < listed:
        raise SettingsError(f"TF_CONFIG: task index {index} is not in the cluster's {listed} {kind} tasks")
    chief = kind == "chief" or (index == 0 and not cluster.get("chief"))
    worker = index if kind == "chief" else index + len(cluster.get("chief", []))
    return Role(chief=chief, worker=worker, workers=len(workers))
