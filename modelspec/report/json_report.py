"""The JSON format of DESIGN.md: ``{"version": 1, "files", "diagnostics", "summary"}``."""

from __future__ import annotations

import json
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
