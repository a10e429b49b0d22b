"""One trial of a study, the unit every engine runs: pre-flight (resolve and lint, no TensorFlow), then training.

``preflight(plan, number, params)`` makes the trial's spec from the base spec and the sampled values (the one path
setter of compare and tune, modelspec/variants.py), checks it as a build does and lints it: milliseconds, no
TensorFlow. A trial whose spec is invalid, or that has an error-level finding (or a warning, with ``--lint-prune
warning``), is refused there and never trains. ``run_trial(plan, number, params, report)`` runs the pre-flight and,
when the trial passes, trains it (modelspec/trainer.py ``run_train``) with the seed ``plan.seed + number``, calling
``report(epoch, row)`` after each epoch; the engine's pruner answers True to stop the trial. Either way it returns a
``TrialOutcome``, a plain record that crosses processes as ``to_dict()`` (Optuna's storage, Ray's results).
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from modelspec.diagnostics import Diagnostic, Level
from modelspec.errors import Interrupted, ModelspecError, SpecError, WeightsError
from modelspec.loader import ModelSpec
from modelspec.pipeline import Prepared, prepare
from modelspec.requests import Report
from modelspec.resolve import ResolvedTrain, Written, distribution, lint_findings, train_settings
from modelspec.trainer import run_train
from modelspec.tuning.plan import TunePlan
from modelspec.variants import variant_spec

# The states of a trial: trained to its last epoch; stopped during training by the pruner; refused by the pre-flight
# (never trained); failed (an error while training, or a process that died: Optuna retries those).
COMPLETE, PRUNED, REFUSED, FAILED = "complete", "pruned", "refused", "failed"
# Why a trial was refused: its spec is not valid (a value that breaks the schema), or lint found an error (warning).
INVALID, LINT = "invalid", "lint"


@dataclass
class Preflight:
    """A trial before it trains: its spec checked as a build does and linted; ``refused_by`` says why it will not
    train (``invalid`` or ``lint``; None: it trains). ``seconds``: how long the pre-flight took."""

    number: int
    params: dict[str, Any]
    seed: int
    prepared: Optional[Prepared]
    findings: list[Diagnostic]
    refused_by: Optional[str]
    seconds: float

    @property
    def refused(self) -> bool:
        return self.refused_by is not None


@dataclass
class TrialOutcome:
    """What a trial gave: its values (``params``, by searched path as written), its ``state`` and why it was pruned
    (``pruned_by``: invalid, lint, median, asha), its lint findings (as JSON dicts), its history (``rows``), the
    metric's ``value`` at its last epoch, its ``seed``, its ``seconds`` (pre-flight and training), and the error of
    a failed trial."""

    number: int
    params: dict[str, Any]
    state: str
    seed: int
    pruned_by: Optional[str] = None
    findings: list[dict] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    value: Optional[float] = None
    seconds: float = 0.0
    error: Optional[str] = None
    worker: Optional[str] = None  # the process that ran it: host:pid

    @property
    def epochs(self) -> int:
        return len(self.rows)

    @property
    def trained(self) -> bool:
        return self.state in (COMPLETE, PRUNED) and self.pruned_by not in (INVALID, LINT)

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "params": self.params,
            "state": self.state,
            "pruned_by": self.pruned_by,
            "seed": self.seed,
            "value": self.value,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 3),
            "findings": self.findings,
            "history": self.rows,
            "error": self.error,
            "worker": self.worker,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TrialOutcome:
        return cls(
            number=data["number"],
            params=data["params"],
            state=data["state"],
            seed=data["seed"],
            pruned_by=data.get("pruned_by"),
            findings=list(data.get("findings", [])),
            rows=list(data.get("history", [])),
            value=data.get("value"),
            seconds=data.get("seconds", 0.0),
            error=data.get("error"),
            worker=data.get("worker"),
        )


def worker() -> str:
    """This process, as a trial records who ran it: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _refusing(findings: list[Diagnostic], level: str) -> bool:
    levels = (Level.ERROR,) if level == "error" else (Level.ERROR, Level.WARNING)
    return any(finding.level in levels for finding in findings)


def preflight(plan: TunePlan, number: int, params: dict[str, Any]) -> Preflight:
    """Make trial ``number``'s spec with ``params`` (searched path as written -> value) and check it: the schema,
    the budget, the lint rules. Pure Python, milliseconds; never raises for a bad trial (it is refused)."""
    started = time.perf_counter()
    searched = {search.field: search for search in plan.space}
    assignments = [(searched[name].vary, value) for name, value in params.items()]
    seed = plan.trial_seed(number)
    try:
        model: ModelSpec = variant_spec(plan.model, assignments)
        prepared = prepare(model, max_params=plan.options.max_params, lint=False)
    except (SpecError, WeightsError) as exc:
        seconds = time.perf_counter() - started
        return Preflight(number, params, seed, None, list(exc.diagnostics), INVALID, seconds)
    findings = lint_findings(model, plan.options.config)
    refused_by = LINT if _refusing(findings, plan.lint_prune) else None
    prepared = replace(prepared, findings=findings)
    return Preflight(number, params, seed, prepared, findings, refused_by, time.perf_counter() - started)


def refused_outcome(checked: Preflight) -> TrialOutcome:
    """The outcome of a trial the pre-flight refused: pruned by ``invalid`` or ``lint``, with its findings."""
    return TrialOutcome(
        number=checked.number,
        params=checked.params,
        state=REFUSED,
        seed=checked.seed,
        pruned_by=checked.refused_by,
        findings=[finding.to_dict() for finding in checked.findings],
        seconds=checked.seconds,
        worker=worker(),
    )


def trial_run(plan: TunePlan, checked: Preflight, report: Optional[Report]) -> ResolvedTrain:
    """The training run of a trial that passed its pre-flight, resolved: its checked data (loaded once per study),
    its seed, TensorBoard logs in ``trial_<number>`` of the study's folder, and ``report`` after each epoch."""
    model = checked.prepared.model
    train_set, validation_set = plan.datasets_for(model)
    options = replace(plan.options, seed=checked.seed, checkpoints=None, resume=False)
    logs = plan.outputs.tensorboard / f"trial_{checked.number}" if plan.outputs.tensorboard is not None else None
    return ResolvedTrain(
        prepared=checked.prepared,
        data=plan.data_label,
        train_set=train_set,
        validation_set=validation_set,
        settings=train_settings(model, options),
        distribution=distribution(model, plan.options.distribute),
        outputs=Written(tensorboard=logs),
        report=report,
    )


def metric_value(plan: TunePlan, rows: list[dict]) -> Optional[float]:
    """The metric at the trial's last epoch (what the best spec trains to again), None before any epoch."""
    if not rows or plan.metric not in rows[-1]:
        return None
    return float(rows[-1][plan.metric])


def run_trial(plan: TunePlan, number: int, params: dict[str, Any], report: Optional[Report] = None) -> TrialOutcome:
    """Run trial ``number`` of ``plan`` with ``params``: the pre-flight, then (if it passes) training with the seed
    ``plan.seed + number``; ``report(epoch, row)`` after each epoch, True stopping the trial (``pruned`` by the
    plan's pruner). Imports TensorFlow when the trial trains.

    Raises:
        Interrupted: SIGINT or SIGTERM stopped the trial (the study stops too). Any other user error while training
            (a model Keras refuses) makes a ``failed`` outcome, not an exception.
    """
    checked = preflight(plan, number, params)
    if checked.refused:
        return refused_outcome(checked)
    return train_trial(plan, checked, report)


def train_trial(plan: TunePlan, checked: Preflight, report: Optional[Report] = None) -> TrialOutcome:
    """Train a trial that passed its pre-flight (``run_trial``'s second half; an engine that runs the pre-flight
    where it samples, as Ray's driver does, calls this in the worker)."""
    stopped: list[int] = []

    def hook(epoch: int, row: dict) -> bool:
        stop = bool(report(epoch, row)) if report is not None else False
        if stop:
            stopped.append(epoch)
        return stop

    started = time.perf_counter()
    outcome = TrialOutcome(
        number=checked.number,
        params=checked.params,
        state=COMPLETE,
        seed=checked.seed,
        findings=[finding.to_dict() for finding in checked.findings],
        worker=worker(),
    )
    try:
        trained = run_train(trial_run(plan, checked, hook))
    except Interrupted:
        raise
    except ModelspecError as exc:
        outcome.state, outcome.error = FAILED, str(exc)
    else:
        outcome.rows = trained.history.rows
        outcome.value = metric_value(plan, outcome.rows)
        if stopped:
            outcome.state, outcome.pruned_by = PRUNED, plan.prune
    outcome.seconds = checked.seconds + time.perf_counter() - started
    return outcome


def worst(plan: TunePlan, value: Optional[float]) -> float:
    """What an engine records for a value: a finite metric as it is; NaN or none (a diverged run) as the worst."""
    if value is None or not math.isfinite(value):
        return -math.inf if plan.direction == "max" else math.inf
    return value
