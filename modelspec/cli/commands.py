"""The `modelspec` command group: one small module per command. Each parses its options into a request, resolves
it, prints from the resolved record and runs it; user errors (``ModelspecError``, modelspec/errors.py) become their
message and exit code here, in one place, for every command, and a Ctrl-C exits with 130.
"""

from __future__ import annotations

import click

from modelspec import __version__
from modelspec.cli import EXIT_INTERRUPTED
from modelspec.cli.build import build
from modelspec.cli.common import EPILOG, print_error
from modelspec.cli.compare import compare
from modelspec.cli.expand import expand_command
from modelspec.cli.export import export_command
from modelspec.cli.graph import graph_command
from modelspec.cli.importer import import_command
from modelspec.cli.lint import lint_command
from modelspec.cli.probe import probe
from modelspec.cli.rules import rules_command
from modelspec.cli.schema import schema
from modelspec.cli.train import evaluate, train
from modelspec.cli.tune import tune
from modelspec.cli.validate import validate
from modelspec.errors import ModelspecError
from modelspec.pipeline import DEFAULT_MAX_PARAMS

__all__ = ["DEFAULT_MAX_PARAMS", "cli"]


class _Commands(click.Group):
    """The command group; a user error in any command is printed (never a traceback) and sets the exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ModelspecError as exc:
            print_error(exc)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # before training starts (or after it ends): training traps SIGINT itself
            click.echo("error: interrupted (Ctrl-C)", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG
)
@click.version_option(__version__, prog_name="modelspec")
def cli() -> None:
    """Validate, lint and compile YAML model specs into Keras 3 models."""


for command in (
    validate,
    lint_command,
    build,
    train,
    evaluate,
    probe,
    compare,
    tune,
    export_command,
    import_command,
    rules_command,
    schema,
):
    cli.add_command(command)
cli.add_command(graph_command)
cli.add_command(expand_command)
