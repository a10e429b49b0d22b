"""The pretrained-weights plan as a table (`modelspec build --plan`, and before an ordinary build loads)."""

from __future__ import annotations

from rich.table import Table

from modelspec.pretrained.plan import Plan, VariablePlan, listing, shape_text


def plan_table(plan: Plan):
    """Return the plan as a rich table: one row per weighted layer, then totals in the caption."""
    table = Table(
        title=f"Pretrained weights: {plan.path}", title_justify="left", caption=totals(plan), caption_justify="left"
    )
    for column in ("Layer", "Source layer", "Variable", "Expected", "Found", "Status", "Trainable"):
        table.add_column(column, no_wrap=column != "Status")
    for row in plan.layers:
        status = row.status + (f" ({row.reason})" if row.reason and row.status != "new" else "")
        if row.status == "new":
            status = "new (not in the file)"
        variables = row.variables or (VariablePlan("-", None, None),)
        for i, variable in enumerate(variables):
            first = i == 0
            table.add_row(
                row.layer if first else "",
                (row.source or "-") if first else "",
                variable.name,
                shape_text(variable.expected),
                "-" if variable.found is None else shape_text(variable.found),
                status if first else "",
                ("yes" if row.trainable else "no") if first else "",
            )
    return table


def totals(plan: Plan) -> str:
    """One line: how many layers load, are frozen, skipped, new, and what in the file goes unused."""
    text = (
        f"{len(plan.loaded)} of {len(plan.layers)} layers load ({plan.count('frozen')} frozen), "
        f"{plan.count('skipped')} skipped, {plan.count('new')} new"
    )
    if plan.unused:
        text += f"; unused in the file: {listing(plan.unused)}"
    return text
