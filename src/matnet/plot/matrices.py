"""Pictures of one weight matrix: a heatmap with values, and a Hinton diagram.

Both draw ``W`` as it is stored, ``(n_out, n_in)``: row ``i`` is the receiving neuron,
column ``j`` the sending neuron, row 0 at the top.  Colours follow one rule in all of
:mod:`matnet.plot`: red positive, blue negative, white (or nothing) zero.
"""
from __future__ import annotations

import numpy as np

from . import _labels
from ._mpl import DIVERGING, NEGATIVE, POSITIVE, as_matrix, axes_and_figure, format_value, symmetric_limit

__all__ = ["matrix", "hinton"]

#: Largest matrix (rows and columns) whose values are printed in the cells.
MAX_VALUES = 12
#: Most tick labels drawn on one axis; beyond it every k-th neuron is named.
MAX_TICKS = 24


def _weights(W, net, key):
    if W is None:
        if net is None or key is None:
            raise ValueError("give a matrix W, or net= and key= to take W = net.weights[key]")
        W = net.weights[key]
    W = as_matrix(W)
    if net is not None and key is not None:
        expected = net.weights[key].shape
        if W.shape != expected:
            raise ValueError(f"W has shape {W.shape} but {_labels.weight_title(key, expected)} of the network "
                             f"has shape {expected}")
    return W


def _figsize(shape):
    rows, cols = shape
    cell = min(0.55, 8.5 / cols, 7.0 / rows)
    return max(2.8 + cell * cols, 4.0), max(1.6 + cell * rows, 2.0 if rows == 1 else 2.6)


def _aspect(shape):
    """Square cells, unless the matrix is so elongated that they would be slivers."""
    rows, cols = shape
    ratio = max(rows, cols) / min(rows, cols)
    return "equal" if ratio <= 4 or (min(rows, cols) == 1 and ratio <= 64) else "auto"


def _ticks(axis_set, names, rotate=False):
    """Name every neuron, or every k-th one when there are many."""
    n = len(names)
    step = max(1, int(np.ceil(n / MAX_TICKS)))
    positions = np.arange(0, n, step)
    axis_set(positions, [names[p] for p in positions], rotation=90 if rotate else 0, fontsize=8)


def _label_axes(ax, W, net, key):
    rows, cols = W.shape
    if net is not None and key is not None:
        _ticks(ax.set_yticks, _labels.row_names(net, key))
        columns = _labels.column_names(net, key)
        _ticks(ax.set_xticks, columns, rotate=max(map(len, columns)) * min(cols, MAX_TICKS) > 40)
        ax.set_ylabel(f"receiving neuron ({key[1]})")
        ax.set_xlabel(f"sending neuron ({key[0]})")
        _mark_delay_blocks(ax, net, key, rows)
    else:
        _ticks(ax.set_yticks, [str(i) for i in range(rows)])
        _ticks(ax.set_xticks, [str(j) for j in range(cols)])
        ax.set_ylabel("row i (receiving neuron)")
        ax.set_xlabel("column j (sending neuron)")
    ax.tick_params(length=0)


def _mark_delay_blocks(ax, net, key, rows):
    """Separate and name the blocks of a tapped-delay matrix ``[W_d1 | ... | W_dk]``."""
    delays = net.connections[key].delays
    if tuple(delays) == (0,):
        return
    width = net.size_of(key[0])
    for k, d in enumerate(delays):
        if k:
            ax.axvline(k * width - 0.5, color="black", linewidth=1.2)
        ax.text((k + 0.5) * width - 0.5, -0.6, f"delay {d}", ha="center", va="bottom", fontsize=8)


def _print_values(ax, W, limit, fontsize=8):
    """One text per finite cell, white on dark cells; returns ``{(i, j): text}``."""
    texts = {}
    for (i, j), w in np.ndenumerate(W):
        if np.isfinite(w):
            texts[i, j] = ax.text(j, i, format_value(w), ha="center", va="center", fontsize=fontsize,
                                  color=text_color(w, limit))
    return texts


def text_color(value, limit):
    """White on the dark ends of the colour map, black elsewhere."""
    return "white" if np.isfinite(value) and abs(value) > 0.6 * limit else "black"


def draw_matrix(ax, W, limit=None, values=None, cmap=DIVERGING):
    """Draw the heatmap of ``W`` into ``ax``; returns ``(image, texts)`` for updates."""
    limit = symmetric_limit(W) if limit is None else limit
    image = ax.imshow(W, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest", aspect=_aspect(W.shape))
    if values is None:
        values = max(W.shape) <= MAX_VALUES
    texts = _print_values(ax, W, limit) if values else {}
    for side in ax.spines.values():
        side.set_visible(False)
    return image, texts


def matrix(W=None, ax=None, net=None, key=None, values=None, colorbar=True, title=None, cmap=DIVERGING,
           limit=None):
    """Heatmap of a weight matrix, colours centred at 0.

    Parameters
    ----------
    W : array (n_out, n_in), optional
        The matrix (a 1-D vector is drawn as a column).  Default ``net.weights[key]``.
    ax : matplotlib Axes, optional
        Draw into this Axes; by default a new figure is made.
    net : Network, optional
    key : (source, target), optional
        With ``net``: rows are named by the receiving neurons ``h1[0], ...``, columns
        by the sending neurons ``x[0], ...`` (``x[0](t-1)`` for delay blocks, which
        are separated by lines).
    values : bool, optional
        Print every value in its cell (default: when the matrix is at most 12×12).
    colorbar : bool
    title : str, optional
        Default ``W[x→h1]  (3×2)``.
    cmap : str
        A diverging colour map; limits are symmetric, ``±max|W|``.
    limit : float, optional
        Colour limits ``±limit`` instead of ``±max|W|`` (to compare matrices).

    Returns
    -------
    matplotlib.figure.Figure
    """
    W = _weights(W, net, key)
    fig, ax = axes_and_figure(ax, _figsize(W.shape))
    image, _ = draw_matrix(ax, W, limit, values, cmap)
    _label_axes(ax, W, net, key)
    ax.set_title(title if title is not None else _labels.weight_title(key, W.shape), fontsize=10,
                 pad=18 if key is not None and net is not None and net.connections[key].delays != (0,) else 6)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.85, label="weight")
    return fig


def _hinton_squares(W, limit):
    """Rectangles (one per nonzero weight) with side ``∝ sqrt(|w| / limit)``."""
    from matplotlib.patches import Rectangle
    squares, colours = [], []
    for (i, j), w in np.ndenumerate(W):
        if not np.isfinite(w) or w == 0:
            continue
        side = 0.95 * np.sqrt(min(abs(w) / limit, 1.0))
        squares.append(Rectangle((j - side / 2, i - side / 2), side, side))
        colours.append(POSITIVE if w > 0 else NEGATIVE)
    return squares, colours


def hinton(W=None, ax=None, net=None, key=None, title=None, legend=True):
    """Hinton diagram: one square per weight, side ∝ ``sqrt(|w|)``, colour by sign.

    Parameters
    ----------
    W : array (n_out, n_in), optional
        Default ``net.weights[key]``.
    ax : matplotlib Axes, optional
    net, key : optional
        Name rows and columns by neuron, as in :func:`matrix`.
    title : str, optional
    legend : bool
        Say which colour is positive.

    Returns
    -------
    matplotlib.figure.Figure
        The squares are one ``PatchCollection`` (gid ``"hinton"``), one path per
        nonzero weight; the largest ``|w|`` fills its cell.
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Patch
    W = _weights(W, net, key)
    fig, ax = axes_and_figure(ax, _figsize(W.shape))
    limit = symmetric_limit(W)
    squares, colours = _hinton_squares(W, limit)
    collection = PatchCollection(squares, facecolors=colours, edgecolors="none", gid="hinton")
    ax.add_collection(collection)
    ax.set_facecolor("#f2f2f2")
    ax.set_xlim(-0.5, W.shape[1] - 0.5)
    ax.set_ylim(W.shape[0] - 0.5, -0.5)
    ax.set_aspect(_aspect(W.shape))
    _label_axes(ax, W, net, key)
    ax.set_title(title if title is not None else "Hinton diagram of " + _labels.weight_title(key, W.shape),
                 fontsize=10)
    if legend:
        ax.legend(handles=[Patch(color=POSITIVE, label="positive"), Patch(color=NEGATIVE, label="negative")],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig
