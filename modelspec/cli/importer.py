"""`modelspec import`: turn a Keras model (a .keras archive or a JSON config) into a spec."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.atomic import writable
from modelspec.cli.common import epilog, print_wrote, shown
from modelspec.errors import EXIT_INVALID, EXIT_OK
from modelspec.importer import import_file

IMPORT_EPILOG = epilog(
    EXIT_OK,
    EXIT_INVALID,
    note="import exits 2 on a source that is unreadable, refused as hostile, or holds layers or settings a spec "
    "cannot express. What maps to what, and what is refused: docs/import.md.",
)


@click.command("import", epilog=IMPORT_EPILOG)
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the spec (atomically); '-' prints it instead [default: <source name>.yaml in the "
    "current folder].",
)
@click.option(
    "--weights-out",
    type=click.Path(dir_okay=False),
    help="Where to write the weights of a .keras archive [default: <spec name>.weights.h5 beside the spec]; the "
    "spec's `pretrained:` block points at it.",
)
@click.option(
    "--flat",
    is_flag=True,
    help="Write one line per layer; by default, repeated parts of the graph are written as `blocks:` (uses with "
    "`repeat`), every Keras layer name kept.",
)
def import_command(source, output, weights_out, flat) -> None:
    """Write SOURCE, a Keras model, as a spec that `modelspec build` turns back into the same model.

    SOURCE is a .keras archive or a JSON model config (model.to_json()). Only its configuration is read, as
    data: no code in it runs and Keras is not loaded. Layer names, arguments, initializers, regularizers,
    constraints, trainable flags and compile settings are kept; a .keras archive's weights are written beside
    the spec and loaded by its `pretrained:` block. Repeated parts of the graph (ResNet's bottlenecks, DenseNet's
    conv blocks) are written once, as blocks, and used with `repeat` (--flat: one line per layer). Layers a spec
    cannot express (Lambda, custom classes) are listed, every one, with what to do instead, and nothing is
    written (exit 2).
    """
    if output == "-":
        if weights_out:
            raise click.BadParameter("--weights-out needs the spec in a file, not '-'", param_hint="'-o'")
        click.echo(import_file(source, flat=flat).text, nl=False)
        return
    output = writable(output or Path(source).name.rsplit(".", 1)[0] + ".yaml", "-o/--output", (".yaml", ".yml"))
    imported = import_file(source, output, weights_out=weights_out, flat=flat)
    params = f", {imported.params:,} parameters" if imported.params is not None else ""
    click.echo(f"Imported {imported.name} ({imported.layers} layers{params}) from {shown(source)}")
    print_wrote(imported.spec_path)
    if imported.weights_path is not None:
        print_wrote(imported.weights_path)
    click.echo(f"Next: modelspec lint {shown(imported.spec_path)} && modelspec build {shown(imported.spec_path)}")
