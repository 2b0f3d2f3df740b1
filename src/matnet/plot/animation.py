"""Weight matrices changing over training, saved as an animated GIF.

Frames come from ``history.weights`` (``fit(..., record_weights=True)`` keeps one dict
``(source, target) -> W`` per epoch, epoch 0 first).  Each matrix keeps one colour
scale over all frames (``±max|W|`` over the run), so colours compare across epochs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._mpl import as_matrix, format_value, new_figure, symmetric_limit
from .matrices import MAX_VALUES, draw_matrix, text_color
from ._labels import weight_title

__all__ = ["weights_animation", "frame_epochs"]


def frame_epochs(n_epochs, max_frames=60):
    """Epochs shown: all of them, or ``max_frames`` evenly spaced ones (first and last kept)."""
    if n_epochs <= max_frames:
        return np.arange(n_epochs)
    return np.unique(np.linspace(0, n_epochs - 1, max_frames).round().astype(int))


def _snapshots(history):
    snapshots = getattr(history, "weights", history)
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("no recorded weights: train with fit(..., record_weights=True) "
                         "or pass a list of weight dicts")
    if not all(isinstance(s, dict) for s in snapshots):
        raise TypeError("weights_animation needs a History or a list of dicts (source, target) -> W")
    return snapshots


def _update(image, texts, W, limit):
    image.set_data(W)
    for (i, j), text in texts.items():
        text.set_text(format_value(W[i, j]))
        text.set_color(text_color(W[i, j], limit))


def weights_animation(history, path, keys=None, fps=4, max_frames=60, dpi=80):
    """Save an animated GIF of the weight matrices, one frame per recorded epoch.

    Parameters
    ----------
    history : History or list of dict
        ``history.weights`` or the list itself: per epoch ``(source, target) -> W``.
    path : str or Path
        The ``.gif`` file to write.
    keys : sequence of (source, target), optional
        Which matrices (default all, side by side).
    fps : float
        Frames per second.
    max_frames : int
        At most this many frames (evenly spaced epochs, first and last kept).
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        The figure showing the last frame.
    """
    from matplotlib.animation import PillowWriter
    snapshots = _snapshots(history)
    keys = list(keys) if keys is not None else list(snapshots[0])
    stacks = {k: np.stack([as_matrix(s[k]) for s in snapshots]) for k in keys}
    limits = {k: symmetric_limit(v) for k, v in stacks.items()}
    fig = new_figure((min(3.2 * len(keys) + 0.6, 16.0), 3.6), dpi=dpi)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    handles = {}
    for axis, key in zip(axes, keys):
        W0 = stacks[key][0]
        handles[key] = draw_matrix(axis, W0, limits[key], values=max(W0.shape) <= MAX_VALUES)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(weight_title(key, W0.shape), fontsize=9)
        fig.colorbar(handles[key][0], ax=axis, shrink=0.8)
    caption = fig.suptitle("", fontsize=10)
    epochs = frame_epochs(len(snapshots), max_frames)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(Path(path)), dpi):
        for epoch in epochs:
            for key in keys:
                _update(*handles[key], stacks[key][epoch], limits[key])
            caption.set_text(f"epoch {epoch} of {len(snapshots) - 1}")
            writer.grab_frame()
    return fig
