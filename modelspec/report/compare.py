"""`modelspec compare` as a table: per variant its lint findings, the final and best value of the loss and of every
metric (means over the seeds), the epochs it took to reach the goal of `--reach`, and the time."""

from __future__ import annotations

from typing import Optional

from rich.table import Table

from modelspec.report.probe import number
from modelspec.variants import show


def _final_best(final: Optional[float], best: Optional[float]) -> str:
    return f"{number(final)} ({number(best)})"


def _reached(epochs: list[Optional[int]]) -> str:
    hits = [epoch for epoch in epochs if epoch is not None]
    if not hits:
        return "never"
    mean = sum(hits) / len(hits)
    text = f"{mean:.3g}"
    return text if len(hits) == len(epochs) else f"{text} ({len(hits)}/{len(epochs)} runs)"


def _codes(findings) -> str:
    codes: list[str] = []
    for finding in findings:
        if finding.code not in codes:
            codes.append(finding.code)
    return " ".join(codes) or "-"


def _quantities(comparison) -> list[str]:
    names: list[str] = []
    for variant in comparison.variants:
        names += [name for name in variant.quantities() if name not in names]
    ordered = [name for name in ("loss", "val_loss") if name in names]
    rest = sorted(name for name in names if name not in ordered)
    return ordered + [name for name in rest if not name.startswith("val_")] + [n for n in rest if n.startswith("val_")]


def compare_table(comparison) -> Table:
    """One row per variant (a column per varied field); quantities as `final (best)`, means over the seeds;
    s/epoch is the median epoch's seconds (the first epochs also trace the model and warm TensorFlow up)."""
    seeds = comparison.seeds
    over = f"seed {seeds[0]}" if len(seeds) == 1 else f"means over seeds {seeds[0]}..{seeds[-1]}"
    table = Table(
        title=f"{comparison.name} on {comparison.data}: {comparison.epochs} epochs, {over}; final (best)",
        title_justify="left",
    )
    quantities = _quantities(comparison)
    fields = list(comparison.variants[0].settings) if comparison.variants else []
    short = [name.rsplit(".", 1)[-1] for name in fields]
    headers = short if len(set(short)) == len(short) else fields
    columns = [*headers, "Lint", *quantities]
    if comparison.reach is not None:
        columns.append(f"Epochs to {comparison.reach.text()}")
    columns.append("s/epoch")
    for column in columns:
        table.add_column(column, justify="left" if column in (*headers, "Lint") else "right", no_wrap=True)
    for variant in comparison.variants:
        row = [*(show(variant.settings[name]) for name in fields), _codes(variant.findings)]
        row += [_final_best(variant.final(q), variant.best(q)) for q in quantities]
        if comparison.reach is not None:
            row.append(_reached(variant.reached(comparison.reach)))
        row.append(number(variant.epoch_seconds))
        table.add_row(*row)
    return table
