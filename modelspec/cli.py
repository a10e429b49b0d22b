"""The `modelspec` command line. Each command parses its options and calls one library function.

Exit codes: 0 clean; 1 lint failures; 2 invalid spec, unreadable file or usage error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from modelspec import __version__
from modelspec.diagnostics import SpecError
from modelspec.loader import ModelSpec, load_spec

EXIT_OK, EXIT_LINT, EXIT_INVALID = 0, 1, 2
DEFAULT_MAX_PARAMS = 2_000_000_000
EXIT_CODES = "Exit codes: 0 clean; 1 lint failures; 2 invalid spec, unreadable file or usage error."
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
def build(spec, output, seed, max_params) -> None:
    """Compile SPEC into a Keras model, write it as a .keras file and print a summary."""
    try:
        loaded = load_spec(Path(spec))
    except SpecError as exc:
        _fail(exc.diagnostics)
        sys.exit(EXIT_INVALID)
    analysis = loaded.analysis
    if analysis.total_params > max_params:
        click.echo(f"{loaded.path}:1:1: error[MS001] the model has {analysis.total_params:,} parameters, more than "
                   f"--max-params {max_params:,}")
        sys.exit(EXIT_INVALID)
    output = Path(output or f"{loaded.name}.keras")
    if output.suffix != ".keras":
        raise click.BadParameter("the output file name must end in .keras", param_hint="'-o' / '--output'")
    if not output.parent.resolve().is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist", param_hint="'-o' / '--output'")

    from modelspec.build.keras import build_model, save_atomic

    try:
        model = build_model(loaded, seed=seed)
        save_atomic(model, output)
    except SpecError as exc:
        _fail(exc.diagnostics)
        sys.exit(EXIT_INVALID)
    except NotImplementedError as exc:
        click.echo(f"{loaded.path}:1:1: error[MS001] {exc}")
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises its own errors (out of memory...): no traceback
        detail = str(exc) or type(exc).__name__
        click.echo(f"error: Keras could not build or save {loaded.path}: {detail}", err=True)
        sys.exit(EXIT_INVALID)

    from modelspec.summary import print_summary

    print_summary(analysis, _console())
    click.echo(f"Wrote {output}")


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

