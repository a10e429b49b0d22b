"""Train on `tf.distribute`: the strategy a spec's `training.distribute` names, and this process's part in it.

modelspec/cluster.py reads, before TensorFlow starts, which process of a cluster this is (``role``: TF_CONFIG, or a
Slurm job step) and whether it is the chief, the one process that writes files. ``start`` then creates the strategy:

- `mirrored`: ``tf.distribute.MirroredStrategy`` over the listed devices of this machine. CPU devices beyond the
  machine's one physical CPU device are logical devices (``tf.config.set_logical_device_configuration``), which
  TensorFlow allows only before it initialises its devices: in a fresh process, before the first operation.
- `multi_worker_mirrored`: ``tf.distribute.MultiWorkerMirroredStrategy`` with TensorFlow's cluster resolver for
  TF_CONFIG (or ``SlurmClusterResolver`` inside a Slurm job step with several tasks) and the spec's collective
  implementation. TensorFlow requires it to be created before any other TensorFlow operation of the process.
  Before it, ``rendezvous`` waits in Python until every other task answers on its host:port: TensorFlow's own
  wait blocks in C++ holding the interpreter's lock, where Ctrl-C, SIGTERM and a deadline could not act. The
  wait lasts at most ``Role.wait`` seconds (MODELSPEC_CLUSTER_WAIT, docs/security.md).

The model is then built, its pretrained weights loaded and compiled inside ``Run.scope()`` (modelspec/trainer.py),
so every variable is mirrored; modelspec/runtime/train.py trains it (``model.fit`` under `mirrored`, its own loop
around Keras's ``train_step`` under `multi_worker_mirrored`, where Keras 3's ``fit`` fails).

This module imports TensorFlow only inside ``start``; everything before it is pure Python.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from modelspec.cluster import TF_CONFIG, WAIT_VARIABLE, Role, role
from modelspec.errors import Interrupted, SettingsError
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
            created in this process, a cluster TensorFlow cannot resolve, or workers that did not all answer
            within ``this.wait`` seconds.
        Interrupted: SIGINT or SIGTERM while waiting for the cluster (exit 130 or 143).
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
        with _signals_kept():
            rendezvous(_addresses(resolver), this, where)
            strategy = tf.distribute.MultiWorkerMirroredStrategy(
                cluster_resolver=resolver, communication_options=options
            )
    except (Interrupted, SettingsError):
        raise
    except Exception as exc:  # the resolvers raise what they meet: KeyError, OSError, RuntimeError
        raise SettingsError(
            f"multi_worker_mirrored could not start the cluster {where} describes ({type(exc).__name__}: {exc}); "
            f"docs/distributed.md says what each resolver needs"
        ) from exc
    return Run(setting, this, strategy)


POLL_SECONDS = 0.2  # how often the wait for the cluster tries each missing worker, the clock and the signals


@contextlib.contextmanager
def _signals_kept():
    """Give SIGTERM's handler back after the strategy started: TensorFlow's preemption notifier installs one of
    its own in C++ (which only logs a line), and the training loop's trap comes only later."""
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _addresses(resolver) -> tuple[str, list[str]]:
    """This task's host:port and every other task's of the chief and worker jobs, from the cluster resolver."""
    jobs = resolver.cluster_spec().as_dict()
    listed = {
        job: tasks if isinstance(tasks, list) else [tasks[k] for k in sorted(tasks)] for job, tasks in jobs.items()
    }
    mine = listed[resolver.task_type][resolver.task_id]
    return mine, [address for job in ("chief", "worker") for address in listed.get(job, []) if address != mine]


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def rendezvous(addresses: tuple[str, list[str]], this: Role, where: str) -> None:
    """Wait until every other task of the cluster accepts connections on its host:port, listening on this task's
    port meanwhile so that the others find this one; then TensorFlow starts the strategy, which waits for the
    cluster in C++ holding the interpreter's lock (no signal handler, no timer could run there).

    The wait is Python's: SIGINT and SIGTERM stop it at once, and it gives up after ``this.wait`` seconds.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived while waiting (exit 130 or 143).
        SettingsError: this task's port is taken, or some task did not answer within ``this.wait`` seconds.
    """
    mine, others = addresses
    if not others:
        return
    asked: list[int] = []
    with _listening(mine, where) as listener, _asked(asked):
        deadline = time.monotonic() + this.wait
        missing = list(others)
        while missing:
            missing = [address for address in missing if not _answers(address)]
            with contextlib.suppress(OSError):
                while True:
                    listener.accept()[0].close()
            if asked:
                raise Interrupted(
                    f"stopped by {signal.Signals(asked[0]).name} while worker {this.worker} waited for the "
                    f"cluster's other workers ({where}); nothing was trained",
                    asked[0],
                )
            if missing and time.monotonic() > deadline:
                raise SettingsError(
                    f"multi_worker_mirrored: worker {this.worker} waited {this.wait:g} seconds for the {this.workers} "
                    f"workers of the cluster ({where}); no answer from {', '.join(missing[:8])}: is every worker "
                    f"started, and can each reach the others? ({WAIT_VARIABLE} sets the wait)"
                )
            if missing:
                time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def _listening(address: str, where: str):
    """A socket listening on this task's port, on every interface (as TensorFlow's server will)."""
    host, port = _split(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", port))
        listener.listen(64)
        listener.setblocking(False)
    except OSError as exc:
        listener.close()
        raise SettingsError(
            f"multi_worker_mirrored: this worker's port {port} ({where}: {address}) cannot be listened on: "
            f"{exc.strerror or exc}"
        ) from None
    try:
        yield listener
    finally:
        listener.close()


@contextlib.contextmanager
def _asked(asked: list):
    """Note SIGINT and SIGTERM in ``asked`` instead of their usual handling (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda number, frame: asked.append(number))
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old if old is not None else signal.SIG_DFL)


def _answers(address: str) -> bool:
    host, port = _split(address)
    try:
        socket.create_connection((host, port), timeout=POLL_SECONDS * 5).close()
    except OSError:
        return False
    return True


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
