"""`modelspec tune` as a library function: resolve the request, run the study on its engine, write the results.

``tune`` resolves its request (modelspec/tuning/plan.py ``resolve_tune``: the base spec, the search space, the
metric, the seed, the data and the output paths, all before anything trains), hands the plan to its engine
(``ENGINES``: each a module with ``run(plan, progress) -> list[TrialOutcome]``, imported when used, so that Optuna
and Ray load only for the study that needs them), gathers the outcomes into a ``TuneResult`` and writes the results
JSON, the plot and the best spec (modelspec/tuning/results.py).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Optional, Union

from modelspec.pipeline import SpecSource
from modelspec.requests import Data, DataSource, Engine, Options, Outputs, Search, TuneRequest, as_data
from modelspec.tuning.plan import TunePlan, resolve_tune
from modelspec.tuning.results import TuneResult, write_outputs
from modelspec.tuning.trial import TrialOutcome

# engine name -> the module that runs a plan's trials (`run(plan, progress) -> list[TrialOutcome]`)
ENGINES = {"optuna": "modelspec.tuning.optuna_engine", "ray": "modelspec.tuning.ray_engine"}


def run_study(plan: TunePlan, progress: Optional[Callable[[TrialOutcome], None]] = None) -> TuneResult:
    """Run a resolved study on its engine and return every trial's outcome (``progress``: told of each trial as it
    ends, in this process; the command line prints a line). Writes nothing."""
    engine = import_module(ENGINES[plan.engine.name])
    return TuneResult(plan, engine.run(plan, progress))


def tune(
    spec: SpecSource,
    data: Union[DataSource, Data],
    search: Union[Search, list[str]],
    engine: Optional[Engine] = None,
    options: Optional[Options] = None,
    outputs: Optional[Outputs] = None,
) -> TuneResult:
    """Search the values of a spec's fields for the best training run, each trial linted before it trains.

    Args:
        spec: a path, YAML text, dict or loaded spec with a `training:` block.
        data: as for ``modelspec.train``.
        search: ``PATH=DISTRIBUTION`` options (``["training.optimizer.learning_rate=loguniform(1e-4, 1e-1)"]``), or
            a ``Search`` with the trials, the metric and its direction, the sampler, the pruner and the lint
            pre-flight's level (modelspec/requests.py).
        engine: where the trials run (``Engine``: optuna in this process, with a shared ``storage``; or ray).
        options: of each trial's run: epochs, batch size, the first seed (trial n trains with seed + n),
            max_params, the lint configuration.
        outputs: ``results`` (JSON), ``plot`` (PNG), ``best_spec`` (YAML that `train` accepts), ``tensorboard``
            (a folder; one subfolder per trial).

    Raises:
        SettingsError: a malformed search, an unknown sampler, pruner or engine, a metric no trial logs, an output
            that cannot be written, or the extra an engine needs not installed (before anything trains).
        SpecError, DataError: the base spec or the data, before anything trains.
        Interrupted: SIGINT or SIGTERM stopped a trial (a shared study keeps every finished trial).
    """
    if not isinstance(search, Search):
        search = Search(tuple(search))
    request = TuneRequest(spec, as_data(data), search, engine or Engine(), options or Options(), outputs or Outputs())
    result = run_study(resolve_tune(request))
    write_outputs(result)
    return result
