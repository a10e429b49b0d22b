"""`modelspec schema`: the JSON Schema of the spec format, for editors."""

from __future__ import annotations

import json

import click

from modelspec.atomic import write_text
from modelspec.cli.common import epilog, print_wrote
from modelspec.errors import EXIT_INVALID, EXIT_OK, SettingsError
from modelspec.schema.json_schema import json_schema


@click.command(epilog=epilog(EXIT_OK, EXIT_INVALID, limits=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the schema to this file (atomically) instead of standard output.",
)
def schema(output) -> None:
    """Print the JSON Schema of the spec format, for editors (yaml-language-server, VS Code's YAML extension).

    It describes a spec file as written (blocks, uses, `extends:` and $parameters included). Some checks only
    `modelspec validate` and `lint` make: duplicate names, unknown `inputs:`, shapes, blocks' parameters.
    """
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_text(output, text)
    except OSError as exc:
        raise SettingsError(f"cannot write {output}: {exc.strerror or exc}") from exc
    print_wrote(output, err=True)
