"""How well a network does on data: regression, error histogram, confusion matrix, ROC
(as MATLAB's ``plotregression``, ``ploterrhist``, ``plotconfusion``, ``plotroc``).

Outputs come from ``net(X)`` in data units; several output layers are put side by
side in ``net.outputs`` order (targets given as a dict likewise).  Errors are
``targets - outputs``, as MATLAB's ``gsubtract``.
"""
from __future__ import annotations

import numpy as np

from ..backend import on_host
from ..losses import Metric
from ._mpl import axes_and_figure

__all__ = ["regression", "error_histogram", "confusion", "roc", "outputs_and_targets", "roc_curve"]


def _columns(net, value):
    if isinstance(value, dict):
        return np.hstack([np.asarray(value[name], dtype=np.float64).reshape(len(value[name]), -1)
                          for name in net.outputs])
    value = np.asarray(value, dtype=np.float64)
    return value.reshape(len(value), -1) if value.ndim else value.reshape(1, 1)


def outputs_and_targets(net, X, T):
    """``(Y, T)``: outputs for ``X`` and targets as float matrices of equal shape."""
    Y, T = _columns(net, net(X)), _columns(net, T)
    if Y.shape != T.shape:
        raise ValueError(f"targets have shape {T.shape} but the network gives outputs of shape {Y.shape}")
    return Y, T


@on_host
def regression(net, X, T, ax=None, title=None, max_points=5000, seed=0):
    """Outputs against targets with the least-squares fit line, ``Y = T`` and R.

    Parameters
    ----------
    net : Network
    X, T : arrays or dicts
        Inputs and targets (several output columns are pooled, as MATLAB's "All").
    ax : matplotlib Axes, optional
    title : str, optional
        Default ``R = 0.9934``.
    max_points : int
        Draw a random subset of at most this many points (the fit uses all).
    seed : int
        For that subset.

    Returns
    -------
    matplotlib.figure.Figure
    """
    Y, T = outputs_and_targets(net, X, T)
    y, t = Y.ravel(), T.ravel()
    fig, ax = axes_and_figure(ax, (5.2, 5.0))
    shown = np.arange(t.size)
    if t.size > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(t.size, max_points, replace=False))
    ax.scatter(t[shown], y[shown], s=12 if t.size <= 500 else 4, alpha=0.6 if t.size <= 500 else 0.3,
               color="#1f77b4", edgecolors="none", label="data", gid="points")
    lo, hi = float(min(t.min(), y.min())), float(max(t.max(), y.max()))
    pad = 0.05 * (hi - lo or 1.0)
    line = np.array([lo - pad, hi + pad])
    ax.plot(line, line, ":", color="0.4", linewidth=1.2, label="Y = T")
    slope, intercept, r = _fit(t, y)
    ax.plot(line, slope * line + intercept, color="#d62728", linewidth=1.6, gid="fit",
            label=f"fit: Y ≈ {slope:.3g}·T {'+' if intercept >= 0 else '−'} {abs(intercept):.3g}")
    ax.set_xlim(line)
    ax.set_ylim(line)
    ax.set_aspect("equal")
    ax.set_xlabel("target T")
    ax.set_ylabel("output Y")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else f"R = {r:.4f}  ({t.size} values)", fontsize=10)
    return fig


def _fit(t, y):
    """Least-squares line ``y ≈ slope·t + intercept`` and Pearson's R."""
    if np.ptp(t) == 0:
        return 0.0, float(y.mean()), float("nan")
    slope, intercept = np.polyfit(t, y, 1)
    metric = Metric("R")
    metric.add(y, t)
    return float(slope), float(intercept), metric.value()


@on_host
def error_histogram(net, X=None, T=None, ax=None, bins=20, title=None):
    """Histogram of the errors ``T - Y``, zero error marked.

    Parameters
    ----------
    net : Network or array
        A network (then give ``X`` and ``T``), or the errors themselves.
    X, T : arrays or dicts, optional
    ax : matplotlib Axes, optional
    bins : int
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(net, "layers"):
        if X is None or T is None:
            raise ValueError("error_histogram(net, X, T) needs inputs X and targets T")
        Y, T = outputs_and_targets(net, X, T)
        errors = (T - Y).ravel()
    else:
        errors = np.asarray(net, dtype=np.float64).ravel()
    fig, ax = axes_and_figure(ax, (6.0, 4.0))
    ax.hist(errors, bins=bins, color="#1f77b4", edgecolor="white", linewidth=0.5, gid="histogram")
    ax.axvline(0.0, color="#d62728", linewidth=1.4, label="zero error")
    ax.set_xlabel("error = target − output")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    rmse = float(np.sqrt(np.mean(errors ** 2))) if errors.size else float("nan")
    ax.set_title(title if title is not None else f"errors of {errors.size} values: mean {errors.mean():.3g}, "
                 f"RMSE {rmse:.3g}", fontsize=10)
    return fig


# -- classification ----------------------------------------------------------------

def _classes(net, labels, predicted):
    if net.classes is not None:
        return list(net.classes)
    return sorted(set(np.asarray(labels).tolist()) | set(np.asarray(predicted).tolist()))


def _as_labels(net, labels):
    """Class labels; one-hot (or probability) rows become labels too."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        index = np.argmax(labels, axis=1)
        return np.asarray(net.classes)[index] if net.classes is not None else index
    return labels.ravel()


def confusion_matrix(true, predicted, classes):
    """``C[i, j]``: samples of class ``classes[i]`` predicted as ``classes[j]``."""
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted(set(np.asarray(true).tolist()) - set(index), key=str)
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not classes of the network ({classes[:10]})")
    C = np.zeros((len(classes), len(classes)), int)
    for a, b in zip(np.asarray(true).tolist(), np.asarray(predicted).tolist()):
        C[index[a], index[b]] += 1
    return C


@on_host
def confusion(net, X, labels, ax=None, normalize=False, title=None, colorbar=True):
    """Confusion matrix: rows the true class, columns the predicted class.

    Parameters
    ----------
    net : Network
        A classifier (``net.predict_classes``).
    X : array or dict
    labels : array
        True class labels (or one-hot rows).
    ax : matplotlib Axes, optional
    normalize : bool
        Show each row as fractions of its class instead of counts.
    title : str, optional
        Default: the accuracy.

    Returns
    -------
    matplotlib.figure.Figure
    """
    true = _as_labels(net, labels)
    predicted = np.asarray(net.predict_classes(X)).ravel()
    classes = _classes(net, true, predicted)
    C = confusion_matrix(true, predicted, classes)
    shown = C / np.maximum(C.sum(axis=1, keepdims=True), 1) if normalize else C
    k = len(classes)
    fig, ax = axes_and_figure(ax, (min(2.8 + 0.5 * k, 11.0), min(2.2 + 0.45 * k, 10.0)))
    image = ax.imshow(shown, cmap="Blues", vmin=0, interpolation="nearest")
    if k <= 20:
        _count_labels(ax, C, shown, normalize)
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, fontsize=8, rotation=90 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(C) / max(C.sum(), 1)
    ax.set_title(title if title is not None else f"confusion matrix: accuracy {100 * accuracy:.1f}% "
                 f"({np.trace(C)} of {C.sum()})", fontsize=10)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the class" if normalize else "samples")
    return fig


def _count_labels(ax, C, shown, normalize):
    top = shown.max() or 1
    for (i, j), value in np.ndenumerate(shown):
        if C[i, j] == 0 and i != j:
            continue
        text = f"{value:.2f}" if normalize else str(C[i, j])
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if value > 0.6 * top else "black")


def roc_curve(scores, positive):
    """``(false positive rate, true positive rate, AUC)`` for scores and a boolean truth."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, bool)
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each distinct threshold
    tp = np.r_[0, np.cumsum(p)[last]]
    fp = np.r_[0, np.cumsum(~p)[last]]
    tpr = tp / max(p.sum(), 1)
    fpr = fp / max((~p).sum(), 1)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return fpr, tpr, auc


@on_host
def roc(net, X, labels, ax=None, title=None, max_legend=10):
    """Receiver operating characteristic per class (one-vs-rest), with the AUC.

    Parameters
    ----------
    net : Network
        A classifier: softmax outputs (one column per class) or one sigmoid column.
    X : array or dict
    labels : array
        True class labels (or one-hot rows).
    ax : matplotlib Axes, optional
    title : str, optional
    max_legend : int
        Name at most this many classes in the legend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    true = _as_labels(net, labels)
    scores = _columns(net, net(X))
    classes = list(net.classes) if net.classes is not None else (
        [0, 1] if scores.shape[1] == 1 else list(range(scores.shape[1])))
    fig, ax = axes_and_figure(ax, (5.6, 5.0))
    curves = [(classes[1], scores[:, 0])] if scores.shape[1] == 1 else list(zip(classes, scores.T))
    aucs = []
    for k, (cls, s) in enumerate(curves):
        fpr, tpr, auc = roc_curve(s, true == cls)
        aucs.append(auc)
        ax.plot(fpr, tpr, linewidth=1.4, color=f"C{k % 10}", gid=f"roc:{cls}",
                label=f"class {cls} (AUC {auc:.3f})" if k < max_legend else None)
    ax.plot([0, 1], [0, 1], ":", color="0.5", linewidth=1.0)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title if title is not None else f"ROC, one class against the rest: mean AUC {np.mean(aucs):.3f}",
                 fontsize=10)
    return fig
