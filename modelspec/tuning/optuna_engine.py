"""The Optuna engine of `modelspec tune`: trials in this process, the study in memory or in a shared storage.

Each trial is an Optuna trial: the sampler suggests a value per searched path, ``run_trial`` (modelspec/tuning/
trial.py) lints it (a refused trial raises ``optuna.TrialPruned`` before any step, so the sampler learns of it) and
trains it, reporting the metric after each epoch (``trial.report``); the pruner's ``should_prune`` stops it. The
trial's outcome goes into the storage as the user attribute ``outcome`` (JSON), so every process of a shared study
gathers every trial.

Storage: none (in memory); a database URL (``sqlite:///study.db``, ``postgresql://...``, ``mysql://...``): several
processes, on one machine or many, work on one study; each marks its running trial alive every heartbeat, and a
trial whose process died (silent for three heartbeats) is marked failed and retried
(``RetryHeartbeatStaleTrialCallback``) by a process still running, or by the next one started. ``journal:FILE``:
Optuna's journal file, shared by the processes of one machine (or a shared file system), without the heartbeat: a
dead process's trial stays running.
Optuna is imported when a study starts (the `modelspec[tune]` extra).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any, Optional

from modelspec.errors import SettingsError
from modelspec.tuning.plan import JOURNAL, TunePlan
from modelspec.tuning.space import Search
from modelspec.tuning.trial import COMPLETE, FAILED, TrialOutcome, run_trial, worker, worst

EXTRA = 'pip install "modelspec[tune]"'
MAX_RETRY = 3  # a trial whose process died is tried this many more times
OUTCOME = "outcome"  # the user attribute holding a trial's TrialOutcome.to_dict()
WORKER = "worker"  # the user attribute naming the process that runs the trial (host:pid)
MADE_BY = "modelspec"  # the study's user attribute: the spec, the search and the first seed that made it


def import_optuna():
    """Optuna, or a SettingsError naming the extra to install (exit 2)."""
    try:
        import optuna
    except ImportError:
        raise SettingsError(f"modelspec tune needs Optuna: {EXTRA}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(optuna, url: Optional[str], heartbeat: float):
    """The storage a ``--storage`` URL names (None: in memory); the URL's form was checked by the plan."""
    if url is None:
        return None
    if url.startswith(JOURNAL):
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(url[len(JOURNAL) :]))
    beat = max(1, math.ceil(heartbeat))
    with warnings.catch_warnings():  # "experimental (supported from v2.8.0)": the interface we use is Optuna 4.9's
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=beat, grace_period=3 * beat, heartbeat_stale_trial_callback=retry
        )
    except ImportError as exc:  # a database driver (psycopg2, pymysql) that is not installed
        raise SettingsError(f"--storage {url}: {exc}") from None
    except Exception as exc:  # sqlalchemy's errors: a file that cannot be opened, a server that does not answer
        raise SettingsError(f"--storage {url}: cannot open the study's database: {exc}") from None


def sampler(optuna, plan: TunePlan):
    """The sampler, seeded from the plan's seed (the same study samples the same values again)."""
    if plan.sampler == "grid":
        grid = {search.field: search.distribution.grid() for search in plan.space}
        return optuna.samplers.GridSampler(grid, seed=plan.seed)
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=plan.seed)
    return optuna.samplers.TPESampler(seed=plan.seed)


def pruner(optuna, plan: TunePlan):
    """The pruner during training: the median rule, successive halving (ASHA), or none."""
    if plan.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)  # from epoch 2
    if plan.prune == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def suggest(trial, search: Search) -> Any:
    """Sample one searched path: a float (log scale or not), an integer, or a choice's label."""
    distribution = search.distribution
    if distribution.kind == "choice":
        return trial.suggest_categorical(search.field, list(distribution.labels))
    if distribution.kind == "int":
        return trial.suggest_int(search.field, int(distribution.low), int(distribution.high), log=distribution.log)
    return trial.suggest_float(search.field, distribution.low, distribution.high, log=distribution.log)


class TrialFailed(Exception):
    """A trial's training failed (its outcome, with the error, is in the storage); the study goes on."""


def _made_by(plan: TunePlan) -> dict:
    return {"spec": plan.model.name, "search": [search.text() for search in plan.space], "metric": plan.metric}


def _check_study(study, plan: TunePlan) -> None:
    """A study loaded from the storage must be this search's: the same spec name, space and metric."""
    made = study.user_attrs.get(MADE_BY)
    if made is None:
        study.set_user_attr(MADE_BY, _made_by(plan))
    elif made != _made_by(plan):
        raise SettingsError(
            f"--study {plan.engine.study}: the study in {plan.engine.storage} was made by another search "
            f"({made['spec']}: {', '.join(made['search'])}; metric {made['metric']}): give another --study name"
        )


def _objective(optuna, plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]]):
    def objective(trial) -> float:
        params = {search.field: search.value(suggest(trial, search)) for search in plan.space}
        trial.set_user_attr(WORKER, worker())  # which process runs it, while it runs

        def report(epoch: int, row: dict) -> bool:
            value = row.get(plan.metric)
            trial.report(worst(plan, value), epoch)
            return trial.should_prune()

        outcome = run_trial(plan, trial.number, params, report)
        trial.set_user_attr(OUTCOME, outcome.to_dict())
        if progress is not None:
            progress(outcome)
        if outcome.state == FAILED:
            raise TrialFailed(outcome.error)
        if outcome.state != COMPLETE:  # refused before any step, or stopped by the pruner
            raise optuna.TrialPruned(outcome.pruned_by)
        return worst(plan, outcome.value)

    return objective


def _outcome(optuna, plan: TunePlan, trial) -> Optional[TrialOutcome]:
    """A stored trial's outcome; a trial that died with its process gets a failed one (None: still running)."""
    saved = trial.user_attrs.get(OUTCOME)
    if saved is not None:
        return TrialOutcome.from_dict(saved)
    if trial.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING):
        return None
    params = {search.field: search.value(trial.params[search.field]) for search in plan.space if search.field in
              trial.params}  # fmt: skip
    return TrialOutcome(
        number=trial.number,
        params=params,
        state=FAILED,
        seed=plan.trial_seed(trial.number),
        error="its process stopped while it ran (no heartbeat): it was retried",
        worker=trial.user_attrs.get(WORKER),
    )


def _open_study(optuna, plan: TunePlan, where):
    """Create the study, or load it when another process made it first (two processes that start together race
    to create it: the loser loads the winner's)."""
    for attempt in range(3):
        try:
            return optuna.create_study(
                study_name=plan.engine.study,
                storage=where,
                sampler=sampler(optuna, plan),
                pruner=pruner(optuna, plan),
                direction="maximize" if plan.direction == "max" else "minimize",
                load_if_exists=True,
            )
        except optuna.exceptions.DuplicatedStudyError:
            if attempt == 2:
                raise
        except Exception as exc:  # sqlalchemy's IntegrityError / OperationalError ("database is locked")
            if attempt == 2 or where is None:
                raise SettingsError(f"--storage {plan.engine.storage}: cannot open the study: {exc}") from None
        time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def run(plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]] = None) -> list[TrialOutcome]:
    """Run the plan's study (until it holds ``plan.trials`` finished trials, counting every process's) and return
    the outcome of every trial the study holds. ``progress`` is told of each trial this process ran."""
    optuna = import_optuna()
    study = _open_study(optuna, plan, storage(optuna, plan.engine.storage, plan.engine.heartbeat))
    if study.direction.name.lower()[:3] != plan.direction:
        raise SettingsError(
            f"--study {plan.engine.study}: the stored study {study.direction.name.lower()}s its metric, not "
            f"{'maximize' if plan.direction == 'max' else 'minimize'}"
        )
    _check_study(study, plan)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    if done < plan.trials:
        study.optimize(
            _objective(optuna, plan, progress),
            n_trials=plan.trials - done,
            callbacks=[optuna.study.MaxTrialsCallback(plan.trials, states=finished)],
            catch=(TrialFailed,),
            gc_after_trial=False,
        )
    outcomes = [_outcome(optuna, plan, trial) for trial in study.get_trials(deepcopy=False)]
    return [outcome for outcome in outcomes if outcome is not None]
