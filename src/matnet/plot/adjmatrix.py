"""The picture of a network's adjacency matrix ``A`` (rows receive, columns send).

Stored entries (every weight and bias, also a 0) are coloured on the diverging map;
absent entries are light grey, so the block structure of the network shows.  Lines
separate the node groups (inputs, layers, the bias node) and every connection's block
(``W[s→t]`` at rows ``t``, columns ``s``; ``b[t]`` in the bias column) is outlined.
A network with delays has one matrix per delay; by default their sum is drawn, delayed
blocks outlined dashed and named with their delays.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..backend import on_host
from ._mpl import DIVERGING, axes_and_figure, symmetric_limit
from .matrices import MAX_VALUES, _print_values

__all__ = ["adjacency"]


def _groups(nodes):
    """``[(label, name, start, stop)]``: runs of nodes of one input, layer (``name``) or
    the bias node (label ``"1"``, name ``None``)."""
    runs = []
    for i, n in enumerate(nodes):
        if runs and runs[-1][1] == n.layer:
            runs[-1][3] = i + 1
        else:
            runs.append(["1" if n.kind == "bias" else n.layer, n.layer, i, i + 1])
    return [tuple(r) for r in runs]


def _select(A, delay):
    """``(matrices, note)``: the matrices ``{d: A_d}`` to draw and what they are."""
    matrices = {d: sp.csr_array(M) for d, M in (A.items() if isinstance(A, dict) else [(0, A)])}
    if not isinstance(A, dict):
        return matrices, ""
    if delay is None:
        return matrices, "summed over delays " + ", ".join(map(str, sorted(matrices)))
    if delay not in matrices:
        raise ValueError(f"no adjacency matrix for delay {delay}; delays: {', '.join(map(str, sorted(matrices)))}")
    return {delay: matrices[delay]}, f"A_{delay}: the edges with delay {delay}"


def _stored(matrices):
    """The sum of the matrices, dense, with entries stored in none of them masked
    (a stored 0 is an edge of weight 0 and stays visible)."""
    shape = next(iter(matrices.values())).shape
    mask = np.ones(shape, bool)
    dense = np.zeros(shape)
    for M in matrices.values():
        coo = M.tocoo()
        mask[coo.row, coo.col] = False
        np.add.at(dense, (coo.row, coo.col), coo.data)
    return np.ma.masked_array(dense, mask)


def _outline_blocks(ax, net, start, delay):
    """A rectangle around every connection's block; dashed (and named) for delays."""
    from matplotlib.patches import Rectangle
    bias = start[None]
    for c in net.connections.values():
        delayed = c.delays != (0,)
        if delay is not None and delay not in c.delays:
            continue
        rows, cols = net.size_of(c.target), net.size_of(c.source)
        x, y = start[c.source] - 0.5, start[c.target] - 0.5
        ax.add_patch(Rectangle((x, y), cols, rows, fill=False, linewidth=1.2, edgecolor="black",
                               linestyle="--" if delayed else "-", gid="block", zorder=3))
        if delayed and delay is None:
            ax.text(x + cols / 2, y, "d=" + ",".join(map(str, c.delays)), ha="center",
                    va="center", fontsize=8, style="italic", zorder=4,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))
    if delay in (None, 0):
        for name in net.biases:
            ax.add_patch(Rectangle((bias - 0.5, start[name] - 0.5), 1, net.size_of(name), fill=False,
                                   linewidth=1.2, edgecolor="black", gid="block", zorder=3))


def _label_groups(ax, nodes, groups, N):
    """Group lines and names on both axes; every node named when there are few."""
    for _, _, lo, _ in groups[1:]:
        ax.axhline(lo - 0.5, color="0.6", linewidth=0.6)
        ax.axvline(lo - 0.5, color="0.6", linewidth=0.6)
    if N <= 16:
        ticks, names, rotation, size = np.arange(N), [str(n) for n in nodes], 90, 8
    else:
        ticks = [(lo + hi - 1) / 2 for _, _, lo, hi in groups]
        names, rotation, size = [label for label, _, _, _ in groups], 0, 9
    ax.set_xticks(ticks, names, rotation=rotation, fontsize=size)
    ax.set_yticks(ticks, names, fontsize=size)
    ax.tick_params(length=0)
    ax.set_xlabel("sending node j (column)")
    ax.set_ylabel("receiving node i (row)")


@on_host
def adjacency(net, ax=None, delay=None, values=None, colorbar=True, title=None):
    """Draw the ``N × N`` adjacency matrix of ``net`` (``A[i, j]``: edge from node ``j`` to ``i``).

    Parameters
    ----------
    net : Network
    ax : matplotlib Axes, optional
    delay : int, optional
        For a network with delays: draw only ``A_delay``.  Default: the sum of all
        ``A_d``, with the delayed blocks outlined dashed and named.
    values : bool, optional
        Print the stored values (default: when there are at most 12 nodes).
    colorbar : bool
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    A, nodes = net.adjacency()
    matrices, note = _select(A, delay)
    N = len(nodes)
    size = min(max(3.5 + 0.32 * N, 5.0), 10.0)
    fig, ax = axes_and_figure(ax, (size + 1.2, size))
    data = _stored(matrices)
    limit = symmetric_limit(data.compressed()) if data.count() else 1.0
    cmap = _grey_for_absent(DIVERGING)
    image = ax.imshow(data, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    if N <= MAX_VALUES if values is None else values:
        _print_stored(ax, data, limit)
    groups = _groups(nodes)
    start = {name: lo for _, name, lo, _ in groups}
    _outline_blocks(ax, net, start, delay if isinstance(A, dict) else None)
    _label_groups(ax, nodes, groups, N)
    n_edges = sum(M.nnz for M in matrices.values())
    default = f"adjacency matrix A ({N}×{N}, {n_edges} edges)" + (f"\n{note}" if note else "")
    ax.set_title(title if title is not None else default, fontsize=10)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight (grey: no edge)")
    return fig


def _grey_for_absent(name):
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad="#e6e6e6")


def _print_stored(ax, data, limit):
    _print_values(ax, np.where(data.mask, np.nan, data.filled(0.0)), limit, fontsize=7)
