"""`modelspec tune` as a table: the best trials first, with their values, the metric, the epochs they trained, what
stopped them (the pruner, or the lint pre-flight with the codes it found) and their time."""

from __future__ import annotations

from rich.table import Table

from modelspec.variants import show

SHOWN = 10  # the best trials in the table; the JSON holds every trial


def _status(trial) -> str:
    if trial.state == "refused":
        codes = list(dict.fromkeys(finding["code"] for finding in trial.findings if finding["level"] != "info"))
        why = "not a valid spec" if trial.pruned_by == "invalid" else "lint"
        return f"refused: {why} {' '.join(codes)}".rstrip()
    if trial.state == "pruned":
        return f"pruned ({trial.pruned_by})"
    return trial.state


def tune_table(result, shown: int = SHOWN) -> Table:
    """The ``shown`` best trials of a study (complete first, then pruned, then refused and failed)."""
    plan = result.plan
    ranked = result.ranked()
    title = f"{plan.model.name}: the best {min(shown, len(ranked))} of {len(ranked)} trials"
    title += f" ({plan.direction} {plan.metric})"
    table = Table(title=title, title_justify="left")
    table.add_column("trial", justify="right")
    for search in plan.space:
        table.add_column(search.field)
    table.add_column(plan.metric, justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    for trial in ranked[:shown]:
        values = [show(trial.params[s.field]) if s.field in trial.params else "-" for s in plan.space]
        value = f"{trial.value:.4g}" if trial.value is not None else "-"
        table.add_row(str(trial.number), *values, value, str(trial.epochs), _status(trial), f"{trial.seconds:.1f}")
    return table


def summary_lines(result) -> list[str]:
    """What the study did in a few lines: the trials by state, the time the lint pre-flight saved, the best trial."""
    counts = {state: result.count(state) for state in ("complete", "pruned", "refused", "failed")}
    lines = [", ".join(f"{count} {state}" for state, count in counts.items() if count) + f" of {len(result.trials)}"]
    saved = result.seconds_saved
    if counts["refused"]:
        if saved is not None:
            lines.append(
                f"Lint refused {counts['refused']} trials before they trained: about {saved:.0f} s of training saved "
                f"({counts['refused']} × the median complete trial, {result.median_seconds:.1f} s)"
            )
        else:
            lines.append(f"Lint refused {counts['refused']} trials before they trained")
    best = result.best
    if best is not None:
        values = ", ".join(f"{name}={show(value)}" for name, value in best.params.items())
        lines.append(
            f"Best: trial {best.number}, {result.plan.metric} {best.value:.6g} with {values} (seed {best.seed})"
        )
    else:
        lines.append("No trial completed: no best trial")
    return lines
