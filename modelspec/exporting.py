"""`modelspec export` as a library function: a trained model (or a spec) written as a SavedModel, an ONNX file or a
LiteRT file, and verified in that format's own runtime.

``export`` resolves its request (modelspec/resolve.py ``resolve_export``: the spec, from the .keras file modelspec
wrote or given, through the build pipeline's checks and the format's readiness rules MS5xx, the output path, the
seed; all before TensorFlow starts), then ``run_export`` executes the resolved record: it checks that the format's
runtime imports, builds the model with its weights, writes the export beside the output, runs it in its runtime on
the seeded batch, compares with Keras, and puts it in place (modelspec/runtime/export.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional, Union

from modelspec.export_formats import Format
from modelspec.pipeline import SpecSource, build
from modelspec.requests import ExportRequest, Options, PathLike
from modelspec.resolve import ResolvedExport, resolve_export
from modelspec.runtime.export import Verified, export_verified, require


class Exported(NamedTuple):
    """What ``export`` returns: where the export was written, in which format, and what its verification found
    (the largest difference from Keras per output, the tolerance, the time writing and verifying took)."""

    path: Optional[Path]  # None for a format check
    format: Format
    verified: Optional[Verified]
    tolerance: float


def export(
    model: Union[PathLike, SpecSource],
    format: str,
    output: Optional[PathLike] = None,
    options: Optional[Options] = None,
    opset: Optional[int] = None,
    quantize: Optional[str] = None,
    format_check: bool = False,
) -> Exported:
    """Export a trained model (a .keras file modelspec wrote) or a spec to ``format`` (saved_model, onnx or
    litert), verified in the format's runtime against Keras.

    Args:
        model: a .keras file modelspec wrote (its embedded spec and weights), or a spec (a path, YAML text, dict or
            loaded spec) with ``options.weights``, its `pretrained:` weights, or none (the initial weights).
        output: the file (a folder for saved_model) to write [default: beside the input, with the format's suffix:
            .saved_model, .onnx, .tflite].
        options: of ``Options``, ``weights``, ``seed``, ``max_params``, ``strict`` and ``config`` apply.
        opset: the ONNX opset (13 to 18; default 15). quantize: `dynamic` or `float16` (LiteRT only).
        format_check: stop after the readiness checks (lint with the format's MS5xx rules), before TensorFlow.

    Raises:
        LintFailure: the lint gate, readiness rules included, stopped the export (before TensorFlow starts).
        SpecError, WeightsError, SettingsError: as for a build, or an option that does not fit the format.
        ExportError: the format's runtime is not installed (the `export` extra), or the converter refused the model.
        ExportMismatch: the export disagrees with Keras beyond the tolerance (nothing is written).
    """
    request = ExportRequest(model, format, output, options or Options(), opset, quantize, format_check)
    resolved = resolve_export(request)
    if format_check:
        return Exported(None, resolved.format, None, resolved.tolerance)
    return run_export(resolved)


def run_export(resolved: ResolvedExport) -> Exported:
    """Execute a resolved export: the format's runtime imported first, then the build (with the resolved seed and
    weights plan), the export, its verification, and the rename into place. Imports TensorFlow."""
    require(resolved.format)
    keras_model = build(resolved.prepared, seed=resolved.seed)
    verified = export_verified(keras_model, resolved)
    return Exported(resolved.output, resolved.format, verified, resolved.tolerance)
