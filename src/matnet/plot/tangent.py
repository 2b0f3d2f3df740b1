"""Generalized weights against the values of one input (R neuralnet's ``gwplot``)."""
from __future__ import annotations

import numpy as np

from ..backend import on_host
from ..analysis.names import feature_index, feature_labels, features
from ..analysis.tangent import generalized_weights as _generalized_weights
from ._mpl import NEGATIVE, POSITIVE, axes_and_figure

__all__ = ["generalized_weights"]


@on_host
def generalized_weights(net, X, feature=0, output=0, ax=None, title=None):
    """Scatter of the generalized weights of one input feature against its values.

    Parameters
    ----------
    net : Network (static)
    X : array (n_samples, n_in), data units
    feature : int or str
        The input feature (index, or a name from ``net.feature_names``).
    output : int
        The output neuron (see :func:`matnet.analysis.generalized_weights`).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    feature = feature_index(net, feature)
    label = feature_labels(net)[feature]
    gw = _generalized_weights(net, X, output).reshape(-1, len(feature_labels(net)))[:, feature]
    x = features(net, X)[:, feature]
    fig, ax = axes_and_figure(ax, (5.2, 4.0))
    ax.scatter(x, gw, s=14, c=np.where(gw >= 0, POSITIVE, NEGATIVE), alpha=0.7, edgecolors="none")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel(label)
    ax.set_ylabel(f"generalized weight of {label}")
    ax.set_title(title or f"Generalized weights, output {output}", fontsize=10)
    return fig
