"""The Ray Tune engine of `modelspec tune`: trials as Ray Tune trials, one per worker process, on a Ray cluster.

The driver (this process) samples with the same Optuna sampler as the Optuna engine (modelspec/tuning/
optuna_engine.py ``sampler`` and ``suggest``: TPE, random or grid, seeded from the plan), held in memory by a Ray
Tune ``Searcher`` (``StudySearch``). Each sampled trial is linted there, before it becomes a Ray trial: a refused trial
never reaches a worker, and the sampler is told it was pruned. A trial that passes is a Ray Tune trial: its number
and values go to a worker process, which trains it (modelspec/tuning/trial.py ``train_trial``) and reports each
epoch to Ray (``tune.report``); Ray's scheduler (``scheduler``: the median stopping rule, ASHA, or none) stops the
trials it gives up on, and Ray's fault tolerance runs a trial again, from its first epoch, when its worker process
dies (``MAX_FAILURES`` times). The last report of a trial carries its ``TrialOutcome`` as JSON; a trial the
scheduler stopped has none, and the driver makes its outcome from the epochs it reported.

Where the trials run: ``plan.engine.address`` names a running cluster (``HOST:PORT`` of its head, ``auto``, or
``ray://HOST:PORT``); without it a local cluster is started in this process for the study and stopped after it.
A local cluster, or a cluster at a loopback address, listens on 127.0.0.1 only (``LOOPBACK``: Ray otherwise
replaces 127.0.0.1 by the machine's address and listens on every interface), with token authentication and a token
of its own. ``plan.engine.workers`` trials run at a time, each on one CPU of its worker process.

Ray is imported when a study starts (the `modelspec[ray]` extra).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from modelspec.errors import Interrupted, SettingsError
from modelspec.runtime.tensorflow_env import import_tensorflow
from modelspec.tuning.optuna_engine import import_optuna, sampler, suggest
from modelspec.tuning.plan import TunePlan
from modelspec.tuning.trial import (
    COMPLETE,
    FAILED,
    PRUNED,
    TrialOutcome,
    metric_value,
    preflight,
    refused_outcome,
    train_trial,
    worker,
    worst,
)

EXTRA = 'pip install "modelspec[ray]"'
MAX_FAILURES = 2  # a trial whose worker process died runs again this many times
CONNECT_SECONDS = 10.0  # how long a cluster's head may take to accept a connection before --address is refused
EPOCH = "epoch"  # the scheduler's time: the trial's epoch (1-based)
ROW = "modelspec_row"  # a report's history row (JSON text: Ray flattens nested dicts)
OUTCOME = "modelspec_outcome"  # the last report's TrialOutcome.to_dict() (JSON text)
# A cluster on this machine only: its processes listen on 127.0.0.1, and only processes given its token may join.
# Ray reads the first variable when it is imported, so these are set before `import ray`.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
QUIET = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ start-up lines in every worker
    "RAY_AIR_NEW_OUTPUT": "0",  # Ray Tune's own reporter, whose verbose=0 is silent (the new one prints a table)
    "TUNE_DISABLE_SIGINT_HANDLER": "1",  # Ctrl-C stops the study as it stops the Optuna engine's (``_signals``)
}


def loopback_environment() -> dict[str, str]:
    """The environment of a Ray cluster that listens on 127.0.0.1 only, with a token of its own: for the processes
    of a local cluster (the head started with `ray start`, and the `modelspec tune` that joins it)."""
    return {**LOOPBACK, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}


def import_ray(local: bool):
    """Ray and Ray Tune, or a SettingsError naming the extra to install (exit 2). ``local``: the cluster is on this
    machine's loopback address (its environment is set first, each variable unless the user set it, and stays set
    for the rest of the process, as Ray's own ``ray.init`` leaves its variables)."""
    if local:  # (the plan has checked that Ray is installed: modelspec/tuning/plan.py)
        environment = loopback_environment() if "RAY_AUTH_MODE" not in os.environ else dict(LOOPBACK)
        for name, value in environment.items():
            os.environ.setdefault(name, value)
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    try:
        import ray
        from ray import tune
    except ImportError:
        raise SettingsError(f"modelspec tune --engine ray needs Ray: {EXTRA}") from None
    return ray, tune


def _host(address: Optional[str]) -> Optional[tuple[str, int]]:
    """(host, port) of a ``HOST:PORT`` address; None for ``auto``, ``ray://...`` or no address."""
    if address is None or "://" in address or address == "auto":
        return None
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or not host:
        raise SettingsError(f"--address takes HOST:PORT of a Ray cluster's head, auto or ray://HOST:PORT (received: "
                            f"{address!r})")  # fmt: skip
    return host.strip("[]"), int(port)


def _check_reachable(address: str, where: tuple[str, int]) -> None:
    """Refuse an address where nothing accepts a connection, at once (Ray itself waits and retries for a minute)."""
    try:
        socket.create_connection(where, timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise SettingsError(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
            f"`ray start --head` (docs/tune.md: Ray) or leave --address out for a local one"
        ) from None


@contextlib.contextmanager
def cluster(ray, plan: TunePlan) -> Iterator[None]:
    """Connect to the plan's cluster, or start a local one for the study (stopped and removed after it). A Ray
    already started in this process (a library caller's ``ray.init``) is used as it is, and left running."""
    if ray.is_initialized():
        yield
        return
    address = plan.engine.address
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
    quiet["runtime_env"] = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ["TF_CPP_MIN_LOG_LEVEL"]}}
    if address is not None:
        where = _host(address)
        if where is not None:
            _check_reachable(address, where)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SettingsError(f"--address {address}: cannot join the Ray cluster there: {exc}") from None
        try:
            yield
        finally:
            ray.shutdown()
        return
    # short: Ray keeps its sockets below it, and a socket's path is limited to 107 bytes
    temp = tempfile.mkdtemp(prefix="modelspec-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        try:
            ray.init(address="local", num_cpus=plan.engine.workers, _temp_dir=temp, **quiet)
        except (ConnectionError, RuntimeError, OSError) as exc:
            raise SettingsError(f"--engine ray: cannot start a local Ray cluster: {exc}") from None
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def scheduler(tune, plan: TunePlan):
    """Ray's pruner during training: the median stopping rule, ASHA (successive halving), or none (first in, first
    out); each on the trial's epochs, as the Optuna engine's pruners: the median rule from epoch 2 (one epoch says
    little of a run), ASHA from the first."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    if plan.prune == "median":
        return MedianStoppingRule(time_attr=EPOCH, grace_period=2, min_samples_required=3)  # from epoch 2
    if plan.prune == "asha":
        epochs = plan.options.epochs or plan.model.spec.training.epochs
        # stop_last_trials=False: a trial that reaches its last epoch ends by itself, and reports its outcome
        return ASHAScheduler(
            time_attr=EPOCH, max_t=max(epochs, 1), grace_period=1, reduction_factor=3, stop_last_trials=False
        )
    return FIFOScheduler()


def _threads(count: int) -> None:
    """TensorFlow in a worker process uses the CPUs its trial holds, not every core of the node."""
    config = import_tensorflow().config.threading
    with contextlib.suppress(RuntimeError):  # set once per process: a reused worker keeps its first setting
        config.set_intra_op_parallelism_threads(count)
        config.set_inter_op_parallelism_threads(count)


def trainable(config: dict, plan: TunePlan) -> None:
    """A Ray Tune trial, in its worker process: train trial ``config["number"]`` with ``config["params"]``,
    reporting each epoch, then its outcome."""
    from ray import tune

    _threads(1)
    number, params = config["number"], config["params"]

    def report(epoch: int, row: dict) -> bool:
        tune.report({plan.metric: worst(plan, row.get(plan.metric)), EPOCH: epoch, ROW: json.dumps(row)})
        return False  # Ray's scheduler stops the trial itself

    checked = preflight(plan, number, params)  # milliseconds: cheaper than shipping the checked model
    if checked.refused:  # the driver refused it already; a worker with another modelspec would differ
        outcome = refused_outcome(checked)
    else:
        try:
            outcome = train_trial(plan, checked, report)
        except Exception as exc:  # TensorFlow out of memory...: the trial failed (Ray would only run it again)
            findings = [finding.to_dict() for finding in checked.findings]
            error = f"{type(exc).__name__}: {exc}"
            outcome = TrialOutcome(
                number, params, FAILED, checked.seed, findings=findings, error=error, worker=worker()
            )
    tune.report({plan.metric: worst(plan, outcome.value), EPOCH: max(outcome.epochs, 1),
                 OUTCOME: json.dumps(outcome.to_dict())})  # fmt: skip


@dataclass
class Running:
    """A trial the driver handed to Ray: its Optuna trial, number and values, the epochs it reported so far, and
    how many times its worker process died."""

    trial: Any
    number: int
    params: dict[str, Any]
    rows: list[dict] = field(default_factory=list)
    restarts: int = 0
    reported: int = 0  # the last epoch told to the Optuna study (a trial run again reports its epochs again)
    worker: Optional[str] = None  # host:pid of the process that reported its last epoch


class StudySearch:
    """Ray Tune's searcher for a plan (made a ``ray.tune.search.Searcher`` by ``searcher``, which imports Ray):
    samples with Optuna in the driver, refuses a trial the pre-flight refuses before it becomes a Ray trial, and
    gathers every trial's outcome."""

    def __init__(self, plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]]):
        super().__init__(metric=plan.metric, mode=plan.direction)
        optuna = import_optuna()
        self.optuna, self.plan, self.progress = optuna, plan, progress
        self.study = optuna.create_study(
            study_name=plan.engine.study,
            sampler=sampler(optuna, plan),
            direction="maximize" if plan.direction == "max" else "minimize",
        )
        self.asked = 0
        self.running: dict[str, Running] = {}
        self.outcomes: list[TrialOutcome] = []

    def suggest(self, trial_id: str) -> Optional[dict]:
        plan, state = self.plan, self.optuna.trial.TrialState
        while self.asked < plan.trials:
            trial = self.study.ask()
            self.asked += 1
            params = {search.field: search.value(suggest(trial, search)) for search in plan.space}
            checked = preflight(plan, trial.number, params)
            if checked.refused:
                self.study.tell(trial, state=state.PRUNED)
                self._finish(refused_outcome(checked))
                continue
            self.running[trial_id] = Running(trial, trial.number, params)
            return {"number": trial.number, "params": params}
        return self.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        running = self.running.get(trial_id)
        if running is not None and ROW in result:
            self._record(running, result)

    def _record(self, running: Running, result: dict) -> None:
        """Keep a reported epoch; an epoch again from the first one means the trial runs again (its worker
        process died)."""
        epoch, row = int(result[EPOCH]), json.loads(result[ROW])
        if epoch == len(running.rows) and running.rows[-1] == row:  # the last result, handed on again
            return
        if epoch <= len(running.rows):  # it runs again from its first epoch (``recovered``)
            running.rows = running.rows[: epoch - 1]
        running.rows.append(row)
        if "pid" in result:  # Ray adds the reporting process to each result
            running.worker = f"{result.get('hostname', '')}:{result['pid']}"
        if epoch > running.reported:
            running.trial.report(worst(self.plan, result.get(self.plan.metric)), epoch)
            running.reported = epoch

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        running = self.running.pop(trial_id, None)
        if running is None:
            return
        if result and ROW in result:  # the report at which the scheduler stopped it
            self._record(running, result)
        outcome = self._outcome(running, result or {}, error)
        state = self.optuna.trial.TrialState
        if outcome.state == COMPLETE:
            self.study.tell(running.trial, worst(self.plan, outcome.value))
        elif outcome.state == PRUNED:
            self.study.tell(running.trial, state=state.PRUNED)
        else:
            self.study.tell(running.trial, state=state.FAIL)
        self._finish(outcome)

    def _outcome(self, running: Running, result: dict, error: bool) -> TrialOutcome:
        plan = self.plan
        if OUTCOME in result and not error:
            outcome = TrialOutcome.from_dict(json.loads(result[OUTCOME]))
        else:
            rows = running.rows
            died = f"its worker process died {running.restarts + 1} times (Ray tries a trial {MAX_FAILURES + 1} times)"
            outcome = TrialOutcome(
                number=running.number,
                params=running.params,
                state=FAILED if error else PRUNED,
                seed=plan.trial_seed(running.number),
                pruned_by=None if error else plan.prune,
                rows=rows,
                value=metric_value(plan, rows),
                seconds=sum(row.get("seconds", 0.0) for row in rows),
                error=died if error else None,
            )
        return outcome

    def recovered(self, number: int) -> None:
        """Ray runs trial ``number`` again after its worker process died (``MAX_FAILURES`` times at most)."""
        running = next((r for r in self.running.values() if r.number == number), None)
        if running is None:
            return
        running.restarts += 1
        if self.progress is not None:  # a caller that follows the trials (the command line) hears of it
            attempt = f"attempt {running.restarts + 1} of {MAX_FAILURES + 1}"
            message = f"trial {number}: its worker process died; Ray runs it again ({attempt})"
            print(message, file=sys.stderr, flush=True)

    def _finish(self, outcome: TrialOutcome) -> None:
        self.outcomes.append(outcome)
        if self.progress is not None:
            self.progress(outcome)

    def save(self, checkpoint_path: str) -> None:  # the study lives as long as this process: nothing to save
        return None

    def restore(self, checkpoint_path: str) -> None:
        return None


def searcher(plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]]):
    """A ``StudySearch`` for the plan that Ray Tune takes as its search algorithm."""
    from ray.tune.search import Searcher

    return type("StudySearch", (StudySearch, Searcher), {})(plan, progress)


def recoveries(search: StudySearch):
    """A Ray Tune callback that tells ``search`` of each trial Ray runs again after its worker process died."""
    from ray.tune import Callback

    class Recoveries(Callback):
        def on_trial_recover(self, iteration, trials, trial, **info) -> None:
            search.recovered(trial.config["number"])

    return Recoveries()


def _name(trial) -> str:
    return f"trial_{trial.config['number']}"


def run(plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]] = None) -> list[TrialOutcome]:
    """Run the plan's study on Ray Tune (the cluster at ``plan.engine.address``, else a local one) and return the
    outcome of every trial, refused ones included, by trial number."""
    local = plan.engine.address is None or (_host(plan.engine.address) or ("",))[0] in LOCAL_HOSTS
    ray, tune = import_ray(local)
    search = searcher(plan, progress)
    with cluster(ray, plan), tempfile.TemporaryDirectory(prefix="modelspec-tune-") as storage:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trainable, plan=plan), {"cpu": 1}),
            tune_config=tune.TuneConfig(
                metric=plan.metric,
                mode=plan.direction,
                search_alg=search,
                scheduler=scheduler(tune, plan),
                num_samples=plan.trials,
                max_concurrent_trials=plan.engine.workers,
                reuse_actors=True,  # a worker process trains trial after trial: TensorFlow starts once in each
                trial_name_creator=_name,
                trial_dirname_creator=_name,
            ),
            run_config=tune.RunConfig(
                name=plan.engine.study or plan.model.name,
                storage_path=storage,
                verbose=0,
                callbacks=[recoveries(search)],
                failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
            ),
        )
        stopped: list[int] = []
        try:
            with _quiet_tune(), _signals(stopped):
                tuner.fit()
        except Exception:  # _Stopped, or Ray's SystemError around it when it came inside Ray's C++ code
            if not stopped:
                raise
            name = signal.Signals(stopped[0]).name
            raise Interrupted(
                f"tune stopped by {name} after {len(search.outcomes)} of {plan.trials} trials; no results were written",
                stopped[0],
            ) from None
    return sorted(search.outcomes, key=lambda outcome: outcome.number)


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals(stopped: list[int]) -> Iterator[None]:
    """SIGINT and SIGTERM stop the study (the local cluster is stopped on the way out) instead of Ray Tune's wait for
    its running trials, or the end of the process with a local cluster left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        stopped.append(signum)
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _quiet_tune() -> Iterator[None]:
    """Ray Tune logs each failed attempt of a trial with its traceback; the outcome says it ran again instead."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "ray.train")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        sys.stdout.flush()
