"""Where everything goes: a layered (Sugiyama) layout of the layer graph by grandalf, then rows of fixed height.

grandalf ranks the graph (longest path, then long edges pulled down), orders each rank to reduce crossings and
places the boxes and the dummy points of long edges; this module keeps its ranks and x positions, and turns ranks
into rows. Folding a group hides its layers and draws one box in the row of its first rank; a row that then holds
nothing but hidden layers of that group takes no height. ``place`` does this in Python for the static pictures;
the SVG's script (svg.py) does the same in the browser on a click, from the same numbers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import import_module

from modelspec.drawing.picture import Picture
from modelspec.errors import SettingsError

BOX_W, BOX_H = 310, 64  # every box has one size: the layout is rows and columns of boxes
ROW_GAP = 30  # between two rows: room for the edges and a group's label
COLUMN_GAP = 24
MARGIN = 16
FRAME_PAD, FRAME_TOP = 10, 20  # a group's frame around its boxes; its label sits in the top band
GRAPH_EXTRA = 'pip install "modelspec[graph]"'


@dataclass
class Layout:
    """Ranks and x positions (box centres) of every box, and each edge's dummy points (x, rank) between its ends."""

    rank: dict[str, int]
    x: dict[str, float]
    routes: dict[tuple[str, str], list[tuple[float, int]]]
    ranks: int
    width: float


def grandalf_modules():
    """grandalf's graph and layout modules; SettingsError (exit 2, naming the extra) when it is not installed."""
    try:
        return import_module("grandalf.graphs"), import_module("grandalf.layouts")
    except ImportError:
        raise SettingsError(f"modelspec graph needs the layout library grandalf: {GRAPH_EXTRA}") from None


class _View:
    """The size grandalf gives a box (its `view`); grandalf writes the position into ``xy``."""

    def __init__(self, w: float = BOX_W, h: float = BOX_H):
        self.w, self.h, self.xy = w, h, (0.0, 0.0)


def compute_layout(picture: Picture) -> Layout:
    """Lay out ``picture``'s boxes: each connected part of the graph by grandalf, the parts side by side."""
    graphs, layouts = grandalf_modules()
    vertices = {name: graphs.Vertex(name) for name in picture.boxes}
    for vertex in vertices.values():
        vertex.view = _View()
    edges = {pair: graphs.Edge(vertices[pair[0]], vertices[pair[1]]) for pair in picture.edges}
    graph = graphs.Graph(list(vertices.values()), list(edges.values()))
    rank, x, routes = {}, {}, {}
    left, ranks = MARGIN, 0
    for part in graph.C:
        sugiyama = layouts.SugiyamaLayout(part)
        sugiyama.xspace, sugiyama.yspace = COLUMN_GAP, ROW_GAP
        roots = [v for v in part.sV if not v.e_in()]
        sugiyama.init_all(roots=roots, inverted_edges=[], optimize=True)
        sugiyama.draw(3)
        names = {v.data for v in part.sV}
        placed = [v.view for layer in sugiyama.layers for v in layer]  # the boxes and the edges' dummy points
        lowest = min(view.xy[0] - view.w / 2 for view in placed)
        for vertex in part.sV:
            rank[vertex.data] = sugiyama.grx[vertex].rank
            x[vertex.data] = vertex.view.xy[0] - lowest + left
        for pair, edge in edges.items():
            if pair[0] in names:
                dummies = sugiyama.ctrls.get(edge, {})  # by rank, the edge's two ends included
                between = range(rank[pair[0]] + 1, rank[pair[1]])
                routes[pair] = [(dummies[r].view.xy[0] - lowest + left, r) for r in between if r in dummies]
        left += max(view.xy[0] + view.w / 2 for view in placed) - lowest + COLUMN_GAP * 2
        ranks = max(ranks, len(sugiyama.layers))
    for pair in picture.edges:  # an edge between adjacent ranks has no dummy points
        routes.setdefault(pair, [])
    return Layout(rank, x, routes, ranks, left - COLUMN_GAP * 2 + MARGIN)


@dataclass
class Placement:
    """Positions for one folding state: box centres and tops, the folded groups' boxes, the open groups' frames,
    the visible edges as point lists (from the producer's bottom to the consumer's top), the size."""

    boxes: dict[str, tuple[float, float]]  # name -> (x centre, y top) of every visible box
    folded: dict[str, tuple[float, float]]  # group -> (x centre, y top) of its box
    frames: dict[str, tuple[float, float, float, float]]  # group -> (x0, y0, x1, y1)
    edges: list[tuple[str, str, list[tuple[float, float]]]] = field(default_factory=list)
    height: float = 0.0


def group_ranks(layout: Layout, picture: Picture) -> dict[str, tuple[int, int, float]]:
    """Each group's first and last rank, and the x of its box when folded (that of its member at the first rank
    nearest the members' middle)."""
    found = {}
    for group in picture.groups:
        ranks = [layout.rank[m] for m in group.members]
        first = min(ranks)
        xs = [layout.x[m] for m in group.members]
        middle = (min(xs) + max(xs)) / 2
        head = min((m for m in group.members if layout.rank[m] == first), key=lambda m: abs(layout.x[m] - middle))
        found[group.name] = (first, max(ranks), layout.x[head])
    return found


def frame_sides(layout: Layout, picture: Picture) -> dict[str, tuple[float, float]]:
    """The left and right side of each open group's frame: around its boxes, and around the bends of the edges that
    end in it (a skip connection into the group runs inside its frame, not along its border). Folding changes
    rows, never columns, so the sides hold in every folding state."""
    sides = {}
    for group in picture.groups:
        members = set(group.members)
        xs = [layout.x[m] for m in members]
        bends = [x for (_, target), route in layout.routes.items() if target in members for x, _ in route]
        x0, x1 = min(xs) - BOX_W / 2, max(xs) + BOX_W / 2
        sides[group.name] = (min([x0, *bends]) - FRAME_PAD, max([x1, *bends]) + FRAME_PAD)
    return sides


def row_tops(layout: Layout, picture: Picture, folded: Collection[str], top: float) -> list[float]:
    """The y of each rank's row: a rank whose boxes all lie inside one folded group, below its first rank, shares
    the row of that first rank."""
    spans = group_ranks(layout, picture)
    at_rank: dict[int, set[str]] = {}
    for name, box in picture.boxes.items():
        at_rank.setdefault(layout.rank[name], set()).add(box.group or "")
    anchor = list(range(layout.ranks))
    for name in folded:
        first, last, _ = spans[name]
        for r in range(first + 1, last + 1):
            if at_rank.get(r, set()) <= {name}:
                anchor[r] = anchor[first]
    tops, y = [], top
    for r in range(layout.ranks):
        if anchor[r] == r:
            tops.append(y)
            y += BOX_H + ROW_GAP
        else:
            tops.append(tops[anchor[r]])
    tops.append(y)  # the bottom of the picture
    return tops


def place(layout: Layout, picture: Picture, folded: Collection[str], top: float = MARGIN) -> Placement:
    """Position everything with the groups named in ``folded`` folded, the first row at ``top``."""
    tops = row_tops(layout, picture, folded, top)
    spans = group_ranks(layout, picture)
    members = {group.name: group.members for group in picture.groups}
    where: dict[str, tuple[float, float]] = {}  # the point every edge of a box leaves or enters from
    result = Placement({}, {}, {})
    for group in folded:
        first, _, x = spans[group]
        result.folded[group] = (x, tops[first])
    for name, box in picture.boxes.items():
        y = tops[layout.rank[name]]
        if box.group in folded:
            where[name] = result.folded[box.group]
        else:
            result.boxes[name] = where[name] = (layout.x[name], y)
    sides = frame_sides(layout, picture)
    for group, names in members.items():
        if group in folded:
            continue
        x0, x1 = sides[group]
        y0 = min(tops[layout.rank[m]] for m in names) - FRAME_TOP
        y1 = max(tops[layout.rank[m]] for m in names) + BOX_H + FRAME_PAD / 2
        result.frames[group] = (x0, y0, x1, y1)
    for source, target in picture.edges:
        group = picture.boxes[source].group
        if group is not None and group in folded and picture.boxes[target].group == group:
            continue
        (xs, ys), (xt, yt) = where[source], where[target]
        points = [(xs, ys + BOX_H)]
        # a dummy point in a row that folding merged into an end's row would turn the edge back: left out
        points += [(xd, tops[r] + BOX_H / 2) for xd, r in layout.routes[(source, target)]]
        points = [points[0], *(p for p in points[1:] if ys + BOX_H < p[1] < yt), (xt, yt)]
        result.edges.append((source, target, points))
    result.height = tops[-1] - ROW_GAP + MARGIN
    return result
