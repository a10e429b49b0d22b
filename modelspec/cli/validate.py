"""`modelspec validate`: schema and structure only."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import EPILOG, print_diagnostics
from modelspec.errors import EXIT_INVALID, SpecError
from modelspec.loader import load_spec


@click.command(epilog=EPILOG)
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def validate(ctx: click.Context, specs) -> None:
    """Check the schema and structure of SPECS (no lint rules, no TensorFlow)."""
    ok = True
    for path in specs:  # one file at a time, so the output follows the order of the arguments
        try:
            analysis = load_spec(Path(path)).analysis
        except SpecError as exc:
            print_diagnostics(exc.diagnostics)
            ok = False
            continue
        params = f"{analysis.total_params:,}" + ("" if analysis.complete else "+")
        click.echo(f"{path}: ok ({len(analysis.layers)} layers, {params} parameters)")
    if not ok:
        ctx.exit(EXIT_INVALID)
