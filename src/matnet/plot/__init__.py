"""Pictures of networks, their matrices and their training, and the HTML report.

Every picture function returns a :class:`matplotlib.figure.Figure` and draws into a
given ``ax=`` when one is passed.  Figures are made on matplotlib's Agg canvas without
:mod:`matplotlib.pyplot`: no window opens and pyplot's state is untouched.  Save one
with ``fig.savefig("net.png")``; in a notebook it shows itself.

Colours mean the same everywhere: red positive, blue negative, white zero (the
diverging map ``RdBu_r`` with limits ``±max|W|``).  Weight matrices are drawn as stored,
``(n_out, n_in)``: rows are receiving neurons, columns sending neurons.

=========================  =========================================================
``matrix(W, net=, key=)``  heatmap of a weight matrix, values in small ones
``hinton(W)``              Hinton diagram (square side ∝ sqrt|w|, colour by sign)
``network(net)``           the network as a graph of neurons, one edge per parameter
``adjacency(net)``         the N×N adjacency matrix with its blocks outlined
``receptive_fields(W, s)`` each row of W as an image of shape ``s``
``performance(history)``   train/validation/test loss per epoch, best epoch
``training_state(h)``      gradient norm, mu, validation fails per epoch
``regression(net, X, T)``  outputs against targets, fit line, R
``error_histogram(...)``   histogram of the errors ``T - Y``
``confusion(net, X, y)``   confusion matrix of a classifier
``roc(net, X, y)``         ROC curves with AUC, one class against the rest
``response(y, y_hat)``     a time series: prediction against truth, errors below
``weights_animation(h, p)`` GIF of the weight matrices over training
``importance(net, method)`` importance of the inputs as bars (Garson, Olden, ...)
``profile(net, X, feature)`` Lek's profile: an output as one input varies
``generalized_weights(..)`` generalized weights of one input against its values
``spectra(net)``           eigenvalue spectra of WᵀW per connection, power-law fit
``embedding(net, X, l)``   a two-neuron layer's values as points (a graph's nodes)
``report(net, ...)``       one self-contained HTML file of all the above
``html_summary(net)``      HTML fragment: structure and small matrices
=========================  =========================================================

matplotlib is an optional dependency (``pip install matnet[plot]``): importing this
package does not import it; the first picture does, and says how to install it when
it is missing.  :func:`html_summary` needs no matplotlib.
"""
from __future__ import annotations

import importlib

from .report import report
from .summary import html_summary

__all__ = ["matrix", "hinton", "network", "adjacency", "receptive_fields", "performance", "training_state",
           "regression", "error_histogram", "confusion", "roc", "response", "weights_animation", "report",
           "html_summary", "importance", "profile", "generalized_weights", "spectra", "embedding"]

# name -> module: loaded on first use, so that `import matnet.plot` does not import matplotlib.
_LAZY = {"matrix": "matrices", "hinton": "matrices", "network": "netgraph", "adjacency": "adjmatrix",
         "receptive_fields": "fields", "performance": "training", "training_state": "training",
         "regression": "evaluation", "error_histogram": "evaluation", "confusion": "evaluation",
         "roc": "evaluation", "response": "series", "weights_animation": "animation",
         "importance": "feature_importance", "profile": "feature_importance", "generalized_weights": "tangent",
         "spectra": "weight_spectra", "embedding": "embedding"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
