"""`modelspec lint`: lint specs for CI and pre-commit. Never imports TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from modelspec.cli.common import DATA_HELP, epilog, format_option, set_option
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK
from modelspec.linter.config import load_config
from modelspec.linter.runner import lint_paths
from modelspec.report import REPORTERS, default_format
from modelspec.report.text import use_color
from modelspec.schema.spec import EXPORT_FORMATS


def _codes(value):
    return None if value is None else [word.strip() for word in value.split(",") if word.strip()]


def export_formats(values) -> list[str]:
    """The formats of repeated or comma-separated `--export` options, each one checked (a usage error, exit 2)."""
    formats = [word.strip().lower() for value in values for word in value.split(",") if word.strip()]
    for word in formats:
        if word not in EXPORT_FORMATS:
            raise click.BadParameter(f"{word!r} is not one of {', '.join(EXPORT_FORMATS)}", param_hint="--export")
    return formats


@click.command(
    "lint",
    epilog=epilog(
        EXIT_OK,
        EXIT_LINT,
        EXIT_INVALID,
        note="With --strict, warnings fail too. A --set that is malformed, names a layer a spec lacks or makes a spec "
        "invalid exits 2 (the error names the file); so does --data that is unreadable, and data that does not fit a "
        "spec as `train` would refuse it (an MS004 finding at the spec field it is about).",
    ),
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(REPORTERS, default=None, help="Output format [default: github when GITHUB_ACTIONS=true, else text].")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option(
    "--select",
    metavar="CODES",
    help="Comma-separated rule codes, names or prefixes to run (ALL for every rule), replacing the "
    "configured selection.",
)
@click.option("--ignore", metavar="CODES", help="Comma-separated rule codes, names or prefixes to skip.")
@click.option(
    "--export",
    "export",
    metavar="FORMATS",
    multiple=True,
    help=f"Check readiness for these export formats too ({', '.join(EXPORT_FORMATS)}; repeatable or "
    "comma-separated): turns on their MS5xx rules, as a spec's `lint: {export: [...]}` does.",
)
@click.option(
    "--config",
    "pyproject",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The pyproject.toml to read [tool.modelspec.lint] from [default: the nearest one above the current folder].",
)
@click.option(
    "--specs-only",
    is_flag=True,
    help="Skip YAML files without a top-level `modelspec:` key (for pre-commit, which passes every YAML file).",
)
@click.option(
    "--data",
    metavar="DATA",
    help="Check the specs against this data too, read as `train --data` reads it: " + DATA_HELP + " Turns on the "
    "data-aware rules (MS6xx: targets outside the output's range, unused classes, input and target scale, constant "
    "columns).",
)
@click.option("--target", metavar="COLUMN", help="With a CSV --data: the column holding the labels (as train's).")
@set_option
@click.pass_context
def lint_command(ctx: click.Context, paths, output_format, strict, select, ignore, export, pyproject, specs_only,
                 data, target, overrides) -> None:  # fmt: skip
    """Lint the specs in PATHS (files, or folders: every *.yaml / *.yml below them). Never imports TensorFlow.

    With --set, each spec is linted with those fields set; the findings still point at the file's lines. With
    --data, each spec is also checked against the data (read once per spec, without TensorFlow); its findings
    point at the spec field they are about and name the data.

    \b
    Examples:
      modelspec lint specs/mlp.yaml --set kernel_initializer=zeros
      modelspec lint specs/digits_mlp.yaml --data digits
    """
    if target is not None and data is None:
        raise click.UsageError("--target needs --data: it names the CSV column of the data's labels")
    config = load_config(pyproject, select=_codes(select), ignore=_codes(ignore) or ())
    config = config.exporting(*export_formats(export))
    result = lint_paths(paths, config, specs_only=specs_only, overrides=overrides, data=data, target=target)
    output_format = output_format or default_format(os.environ)
    REPORTERS[output_format](result, sys.stdout, color=output_format == "text" and use_color(sys.stdout))
    ctx.exit(result.exit_code(strict))
