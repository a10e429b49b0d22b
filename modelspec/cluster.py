"""Which process of a training cluster this is, read from the environment before TensorFlow starts.

``role`` reads TF_CONFIG (or a Slurm job step) and says whether this process is the chief, the one process that
writes files. Pure Python: the resolver (modelspec/resolve.py) decides the role once, and modelspec/runtime/
distribute.py starts the strategy for it.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Optional

from modelspec.errors import SettingsError, echoed
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, Distribute

TF_CONFIG = "TF_CONFIG"
WAIT_VARIABLE = "MODELSPEC_CLUSTER_WAIT"  # seconds a worker waits for every other worker to connect
DEFAULT_WAIT = 600.0  # ten minutes: a batch scheduler may start the workers of one job minutes apart
MAX_WAIT = 7 * 24 * 3600.0
MAX_WORKERS = 1024  # chief and workers together: a typing slip should not make a worker wait for 5,000 peers
MAX_TF_CONFIG = 1 << 20  # characters of TF_CONFIG parsed (a cluster of MAX_WORKERS long host names is far less)
# A host name as RFC 1123 allows it (labels of letters, digits and hyphens), without the port.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


@dataclass(frozen=True)
class Role:
    """This process's part in a run: whether it is the chief (the only one that writes), its worker index (task
    index among the chief and workers) and how many workers train together."""

    chief: bool = True
    worker: int = 0
    workers: int = 1
    wait: float = DEFAULT_WAIT  # seconds to wait for every worker to connect (MODELSPEC_CLUSTER_WAIT)


def role(setting: Optional[Distribute], environ: Optional[dict] = None) -> Role:
    """Which process of the cluster this is, from TF_CONFIG (or Slurm); one process on its own without a cluster.

    Raises:
        SettingsError: `multi_worker_mirrored` without a cluster, TF_CONFIG that is not valid, or a task type that
            modelspec does not train with (parameter servers, evaluators).
    """
    if setting is None or setting.strategy != MULTI_WORKER_MIRRORED:
        return Role()
    environ = os.environ if environ is None else environ
    wait = cluster_wait(environ)
    if environ.get(TF_CONFIG):
        found = _tf_config_role(environ[TF_CONFIG])
        return Role(found.chief, found.worker, found.workers, wait)
    # What SlurmClusterResolver reads: set by srun inside a job step (SLURM_NTASKS alone is no step)
    step = environ.get("SLURM_STEP_NUM_TASKS", "")
    tasks = int(step) if step.isdigit() and len(step) < 10 else 0
    if tasks > 1 and environ.get("SLURM_PROCID", "").isdigit():
        _check_size(tasks, "the Slurm job step (SLURM_STEP_NUM_TASKS)")
        worker = int(environ["SLURM_PROCID"])
        if worker >= tasks:
            raise SettingsError(f"SLURM_PROCID {worker} is not one of the job step's {tasks} tasks")
        return Role(chief=worker == 0, worker=worker, workers=tasks, wait=wait)
    raise SettingsError(
        "multi_worker_mirrored needs a cluster: set the TF_CONFIG environment variable on every worker, e.g. "
        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}, or run '
        "inside a Slurm job step with several tasks (srun; docs/distributed.md); for the devices of one machine use "
        "mirrored (received: no TF_CONFIG)"
    )


def cluster_wait(environ) -> float:
    """How long a worker waits for the others to connect: MODELSPEC_CLUSTER_WAIT seconds, else ``DEFAULT_WAIT``."""
    text = environ.get(WAIT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_WAIT
    try:
        wait = float(text[:40])
    except ValueError:
        wait = math.nan
    if not 0 < wait <= MAX_WAIT:
        raise SettingsError(
            f"{WAIT_VARIABLE} is the number of seconds a worker waits for the cluster, more than 0 and at most "
            f"{MAX_WAIT:.0f} (received: {echoed(text)})"
        )
    return wait


def _tf_config_role(text: str) -> Role:
    if len(text) > MAX_TF_CONFIG:
        raise SettingsError(
            f"TF_CONFIG holds {len(text):,} characters, more than a cluster needs ({MAX_TF_CONFIG:,}): refused"
        )
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], task["index"]
        if isinstance(index, bool) or not isinstance(index, (int, str)):
            raise TypeError(f"the task index is {type(index).__name__}, not a number")
        index = int(index)
        if not isinstance(cluster, dict) or not isinstance(kind, str):
            raise TypeError("`cluster` must map task types to lists of host:port, and the task type be a name")
        workers = [*cluster.get("chief", []), *cluster.get("worker", [])]
    except RecursionError:
        raise SettingsError("TF_CONFIG is not a cluster description: it is nested too deep to read") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(
            f"TF_CONFIG is not a cluster description: it needs `cluster` (task type -> list of host:port) and "
            f"`task` (type and index) ({type(exc).__name__}: {exc}) (received: {echoed(text)})"
        ) from None
    unsupported = sorted(set(cluster) - {"chief", "worker"})
    if kind not in ("chief", "worker") or unsupported:
        raise SettingsError(
            "multi_worker_mirrored trains on chief and worker tasks only; parameter-server training and "
            f"evaluator tasks are not supported (received: task type {kind!r}, cluster task types "
            f"{sorted(cluster)})"
        )
    _check_addresses(cluster)
    listed = len(cluster.get(kind, []))
    if not 0 <= index < listed:
        raise SettingsError(f"TF_CONFIG: task index {index} is not in the cluster's {listed} {kind} tasks")
    chief = kind == "chief" or (index == 0 and not cluster.get("chief"))
    worker = index if kind == "chief" else index + len(cluster.get("chief", []))
    return Role(chief=chief, worker=worker, workers=len(workers))


def _check_size(workers: int, where: str) -> None:
    if workers > MAX_WORKERS:
        raise SettingsError(
            f"{where} lists {workers:,} workers; modelspec trains on at most {MAX_WORKERS:,} (docs/security.md)"
        )


def _check_addresses(cluster: dict) -> None:
    """Every task of the cluster is one ``host:port`` (a host name, an IPv4 address or a bracketed IPv6 address,
    and a port from 1 to 65535), each listed once, and the cluster has at most ``MAX_WORKERS`` tasks."""
    seen: set[str] = set()
    for kind in ("chief", "worker"):
        hosts = cluster.get(kind, [])
        if not isinstance(hosts, list):
            raise SettingsError(
                f"TF_CONFIG: cluster.{kind} must be a list of host:port (received: {echoed(str(hosts))})"
            )
        _check_size(len(seen) + len(hosts), "TF_CONFIG's cluster")
        for at, address in enumerate(hosts):
            problem = _address_problem(address)
            if problem:
                raise SettingsError(f"TF_CONFIG: cluster.{kind}[{at}] {problem} (received: {echoed(str(address))})")
            if address in seen:
                raise SettingsError(f"TF_CONFIG: cluster.{kind}[{at}] {address} is listed twice in the cluster")
            seen.add(address)


def _address_problem(address) -> Optional[str]:
    """What is wrong with one task's address, or None when it is a sound ``host:port``."""
    if not isinstance(address, str):
        return "is not a host:port text"
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or len(port) > 5 or not 1 <= int(port) <= 65535:
        return "is not host:port with a port from 1 to 65535"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "holds no valid IPv6 address between its brackets"
        return None
    if not _HOST_NAME.match(host):
        return "holds no valid host name or IPv4 address (letters, digits, hyphens and dots)"
    return None
