"""Receptive fields: each row of a weight matrix (one neuron's incoming weights) as an image.

For a first layer on image inputs (e.g. the 8×8 digits), row ``i`` of ``W[x→h1]``
reshaped to the image shape shows which pixels drive neuron ``h1[i]``: red excites,
blue inhibits.
"""
from __future__ import annotations

import math

import numpy as np

from ._mpl import DIVERGING, as_matrix, new_figure, symmetric_limit

__all__ = ["receptive_fields"]


def _grid(n, columns=None):
    columns = columns or math.ceil(math.sqrt(n))
    return math.ceil(n / columns), columns


def _fields(W, shape, max_fields):
    W = as_matrix(W)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or int(np.prod(shape)) != W.shape[1]:
        raise ValueError(f"each row of W has {W.shape[1]} weights, which cannot be shown as an image of "
                         f"shape {shape}; give shape=(height, width) with height * width = {W.shape[1]}")
    return W[:max_fields].reshape(-1, *shape)


def _mosaic(fields, rows, columns):
    """One image of all fields with a NaN gap of one pixel between them."""
    n, h, w = fields.shape
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for k, field in enumerate(fields):
        r, c = divmod(k, columns)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = field
    return out


def receptive_fields(W, shape, ax=None, fig=None, names=None, columns=None, max_fields=100,
                     scale="common", title=None, colorbar=True):
    """Draw every row of ``W`` as an image of ``shape``, in a grid.

    Parameters
    ----------
    W : array (n_out, prod(shape))
        A weight matrix, e.g. ``net.weights["x", "h1"]`` of a network on 8×8 images.
    shape : (height, width)
    ax : matplotlib Axes, optional
        Draw all fields as one mosaic image in this Axes.
    fig : matplotlib Figure, optional
        Add one small Axes per field to this figure (default: a new figure).
    names : sequence of str, optional
        A title per field (default ``"0"``, ``"1"``, ...; none beyond 64 fields).
    columns : int, optional
        Fields per row of the grid (default about the square root of their number).
    max_fields : int
        Draw at most the first ``max_fields`` rows.
    scale : {"common", "each"}
        One colour scale ``±max|W|`` for all fields, or ``±max|row|`` for each.
    title : str, optional
    colorbar : bool
        One colour bar (for ``scale="common"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if scale not in ("common", "each"):
        raise ValueError(f"scale must be 'common' or 'each', got {scale!r}")
    fields = _fields(W, shape, max_fields)
    n = len(fields)
    rows, columns = _grid(n, columns)
    if scale == "each":
        fields = fields / np.array([symmetric_limit(f) for f in fields])[:, None, None]
    limit = symmetric_limit(fields)
    default = f"receptive fields: {n} rows of W as {shape[0]}×{shape[1]} images"
    if ax is not None:
        image = ax.imshow(_mosaic(fields, rows, columns), cmap=DIVERGING, vmin=-limit, vmax=limit,
                          interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title or default, fontsize=10)
        if colorbar and scale == "common":
            ax.figure.colorbar(image, ax=ax, shrink=0.8)
        return ax.figure
    if fig is None:  # a plain grid: constrained layout of many small Axes is slow
        fig = new_figure((min(1.2 * columns + 1.2, 14.0), min(1.25 * rows + 0.8, 14.0)), layout=None)
        fig.subplots_adjust(left=0.02, right=0.86, bottom=0.02, top=1 - 0.5 / fig.get_figheight(),
                            wspace=0.12, hspace=0.3)
    axes = fig.subplots(rows, columns, squeeze=False)
    for k, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if k >= n:
            continue
        image = axis.imshow(fields[k], cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest")
        label = names[k] if names is not None else (str(k) if n <= 64 else None)
        if label is not None:
            axis.set_title(label, fontsize=7, pad=2)
    fig.suptitle(title or default, fontsize=10)
    if colorbar and scale == "common" and n:
        fig.colorbar(image, ax=axes, shrink=0.6, label="weight", fraction=0.04, pad=0.03)
    return fig
