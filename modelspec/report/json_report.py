"""The JSON format of DESIGN.md: ``{"version": 1, "files", "diagnostics", "summary"}``."""

from __future__ import annotations

import json
import math
from typing import TextIO

from modelspec.diagnostics import Level

VERSION = 1


def document(result) -> dict:
    """Return the JSON document as a dict."""
    return {
        "version": VERSION,
        "files": result.files,
        "diagnostics": [d.to_dict() for d in result.diagnostics],
        "summary": {level.value: result.count(level) for level in Level},
    }


def render(result, stream: TextIO, *, color: bool = False) -> None:
    """Write the document, indented, with a final newline."""
    json.dump(document(result), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def json_text(document: dict) -> str:
    """A results document (probe's, compare's) as JSON text: indented, NaN and infinities as strings (``finite``),
    with a final newline."""
    return json.dumps(finite(document), indent=2, allow_nan=False) + "\n"


def finite(value):
    """``value`` with every NaN or infinity replaced by the strings "nan", "inf" or "-inf": valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
