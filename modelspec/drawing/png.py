"""The picture as PNG, drawn by matplotlib (headless, the Agg canvas) from the same placement as the SVG."""

from __future__ import annotations

import os
from collections.abc import Collection

from modelspec.drawing import style
from modelspec.drawing.layout import BOX_H, BOX_W, GRAPH_EXTRA, MARGIN, Layout, place
from modelspec.drawing.picture import Box, Picture
from modelspec.drawing.svg import LINE, folded_box, heading_height
from modelspec.errors import SettingsError

MAX_SIDE = 60_000  # Agg's limit on a side is 2**16; above this the picture is drawn at a smaller scale
SHARP = 2.0  # pixels per layout unit when the picture is small enough (a PNG of at most SHARP_AREA pixels)
SHARP_AREA = 8_000_000


def matplotlib_modules():
    """pyplot, patches and Path, on the headless Agg canvas; SettingsError (exit 2, naming the extra) without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import patches, pyplot
        from matplotlib.path import Path
    except ImportError:
        raise SettingsError(f"a PNG picture needs matplotlib: {GRAPH_EXTRA}") from None
    return pyplot, patches, Path


def _draw_box(axes, patches, box: Box, x: float, y: float) -> None:
    # add_artist, not add_patch: the limits are set, and add_patch's update of the data limits took a seventh of
    # the time of an open ResNet50
    left = x - BOX_W / 2
    width = 2.5 if box.level is not None else 1
    axes.add_artist(
        patches.FancyBboxPatch(
            (left, y), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=5", facecolor=style.fill(box),
            edgecolor=style.stroke(box.level), linewidth=width * 0.75, zorder=3,
        )
    )  # fmt: skip
    text = {"family": style.FONT, "va": "baseline", "zorder": 4}
    size = style.FONT_SIZE * 0.75  # points at 72 dpi: one layout unit is one point
    axes.text(
        left + 8,
        y + 16,
        style.fit(box.name, style.NAME_SIZE),
        size=style.NAME_SIZE * 0.75,
        weight="bold",
        color=style.TEXT,
        **text,
    )
    axes.text(left + 8, y + 32, style.fit(f"{box.type}  {box.shape}"), size=size, color=style.TEXT, **text)
    axes.text(left + 8, y + 47, style.fit(box.details), size=size, color=style.MUTED, **text)
    code = style.badge(box)
    if code:
        badge_w = len(code) * style.FONT_SIZE * style.CHAR_W + 8
        axes.add_artist(
            patches.Rectangle((left + BOX_W - badge_w - 4, y + 4), badge_w, 15, color=style.stroke(box.level), zorder=4)
        )
        axes.text(left + BOX_W - badge_w, y + 15, code, size=size, color="#ffffff", weight="bold", **text)
    if box.scale is not None:
        track = BOX_W - 16
        axes.add_artist(patches.Rectangle((left + 8, y + 54), track, 5, color=style.BAR_TRACK, zorder=4))
        filled = track * style.bar_fraction(box.scale)
        axes.add_artist(patches.Rectangle((left + 8, y + 54), filled, 5, color=style.bar_colour(box.scale), zorder=4))
        axes.add_artist(patches.Rectangle((left + 8 + track / 2 - 0.5, y + 52), 1, 9, color=style.MUTED, zorder=5))


def _edge(Path, points):
    (x, y), *rest = points
    vertices, codes = [(x, y)], [Path.MOVETO]
    for nx, ny in rest:
        middle = (y + ny) / 2
        vertices += [(x, middle), (nx, middle), (nx, ny)]
        codes += [Path.CURVE4] * 3
        x, y = nx, ny
    return Path(vertices, codes)


def write_png(picture: Picture, layout: Layout, folded: Collection[str], path: os.PathLike | str) -> None:
    """Draw ``picture`` into the PNG file ``path`` (the caller makes the write atomic)."""
    pyplot, patches, Path = matplotlib_modules()
    top = heading_height(picture)
    placed = place(layout, picture, folded, top)
    width, height = max(layout.width, 900), placed.height
    scale = SHARP if width * height * SHARP**2 <= SHARP_AREA else 1.0
    scale = min(scale, MAX_SIDE / max(width, height))
    figure = pyplot.figure(figsize=(width / 72, height / 72), dpi=72)
    try:
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)
        axes.axis("off")
        for n, (line, level) in enumerate(style.heading(picture)):
            colour = style.TEXT if level is None else style.LEVEL_COLOURS[level]
            axes.text(MARGIN, MARGIN + 12 + n * LINE, line, family=style.FONT, size=(15 if n == 0 else 12) * 0.75,
                      weight="bold" if n == 0 else "normal", color=colour, va="baseline")  # fmt: skip
        sizes = {group.name: len(group.members) for group in picture.groups}
        for group, (x0, y0, x1, y1) in placed.frames.items():
            axes.add_artist(
                patches.FancyBboxPatch(
                    (x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=7", facecolor=style.FRAME_FILL,
                    edgecolor=style.FRAME_STROKE, linestyle=(0, (4, 3)), linewidth=0.75, zorder=1,
                )
            )  # fmt: skip
            label = style.group_label(group, sizes[group], False)
            axes.text(x0 + 8, y0 + 14, label, family=style.FONT, size=style.FONT_SIZE * 0.75, weight="bold",
                      color=style.FRAME_TEXT, va="baseline", zorder=2)  # fmt: skip
        for _, _, points in placed.edges:
            axes.add_artist(patches.PathPatch(_edge(Path, points), fill=False, edgecolor=style.EDGE_COLOUR,
                                             linewidth=0.9, zorder=2))  # fmt: skip
            (xa, ya) = points[-1]
            axes.add_artist(patches.Polygon([(xa - 3.5, ya - 7), (xa + 3.5, ya - 7), (xa, ya)], color=style.EDGE_COLOUR,
                                           zorder=2))  # fmt: skip
        for name, (x, y) in placed.boxes.items():
            _draw_box(axes, patches, picture.boxes[name], x, y)
        for group, (x, y) in placed.folded.items():
            _draw_box(axes, patches, folded_box(picture, group), x, y)
        # zlib level 3: an open ResNet50 (900 x 15,960) in 1.05 s, 1.37 MB; the default 6: 1.38 s, 1.15 MB
        figure.savefig(path, format="png", dpi=72 * scale, pil_kwargs={"compress_level": 3})
    finally:
        pyplot.close(figure)
