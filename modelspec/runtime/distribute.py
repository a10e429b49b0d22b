"""Train on `tf.distribute`: the strategy a spec's `training.distribute` names, and this process's part in it.

``role`` reads, before TensorFlow starts, which process of a cluster this is (TF_CONFIG, or a Slurm job step) and
whether it is the chief, the one process that writes files. ``start`` then creates the strategy:

- `mirrored`: ``tf.distribute.MirroredStrategy`` over the listed devices of this machine. CPU devices beyond the
  machine's one physical CPU device are logical devices (``tf.config.set_logical_device_configuration``), which
  TensorFlow allows only before it initialises its devices: in a fresh process, before the first operation.
- `multi_worker_mirrored`: ``tf.distribute.MultiWorkerMirroredStrategy`` with TensorFlow's cluster resolver for
  TF_CONFIG (or ``SlurmClusterResolver`` inside a Slurm job step with several tasks) and the spec's collective
  implementation. TensorFlow requires it to be created before any other TensorFlow operation of the process.

The model is then built, its pretrained weights loaded and compiled inside ``Run.scope()`` (modelspec/trainer.py),
so every variable is mirrored; modelspec/runtime/train.py trains it (``model.fit`` under `mirrored`, its own loop
around Keras's ``train_step`` under `multi_worker_mirrored`, where Keras 3's ``fit`` fails).

This module imports TensorFlow only inside ``start``; everything before it is pure Python.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from modelspec.errors import SettingsError
from modelspec.schema.distribute import MIRRORED, MULTI_WORKER_MIRRORED, Distribute, device_key

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


@dataclass
class Run:
    """A started strategy (None without one) and this process's role in it."""

    setting: Optional[Distribute] = None
    role: Role = Role()
    strategy: Any = None

    @property
    def multi_worker(self) -> bool:
        return self.setting is not None and self.setting.strategy == MULTI_WORKER_MIRRORED

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync if self.strategy is not None else 1

    def scope(self):
        """The strategy's scope (variables created in it are mirrored), or nothing without a strategy."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def start(setting: Optional[Distribute], this: Optional[Role] = None) -> Run:
    """Create the strategy ``setting`` names (none: a ``Run`` without one). Imports TensorFlow.

    Raises:
        SettingsError: a listed device this machine does not have, more CPU devices than TensorFlow already
            created in this process, or a cluster TensorFlow cannot resolve.
    """
    this = this or role(setting)
    if setting is None:
        return Run(None, this)
    from modelspec.runtime.tensorflow_env import import_keras

    import_keras()
    import tensorflow as tf

    if setting.strategy == MIRRORED:
        return Run(setting, this, tf.distribute.MirroredStrategy(devices=_devices(tf, setting.devices)))
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=getattr(tf.distribute.experimental.CommunicationImplementation, setting.communication.upper())
    )
    resolvers = tf.distribute.cluster_resolver
    where = "TF_CONFIG" if os.environ.get(TF_CONFIG) else "Slurm"
    try:
        resolver = resolvers.TFConfigClusterResolver() if where == "TF_CONFIG" else resolvers.SlurmClusterResolver()
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)
    except Exception as exc:  # the resolvers raise what they meet: KeyError, OSError, RuntimeError
        raise SettingsError(
            f"multi_worker_mirrored could not start the cluster {where} describes ({type(exc).__name__}: {exc}); "
            f"docs/distributed.md says what each resolver needs"
        ) from exc
    return Run(setting, this, strategy)


def _devices(tf, names: Optional[list[str]]) -> Optional[list[str]]:
    """The devices for MirroredStrategy, with logical CPU devices created for `/cpu:N` beyond the physical ones."""
    if names is None:
        return None
    keys = [device_key(name) for name in names]
    cpus = [int(key.rsplit(":", 1)[1]) for key in keys if key.startswith("/device:CPU:")]
    needed = max(cpus, default=0) + 1
    if needed > 1:
        _logical_cpus(tf, needed)
    present = {device_key(device.name) for device in tf.config.list_logical_devices()}
    missing = [name for name, key in zip(names, keys) if key not in present]
    if missing:
        raise SettingsError(
            f"training.distribute.devices: this machine has no {', '.join(missing)} (it has "
            f"{', '.join(sorted(present))})"
        )
    return keys


def _logical_cpus(tf, needed: int) -> None:
    """Split the physical CPU into ``needed`` logical devices, unless TensorFlow already has that many."""
    (cpu, *_) = tf.config.list_physical_devices("CPU")
    configured = tf.config.get_logical_device_configuration(cpu)
    if configured is not None and len(configured) >= needed:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * needed)
    except RuntimeError:  # TensorFlow initialised its devices already: they can no longer change
        have = len(tf.config.list_logical_devices("CPU"))
        if have < needed:
            raise SettingsError(
                f"training.distribute.devices lists {needed} CPU devices, but TensorFlow already started in this "
                f"process with {have}: logical CPU devices can only be created before TensorFlow's first "
                f"operation, so train in a fresh process (modelspec train does)"
            ) from None
