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

from ._mpl import DIVERGING, axes_and_figure, symmetric_limit
from .matrices import MAX_VALUES, _print_values

__all__ = ["adjacency"]


def _groups(nodes):
    """``[(label, start, stop)]``: runs of nodes of one input, layer or the bias node."""
    runs = []
    for i, n in enumerate(nodes):
        label = "1" if n.kind == "bias" else n.layer
        if runs and runs[-1][0] == label:
            runs[-1][2] = i + 1
        else:
            runs.append([label, i, i + 1])
    return [tuple(r) for r in runs]


def _select(A, delay):
    """``(matrix, note)``: one delay's matrix or the sum over delays."""
    if not isinstance(A, dict):
        return sp.csr_array(A), ""
    if delay is None:
        total = sum((sp.csr_array(M) for M in A.values()), start=sp.csr_array(next(iter(A.values())).shape))
        return total, "sum of A_d over delays " + ", ".join(map(str, sorted(A)))
    if delay not in A:
        raise ValueError(f"no adjacency matrix for delay {delay}; delays: {', '.join(map(str, sorted(A)))}")
    return sp.csr_array(A[delay]), f"A_{delay}, the edges with delay {delay}"


def _stored(M):
    """Dense values with absent entries masked."""
    mask = np.ones(M.shape, bool)
    coo = M.tocoo()
    mask[coo.row, coo.col] = False
    dense = np.zeros(M.shape)
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
    for _, lo, hi in groups[1:]:
        ax.axhline(lo - 0.5, color="0.6", linewidth=0.6)
        ax.axvline(lo - 0.5, color="0.6", linewidth=0.6)
    if N <= 16:
        ticks, names, rotation, size = np.arange(N), [str(n) for n in nodes], 90, 8
    else:
        ticks = [(lo + hi - 1) / 2 for _, lo, hi in groups]
        names, rotation, size = [label for label, _, _ in groups], 0, 9
    ax.set_xticks(ticks, names, rotation=rotation, fontsize=size)
    ax.set_yticks(ticks, names, fontsize=size)
    ax.tick_params(length=0)
    ax.set_xlabel("sending node j (column)")
    ax.set_ylabel("receiving node i (row)")


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
    M, note = _select(A, delay)
    N = M.shape[0]
    size = min(max(3.5 + 0.32 * N, 5.0), 10.0)
    fig, ax = axes_and_figure(ax, (size + 1.2, size))
    data = _stored(M)
    limit = symmetric_limit(data.compressed()) if data.count() else 1.0
    cmap = _grey_for_absent(DIVERGING)
    image = ax.imshow(data, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    if values if values is not None else N <= MAX_VALUES:
        _print_stored(ax, data, limit)
    groups = _groups(nodes)
    start = {label if label != "1" else None: lo for label, lo, _ in groups}
    _outline_blocks(ax, net, start, delay if isinstance(A, dict) else None)
    _label_groups(ax, nodes, groups, N)
    default = f"adjacency matrix A ({N}×{N}, {M.nnz} edges)" + (f"\n{note}" if note else "")
    ax.set_title(title if title is not None else default, fontsize=10)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight (grey: no edge)")
    return fig


def _grey_for_absent(name):
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad="#e6e6e6")


def _print_stored(ax, data, limit):
    _print_values(ax, np.where(data.mask, np.nan, data.filled(0.0)), limit, fontsize=7)
