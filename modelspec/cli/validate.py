"""`modelspec validate`: schema and structure only."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import epilog, print_diagnostics, set_option, shown
from modelspec.errors import EXIT_INVALID, EXIT_OK, SpecError
from modelspec.linter.runner import overridden_file
from modelspec.loader import load_spec, spec_files
from modelspec.variants import parse_sets


@click.command(
    epilog=epilog(
        EXIT_OK, EXIT_INVALID, note="validate exits 2 on an invalid spec, or a --set that is malformed, names a layer "
        "a spec lacks or makes a spec invalid (the error names the file)."
    )
)  # fmt: skip
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@set_option
@click.pass_context
def validate(ctx: click.Context, paths, overrides) -> None:
    """Check the schema and structure of the specs in PATHS (files, or folders: every *.yaml / *.yml below them;
    no lint rules, no TensorFlow). With --set, each spec is checked with those fields set."""
    sets = parse_sets(overrides)  # a malformed --set is said before any file is read
    ok = True
    for path in spec_files(paths):  # one file at a time, so the output follows the order of the arguments
        try:
            analysis = overridden_file(path, load_spec(path), sets).analysis
        except SpecError as exc:
            print_diagnostics(exc.diagnostics)
            ok = False
            continue
        params = f"{analysis.total_params:,}" + ("" if analysis.complete else "+")
        click.echo(f"{shown(path)}: ok ({len(analysis.layers)} layers, {params} parameters)")
    if not ok:
        ctx.exit(EXIT_INVALID)
