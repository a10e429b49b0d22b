"""`modelspec validate`: schema and structure only."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import epilog, print_diagnostics, shown
from modelspec.errors import EXIT_INVALID, EXIT_OK, SpecError
from modelspec.loader import load_spec, spec_files


@click.command(epilog=epilog(EXIT_OK, EXIT_INVALID))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, paths) -> None:
    """Check the schema and structure of the specs in PATHS (files, or folders: every *.yaml / *.yml below them;
    no lint rules, no TensorFlow)."""
    ok = True
    for path in spec_files(paths):  # one file at a time, so the output follows the order of the arguments
        try:
            analysis = load_spec(path).analysis
        except SpecError as exc:
            print_diagnostics(exc.diagnostics)
            ok = False
            continue
        params = f"{analysis.total_params:,}" + ("" if analysis.complete else "+")
        click.echo(f"{shown(path)}: ok ({len(analysis.layers)} layers, {params} parameters)")
    if not ok:
        ctx.exit(EXIT_INVALID)
