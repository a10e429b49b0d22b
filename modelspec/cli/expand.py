"""`modelspec expand`: print (or write) the fully resolved flat spec of a spec. Never imports TensorFlow."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelspec.cli.common import epilog, print_wrote, set_option
from modelspec.errors import EXIT_INVALID, EXIT_OK
from modelspec.expanding import expand


@click.command(
    "expand",
    epilog=epilog(
        EXIT_OK,
        EXIT_INVALID,
        note="expand exits 2 on an invalid spec, an output it cannot write, or a --set that is malformed, names a "
        "layer the spec lacks or makes the spec invalid.",
    ),
)
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the spec to FILE.yaml (atomically) instead of printing it.",
)
@set_option
def expand_command(spec: Path, output, overrides) -> None:
    """Print the fully resolved flat spec of SPEC: its blocks expanded, its `extends:` bases merged and every --set
    applied, as YAML that validates and builds the same model (one line per layer, keys in the file's order).

    \b
    Example:
      modelspec expand specs/mlp.yaml --set layers.hidden1.units=64 -o mlp64.yaml
    """
    text = expand(spec, output, overrides=overrides)
    if output is None:
        sys.stdout.write(text)
    else:
        print_wrote(output)
