"""`modelspec compare` as a library function: one variant of a spec per value of `--vary`, trained from one seed.

``compare`` resolves its request (modelspec/resolve.py ``resolve_compare``): one spec per value (or combination) of
``--vary`` (modelspec/variants.py), each validated, linted (reported, not a gate: training the bad variants is the
point) and checked against the data, the seeds drawn once and shared by every variant (so every variant sees the same
data order), the `--reach` quantity checked against what the runs log, the output paths checked; all before anything
trains. Then ``train_each`` trains every resolved run (modelspec/trainer.py ``run_train``) and ``write_results``
writes the results JSON and the plot.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from modelspec.atomic import write_text
from modelspec.diagnostics import Diagnostic
from modelspec.errors import Interrupted
from modelspec.history import scores
from modelspec.pipeline import SpecSource
from modelspec.report.json_report import json_text
from modelspec.report.plots import plot_compare
from modelspec.requests import CompareRequest, Data, DataSource, Options, Outputs, Reach, as_data
from modelspec.resolve import ResolvedCompare, resolve_compare
from modelspec.schema.training import monitor_mode
from modelspec.trainer import run_train


@dataclass
class Run:
    """One training run of a variant: its seed, its history rows and how long it took."""

    seed: int
    rows: list[dict[str, float]]
    seconds: float


@dataclass
class VariantResult:
    """A variant's findings and runs, and the summary the table shows (means over the seeds)."""

    label: str
    settings: dict[str, Any]
    findings: list[Diagnostic]
    runs: list[Run] = field(default_factory=list)

    def quantities(self) -> list[str]:
        names: list[str] = []
        for run in self.runs:
            for row in run.rows:
                names += [k for k in scores(row) if k not in names]
        return names

    def final(self, quantity: str) -> Optional[float]:
        values = [run.rows[-1][quantity] for run in self.runs if run.rows and quantity in run.rows[-1]]
        return _mean(values)

    def best(self, quantity: str) -> Optional[float]:
        pick = max if monitor_mode(quantity) == "max" else min
        values = []
        for run in self.runs:
            series = [row[quantity] for row in run.rows if quantity in row and math.isfinite(row[quantity])]
            if series:
                values.append(pick(series))
        return _mean(values)

    def reached(self, reach: Reach) -> list[Optional[int]]:
        return [reach.epoch(run.rows) for run in self.runs]

    @property
    def seconds(self) -> float:
        """Training time: the epochs' seconds, summed over the runs (building the model not counted)."""
        return sum(row.get("seconds", 0.0) for run in self.runs for row in run.rows)

    @property
    def epoch_seconds(self) -> Optional[float]:
        """The median epoch's seconds over every run: a run's first epoch also traces the model, and the first run
        of a process warms TensorFlow up, which the median leaves out."""
        times = sorted(row["seconds"] for run in self.runs for row in run.rows if "seconds" in row)
        if not times:
            return None
        middle = len(times) // 2
        return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2

    def summary(self, reach: Optional[Reach]) -> dict:
        result: dict[str, Any] = {q: {"final": self.final(q), "best": self.best(q)} for q in self.quantities()}
        if reach is not None:
            result["epochs_to_reach"] = self.reached(reach)
        result["seconds"] = round(self.seconds, 3)
        result["epoch_seconds"] = self.epoch_seconds
        return result


def _mean(values: list[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


@dataclass
class Comparison:
    """What ``compare`` returns; ``to_dict`` is the results JSON."""

    name: str
    path: str
    data: str
    seeds: list[int]
    epochs: int
    vary: list[str]
    reach: Optional[Reach]
    variants: list[VariantResult]

    @classmethod
    def of(cls, resolved: ResolvedCompare) -> Comparison:
        """The comparison of a resolved request, before any run: every variant with its findings, no run yet."""
        model = resolved.model
        return cls(
            name=model.name,
            path=model.path,
            data=resolved.data,
            seeds=list(resolved.seeds),
            epochs=resolved.epochs,
            vary=list(resolved.vary),
            reach=resolved.reach,
            variants=[VariantResult(v.label, v.settings, v.findings) for v in resolved.variants],
        )

    def to_dict(self) -> dict:
        return {
            "version": 1,
            "spec": self.path,
            "name": self.name,
            "data": self.data,
            "seeds": self.seeds,
            "epochs": self.epochs,
            "vary": self.vary,
            "reach": None if self.reach is None else {"quantity": self.reach.quantity, "value": self.reach.value},
            "variants": [
                {
                    "label": v.label,
                    "settings": v.settings,
                    "findings": [f.to_dict() for f in v.findings],
                    "summary": v.summary(self.reach),
                    "runs": [{"seed": r.seed, "wall_seconds": round(r.seconds, 3), "epochs": r.rows} for r in v.runs],
                }
                for v in self.variants
            ],
        }


def compare(
    spec: SpecSource,
    data: Union[DataSource, Data],
    vary: list[str],
    options: Optional[Options] = None,
    outputs: Optional[Outputs] = None,
    seeds: int = 1,
    reach: Union[str, Reach, None] = None,
) -> Comparison:
    """Train one variant of a spec per value (or combination of values) of ``vary``, from the same seeds.

    Args:
        spec: a path, YAML text, dict or loaded spec with a `training:` block.
        data: as for ``modelspec.train`` (a data source, or ``Data`` with validation data, a split, a target).
        vary: options ``FIELD=V1,V2,...`` (modelspec/variants.py); several give every combination.
        options: as for ``modelspec.train`` (epochs, batch size, the first seed, distribute, max_params, config,
            overrides: ``--set`` options, set in the spec every variant starts from; a field ``vary`` varies is
            refused); the lint gate, checkpoints and resume do not apply (findings are reported per variant).
        outputs: ``results``: the results as JSON (atomic); ``plot``: a PNG of the overlaid loss curves (mean and
            spread over seeds).
        seeds: train each variant this many times, with seeds ``seed``, ``seed + 1``, ... (default seed: the
            spec's, else one drawn and recorded); every variant uses the same seeds, hence the same data orders.
        reach: ``QUANTITY=VALUE`` (``val_accuracy=0.9``, ``loss=0.5``): report the first epoch that reaches it.
            `multi_worker_mirrored` starts its cluster once per process, so a comparison of several runs with it
            is refused (train each variant with `modelspec train` on the cluster).

    Raises:
        SettingsError: a malformed ``--vary`` or ``--reach``, a quantity the runs never log, or a variant that is
            not a valid spec (before anything trains); SpecError, WeightsError, DataError: as for train, for any
            variant, before anything trains.
    """
    request = CompareRequest(spec, as_data(data), tuple(vary), options or Options(), outputs or Outputs(), seeds, reach)
    resolved = resolve_compare(request)
    comparison = Comparison.of(resolved)
    for _ in train_each(resolved, comparison):
        pass
    write_results(resolved, comparison)
    return comparison


def train_each(resolved: ResolvedCompare, comparison: Comparison) -> Iterator[tuple[VariantResult, Run, int, int]]:
    """Train every resolved run, variant after variant; after each, add it to ``comparison`` and yield (variant,
    run, number of the run, runs in all). Imports TensorFlow."""
    total = sum(len(variant.runs) for variant in resolved.variants)
    count = 0
    for variant, result in zip(resolved.variants, comparison.variants):
        for planned in variant.runs:
            started = time.perf_counter()
            try:
                trained = run_train(planned)
            except Interrupted as exc:  # its words would offer --checkpoints, which compare does not have
                signum = exc.exit_code - 128
                raise Interrupted(
                    f"compare stopped by {signal.Signals(signum).name} during run {count + 1} of {total} "
                    f"({result.label}, seed {planned.settings.seed}); no results were written",
                    signum,
                ) from None
            run = Run(planned.settings.seed, trained.history.rows, time.perf_counter() - started)
            del trained  # the model is not kept: the next run should not train beside its memory
            result.runs.append(run)
            count += 1
            yield result, run, count, total


def write_results(resolved: ResolvedCompare, comparison: Comparison) -> None:
    """Write the results JSON and the plot the request asked for (each atomically)."""
    if resolved.outputs.results is not None:
        write_text(resolved.outputs.results, results_json(comparison))
    if resolved.outputs.plot is not None:
        plot_compare(comparison, resolved.outputs.plot)


def results_json(comparison: Comparison) -> str:
    """The results as a JSON document (NaN and infinities as strings): the file `-o` writes, `--format json`."""
    return json_text(comparison.to_dict())
