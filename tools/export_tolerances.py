"""Measure what docs/export.md's per-model table says: every spec of specs/ exported to each format (and LiteRT's
quantised variants) with `modelspec.export`, its largest difference from Keras on the seeded batch, and the largest
Keras output (the tolerance's scale). Prints a Markdown table; a refusal prints the rule that refused it.

    .venv/bin/python tools/export_tolerances.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import modelspec
from modelspec.errors import LintFailure

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [("saved_model", None), ("onnx", None), ("litert", None), ("litert", "dynamic"), ("litert", "float16")]
SUFFIX = {"saved_model": ".saved_model", "onnx": ".onnx", "litert": ".tflite"}


def cell(spec: Path, export_format: str, quantize, folder: Path) -> str:
    try:
        exported = modelspec.export(spec, export_format, folder / f"m{SUFFIX[export_format]}", quantize=quantize)
    except LintFailure as failure:
        codes = sorted({d.code for d in failure.diagnostics if d.level.value == "error"})
        return f"refused ({', '.join(codes)})"
    verified = exported.verified
    scale = f" (scale {verified.scale:.2g})" if verified.scale > 1 else ""
    return f"{verified.difference:.2g}{scale}"


def main() -> None:
    header = ["spec", *(f"{name}{' ' + mode if mode else ''}" for name, mode in COLUMNS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for spec in sorted((ROOT / "specs").glob("*.yaml")):
        with tempfile.TemporaryDirectory() as folder:
            cells = [cell(spec, name, mode, Path(folder)) for name, mode in COLUMNS]
        print(f"| {spec.stem} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
