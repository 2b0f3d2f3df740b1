"""The values of a two-neuron layer as points: a learned two-dimensional embedding."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..backend import on_host
from ._mpl import axes_and_figure

__all__ = ["embedding"]


@on_host
def embedding(net, X, layer, labels=None, graph=None, labelled=None, class_names=None, title=None, ax=None):
    """Each sample (graph node) at the activations of ``layer``, a layer of two neurons.

    Parameters
    ----------
    X : inputs of ``net`` (as for ``net(X)``)
    layer : str, a layer of size 2
    labels : array (n,), optional, colours the points by class
    graph : array or sparse (n, n), optional, draws the edges of a graph between the points
    labelled : index array, optional, the points ringed (e.g. the labelled nodes)
    class_names : list of str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if layer not in net.layers or net.layers[layer].size != 2:
        raise ValueError(f"embedding draws a layer of two neurons; {layer!r} "
                         f"{'is not a layer' if layer not in net.layers else f'has {net.layers[layer].size}'}")
    H = np.asarray(net.forward(X).a[layer], dtype=np.float64)
    fig, ax = axes_and_figure(ax, figsize=(5.5, 4.5))
    if graph is not None:
        A = sp.coo_array(graph)
        for i, j in zip(A.row, A.col):
            if i < j:
                ax.plot(H[[i, j], 0], H[[i, j], 1], color="0.8", lw=0.6, zorder=1)
    classes = np.unique(labels) if labels is not None else [None]
    for k, c in enumerate(classes):
        at = slice(None) if c is None else np.asarray(labels) == c
        name = None if c is None else (class_names[int(c)] if class_names is not None else str(c))
        ax.scatter(H[at, 0], H[at, 1], s=40, color=f"C{k}", edgecolor="white", lw=0.5, zorder=2, label=name)
    if labelled is not None:
        ax.scatter(H[labelled, 0], H[labelled, 1], s=160, facecolor="none", edgecolor="black", lw=1.2, zorder=3,
                   label="labelled")
    ax.set_xlabel(f"{layer} neuron 1")
    ax.set_ylabel(f"{layer} neuron 2")
    if labels is not None or labelled is not None:
        ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"activations of {layer}")
    return fig
