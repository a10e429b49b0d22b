"""The text format: ``path:line:col: level[CODE] layer: message`` and an indented hint; colour on a terminal."""

from __future__ import annotations

import os
from typing import TextIO

import click

from modelspec.diagnostics import Diagnostic, Level

_COLORS = {Level.ERROR: "red", Level.WARNING: "yellow", Level.INFO: "cyan"}


def use_color(stream: TextIO, environ=os.environ) -> bool:
    """Colour when writing to a terminal, unless NO_COLOR is set to anything non-empty (no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def line(diagnostic: Diagnostic, color: bool = False) -> str:
    """Render one diagnostic (and its hint line), coloured or plain."""
    if not color:
        return diagnostic.format()
    d = diagnostic
    one = d.printable_fields()  # a file's name may hold a newline or an escape sequence: never printed raw
    where = d.where(one["layer"])
    text = (
        click.style(f"{one['path']}:{d.line}:{d.column}:", bold=True)
        + " "
        + click.style(f"{d.level}[{d.code}]", fg=_COLORS[d.level], bold=True)
        + f"{where} {one['message']}"
    )
    if d.hint:
        text += "\n  " + click.style("hint:", fg="green") + f" {one['hint']}"
    return text


def summary(result) -> str:
    """One closing line: what was found in how many files."""
    files = f"{result.files} file" + ("" if result.files == 1 else "s")
    if not result.diagnostics:
        return f"All checks passed ({files})."
    counts = {level: result.count(level) for level in Level}
    parts = [
        f"{counts[Level.ERROR]} error" + ("" if counts[Level.ERROR] == 1 else "s"),
        f"{counts[Level.WARNING]} warning" + ("" if counts[Level.WARNING] == 1 else "s"),
        f"{counts[Level.INFO]} info",
    ]
    total = len(result.diagnostics)
    return f"Found {total} problem{'' if total == 1 else 's'} in {files}: {', '.join(parts)}."


def render(result, stream: TextIO, *, color: bool = False) -> None:
    """Write every diagnostic, then the summary line."""
    for diagnostic in result.diagnostics:
        stream.write(line(diagnostic, color) + "\n")
    stream.write(summary(result) + "\n")
