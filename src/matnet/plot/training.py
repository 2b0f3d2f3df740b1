"""Pictures of a training run (a :class:`~matnet.train.History`), as MATLAB's
``plotperform`` and ``plottrainstate``.

Both accept a ``History`` or a dict of per-epoch lists (``history.to_dict()``).
Epoch 0 is the initial network.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._mpl import axes_and_figure, panels

__all__ = ["performance", "training_state", "has_state", "column"]

SPLITS = (("train", "training", "#1f77b4"), ("val", "validation", "#2ca02c"), ("test", "test", "#d62728"))
#: What :func:`training_state` shows when recorded: ``(name, label, log scale)``.
STATE = (("grad_norm", "gradient norm", True), ("mu", "mu", True), ("gamma", "effective parameters", False),
         ("lr", "learning rate", True))


def column(history, name):
    """One recorded quantity as a float array, or None when absent or all NaN."""
    if isinstance(history, Mapping):
        values = history.get(name)
    else:
        values = getattr(history, "records", {}).get(name)
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    return values if values.size and np.isfinite(values).any() else None


def _field(history, name, default=None):
    if isinstance(history, Mapping):
        return history.get(name, default)
    return getattr(history, name, default)


def _best_marker(ax, history, best, log):
    """Mark the best epoch: a dotted line and a circle on the loss that chose it."""
    if best is None:
        return None
    chosen = column(history, "val_loss")
    chosen = chosen if chosen is not None and best < len(chosen) and np.isfinite(chosen[best]) \
        else column(history, "train_loss")
    ax.axvline(best, color="0.4", linestyle=":", linewidth=1.2, label=f"best (epoch {best})")
    if chosen is None or best >= len(chosen) or not np.isfinite(chosen[best]):
        return None
    if log and chosen[best] <= 0:
        return None
    ax.plot([best], [chosen[best]], "o", markersize=9, markerfacecolor="none", markeredgecolor="black",
            markeredgewidth=1.5, gid="best")
    return chosen[best]


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def performance(history, ax=None, log=True, title=None):
    """Training, validation and test loss per epoch, best epoch marked.

    Parameters
    ----------
    history : History or dict
        With ``train_loss`` (and optionally ``val_loss``, ``test_loss``,
        ``best_epoch``, ``loss``).
    ax : matplotlib Axes, optional
    log : bool
        Logarithmic loss axis (linear when a loss is not positive).
    title : str, optional
        Default: the best validation (or training) loss and its epoch.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = axes_and_figure(ax, (6.4, 4.2))
    curves = {key: column(history, f"{key}_loss") for key, _, _ in SPLITS}
    if all(c is None for c in curves.values()):
        raise ValueError("the history records no loss (train_loss, val_loss or test_loss)")
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values() if c is not None])
    log = log and bool((finite > 0).all())
    for key, label, colour in SPLITS:
        if curves[key] is not None:
            ax.plot(np.arange(len(curves[key])), curves[key], color=colour, linewidth=1.8, label=label,
                    gid=f"loss:{key}")
    best = _field(history, "best_epoch")
    value = _best_marker(ax, history, best, log)
    if log:
        ax.set_yscale("log")
    loss = _field(history, "loss") or "loss"
    ax.set_xlabel("epoch")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel(f"{loss} (log scale)" if log else loss)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title is None:
        which = "validation" if curves["val"] is not None else "training"
        title = (f"best {which} {loss} {value:.4g} at epoch {best}" if value is not None else f"{loss} per epoch")
    ax.set_title(title, fontsize=10)
    return fig


def _panels_of(history):
    """``[(name, values, label, log)]`` of the quantities a training state shows."""
    out = []
    for name, label, log in STATE:
        values = column(history, name)
        if values is None:
            continue
        finite = values[np.isfinite(values)]
        if name == "lr" and np.ptp(finite) == 0:
            continue
        out.append((name, values, label, log and bool((finite > 0).all())))
    fails = column(history, "val_fail")
    if fails is not None:
        out.append(("val_fail", fails, "validation fails", False))
    return out


def has_state(history):
    """Whether the history records anything :func:`training_state` shows."""
    return bool(_panels_of(history))


def training_state(history, ax=None, fig=None):
    """Gradient norm, mu (Levenberg–Marquardt), effective parameters (Bayesian
    regularisation), a changing learning rate and the validation fails per epoch, one
    panel each, sharing the epoch axis.

    Parameters
    ----------
    history : History or dict
    ax : Axes or sequence of Axes, optional
        One Axes per panel, or one subplot whose place is divided into the panels.
    fig : Figure, optional
        Add the panels to this figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = _panels_of(history)
    if not shown:
        raise ValueError("the history records none of grad_norm, mu, gamma, a changing lr, val_fail")
    fig, axes = panels(len(shown), ax=ax, fig=fig, figsize=(6.4, 1.7 * len(shown) + 0.8))
    best = _field(history, "best_epoch")
    for axis, (name, values, label, log) in zip(axes, shown):
        epochs = np.arange(len(values))
        if name == "val_fail":
            axis.step(epochs, values, where="post", color="#2ca02c", gid=name)
            axis.set_ylim(-0.3, max(np.nanmax(values), 1.0) + 0.5)
            _integer_ticks(axis.yaxis)
        else:
            axis.plot(epochs, values, color="#1f77b4", linewidth=1.4, marker="." if len(values) <= 60 else None,
                      gid=name)
            if log:
                axis.set_yscale("log")
        if best is not None:
            axis.axvline(best, color="0.4", linestyle=":", linewidth=1.0)
        last = values[np.isfinite(values)][-1]
        axis.set_title(f"{label} = {last:.4g} at epoch {len(values) - 1}", fontsize=9)
        axis.set_ylabel(label, fontsize=8)
        axis.grid(True, alpha=0.3)
    for axis in axes[:-1]:
        axis.tick_params(labelbottom=False)
    axes[-1].set_xlabel("epoch")
    _integer_ticks(axes[-1].xaxis)
    return fig
