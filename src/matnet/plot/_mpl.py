"""Matplotlib access for :mod:`matnet.plot`: figures on the Agg canvas, panels, PNG bytes.

matplotlib is an optional dependency (``pip install matnet[plot]``).  Figures are
made as :class:`matplotlib.figure.Figure` objects attached to the Agg canvas, never
through :mod:`matplotlib.pyplot`: no window opens, no global figure registry grows, and
the user's pyplot backend is left alone.
"""
from __future__ import annotations

import io

try:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("matnet.plot needs matplotlib: pip install matnet[plot]") from e

from ._style import DIVERGING, NEGATIVE, POSITIVE, as_matrix, format_value, symmetric_limit

__all__ = ["matplotlib", "new_figure", "axes_and_figure", "panels", "png_bytes", "POSITIVE", "NEGATIVE",
           "DIVERGING", "symmetric_limit", "format_value", "as_matrix"]


def new_figure(figsize=None, **kwargs):
    """A :class:`~matplotlib.figure.Figure` on the Agg canvas (no window, no pyplot)."""
    fig = Figure(figsize=figsize, layout=kwargs.pop("layout", "constrained"), **kwargs)
    FigureCanvasAgg(fig)
    engine = fig.get_layout_engine()
    if engine is not None and "w_pad" in engine.get():
        engine.set(w_pad=0.08, h_pad=0.08)  # inches: keep tick labels off the edge
    return fig


def axes_and_figure(ax=None, figsize=None):
    """``(fig, ax)``: the given Axes and its figure, or a new figure with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


def panels(n, ax=None, fig=None, figsize=None, sharex=True, height_ratios=None):
    """``(fig, axes)``: ``n`` Axes stacked vertically.

    Parameters
    ----------
    ax : Axes or sequence of Axes, optional
        ``n`` Axes to draw into, or one Axes (a subplot) whose place is divided into
        ``n`` panels.
    fig : Figure, optional
        A figure to add the panels to.
    """
    if ax is not None and not hasattr(ax, "get_subplotspec"):
        axes = list(ax)
        if len(axes) != n:
            raise ValueError(f"need {n} Axes for this picture, got {len(axes)}")
        return axes[0].figure, axes
    if ax is not None:
        spec = ax.get_subplotspec()
        if spec is None:
            raise ValueError("ax must be a subplot (made with add_subplot/subplots) to be divided into panels")
        fig = ax.figure
        ax.remove()
        grid = spec.subgridspec(n, 1, height_ratios=height_ratios)
    else:
        fig = fig if fig is not None else new_figure(figsize)
        grid = fig.add_gridspec(n, 1, height_ratios=height_ratios)
    axes = []
    for k in range(n):
        share = axes[0] if sharex and axes else None
        axes.append(fig.add_subplot(grid[k, 0], sharex=share))
    return fig, axes


def png_bytes(fig, dpi=100):
    """The figure as PNG bytes (no software tag or other metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
