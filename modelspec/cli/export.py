"""`modelspec export`: write a trained model (or a spec) as a SavedModel, an ONNX or a LiteRT file, verified in the
format's own runtime against Keras."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import (
    epilog,
    max_params_option,
    print_diagnostics,
    print_prepared,
    print_wrote,
    seed_option,
    shown,
)
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK
from modelspec.export_formats import DEFAULT_OPSET, FORMATS, OPSETS, QUANTIZE
from modelspec.exporting import run_export
from modelspec.requests import ExportRequest, Options
from modelspec.resolve import resolve_export
from modelspec.runtime.export import allowed

NOTE = (
    "1 also when the export disagrees with Keras beyond the tolerance (then nothing is written). "
    "The formats need the `export` extra: pip install 'modelspec[export]'. docs/export.md"
)


@click.command("export", epilog=epilog(EXIT_OK, EXIT_LINT, EXIT_INVALID, note=NOTE))
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "export_format",
    required=True,
    type=click.Choice(list(FORMATS)),
    help="saved_model (a folder, for TensorFlow Serving), onnx (onnxruntime) or litert (a .tflite file for phones "
    "and microcontrollers).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Where to write it [default: beside MODEL, with the format's suffix: .saved_model (a folder), .onnx, "
    ".tflite].",
)
@click.option("--weights", type=click.Path(dir_okay=False), help="With a SPEC: the weights to export.")
@click.option(
    "--opset",
    type=click.IntRange(OPSETS.start, OPSETS.stop - 1),
    help=f"The ONNX opset (onnx only) [default: {DEFAULT_OPSET}].",
)
@click.option(
    "--quantize",
    type=click.Choice(list(QUANTIZE)),
    help="LiteRT only: dynamic (int8 weights, about 1/4 of the size) or float16 (half the size); verified to the "
    "looser tolerances of docs/export.md.",
)
@click.option(
    "--format-check",
    is_flag=True,
    help="Only check that the format can take the model (lint with its MS5xx rules), without TensorFlow.",
)
@seed_option("The seed of the verification batch (and of the initial weights of a SPEC without weights).")
@max_params_option
@click.option("--strict", is_flag=True, help="Stop on lint warnings too, not only on lint errors.")
def export_command(
    model, export_format, output, weights, opset, quantize, format_check, seed, max_params, strict
) -> None:
    """Export MODEL (a .keras file written by `modelspec train` or `build`) or a SPEC to a SavedModel, an ONNX or a
    LiteRT file. The lint gate, with the format's readiness rules (MS5xx), runs first, before TensorFlow starts; a
    SPEC is then built with every check of `modelspec build`. The export is loaded by its own runtime (TensorFlow,
    onnxruntime, the LiteRT interpreter), run on a seeded batch and compared with Keras: the largest difference is
    printed, and one beyond the tolerance (1e-5 for float32) fails with exit code 1."""
    options = Options(weights=weights, seed=seed, max_params=max_params, strict=strict)
    request = ExportRequest(Path(model), export_format, output, options, opset, quantize, format_check)
    resolved = resolve_export(request)
    if str(model).endswith(".keras"):  # its own weights, all of them: no plan worth a table
        print_diagnostics(resolved.prepared.findings)
    else:
        print_prepared(resolved.prepared)
    if format_check:
        rules = f"the readiness rules of `lint --export {export_format}` pass"
        click.echo(f"{shown(model)}: ready for {export_format} ({rules})")
        return
    if not resolved.weighted:
        held = f"the export holds its initial weights (seed {resolved.seed})"
        click.echo(f"note: {shown(model)} has no weights to load: {held}")
    exported = run_export(resolved)
    verified = exported.verified
    click.echo(
        f"Verified in {resolved.format.runtime}: max |difference| from Keras {verified.difference:.2g} on a seeded "
        f"batch of {verified.batch} ({allowed(exported.tolerance, verified.scale)}; {verified.verify_seconds:.1f} s)"
    )
    print_wrote(exported.path, after=f" ({verified.export_seconds:.1f} s)")
