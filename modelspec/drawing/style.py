"""The looks the SVG and the PNG share: colours, fonts, the text of each box, the signal bar's scale."""

from __future__ import annotations

import math
import textwrap
from typing import Optional

from modelspec.diagnostics import Diagnostic, Level
from modelspec.drawing.layout import BOX_W
from modelspec.drawing.picture import Box, Picture

LEVEL_COLOURS = {Level.ERROR: "#c62828", Level.WARNING: "#e07b00", Level.INFO: "#1565c0"}
PLAIN_STROKE = "#8a8f98"
FILLS = {"input": "#e8eefb", "output": "#e6f4e6", "layer": "#ffffff"}
FRAME_STROKE, FRAME_FILL, FRAME_TEXT = "#9aa3b5", "#f4f6fa", "#4a5468"
EDGE_COLOUR = "#5f6673"
BAR_TRACK, BAR_FILL, BAR_OUT = "#e3e6ea", "#3a9d8f", "#c62828"
TEXT, MUTED = "#1d2330", "#4e5666"
FONT = "DejaVu Sans Mono"  # ships with matplotlib; the SVG falls back to the browser's monospace
FONT_SIZE, NAME_SIZE = 11, 12
CHAR_W = 0.6  # a monospace character's width, per point of font size
SCALE_DECADES = 3  # the bar spans 10**-3 to 10**3, log scale, the tick at 1
SCALE_OK = (0.1, 10.0)  # outside this band the bar is drawn in the error colour

TIP_WIDTH = 80  # characters on a line of a tooltip
INNER = BOX_W - 16  # the text's width inside a box


def fit(text: str, size: float = FONT_SIZE, width: float = INNER) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels in the monospace font of ``size``."""
    most = int(width / (size * CHAR_W))
    return text if len(text) <= most else text[: most - 1] + "…"


def fill(box: Box) -> str:
    return FILLS["input" if box.type == "input" else "output" if box.output else "layer"]


def stroke(level: Optional[Level]) -> str:
    return PLAIN_STROKE if level is None else LEVEL_COLOURS[level]


def bar_fraction(scale: float) -> float:
    """Where ``scale`` falls on the bar, 0 to 1 (log scale, 1 in the middle)."""
    if scale <= 0:
        return 0.0
    return min(max((math.log10(scale) + SCALE_DECADES) / (2 * SCALE_DECADES), 0.0), 1.0)


def bar_colour(scale: float) -> str:
    return BAR_FILL if SCALE_OK[0] <= scale <= SCALE_OK[1] else BAR_OUT


def finding_text(finding: Diagnostic) -> str:
    return f"{finding.level}[{finding.code}] {finding.message}"


def badge(box: Box) -> str:
    """The code of the box's worst finding, and how many more it has: ``MS103 +1``."""
    if not box.findings:
        return ""
    worst = next(d for d in box.findings if d.level is box.level)
    more = len(box.findings) - 1
    return worst.code + (f" +{more}" if more else "")


def tooltip(box: Box) -> list[str]:
    """The lines shown on hover: the box's facts, its predicted scale, then its findings."""
    lines = [f"{box.name} ({box.type})", f"output {box.shape}", box.details]
    if box.scale is not None:
        lines.append(f"predicted output scale (RMS) at initialisation: {box.scale:.3g}")
    for finding in box.findings:
        lines += textwrap.wrap(finding_text(finding), TIP_WIDTH, subsequent_indent="  ")
    return lines


def heading(picture: Picture) -> list[tuple[str, Optional[Level]]]:
    """The lines above the graph, each with the level whose colour it takes (None: the text's): the model, the
    `--set` it was drawn with, what the marks mean, the findings that name no layer."""
    layers = sum(1 for box in picture.boxes.values() if box.type != "input")
    params = sum(box.params or 0 for box in picture.boxes.values())
    lines: list[tuple[str, Optional[Level]]] = [(f"{picture.name}: {layers} layers, {params:,} parameters", None)]
    if picture.changes:
        lines.append(("drawn with --set " + ", ".join(picture.changes), None))
    lines.append(("border and badge: the worst lint finding (red error, orange warning, blue info)", None))
    lines.append(
        ("bar: predicted output scale (RMS) at initialisation, log 1e-3..1e3, tick at 1, red outside 0.1..10", None)
    )
    lines += [(finding_text(finding), finding.level) for finding in picture.model_findings]
    return lines


def group_label(name: str, size: int, folded: bool) -> str:
    return f"{'▸' if folded else '▾'} {name} ({size} layers)"
