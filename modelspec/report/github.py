"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per diagnostic."""

from __future__ import annotations

from typing import TextIO

from modelspec.diagnostics import Level
from modelspec.errors import printable
from modelspec.report.text import summary

_COMMANDS = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "notice"}


def _data(value: str) -> str:
    """Workflow-command data: ``%``, CR and LF percent-encoded (the runner decodes them), every other control
    character (ESC, a bidi override) written as an escape, so the log shows no raw escape sequence."""
    return printable(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(diagnostic) -> str:
    """Render one diagnostic as a workflow command."""
    d = diagnostic
    uses = "".join(f" ({use.format()})" for use in d.uses)
    message = (f"{d.layer}{uses}: " if uses else "") + d.message + (f"\nhint: {d.hint}" if d.hint else "")
    properties = ",".join(  # _data encodes a newline in a file's name as %0A: the record stays on its line
        (f"file={_property(d.path)}", f"line={d.line}", f"col={d.column}", f"title={_property(f'{d.code} {d.name}')}")
    )
    return f"::{_COMMANDS[d.level]} {properties}::{_data(message)}"


def render(result, stream: TextIO, *, color: bool = False) -> None:
    """Write the annotations, then the text summary line."""
    for diagnostic in result.diagnostics:
        stream.write(annotation(diagnostic) + "\n")
    stream.write(summary(result) + "\n")
