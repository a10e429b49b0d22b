"""The formats `modelspec export` writes, in one table: each format's file suffix, the runtime that verifies it, the
modules it needs (from the `export` extra), and the tolerances the verification holds it to. Pure Python.

The tolerances bound the largest difference between the export's outputs and Keras's on the seeded verification
batch, relative to the outputs' scale: max |export - Keras| <= tolerance × max(1, max |Keras output|), which for
outputs within [-1, 1] (probabilities) is the absolute difference. float32 exports agree with Keras to a few 1e-7
(docs/export.md has the figures per model), so 1e-5 leaves room for deeper models without hiding a wrong
conversion. The quantised LiteRT variants round the weights (to int8 for `dynamic`, to float16 for `float16`);
their bounds are about five times the worst relative difference measured on the specs of specs/ (docs/export.md:
1.0e-2 and 1.1e-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from modelspec.schema.spec import EXPORT_FORMATS

FLOAT32_TOLERANCE = 1e-5
QUANTIZE = {"dynamic": 5e-2, "float16": 5e-3}  # --quantize MODE -> tolerance (LiteRT only)
OPSETS = range(13, 19)  # the ONNX opsets tf2onnx 1.17 writes (18 at most) that Keras's ops convert at
DEFAULT_OPSET = 15  # tf2onnx's preferred opset, what Keras's ONNX export uses
EXTRA = "pip install 'modelspec[export]'"
VERIFY_BATCH = 4  # examples in the seeded verification batch


@dataclass(frozen=True)
class Format:
    """One export format."""

    name: str
    suffix: str  # of the file written (a SavedModel is a folder: the suffix of its default name)
    runtime: str  # what loads it to verify it
    modules: tuple[str, ...]  # what it imports beyond TensorFlow (the `export` extra)
    keras_format: str  # the `format=` of Keras's `model.export`


FORMATS = {
    format.name: format
    for format in (
        Format("saved_model", ".saved_model", "TensorFlow", (), "tf_saved_model"),
        Format("onnx", ".onnx", "onnxruntime", ("onnx", "onnxruntime", "tf2onnx"), "onnx"),
        Format("litert", ".tflite", "the LiteRT interpreter of ai-edge-litert", ("ai_edge_litert",), "litert"),
    )
}
assert tuple(FORMATS) == EXPORT_FORMATS  # the schema's `lint.export` names the same formats


def tolerance(quantize: Optional[str]) -> float:
    """The largest difference from Keras an export may have, relative to the outputs' scale: float32, or a quantised
    variant's bound."""
    return FLOAT32_TOLERANCE if quantize is None else QUANTIZE[quantize]
