"""Train on `tf.distribute`: the strategy a spec's `training.distribute` names, and this process's part in it.

modelspec/cluster.py reads, before TensorFlow starts, which process of a cluster this is (``role``: TF_CONFIG, or a
Slurm job step) and whether it is the chief, the one process that writes files. ``start`` then creates the strategy:

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
import os
from dataclasses import dataclass
from typing import Any, Optional

from modelspec.cluster import TF_CONFIG, Role, role
from modelspec.errors import SettingsError
from modelspec.runtime.tensorflow_env import import_keras
from modelspec.schema.distribute import MIRRORED, MULTI_WORKER_MIRRORED, Distribute, device_key


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
