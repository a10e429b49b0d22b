"""The results of a study, whichever engine ran it: the trials ranked, the best one, the training time the lint
pre-flight saved, the results JSON, and the best trial's spec as YAML that `modelspec train` accepts."""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from modelspec.atomic import write_text
from modelspec.report.json_report import json_text
from modelspec.report.plots import plot_tune
from modelspec.tuning.plan import TunePlan
from modelspec.tuning.trial import COMPLETE, FAILED, PRUNED, REFUSED, TrialOutcome
from modelspec.variants import show, variant_spec


@dataclass
class TuneResult:
    """What ``tune`` returns; ``to_dict`` is the results JSON."""

    plan: TunePlan
    trials: list[TrialOutcome] = field(default_factory=list)

    def _better(self, outcome: TrialOutcome) -> float:
        value = outcome.value
        if value is None or not math.isfinite(value):
            return math.inf
        return -value if self.plan.direction == "max" else value

    def ranked(self) -> list[TrialOutcome]:
        """Complete trials best first, then the pruned ones (best first), then the refused and the failed ones."""
        order = {COMPLETE: 0, PRUNED: 1, REFUSED: 2}
        return sorted(self.trials, key=lambda t: (order.get(t.state, 3), self._better(t), t.number))

    @property
    def best(self) -> Optional[TrialOutcome]:
        """The best complete trial (pruned trials stopped early: their value is not a finished run's)."""
        complete = [t for t in self.trials if t.state == COMPLETE and self._better(t) < math.inf]
        return min(complete, key=lambda t: (self._better(t), t.number)) if complete else None

    def count(self, state: str) -> int:
        return sum(1 for trial in self.trials if trial.state == state)

    @property
    def median_seconds(self) -> Optional[float]:
        """The median wall time of the trials that trained to their end."""
        times = [t.seconds for t in self.trials if t.state == COMPLETE]
        return statistics.median(times) if times else None

    @property
    def seconds_saved(self) -> Optional[float]:
        """Training time the lint pre-flight saved: trials refused × the median complete trial's seconds."""
        median = self.median_seconds
        return None if median is None else self.count(REFUSED) * median

    def to_dict(self) -> dict:
        plan, best = self.plan, self.best
        return {
            "version": 1,
            "spec": plan.model.path,
            "name": plan.model.name,
            "data": plan.data_label,
            "engine": plan.engine.name,
            "storage": plan.engine.storage,
            "study": plan.engine.study,
            "search": [search.text() for search in plan.space],
            "metric": plan.metric,
            "direction": plan.direction,
            "sampler": plan.sampler,
            "prune": plan.prune,
            "lint_prune": plan.lint_prune,
            "seed": plan.seed,
            "trials_asked": plan.trials,
            "best": None
            if best is None
            else {"number": best.number, "value": best.value, "params": best.params, "seed": best.seed},  # fmt: skip
            "summary": {
                "trials": len(self.trials),
                **{state: self.count(state) for state in (COMPLETE, PRUNED, REFUSED, FAILED)},
                "median_trial_seconds": self.median_seconds,
                "seconds_saved_by_lint": self.seconds_saved,
            },
            "trials": [trial.to_dict() for trial in sorted(self.trials, key=lambda t: t.number)],
        }


def results_json(result: TuneResult) -> str:
    """The results as a JSON document (NaN and infinities as strings): `-o`'s file, `--format json`."""
    return json_text(result.to_dict())


def best_spec_text(result: TuneResult) -> Optional[str]:
    """The best trial's spec as YAML: the base spec with the trial's values, its seed, and the epochs and batch size
    it trained with, under a header that says where it came from and how to train it again. None: no trial
    completed."""
    plan, best = result.plan, result.best
    if best is None:
        return None
    searched = {search.field: search for search in plan.space}
    model = variant_spec(plan.model, [(searched[name].vary, value) for name, value in best.params.items()])
    data: dict[str, Any] = copy.deepcopy(model.document.data)
    data["seed"] = best.seed
    training = data.setdefault("training", {})
    if plan.options.epochs is not None:
        training["epochs"] = plan.options.epochs
    if plan.options.batch_size is not None:
        training["batch_size"] = plan.options.batch_size
    values = ", ".join(f"{name}={show(value)}" for name, value in best.params.items())
    header = [
        f"# The best trial of `modelspec tune {plan.model.path}` (study {plan.engine.study!r}, trial {best.number}",
        f"# of {len(result.trials)}): {plan.metric} {best.value:.6g} at epoch {best.epochs}, with {values}.",
        f"# Train it again: modelspec train THIS_FILE --data {plan.data_label} --seed {best.seed}",
    ]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body


def write_outputs(result: TuneResult) -> None:
    """Write the results JSON, the plot and the best spec that the plan asks for (each atomically)."""
    outputs = result.plan.outputs
    if outputs.results is not None:
        write_text(outputs.results, results_json(result))
    if outputs.plot is not None:
        plot_tune(result, outputs.plot)
    if outputs.best_spec is not None:
        text = best_spec_text(result)
        if text is not None:
            write_text(outputs.best_spec, text)
