"""What every command shares: help epilogs, the console, and how a user error is printed."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.console import Console

from modelspec.diagnostics import Diagnostic
from modelspec.errors import EXIT_CODES_HELP, ModelspecError, SpecError
from modelspec.schema.distribute import NONE, STRATEGIES

LIMITS = (
    "Limits (docs/security.md): a spec file may hold at most 1 MiB and 10,000 layers; raise them with the "
    "environment variables MODELSPEC_MAX_FILE_BYTES and MODELSPEC_MAX_LAYERS."
)
EPILOG = EXIT_CODES_HELP + "\n\n" + LIMITS


def distribute_option(what: str):
    """The `--distribute STRATEGY` option of every command that runs the training block (``what`` it runs:
    "Train", "Evaluate"); its value goes to the library's ``distribute=`` keyword (None: the spec's choice)."""
    return click.option(
        "--distribute",
        type=click.Choice([NONE, *STRATEGIES], case_sensitive=False),
        help=f"{what} with this tf.distribute strategy instead of the spec's `training.distribute`: mirrored "
        "(this machine's GPUs, else its CPU), multi_worker_mirrored (the cluster the TF_CONFIG environment "
        "variable describes; run the same command on every worker), or none (one device). docs/distributed.md",
    )


def console() -> Console:
    """A console for tables, at least 100 columns wide (so tables never wrap in a narrow pipe)."""
    return Console(width=max(100, Console().width), highlight=False)


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings in the text format `path:line:col: level[CODE] where: message` (standard output)."""
    for diagnostic in diagnostics:
        click.echo(diagnostic.format())


def print_error(exc: ModelspecError) -> None:
    """Print a user error: its located findings on standard output, its message on standard error."""
    print_diagnostics(exc.diagnostics)
    if not isinstance(exc, SpecError):  # a SpecError's message is its diagnostics
        click.echo(f"error: {exc}", err=True)
