"""`modelspec lint`: lint specs for CI and pre-commit. Never imports TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from modelspec.cli.common import DATA_HELP, epilog, format_option, set_option
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK, SettingsError
from modelspec.fixing.engine import UNSAFE_REASON
from modelspec.fixing.files import fix_paths, write
from modelspec.linter.config import load_config
from modelspec.linter.runner import LintResult, lint_paths
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
        "spec as `train` would refuse it (an MS004 finding at the spec field it is about). With --fix or --diff the "
        "findings left after fixing decide the code; a file that changed on disk while it was fixed is not "
        "overwritten and exits 2, as does --unsafe-fixes without --fix or --diff.",
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
@click.option(
    "--fix",
    "fixing",
    is_flag=True,
    help="Apply the safe fixes of the findings that have one, in place (minimal text edits: comments and layout "
    "are kept), then report what remains. See `modelspec rules` (column Fix).",
)
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: apply the unsafe fixes too.")
@click.option(
    "--diff",
    is_flag=True,
    help="Print the fixes as a unified diff on stdout and write nothing (the lint report of the fixed text then "
    "goes to stderr).",
)
@click.pass_context
def lint_command(ctx: click.Context, paths, output_format, strict, select, ignore, export, pyproject, specs_only,
                 data, target, overrides, fixing, unsafe_fixes, diff) -> None:  # fmt: skip
    """Lint the specs in PATHS (files, or folders: every *.yaml / *.yml below them). Never imports TensorFlow.

    With --set, each spec is linted with those fields set; the findings still point at the file's lines. With
    --data, each spec is also checked against the data (read once per spec, without TensorFlow); its findings
    point at the spec field they are about and name the data.

    With --fix, the findings that have a safe fix are fixed in the files (--unsafe-fixes: the unsafe ones too;
    --diff: shown as a diff, nothing written), then the findings that remain are reported and decide the exit
    code. See README "Fixing findings".

    \b
    Examples:
      modelspec lint specs/mlp.yaml --set kernel_initializer=zeros
      modelspec lint specs/digits_mlp.yaml --data digits
      modelspec lint specs/ --fix
      modelspec lint specs/x.yaml --diff --unsafe-fixes
    """
    if target is not None and data is None:
        raise click.UsageError("--target needs --data: it names the CSV column of the data's labels")
    config = load_config(pyproject, select=_codes(select), ignore=_codes(ignore) or ())
    config = config.exporting(*export_formats(export))
    output_format = output_format or default_format(os.environ)
    if fixing or diff or unsafe_fixes:
        _check_fix_options(fixing or diff, overrides, data)
        result = _fix(paths, config, specs_only=specs_only, unsafe=unsafe_fixes, diff=diff)
    else:
        result = lint_paths(paths, config, specs_only=specs_only, overrides=overrides, data=data, target=target)
    stream = sys.stderr if diff else sys.stdout
    REPORTERS[output_format](result, stream, color=output_format == "text" and use_color(stream))
    ctx.exit(result.exit_code(strict))


def _check_fix_options(fixing: bool, overrides, data) -> None:
    if not fixing:
        raise click.UsageError("--unsafe-fixes needs --fix or --diff")
    if overrides:
        raise click.UsageError("--fix and --diff do not take --set: a fix edits the file, and --set edits only the run")
    if data is not None:
        raise click.UsageError("--fix and --diff do not take --data: no data-aware rule (MS6xx) has a fix")


def _fix(paths, config, *, specs_only: bool, unsafe: bool, diff: bool) -> LintResult:
    """Fix every file (or print the diff), say on stderr what was fixed, and return the remaining findings."""
    result = LintResult()
    failures = []
    for one in fix_paths(paths, config, unsafe=unsafe, specs_only=specs_only):
        result.files += 1
        result.diagnostics += one.diagnostics
        if diff:
            sys.stdout.write(one.diff())
        elif one.changed:
            try:
                write(one)
            except SettingsError as exc:
                failures.append(str(exc))
                continue
        if one.result is not None and (one.result.applied or one.result.skipped):
            click.echo(fixed_line(one, diff), err=True)
    for failure in failures:
        click.echo(f"error: {failure}", err=True)
    if failures:
        raise SettingsError(f"{len(failures)} file(s) changed on disk while being fixed; not overwritten: run again")
    return result


def fixed_line(one, diff: bool) -> str:
    """`Fixed 3 findings in specs/x.yaml (1 more needs --unsafe-fixes)`, the line ruff prints, then one indented
    line per other fix not made and why; on stderr."""
    count, waiting = len(one.result.applied), one.result.unsafe_skipped
    if count:
        line = f"{'Would fix' if diff else 'Fixed'} {count} finding{'s' if count != 1 else ''} in {one.path}"
        if waiting:
            line += f" ({waiting} more need{'s' if waiting == 1 else ''} --unsafe-fixes)"
    elif waiting:
        line = (
            f"{one.path}: {waiting} fix{'es' if waiting != 1 else ''} need{'s' if waiting == 1 else ''} --unsafe-fixes"
        )
    else:
        line = f"{one.path}: no fix made"
    others = [skip for skip in one.result.skipped if skip.reason != UNSAFE_REASON]
    return "\n".join([line] + [f"  {s.code} at {s.line}:{s.column} not fixed: {s.reason}" for s in others])
