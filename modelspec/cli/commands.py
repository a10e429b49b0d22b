"""The `modelspec` command group: one small module per command. Each parses its options into a request, resolves
it, prints from the resolved record and runs it; user errors (``ModelspecError``, modelspec/errors.py) become their
message and exit code here, in one place, for every command, and a Ctrl-C exits with 130.
"""

from __future__ import annotations

from importlib import import_module

import click

from modelspec import __version__
from modelspec.cli import EXIT_INTERRUPTED
from modelspec.cli.common import EPILOG, print_error
from modelspec.errors import ModelspecError

# Each command's module is imported when the command runs (or when `--help` lists them all): `modelspec lint` does
# not pay for the modules of `graph`, `compare` or `import` (benchmarks/lint_speed.py measures its cold start).
COMMANDS = {
    "validate": "modelspec.cli.validate:validate",
    "lint": "modelspec.cli.lint:lint_command",
    "build": "modelspec.cli.build:build",
    "train": "modelspec.cli.train:train",
    "evaluate": "modelspec.cli.train:evaluate",
    "probe": "modelspec.cli.probe:probe",
    "compare": "modelspec.cli.compare:compare",
    "tune": "modelspec.cli.tune:tune",
    "export": "modelspec.cli.export:export_command",
    "import": "modelspec.cli.importer:import_command",
    "rules": "modelspec.cli.rules:rules_command",
    "schema": "modelspec.cli.schema:schema",
    "graph": "modelspec.cli.graph:graph_command",
    "expand": "modelspec.cli.expand:expand_command",
}

__all__ = ["COMMANDS", "cli"]


class _Commands(click.Group):
    """The command group; a user error in any command is printed (never a traceback) and sets the exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name].split(":")
        return getattr(import_module(module), name)

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
