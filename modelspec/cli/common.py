"""What every command shares: help epilogs, the console, and how a user error is printed."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.console import Console

from modelspec.diagnostics import Diagnostic
from modelspec.errors import EXIT_CODES_HELP, ModelspecError, SpecError

LIMITS = (
    "Limits (docs/security.md): a spec file may hold at most 1 MiB and 10,000 layers; raise them with the "
    "environment variables MODELSPEC_MAX_FILE_BYTES and MODELSPEC_MAX_LAYERS."
)
EPILOG = EXIT_CODES_HELP + "\n\n" + LIMITS


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
