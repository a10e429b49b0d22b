"""`modelspec schema`: the JSON Schema of the spec format, for editors."""

from __future__ import annotations

import json

import click

from modelspec import source
from modelspec.atomic import writable, write_text
from modelspec.cli.common import epilog, print_wrote
from modelspec.errors import EXIT_INVALID, EXIT_OK, SettingsError
from modelspec.schema.editor_schema import for_blocks
from modelspec.schema.json_schema import json_schema


@click.command(epilog=epilog(EXIT_OK, EXIT_INVALID, limits=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the schema to this file (atomically) instead of standard output.",
)
@click.option(
    "--blocks-of",
    "spec",
    type=click.Path(dir_okay=False),
    metavar="SPEC",
    help="Narrow the schema to the blocks SPEC defines: a use then completes its block's parameter names, and a "
    "missing or unknown parameter is flagged in the editor too.",
)
def schema(output, spec) -> None:
    """Print the JSON Schema of the spec format, for editors (yaml-language-server, VS Code's YAML extension).

    It describes a spec file as written (blocks, uses, `extends:` and $parameters included). Some checks only
    `modelspec validate` and `lint` make: duplicate names, unknown `inputs:`, shapes, blocks' parameters (unless
    the schema was narrowed to one spec's blocks with --blocks-of).
    """
    writable(output, "--output")
    document = json_schema()
    if spec is not None:
        document = for_blocks(document, source.read(spec).data.get("blocks"))
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_text(output, text)
    except OSError as exc:
        raise SettingsError(f"cannot write {output}: {exc.strerror or exc}") from exc
    print_wrote(output, err=True)
