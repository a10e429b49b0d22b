"""What every command shares: help epilogs, the console, and how a user error is printed."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.console import Console
from rich.table import Table

from modelspec.diagnostics import Diagnostic
from modelspec.errors import EXIT_CODES_HELP, ModelspecError, SpecError, exit_codes_help, printable
from modelspec.history import scores
from modelspec.pipeline import DEFAULT_MAX_PARAMS, Prepared
from modelspec.report.plan import plan_table
from modelspec.schema.base import SEED_LIMIT
from modelspec.schema.distribute import NONE, STRATEGIES

LIMITS = (
    "Limits (docs/security.md): a spec file may hold at most 1 MiB and 10,000 layers; raise them with the "
    "environment variables MODELSPEC_MAX_FILE_BYTES and MODELSPEC_MAX_LAYERS."
)
EPILOG = EXIT_CODES_HELP + "\n\n" + LIMITS  # the group's: every code any command returns


def epilog(*codes: int, note: str = "", limits: bool = True) -> str:
    """A command's --help epilog: the exit ``codes`` it can return (and no other), a ``note`` on them, and the
    reading limits when the command reads spec files."""
    text = exit_codes_help(*codes) + (f" {note}" if note else "")
    return text + ("\n\n" + LIMITS if limits else "")


def max_params_option(command):
    """--max-params: the parameter budget of every command that builds a model, checked before TensorFlow starts."""
    return click.option(
        "--max-params",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_PARAMS,
        show_default=True,
        help="Refuse, before importing TensorFlow, a spec with more parameters than this.",
    )(command)


def set_option(command):
    """--set PATH=VALUE (repeatable): override a field of the spec a command reads, as `compare --vary` addresses
    it; its values go to the library's ``overrides=`` keyword (``Options.overrides`` for the commands that take a
    request), parsed by ``variants.parse_sets`` before the spec is read."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="PATH=VALUE",
        help="Set a field of the spec as soon as it is read, before it is validated, linted or built, as `compare "
        "--vary` addresses it: a `defaults:` field alone (kernel_initializer=zeros), layers.NAME.FIELD "
        "(layers.hidden.units=64, layers.0.activation=tanh; a block's layers by their expanded names) or a dotted "
        "path (training.optimizer.learning_rate=0.01, blocks.NAME.params.PARAM=8); "
        "the value is YAML (a mapping in braces, a list in brackets). Repeat it to set several fields, applied in "
        "order. Findings still point at the file's lines.",
    )(command)


RESULT_FORMATS = ("text", "json")  # every command that reports results (lint adds its CI formats)


def format_option(choices, *, default: str | None = "text", help: str = "Output format."):
    """--format: how a command prints its results; ``choices`` are its reporters' names."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


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
        "variable describes; run the same command on every worker; each waits for the others at most "
        "MODELSPEC_CLUSTER_WAIT seconds, 600 by default), or none (one device). docs/distributed.md",
    )


# The most columns a table printed to a pipe or a log takes; a wider one folds its cells to fit.
WIDEST = 240


def print_table(table: Table) -> None:
    """Print a rich table that fits, cutting nothing: in a terminal, at its width, folding the cells that do not
    fit onto more lines; in a pipe or a log, at the width the table needs (at most ``WIDEST`` columns), so that each
    row stays one line there, whole for grep."""
    for column in table.columns:
        column.no_wrap, column.overflow = False, "fold"
        # a header folds only between its words
        column.min_width = max(column.min_width or 0, *(len(word) for word in str(column.header).split()), 1)
    screen = Console(highlight=False)
    width = screen.width if screen.is_terminal else min(Console(width=WIDEST).measure(table).maximum, WIDEST)
    Console(width=width, highlight=False).print(table)


def seed_option(help_text: str):
    """The `--seed N` option of every command that builds: the spec's own range of seeds (0 to 2**32 - 1)."""
    return click.option("--seed", type=click.IntRange(0, SEED_LIMIT - 1), help=help_text)


def tensorboard_option(help_text: str):
    """`--tensorboard DIR` of `train` and `tune`: a folder of TensorBoard logs (checked before any work starts)."""
    return click.option("--tensorboard", type=click.Path(dir_okay=True, file_okay=False), metavar="DIR",
                        help=help_text)  # fmt: skip


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings in the text format `path:line:col: level[CODE] where: message` (standard output)."""
    for diagnostic in diagnostics:
        click.echo(printable(diagnostic.format()))


def shown(path: object) -> str:
    """A path (or any one-line field) as a line of output quotes it: every control character, newline and tab
    included, escaped, so that a file's name cannot start a line (a forged `::error` in CI) or colour one."""
    return printable(path, single_line=True)


def print_wrote(*paths: object, after: str = "", err: bool = False) -> None:
    """The closing `Wrote a, b` line of a command that writes files, each path :func:`shown` (then ``after``)."""
    click.echo("Wrote " + ", ".join(shown(path) for path in paths) + after, err=err)


def print_prepared(prepared: Prepared) -> None:
    """Print what a resolved spec brings before it runs: its lint findings, then its pretrained plan (if any)."""
    print_diagnostics(prepared.findings)
    if prepared.plan is not None:
        print_table(plan_table(prepared.plan))


def score_text(row: dict[str, float]) -> str:
    """An epoch's losses and metrics in one line: `loss 0.31, accuracy 0.91`."""
    return ", ".join(f"{name} {value:.4g}" for name, value in scores(row).items())


def print_error(exc: ModelspecError) -> None:
    """Print a user error: its located findings on standard output, its message on standard error."""
    print_diagnostics(exc.diagnostics)
    if not isinstance(exc, SpecError):  # a SpecError's message is its diagnostics
        click.echo(f"error: {printable(str(exc), single_line=True)}", err=True)  # one line, by contract
