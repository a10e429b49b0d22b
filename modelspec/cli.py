"""The `modelspec` command line. Each command parses its options and calls one library function.

Exit codes: 0 clean; 1 lint failures; 2 invalid spec, unreadable file, unusable weights file or usage error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from modelspec import __version__
from modelspec.diagnostics import SpecError
from modelspec.loader import ModelSpec, load_spec
from modelspec.report import REPORTERS, default_format

EXIT_OK, EXIT_LINT, EXIT_INVALID = 0, 1, 2
DEFAULT_MAX_PARAMS = 2_000_000_000
EXIT_CODES = ("Exit codes: 0 clean; 1 lint failures; 2 invalid spec, unreadable file, unusable weights file or "
              "usage error.")
LIMITS = ("Limits (docs/security.md): a spec file may hold at most 1 MiB and 10,000 layers; raise them with the "
          "environment variables MODELSPEC_MAX_FILE_BYTES and MODELSPEC_MAX_LAYERS.")


def _console() -> Console:
    return Console(width=max(100, Console().width), highlight=False)


def _fail(diagnostics) -> None:
    for diagnostic in diagnostics:
        click.echo(diagnostic.format())


def _load_all(paths) -> tuple[list[ModelSpec], bool]:
    """Load every spec, printing the diagnostics of those that fail; return the good ones and whether all were."""
    loaded, ok = [], True
    for path in paths:
        try:
            loaded.append(load_spec(Path(path)))
        except SpecError as exc:
            _fail(exc.diagnostics)
            ok = False
    return loaded, ok


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES + "\n\n" + LIMITS)
@click.version_option(__version__, prog_name="modelspec")
def cli() -> None:
    """Validate, lint and compile YAML model specs into Keras 3 models."""


@cli.command(epilog=EXIT_CODES + "\n\n" + LIMITS)
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(specs) -> None:
    """Check the schema and structure of SPECS (no lint rules, no TensorFlow)."""
    ok = True
    for path in specs:  # one file at a time, so the output follows the order of the arguments
        loaded, valid = _load_all([path])
        ok = ok and valid
        for item in loaded:
            analysis = item.analysis
            params = f"{analysis.total_params:,}" + ("" if analysis.complete else "+")
            click.echo(f"{item.path}: ok ({len(analysis.layers)} layers, {params} parameters)")
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


@cli.command(epilog=EXIT_CODES + "\n\n" + LIMITS)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Where to write the .keras file [default: <spec name>.keras in the current folder].")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="Override the spec's seed.")
@click.option("--max-params", type=click.IntRange(min=1), default=DEFAULT_MAX_PARAMS, show_default=True,
              help="Refuse, before importing TensorFlow, a spec with more parameters than this.")
@click.option("--strict", is_flag=True, help="Stop on lint warnings too, not only on lint errors.")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="Pretrained weights (.weights.h5, .keras or .npz) to load, replacing `pretrained.path`; "
                   "relative to the current folder.")
@click.option("--plan", "plan_only", is_flag=True,
              help="Print which layers the pretrained weights would load, skip or leave new, then exit without "
                   "building (no TensorFlow).")
def build(spec, output, seed, max_params, strict, weights, plan_only) -> None:
    """Lint SPEC, then compile it into a Keras model, write it as a .keras file and print a summary.

    Lint findings are printed first; error-level findings (and warnings with --strict) stop the build.
    With pretrained weights, the plan of what loads is printed before anything is loaded.
    """
    try:
        loaded = load_spec(Path(spec))
    except SpecError as exc:
        _fail(exc.diagnostics)
        sys.exit(EXIT_INVALID)
    analysis = loaded.analysis
    _check_budget(loaded.path, analysis.total_params, max_params)
    if plan_only or weights is not None or loaded.spec.pretrained is not None:
        _print_plan(loaded, weights)
        if plan_only:
            return
    # --weights replaces pretrained.path, so a missing file there is no reason to stop.
    _lint_gate(loaded, strict, ignore=("MS401",) if weights is not None else ())
    output = Path(output or f"{loaded.name}.keras")
    if output.suffix != ".keras":
        raise click.BadParameter("the output file name must end in .keras", param_hint="'-o' / '--output'")
    if not output.parent.resolve().is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist", param_hint="'-o' / '--output'")

    from modelspec.runtime.builder import build_model, save_atomic

    try:
        with _user_errors_exit():
            model = build_model(loaded, seed=seed, weights=weights)
            if not analysis.complete:
                # Opaque `type: keras` layers are only counted once Keras has built them: check before saving.
                _check_budget(loaded.path, model.count_params(), max_params)
            save_atomic(model, output)
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises its own errors (out of memory...): no traceback
        detail = str(exc) or type(exc).__name__
        click.echo(f"error: Keras could not build or save {loaded.path}: {detail}", err=True)
        sys.exit(EXIT_INVALID)

    from modelspec.summary import print_summary

    print_summary(analysis, _console())
    click.echo(f"Wrote {output}")


def _check_budget(path: str, params: int, max_params: int) -> None:
    if params > max_params:
        click.echo(f"{path}:1:1: error[MS001] the model has {params:,} parameters, more than "
                   f"--max-params {max_params:,}")
        sys.exit(EXIT_INVALID)


def _print_plan(loaded: ModelSpec, weights) -> None:
    """Print the pretrained-weights plan (file metadata only, no TensorFlow); exit 2 when it cannot load."""
    from modelspec.runtime.weights import plan_for, plan_table

    with _user_errors_exit():
        plan = plan_for(loaded, weights)
    _console().print(plan_table(plan))


@contextlib.contextmanager
def _user_errors_exit():
    """Turn an invalid spec (located diagnostics) or an unusable weights file into its message and exit 2."""
    from modelspec.runtime.weights import WeightsError

    try:
        yield
    except SpecError as exc:
        _fail(exc.diagnostics)
        sys.exit(EXIT_INVALID)
    except WeightsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)


def _lint_config(pyproject=None, select=None, ignore=()):
    """The lint configuration from pyproject.toml and the options; a bad one is a usage error (exit 2)."""
    from modelspec.linter.config import ConfigError, load_config

    try:
        return load_config(pyproject, select=select, ignore=ignore)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)


def _lint_gate(loaded: ModelSpec, strict: bool, ignore=()) -> None:
    """Lint a spec before building it: print the findings, stop on errors (and on warnings with ``strict``)."""
    from modelspec.linter.runner import LintResult, run

    result = LintResult(run(loaded, _lint_config(ignore=ignore)), files=1)
    _fail(result.diagnostics)
    code = result.exit_code(strict)
    if code != EXIT_OK:
        what = "an invalid lint setting" if code == EXIT_INVALID else \
            "lint errors" + (" or warnings (--strict)" if strict else "")
        click.echo(f"error: build stopped by {what} in {loaded.path}", err=True)
        sys.exit(code)


def _codes(value):
    return None if value is None else [word.strip() for word in value.split(",") if word.strip()]


@cli.command("lint", epilog=EXIT_CODES + " With --strict, warnings fail too.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(list(REPORTERS)),
              help="Output format [default: github when GITHUB_ACTIONS=true, else text].")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option("--select", metavar="CODES",
              help="Comma-separated rule codes, names or prefixes to run (ALL for every rule), replacing the "
                   "configured selection.")
@click.option("--ignore", metavar="CODES", help="Comma-separated rule codes, names or prefixes to skip.")
@click.option("--config", "pyproject", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The pyproject.toml to read [tool.modelspec.lint] from [default: the nearest one above the "
                   "current folder].")
@click.option("--specs-only", is_flag=True,
              help="Skip YAML files without a top-level `modelspec:` key (for pre-commit, which passes every "
                   "YAML file).")
def lint_command(paths, output_format, strict, select, ignore, pyproject, specs_only) -> None:
    """Lint the specs in PATHS (files, or folders: every *.yaml / *.yml below them). Never imports TensorFlow."""
    from modelspec.linter.runner import expand, lint_paths
    from modelspec.report.text import use_color

    config = _lint_config(pyproject, _codes(select), _codes(ignore) or ())
    for path in paths:
        if path.is_dir() and next(expand([path]), None) is None:
            click.echo(f"error: no .yaml or .yml files under {path}", err=True)
            sys.exit(EXIT_INVALID)
    result = lint_paths(paths, config, specs_only=specs_only)
    output_format = output_format or default_format(os.environ)
    stream = sys.stdout
    REPORTERS[output_format](result, stream, color=output_format == "text" and use_color(stream))
    sys.exit(result.exit_code(strict))


@cli.command("rules", epilog=EXIT_CODES + " An unknown rule is a usage error.")
@click.argument("code", required=False)
def rules_command(code) -> None:
    """List the lint rules, or explain one (by code, MS102, or name, he-on-saturating)."""
    from modelspec.linter import registry
    from modelspec.linter.docs import explain, rule_list

    if code is None:
        click.echo(rule_list())
        return
    try:
        rule = registry.get(code)
    except registry.UnknownRule as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(explain(rule))


@cli.command(epilog=EXIT_CODES)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the schema to this file instead of standard output.")
def schema(output) -> None:
    """Print the JSON Schema of the spec format, for editors (yaml-language-server)."""
    from modelspec.schema import Spec

    text = json.dumps(json_schema(Spec), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    temporary = f"{output}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, output)
    click.echo(f"Wrote {output}", err=True)


def json_schema(model) -> dict:
    """Return the spec's JSON Schema with a title and a stable id."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "modelspec spec, format version 1"
    return schema


def main() -> None:
    """Entry point of the `modelspec` console script."""
    cli(prog_name="modelspec")

