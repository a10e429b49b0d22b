"""The picture as SVG: static shapes for every viewer (a README, an image viewer), and a small script that folds a
group on a click and shows a box's findings on hover where scripts run (a browser opening the file, the HTML page).
The script places everything the way layout.place does, from the same numbers, embedded as JSON."""

from __future__ import annotations

import json
from collections.abc import Collection
from importlib import resources
from xml.sax.saxutils import escape, quoteattr

from modelspec.drawing import style
from modelspec.drawing.layout import BOX_H, BOX_W, FRAME_PAD, FRAME_TOP, MARGIN, ROW_GAP, Layout, frame_sides, place
from modelspec.drawing.picture import Box, Picture

LINE = 16  # the heading's line height


def heading_height(picture: Picture) -> float:
    return MARGIN + LINE * len(style.heading(picture)) + 8


def folded_box(picture: Picture, group: str) -> Box:
    """The box a folded group shows: its name and size, the last layer's shape and scale, every finding."""
    members = [picture.boxes[name] for g in picture.groups if g.name == group for name in g.members]
    last = members[-1]
    params = sum(box.params or 0 for box in members)
    findings = [finding for box in members for finding in box.findings]
    details = f"{params:,} params · click to unfold"
    return Box(style.group_label(group, len(members), True), "group", last.shape, details, params, last.scale, findings)


def _path(points: list[tuple[float, float]]) -> str:
    """A smooth path through ``points``: each step a cubic curve leaving and entering vertically."""
    (x, y), *rest = points
    parts = [f"M{x:.1f},{y:.1f}"]
    for nx, ny in rest:
        middle = (y + ny) / 2
        parts.append(f"C{x:.1f},{middle:.1f} {nx:.1f},{middle:.1f} {nx:.1f},{ny:.1f}")
        x, y = nx, ny
    return " ".join(parts)


def _box(box: Box, x: float, y: float, attributes: str) -> str:
    level = box.level
    stroke_width = 2.5 if level is not None else 1
    rows = [
        f'<g {attributes} transform="translate({x - BOX_W / 2:.1f},{y:.1f})">',
        f"<title>{escape(chr(10).join(style.tooltip(box)))}</title>",
        f'<rect width="{BOX_W}" height="{BOX_H}" rx="5" fill="{style.fill(box)}" stroke="{style.stroke(level)}" '
        f'stroke-width="{stroke_width}"/>',
        f'<text x="8" y="16" class="name">{escape(style.fit(box.name, style.NAME_SIZE))}</text>',
        f'<text x="8" y="32">{escape(style.fit(f"{box.type}  {box.shape}"))}</text>',
        f'<text x="8" y="47" class="muted">{escape(style.fit(box.details))}</text>',
    ]
    code = style.badge(box)
    if code:
        width = len(code) * style.FONT_SIZE * style.CHAR_W + 8
        rows.append(
            f'<rect x="{BOX_W - width - 4:.1f}" y="4" width="{width:.1f}" height="15" rx="3" '
            f'fill="{style.stroke(level)}"/><text x="{BOX_W - width:.1f}" y="15" class="badge">{escape(code)}</text>'
        )
    if box.scale is not None:
        track = BOX_W - 16
        filled = track * style.bar_fraction(box.scale)
        rows.append(
            f'<rect x="8" y="54" width="{track}" height="5" fill="{style.BAR_TRACK}"/>'
            f'<rect x="8" y="54" width="{filled:.1f}" height="5" fill="{style.bar_colour(box.scale)}"/>'
            f'<rect x="{8 + track / 2 - 0.5:.1f}" y="52" width="1" height="9" fill="{style.MUTED}"/>'
        )
    rows.append("</g>")
    return "".join(rows)


def _script_data(picture: Picture, layout: Layout, top: float) -> str:
    data = {
        "ranks": layout.ranks,
        "top": top,
        "box": [BOX_W, BOX_H, ROW_GAP, FRAME_PAD, FRAME_TOP, MARGIN],
        "rank": layout.rank,
        "x": layout.x,
        "group": {name: box.group for name, box in picture.boxes.items() if box.group},
        "groups": {group.name: list(group.members) for group in picture.groups},
        "sides": frame_sides(layout, picture),
        "edges": [[s, t, layout.routes[(s, t)]] for s, t in picture.edges],
    }
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/").replace("]]>", "]]\\u003e")


CSS = f"""
text {{ font-family: '{style.FONT}', Menlo, Consolas, monospace; font-size: {style.FONT_SIZE}px; fill: {style.TEXT}; }}
text.name {{ font-size: {style.NAME_SIZE}px; font-weight: bold; }}
text.muted {{ fill: {style.MUTED}; }}
text.badge {{ fill: #ffffff; font-weight: bold; }}
text.head {{ font-size: 12px; }}
text.title {{ font-size: 15px; font-weight: bold; }}
.edge {{ fill: none; stroke: {style.EDGE_COLOUR}; stroke-width: 1.2; }}
.frame rect {{ fill: {style.FRAME_FILL}; stroke: {style.FRAME_STROKE}; stroke-dasharray: 4 3; }}
.frame text, .fold {{ cursor: pointer; }}
.frame text {{ fill: {style.FRAME_TEXT}; font-weight: bold; }}
#tip rect {{ fill: #fffbe6; stroke: #8a7a3a; }}
"""


def render_svg(picture: Picture, layout: Layout, folded: Collection[str] = (), script: bool = True) -> str:
    """The SVG text of ``picture`` with the groups in ``folded`` folded; with ``script``, clicks fold and unfold
    the groups and hovering a box shows its tooltip."""
    top = heading_height(picture)
    placed = place(layout, picture, folded, top)
    width, height = max(layout.width, 900), placed.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" id="modelspec-graph">',
        f"<style>{CSS}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{style.EDGE_COLOUR}"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    for n, (line, level) in enumerate(style.heading(picture)):
        css = "title" if n == 0 else "head"
        colour = "" if level is None else f' style="fill:{style.LEVEL_COLOURS[level]}"'
        out.append(f'<text x="{MARGIN}" y="{MARGIN + 12 + n * LINE}" class="{css}"{colour}>{escape(line)}</text>')
    out.append('<g id="frames">')
    for group in picture.groups:
        hidden = ' style="display:none"' if group.name in folded else ""
        x0, y0, x1, y1 = placed.frames.get(group.name, (0, 0, 0, 0))
        label = style.group_label(group.name, len(group.members), False)
        out.append(
            f'<g class="frame" data-group={quoteattr(group.name)}{hidden}>'
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="7"/>'
            f'<text x="{x0 + 8:.1f}" y="{y0 + 14:.1f}" class="fold">{escape(label)}<title>click to fold</title></text>'
            "</g>"
        )
    out.append('</g><g id="edges">')
    for source, target, points in placed.edges:
        out.append(
            f'<path class="edge" data-s={quoteattr(source)} data-t={quoteattr(target)} d="{_path(points)}" '
            'marker-end="url(#arrow)"/>'
        )
    out.append('</g><g id="boxes">')
    for name, (x, y) in placed.boxes.items():
        out.append(_box(picture.boxes[name], x, y, f'class="box" data-name={quoteattr(name)}'))
    for group in picture.groups:
        if group.name in folded:
            x, y = placed.folded[group.name]
            out.append(_box(folded_box(picture, group.name), x, y, f'class="fold" data-fold={quoteattr(group.name)}'))
        elif script:  # the folded look, hidden, for the script to show
            x, y = 0, 0
            attributes = f'class="fold" data-fold={quoteattr(group.name)} style="display:none"'
            out.append(_box(folded_box(picture, group.name), x, y, attributes))
    out.append("</g>")
    if script:
        out.append(
            '<g id="tip" style="display:none;pointer-events:none"><rect rx="4"/><text></text></g>'
            f"<script><![CDATA[\nconst MODELSPEC_GRAPH = {_script_data(picture, layout, top)};\n{SCRIPT}\n]]></script>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


SCRIPT = resources.files("modelspec.drawing").joinpath("graph.js").read_text(encoding="utf-8")
