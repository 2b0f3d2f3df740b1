"""The picture of a network as a graph of neurons.

Every weight and every bias is one edge (so a picture has ``net.n_params`` edges):
line width grows with ``|w|``, red is positive and blue negative.  Inputs are squares,
neurons circles (output neurons grey), each layer's bias a yellow node ``1`` in the
column before it (see :mod:`matnet.plot.layout`).  Zero-delay edges between adjacent
columns are straight, skip connections are curved; connections with delays are dashed
arcs with arrowheads, labelled with their delays.  With few edges every weight is
printed on its edge; with many the edges are thin and translucent and nothing is
printed.

The drawn artists carry ``gid`` names so that tests (and users) can find them:
``"edges"`` (a collection with one path per zero-delay edge), ``"delay-edge"`` (one
arrow per delayed edge), ``"nodes:<kind>:<name>"`` (a collection with one marker per
node).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import on_host
from ._labels import network_name
from ._mpl import NEGATIVE, POSITIVE, axes_and_figure, format_value
from .layout import layered

__all__ = ["network", "edges", "Edge"]

#: Up to this many edges every weight is printed and lines are bold.
FEW_EDGES = 30
#: Beyond this many edges lines are thin and faint.
MANY_EDGES = 400
#: Up to this many units in the tallest column, input and output units are named.
FEW_UNITS = 16


@dataclass(frozen=True)
class Edge:
    """One weight (or bias) drawn as an edge from ``start`` to ``end``.

    ``key`` is the connection ``(source, target)`` or ``("bias", layer)``; ``tap`` the
    position of ``delay`` in the connection's delays; ``span`` the number of columns
    between the two ends; ``source`` the sending node ``(kind, name, unit)``.
    """

    start: tuple
    end: tuple
    weight: float
    key: tuple
    source: tuple
    delay: int = 0
    tap: int = 0
    span: int = 1

    @property
    def target(self):
        return self.key[1]


def edges(net, layout):
    """All edges of ``net`` at the positions of ``layout``: weights (all delays), then biases."""
    out = []
    for c in net.connections.values():
        W = np.asarray(net.weights[c.key], dtype=np.float64)
        n_in = net.size_of(c.source)
        kind = "input" if c.source in net.inputs else "layer"
        span = layout.depth[c.target] - layout.depth[c.source]
        for tap, d in enumerate(c.delays):
            for (i, j), w in np.ndenumerate(W[:, tap * n_in:(tap + 1) * n_in]):
                out.append(Edge(tuple(layout.point(kind, c.source, j)), tuple(layout.point("layer", c.target, i)),
                                float(w), c.key, (kind, c.source, j), int(d), tap, span))
    for name, b in net.biases.items():
        start = tuple(layout.point("bias", name))
        for i, w in enumerate(np.asarray(b, dtype=np.float64)):
            out.append(Edge(start, tuple(layout.point("layer", name, i)), float(w), ("bias", name),
                            ("bias", name, 0)))
    return out


# -- geometry ----------------------------------------------------------------------

def _bezier(points, t):
    """Point at ``t`` on the Bézier curve with control ``points`` (de Casteljau)."""
    p = np.asarray(points, dtype=float)
    while len(p) > 1:
        p = (1 - t) * p[:-1] + t * p[1:]
    return p[0]


def _sub_bezier(points, t0, t1):
    """Control points of the part ``[t0, t1]`` of a Bézier curve (its blossom)."""
    p = np.asarray(points, dtype=float)
    n = len(p) - 1
    out = []
    for k in range(n + 1):
        q = p.copy()
        for t in [t0] * (n - k) + [t1] * k:
            q = (1 - t) * q[:-1] + t * q[1:]
        out.append(q[0])
    return np.array(out)


def _samples(points, n=25):
    """Points along a Bézier curve (for limits and labels)."""
    return np.array([_bezier(points, t) for t in np.linspace(0.0, 1.0, n)])


def curve(edge, height):
    """Control points of the edge: 2 (straight), 3 (quadratic) or 4 (cubic, a self loop)."""
    (x0, y0), (x1, y1) = edge.start, edge.end
    if edge.delay == 0:
        if edge.span <= 1:
            return np.array([edge.start, edge.end], dtype=float)
        lift = 0.12 * height * (edge.span - 1) + 0.4
        return np.array([[x0, y0], [(x0 + x1) / 2, (y0 + y1) / 2 + lift], [x1, y1]])
    if (x0, y0) == (x1, y1):
        r, h = 0.16 * (1 + 0.4 * edge.tap), 0.45 * (1 + 0.3 * edge.tap)
        return np.array([[x0, y0], [x0 + r, y0 + h], [x0 + r, y0 - h], [x1, y1]])
    if x0 == x1:
        bow = 0.12 + 0.05 * abs(y0 - y1) + 0.08 * edge.tap
        return np.array([[x0, y0], [x0 + bow, (y0 + y1) / 2], [x1, y1]])
    if x1 > x0:  # forward with delay: a gentle bow upward, higher for later taps
        lift = (0.35 + 0.35 * edge.tap) * max(1.0, 0.04 * height)
        return np.array([[x0, y0], [(x0 + x1) / 2, (y0 + y1) / 2 + lift], [x1, y1]])
    bulge = (1.0 + 0.6 * edge.tap) * max(0.8, 0.08 * height)  # feedback: an arc over the top
    return np.array([[x0, y0], [(x0 + x1) / 2, max(y0, y1) + bulge], [x1, y1]])


def _path(points):
    from matplotlib.path import Path
    code = {2: Path.LINETO, 3: Path.CURVE3, 4: Path.CURVE4}[len(points)]
    return Path(points, [Path.MOVETO] + [code] * (len(points) - 1))


# -- style -------------------------------------------------------------------------

def _style(weights, wmax, n_edges):
    """RGBA colours and line widths: width ∝ |w|, more translucent the more edges there are."""
    from matplotlib.colors import to_rgba
    weights = np.asarray(weights, dtype=np.float64)
    strength = np.abs(weights) / wmax
    colours = np.where((weights >= 0)[:, None], np.array(to_rgba(POSITIVE)), np.array(to_rgba(NEGATIVE)))
    if n_edges <= FEW_EDGES:
        alpha, widths = np.full(strength.shape, 0.85), 0.6 + 3.0 * strength
    elif n_edges <= MANY_EDGES:
        alpha, widths = 0.25 + 0.65 * strength, 0.4 + 2.0 * strength
    else:
        alpha, widths = 0.06 + 0.5 * strength, 0.15 + 1.1 * strength
    colours[:, 3] = alpha
    return colours, widths


def _node_style(kind, is_output):
    if kind == "input":
        return dict(marker="s", facecolors="white")
    if kind == "bias":
        return dict(marker="o", facecolors="#ffe9a8")
    return dict(marker="o", facecolors="#d0d0d0" if is_output else "white")


# -- drawing -----------------------------------------------------------------------

def _draw_static_edges(ax, static, height, wmax, n_edges):
    from matplotlib.collections import PathCollection
    colours, widths = _style(np.array([e.weight for e in static]), wmax, n_edges)
    paths = [_path(curve(e, height)) for e in static]
    ax.add_collection(PathCollection(paths, facecolors="none", edgecolors=colours, linewidths=widths,
                                     zorder=1, gid="edges"), autolim=False)


def _draw_delay_edges(ax, delayed, height, wmax, n_edges):
    """Dashed arcs with arrowheads, one patch per delayed edge."""
    from matplotlib.patches import FancyArrowPatch
    colours, widths = _style(np.array([e.weight for e in delayed]), wmax, n_edges)
    for e, colour, width in zip(delayed, colours, widths):
        points = curve(e, height)
        part = _sub_bezier(points, *((0.1, 0.88) if len(points) == 4 else (0.04, 0.93)))
        ax.add_patch(FancyArrowPatch(path=_path(part), arrowstyle="-|>",
                                     mutation_scale=9 if n_edges <= FEW_EDGES else 6,
                                     linestyle=(0, (4, 2)), color=colour, linewidth=width, zorder=1,
                                     gid="delay-edge"))


def _label_delays(ax, net, delayed, height, depth, diameter):
    """One label per delayed connection: right of the arcs within one column, above the
    highest arc of a feedback, below-right of the source of a forward connection."""
    for key in dict.fromkeys(e.key for e in delayed):
        arcs = [e for e in delayed if e.key == key]
        delays = net.connections[key].delays
        text = f"{key[0]}→{key[1]}: delay{'s' if len(delays) > 1 else ''} {', '.join(map(str, delays))}"
        points = np.vstack([_samples(curve(e, height)) for e in arcs])
        if depth[key[0]] == depth[key[1]]:
            xy, offset, ha, va = (points[:, 0].max(), points[:, 1].max()), (4, 0), "left", "center"
        elif depth[key[0]] > depth[key[1]]:
            xy, offset, ha, va = tuple(points[np.argmax(points[:, 1])]), (0, 3), "center", "bottom"
        else:
            first = min(arcs, key=lambda e: (-e.start[1], e.start[0]))
            xy, offset, ha, va = first.start, (diameter / 2 + 3, -(diameter / 2 + 2)), "left", "top"
        ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=8,
                    style="italic", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))


def _label_weights(ax, drawn, height):
    """Print every weight on its edge.  The edges into one layer are spread along their
    length by source (the top source's labels near it, the bottom source's near the
    target), so that labels of one source fan out and labels of different sources
    don't share a place."""
    for target in dict.fromkeys(e.target for e in drawn):
        into = [e for e in drawn if e.target == target]
        sources = sorted({(e.source, e.tap, e.start) for e in into}, key=lambda s: (s[2][0], -s[2][1], s[1]))
        rank = {s[:2]: k for k, s in enumerate(sources)}
        n = len(sources)
        for e in into:
            backward = e.delay and e.end[0] <= e.start[0]  # arcs: their tops are apart
            t = 0.5 if n == 1 or backward else 0.3 + 0.45 * rank[e.source, e.tap] / (n - 1)
            x, y = _bezier(curve(e, height), t)
            ax.text(x, y, format_value(e.weight), ha="center", va="center", fontsize=7.5, zorder=5,
                    color=POSITIVE if e.weight >= 0 else NEGATIVE,
                    bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.85))


def _draw_nodes(ax, net, layout, diameter):
    outputs = set(net.outputs)
    for (kind, name), xy in layout.groups.items():
        style = _node_style(kind, kind == "layer" and name in outputs)
        ax.scatter(xy[:, 0], xy[:, 1], s=diameter ** 2 * (0.7 if kind == "bias" else 1.0),
                   edgecolors="black", linewidths=0.8 if diameter > 6 else 0.4, zorder=3,
                   gid=f"nodes:{kind}:{name}", **style)
        if kind == "bias" and diameter >= 10:
            ax.text(xy[0, 0], xy[0, 1], "1", ha="center", va="center", fontsize=7, zorder=4)


def _heading(net, kind, name):
    if kind == "input":
        return f"{name}  ({net.inputs[name]})"
    layer = net.layers[name]
    return f"{name}  ({layer.size}, {layer.activation.name})"


def _heading_anchor(layout, kind, name, top):
    """Where a group's heading goes: on one row above everything when every column holds
    one input or layer, else right above the group."""
    xy = layout.groups[(kind, name)]
    columns = [round(v[0, 0]) for (k, _), v in layout.groups.items() if k != "bias"]
    if len(columns) == len(set(columns)):
        return (xy[0, 0], top)
    return tuple(xy[0])


def _names(ax, net, layout, small, diameter, top):
    """Name every input and layer above its group; name input and output units when few."""
    outputs = set(net.outputs)
    gap = diameter / 2 + 3
    for (kind, name), xy in layout.groups.items():
        if kind == "bias":
            if diameter < 10:
                ax.annotate("bias 1", tuple(xy[0]), xytext=(-gap, 0), textcoords="offset points", ha="right",
                            va="center", fontsize=7, color="0.3")
            continue
        ax.annotate(_heading(net, kind, name), _heading_anchor(layout, kind, name, top), xytext=(0, gap + 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9, fontweight="bold", zorder=6)
        if small and (kind == "input" or name in outputs):
            side = -1 if kind == "input" else 1
            names = net.feature_names.get(name)
            for j, (x, y) in enumerate(xy):
                label = names[j] if names else f"{name}[{j}]"
                ax.annotate(label, (x, y), xytext=(side * gap, 0), textcoords="offset points",
                            ha="right" if side < 0 else "left", va="center", fontsize=8)


# -- the picture -------------------------------------------------------------------

def _figsize(layout):
    tallest = int(layout.column_sizes.max())
    width = min(max(2.6 * layout.columns + 1.0, 5.0), 14.0)
    height = min(max(0.75 * tallest + 1.6, 3.6), 9.0)
    return width, height


def _axes_points(ax, fig):
    """Width and height of the Axes in points (before layout: close enough)."""
    box = ax.get_position()
    return fig.get_figwidth() * 72 * box.width, fig.get_figheight() * 72 * box.height


def _frame(ax, fig, layout, points, small):
    """Set limits that leave room (in points) for names and headings; return the node
    diameter in points (about half the vertical spacing of the units) and the top of
    the drawing (nodes and arcs) in data units."""
    width_pt, height_pt = _axes_points(ax, fig)
    y_lo, y_hi = min(layout.extent[0], points[:, 1].min()), max(layout.extent[1], points[:, 1].max())
    per_pt = max(y_hi - y_lo, 1.0) / max(height_pt - 50, 20)
    diameter = float(np.clip(0.5 / per_pt, 2.5, 20.0))
    ax.set_ylim(y_lo - (diameter / 2 + 6) * per_pt, y_hi + (diameter / 2 + 34) * per_pt)
    x_pad = (55 if small else 50) / max(width_pt, 100) * max(layout.columns - 1, 1)
    ax.set_xlim(-x_pad, layout.columns - 1 + x_pad)
    ax.set_axis_off()
    return diameter, y_hi


def _strongest(everything, max_edges):
    if len(everything) <= max_edges:
        return everything
    keep = np.argsort([-abs(e.weight) for e in everything], kind="stable")[:max_edges]
    return [everything[k] for k in sorted(keep)]


@on_host
def network(net, ax=None, weights=None, max_edges=5000, title=None, legend=True):
    """Draw ``net`` as a graph of neurons, one edge per weight and bias.

    Parameters
    ----------
    net : Network
    ax : matplotlib Axes, optional
        Draw into this Axes; by default a new figure sized to the network is made.
    weights : bool, optional
        Print every weight on its edge (default: when there are at most 30 edges).
    max_edges : int
        Draw only the strongest ``max_edges`` edges of a bigger network (the title says so).
    title : str, optional
        Default: the layer sizes and the number of parameters.
    legend : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    layout = layered(net)
    fig, ax = axes_and_figure(ax, _figsize(layout))
    everything = edges(net, layout)
    shown = _strongest(everything, max_edges)
    y_min, y_max = layout.extent
    height = y_max - y_min + 1
    wmax = max((abs(e.weight) for e in shown), default=1.0) or 1.0
    static = [e for e in shown if e.delay == 0]
    delayed = [e for e in shown if e.delay != 0]
    arcs = [_samples(points) for points in (curve(e, height) for e in shown) if len(points) > 2]
    small = int(layout.column_sizes.max()) <= FEW_UNITS
    diameter, top = _frame(ax, fig, layout, np.vstack(arcs + [np.array([[0.0, y_min]])]), small)
    _draw_static_edges(ax, static, height, wmax, len(shown))
    if delayed:
        _draw_delay_edges(ax, delayed, height, wmax, len(shown))
        _label_delays(ax, net, delayed, height, layout.depth, diameter)
    _draw_nodes(ax, net, layout, diameter)
    _names(ax, net, layout, small, diameter, top)
    if len(shown) <= FEW_EDGES if weights is None else weights:
        _label_weights(ax, shown, height)
    _title_and_legend(ax, net, len(everything), len(shown), bool(delayed), title, legend)
    return fig


def _title_and_legend(ax, net, n_all, n_shown, delayed, title, legend):
    from matplotlib.lines import Line2D
    if title is None:
        title = f"{network_name(net)}: {net.n_params} weights and biases (line width ∝ |w|)"
        if n_shown < n_all:
            title += f"\nthe strongest {n_shown} of {n_all} edges shown"
    ax.set_title(title, fontsize=10)
    if legend:
        handles = [Line2D([], [], color=POSITIVE, lw=2, label="positive"),
                   Line2D([], [], color=NEGATIVE, lw=2, label="negative")]
        if delayed:
            handles.append(Line2D([], [], color="0.3", lw=1.2, linestyle=(0, (4, 2)), label="delayed (arrow)"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles),
                  frameon=False, fontsize=8)
