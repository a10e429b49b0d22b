"""`modelspec graph`: a picture of a spec's architecture, from the pure analysis (no TensorFlow, no Graphviz).

One box per input and layer (type, name, output shape, parameters, activation, the initializer `auto` chose), the
edges of the graph, lint findings on their layers (the border's colour, a badge, the message on hover), the
predicted signal scale as a bar, and groups of layers (groups.py) that fold into one box. The layout is grandalf's
layered (Sugiyama) layout (layout.py); svg.py, html.py and png.py draw it. docs/graph.md says what the marks mean.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional, Union

from modelspec import atomic
from modelspec.drawing.groups import Group, derive_groups, group_name
from modelspec.drawing.html import render_html
from modelspec.drawing.layout import compute_layout, grandalf_modules
from modelspec.drawing.picture import Picture, make_picture
from modelspec.drawing.png import matplotlib_modules, write_png
from modelspec.drawing.svg import render_svg
from modelspec.linter.config import LintConfig
from modelspec.linter.runner import DEFAULT_CONFIG, run
from modelspec.loader import ModelSpec, load_spec
from modelspec.variants import Vary, overridden, parse_sets, setting_text

FORMATS = (".svg", ".html", ".png")
FOLD_ABOVE = 200  # a model with more layers than this is drawn with its groups folded unless told otherwise

__all__ = ["FOLD_ABOVE", "FORMATS", "Group", "Picture", "derive_groups", "graph", "group_name", "make_picture"]


def graph(
    spec: Union[str, os.PathLike, dict, ModelSpec],
    output: Union[str, os.PathLike, None] = None,
    *,
    groups: Optional[Sequence[Group]] = None,
    fold: Optional[bool] = None,
    config: Optional[LintConfig] = None,
    overrides: Sequence[Union[str, Vary]] = (),
) -> str:
    """Draw the architecture of ``spec`` and return the SVG text; write it to ``output`` (atomically) when given,
    as SVG, HTML or PNG by the file's suffix.

    Args:
        groups: the groups of layers to frame and fold (default: ``derive_groups``, docs/graph.md).
        fold: draw every group folded (SVG and HTML: initially); default: when the model has more than
            ``FOLD_ABOVE`` layers.
        config: the lint configuration whose findings are drawn (default: lint's defaults).
        overrides: ``"PATH=VALUE"`` strings (or ``variants.parse_set`` records), set in the spec before it is
            drawn, in order, as ``--set`` does (``"layers.hidden.units=64"``, ``"kernel_initializer=zeros"``).

    Raises:
        SpecError: the spec is invalid. SettingsError: ``output`` cannot be written, the layout library
        (the [graph] extra) is missing, or an override is malformed, names nothing or makes the spec invalid.
    """
    path = atomic.writable(output, "output", FORMATS)
    grandalf_modules()  # a missing extra is said before any work, like a bad output
    suffix = None if path is None else path.suffix.lower()
    if suffix == ".png":
        matplotlib_modules()
    sets = parse_sets(overrides)  # a malformed --set is said before the spec is read
    model = overridden(load_spec(spec), sets)
    picture = make_picture(model, run(model, config or DEFAULT_CONFIG), groups)
    picture.changes = [setting_text(item) for item in sets]
    layout = compute_layout(picture)
    if fold is None:
        fold = len(model.analysis.layers) > FOLD_ABOVE
    folded = [group.name for group in picture.groups] if fold else []
    svg = render_svg(picture, layout, folded)
    if path is None:
        return svg
    if suffix == ".png":
        with atomic.replacing(path, ".png") as temporary:
            write_png(picture, layout, folded, temporary)
    else:
        atomic.write_text(path, render_html(svg, picture.name) if suffix == ".html" else svg)
    return svg
