"""What every command shares: help epilogs, the console, and how a user error is printed."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.console import Console

from modelspec.diagnostics import Diagnostic
from modelspec.errors import EXIT_CODES_HELP, ModelspecError, SpecError
from modelspec.history import scores
from modelspec.pipeline import Prepared
from modelspec.report.plan import plan_table
from modelspec.schema.base import SEED_LIMIT
from modelspec.schema.distribute import NONE, STRATEGIES

LIMITS = (
    "Limits (docs/security.md): a spec file may hold at most 1 MiB and 10,000 layers; raise them with the "
    "environment variables MODELSPEC_MAX_FILE_BYTES and MODELSPEC_MAX_LAYERS."
)
EPILOG = EXIT_CODES_HELP + "\n\n" + LIMITS


DATA_HELP = "`digits` (bundled), or an .npz, a folder of .npy files or a .csv (docs/data.md)."


def training_data_options(command):
    """--data, --validation-data, --validation-split and --target: the data of every command that trains."""
    options = (
        click.option("--data", required=True, metavar="DATA", help="The training data: " + DATA_HELP),
        click.option("--validation-data", metavar="DATA", help="Data to validate on after each epoch."),
        click.option(
            "--validation-split",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Validate on this fraction of the training data (its last rows), replacing the spec's.",
        ),
        click.option(
            "--target", metavar="COLUMN", help="The CSV column holding the labels (default: the spec's, else last)."
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def check_validation(validation_data, validation_split) -> None:
    """--validation-data and --validation-split exclude each other (a usage error, exit 2)."""
    if validation_data is not None and validation_split is not None:
        raise click.UsageError("give --validation-data or --validation-split, not both")


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


def seed_option(help_text: str):
    """The `--seed N` option of every command that builds: the spec's own range of seeds (0 to 2**32 - 1)."""
    return click.option("--seed", type=click.IntRange(0, SEED_LIMIT - 1), help=help_text)


def console() -> Console:
    """A console for tables, at least 100 columns wide (so tables never wrap in a narrow pipe)."""
    return Console(width=max(100, Console().width), highlight=False)


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings in the text format `path:line:col: level[CODE] where: message` (standard output)."""
    for diagnostic in diagnostics:
        click.echo(diagnostic.format())


def print_prepared(prepared: Prepared) -> None:
    """Print what a resolved spec brings before it runs: its lint findings, then its pretrained plan (if any)."""
    print_diagnostics(prepared.findings)
    if prepared.plan is not None:
        console().print(plan_table(prepared.plan))


def score_text(row: dict[str, float]) -> str:
    """An epoch's losses and metrics in one line: `loss 0.31, accuracy 0.91`."""
    return ", ".join(f"{name} {value:.4g}" for name, value in scores(row).items())


def print_error(exc: ModelspecError) -> None:
    """Print a user error: its located findings on standard output, its message on standard error."""
    print_diagnostics(exc.diagnostics)
    if not isinstance(exc, SpecError):  # a SpecError's message is its diagnostics
        click.echo(f"error: {exc}", err=True)
