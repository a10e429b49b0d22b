"""`modelspec build`: lint a spec, compile it into a Keras model, save it and print its summary."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec import pipeline
from modelspec.atomic import writable
from modelspec.cli.common import (
    epilog,
    max_params_option,
    print_prepared,
    print_table,
    print_wrote,
    seed_option,
    set_option,
)
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK
from modelspec.report.plan import plan_table
from modelspec.summary import summary_table, totals


def _output(spec_name: str, output) -> Path:
    return writable(output or f"{spec_name}.keras", "-o/--output", ".keras")


@click.command(
    epilog=epilog(
        EXIT_OK,
        EXIT_LINT,
        EXIT_INVALID,
        note="build exits 2 on an invalid spec, unusable weights, an output it cannot write, or a --set that is "
        "malformed, names a layer the spec lacks or makes the spec invalid.",
    )
)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the .keras file [default: <spec name>.keras in the current folder].",
)
@seed_option("Override the spec's seed.")
@max_params_option
@click.option("--strict", is_flag=True, help="Stop on lint warnings too, not only on lint errors.")
@click.option(
    "--ignore",
    metavar="CODES",
    help="Comma-separated rule codes, names or prefixes the lint gate skips (as `modelspec lint --ignore`).",
)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    help="Pretrained weights (.weights.h5, .keras or .npz) to load, replacing `pretrained.path`; "
    "relative to the current folder.",
)
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Print which layers the pretrained weights would load, skip or leave new, then exit without "
    "building (no TensorFlow).",
)
@set_option
def build(spec, output, seed, max_params, strict, ignore, weights, plan_only, overrides) -> None:
    """Lint SPEC, then compile it into a Keras model, write it as a .keras file and print a summary.

    Lint findings are printed first; error-level findings (and warnings with --strict) stop the build.
    With pretrained weights, the plan of what loads is printed before anything is loaded. With --set, the model
    built (and the spec the .keras file carries) has those fields set.

    \b
    Example:
      modelspec build specs/mlp.yaml --set layers.hidden1.units=64 -o mlp64.keras
    """
    if plan_only:
        plan = pipeline.weights_plan(Path(spec), weights=weights, max_params=max_params, overrides=overrides)
        print_table(plan_table(plan))
        return
    ignore = [word.strip() for word in (ignore or "").split(",") if word.strip()]
    prepared = pipeline.prepare(
        Path(spec), weights=weights, max_params=max_params, strict=strict, ignore=ignore, overrides=overrides
    )
    output = _output(prepared.model.name, output)
    print_prepared(prepared)
    pipeline.save(pipeline.build(prepared, seed=seed), output, prepared.model)
    print_table(summary_table(prepared.model.analysis))
    for line in totals(prepared.model.analysis, prepared.plan):
        click.echo(line)
    print_wrote(output)
