"""The response of a network over time: prediction against truth, errors below
(as MATLAB's ``plotresponse``)."""
from __future__ import annotations

import numpy as np

from ._mpl import panels

__all__ = ["response"]


def _series(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be one series (n_steps,) or (n_steps, n_outputs), got shape {values.shape}")
    return values


def response(y_true, y_pred, t=None, ax=None, fig=None, names=None, title=None):
    """Prediction and truth over time, and the errors ``y_true - y_pred`` below.

    Parameters
    ----------
    y_true, y_pred : arrays (n_steps,) or (n_steps, n_outputs)
        One series (several outputs are drawn in different colours).
    t : array (n_steps,), optional
        Time of each step (default 0, 1, ...).
    ax : Axes or pair of Axes, optional
        The two panels, or one subplot divided into them.
    fig : Figure, optional
    names : sequence of str, optional
        A name per output column.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    truth, pred = _series(y_true, "y_true"), _series(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(f"y_true has shape {truth.shape} but y_pred has shape {pred.shape}")
    steps = t is None
    t = np.arange(len(truth)) if steps else np.asarray(t, dtype=np.float64)
    if t.shape != (len(truth),):
        raise ValueError(f"t must have one time per step ({len(truth)}), got shape {t.shape}")
    fig, (top, bottom) = panels(2, ax=ax, fig=fig, figsize=(8.0, 5.0), height_ratios=[2, 1])
    errors = truth - pred
    single = truth.shape[1] == 1
    for k in range(truth.shape[1]):
        label = names[k] if names is not None else ("" if single else f"output {k}")
        colour = "C1" if single else f"C{k % 10}"
        top.plot(t, truth[:, k], color="black" if single else colour, linewidth=1.4,
                 label=f"truth {label}".strip(), gid=f"truth:{k}")
        top.plot(t, pred[:, k], color=colour, linewidth=1.2, linestyle="--", marker="." if len(t) <= 100 else None,
                 label=f"prediction {label}".strip(), gid=f"prediction:{k}")
        bottom.plot(t, errors[:, k], color=colour, linewidth=1.0, gid=f"error:{k}")
    bottom.axhline(0.0, color="0.4", linewidth=0.8)
    top.set_ylabel("output")
    top.legend(fontsize=8, ncol=min(2 * truth.shape[1], 4))
    top.grid(True, alpha=0.3)
    top.tick_params(labelbottom=False)
    bottom.set_ylabel("error")
    bottom.set_xlabel("time step" if steps else "time")
    bottom.grid(True, alpha=0.3)
    rmse = float(np.sqrt(np.mean(errors ** 2)))
    top.set_title(title if title is not None else f"response: RMSE {rmse:.4g} over {len(t)} steps", fontsize=10)
    return fig
