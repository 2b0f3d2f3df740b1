"""Which inputs matter: variable importance and Lek's profiles of a trained network.

=================  =====================================================================
``"garson"``       Garson's algorithm (one hidden layer, as NeuralNetTools' ``garson``):
                   the share of ``|w_ij v_kj|`` each input has at hidden neuron ``j``,
                   summed over the hidden neurons and normalised to sum 1
``"olden"``        Olden's connection weights, any depth and any DAG: the signed sum over
                   all paths from input ``i`` to the output of the products of the
                   weights along the path (the ``(output, i)`` entry of
                   ``W_L ⋯ W_2 W_1`` for a chain)
``"sensitivity"``  mean over the samples of ``|dy/dx_i|``, the tangent in data units
``"permutation"``  increase of the loss when column ``i`` of ``X`` is shuffled
=================  =====================================================================

Garson and Olden read the weight matrices alone (no data, no biases, no activations,
Beck 2018, *J. Stat. Softw.* 85(11)).  The weights act on the inputs the network sees:
where the network scales its inputs (``net.input_scaling``), those are the scaled ones,
which puts features of different units on one footing; likewise the output scaling is
not applied.  Sensitivity and permutation are in data units.

:func:`profile` is Lek's profile (NeuralNetTools' ``lekprofile``): the outputs as one
feature runs over its range while the others are held at their quantiles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import on_host
from ..data.targets import prepare_targets
from ..losses import accuracy
from ..weights import operator
from .names import feature_index, feature_labels, features, n_outputs, output_index
from .table import Table
from .tangent import input_jacobian

__all__ = ["METHODS", "LOSSES", "importance", "profile", "Profile", "garson", "olden_matrix"]

#: The importance methods, in the order the docs list them.
METHODS = ("garson", "olden", "sensitivity", "permutation")
#: Losses of permutation importance (or a callable ``loss(Y, T) -> float``).
LOSSES = ("mse", "error_rate", "cross_entropy")


@on_host
def importance(net, method="olden", X=None, T=None, output=None, loss=None, n_repeats=5, seed=None):
    """Importance of every input feature for an output of ``net``.

    Parameters
    ----------
    net : Network
    method : {"garson", "olden", "sensitivity", "permutation"}
        See the module docstring.  Garson needs a static network with one hidden layer
        (``inputs → h → y``); Olden any network without feedback from layers (for
        tapped delays on an input it sums the delay blocks of each feature: the
        importance of the feature at all its lags together); sensitivity and
        permutation a static network (for delays use :func:`input_jacobian`).
    X : array (n_samples, n_features) or dict ``input name -> array``
        Data in data units; needed by ``"sensitivity"`` and ``"permutation"``.
    T : array or dict
        Targets of ``X`` (as :meth:`Network.fit` takes them: class labels or one-hot
        rows for a classifier); needed by ``"permutation"``.
    output : int, optional
        The output neuron (the neurons of every output layer side by side).  Default
        0 for Garson, Olden and sensitivity; for permutation, default the loss over
        every output, an int the squared error of that neuron alone.
    loss : {"mse", "error_rate", "cross_entropy"} or callable, optional
        Permutation only.  Default ``"mse"`` (mean squared error in data units) for a
        regression network and ``"error_rate"`` (``1 - accuracy``, Breiman's choice
        and scikit-learn's default score for classifiers) for a classifier
        (``net.classes`` set).  ``"cross_entropy"`` uses the output probabilities
        (softmax columns, or one sigmoid column).  A callable gets the outputs ``Y``
        and targets ``T`` ``(n_samples, n_out)`` in data units (labels one-hot
        encoded) and returns a float to minimise.
    n_repeats : int
        Permutation only: shuffles of each column.
    seed : int or numpy.random.Generator, optional
        Permutation only: source of the shuffles.

    Returns
    -------
    Table
        One row per input feature (inputs in ``net.inputs`` order): ``feature`` (its
        label), ``importance`` and, for permutation, ``std`` (standard deviation of the
        loss increase over the repeats, ``ddof=0`` as scikit-learn's).  Garson: shares
        in [0, 1] summing to 1 (NaN where every hidden-output weight of the output is
        0).  Olden: signed, in output units per input unit (network units).
        Sensitivity: output units per input unit (data units).  Permutation: loss
        units; with the default loss it equals scikit-learn's ``permutation_importance``
        with ``scoring="neg_mean_squared_error"`` (regression) or the default accuracy
        (classifier) up to the random shuffles.
    """
    if method not in METHODS:
        raise ValueError(f"unknown importance method {method!r}; use one of {', '.join(METHODS)}")
    labels = np.asarray(feature_labels(net))
    if method == "permutation":
        mean, std = _permutation(net, X, T, output, loss, n_repeats, seed)
        return Table({"feature": labels, "importance": mean, "std": std},
                     title=f"permutation importance ({n_repeats} repeats)")
    output = output_index(0 if output is None else output, n_outputs(net))
    values = {"garson": _garson, "olden": _olden, "sensitivity": _sensitivity}[method](net, output, X)
    return Table({"feature": labels, "importance": values}, title=f"{method} importance of output {output}")


def _dense(net, key):
    """The weight of connection ``key`` as a dense float64 matrix ``(n_out, n_in)``."""
    return np.asarray(operator(net.weights[key]).to_dense(), dtype=np.float64)


# -- Garson ------------------------------------------------------------------------

def _garson(net, output, X=None):
    W, V = _one_hidden_layer(net)
    return garson(W, V[output])


def garson(W, v):
    """Garson's relative importance from the matrices of one hidden layer.

    Parameters
    ----------
    W : array (n_hidden, n_in)
        Input-hidden weights.
    v : array (n_hidden,)
        Hidden-output weights of one output neuron.

    Returns
    -------
    ndarray (n_in,)
        ``c_ij = |W_ji v_j|``, shares ``c_ij / Σ_i c_ij`` per hidden neuron ``j``,
        summed over ``j`` and normalised to sum 1 (Beck 2018, eq. 1).  Hidden neurons
        with ``Σ_i c_ij = 0`` add nothing; NaN everywhere when all do.
    """
    C = np.abs(np.asarray(W, np.float64) * np.asarray(v, np.float64)[:, None])     # (hidden, in)
    totals = C.sum(axis=1, keepdims=True)
    shares = np.divide(C, totals, out=np.zeros_like(C), where=totals > 0).sum(axis=0)
    total = shares.sum()
    return shares / total if total > 0 else np.full(C.shape[1], np.nan)


def _one_hidden_layer(net):
    """``(W (n_hidden, n_features), V (n_out, n_hidden))`` of a network ``inputs → h → y``,
    or a ValueError saying what the network is instead."""
    if net.is_dynamic:
        raise ValueError("garson needs a static network (no delays); this one has delays on "
                         + ", ".join(c.label for c in net.connections.values() if c.delays != (0,))
                         + ". Use method='olden', which sums over the delay blocks")
    order = net.topological_order()
    shape = ("layers " + " → ".join(order) + ", connections "
             + ", ".join(c.label for c in net.connections.values()))
    if len(order) != 2 or net.outputs != order[1:]:
        raise ValueError("garson needs exactly one hidden layer between the inputs and one output layer "
                         f"(inputs → h → y, as NeuralNetTools' garson); this network has {shape}. "
                         "Use method='olden', which takes any depth")
    hidden, out = order
    extra = [c.label for c in net.connections.values() if c.target == out and c.source != hidden]
    if extra or not any(c.source == hidden for c in net.connections.values()):
        raise ValueError(f"garson needs every path to go inputs → {hidden} → {out}; this network has {shape}"
                         + (f" (the direct connection {', '.join(extra)})" if extra else "")
                         + ". Use method='olden', which includes every path")
    W = np.hstack([_dense(net, (name, hidden)) if (name, hidden) in net.connections
                   else np.zeros((net.layers[hidden].size, size)) for name, size in net.inputs.items()])
    return W, _dense(net, (hidden, out))


# -- Olden -------------------------------------------------------------------------

def _olden(net, output, X=None):
    return olden_matrix(net)[output]


@on_host
def olden_matrix(net):
    """Olden's connection weights of every output neuron: sums over all paths of the
    products of the weights along each path.

    Parameters
    ----------
    net : Network
        Any network without feedback from layers.  A connection from an input with
        tapped delays ``[d1..dk]`` counts the sum of its ``k`` delay blocks.

    Returns
    -------
    ndarray (n_out, n_features)
        Output neurons of every output layer side by side, features in
        ``net.inputs`` order.  For a chain ``x → h1 → ... → y`` it is ``W_L ⋯ W_1``;
        in general ``P[layer] = Σ_c W_c P[source]`` over the incoming connections,
        layers in topological order — the output-by-input block of ``(I − A)⁻¹``, ``A``
        the adjacency matrix without the bias.
    """
    if net.is_recurrent:
        loops = [c.label for c in net.connections.values() if c.source in net.layers and max(c.delays) > 0]
        raise ValueError("olden needs a network without feedback from layers (paths are then finite); this "
                         f"one feeds back {', '.join(loops)}. For a closed-loop NARX use net.open_loop(); "
                         "for a recurrent network use input_jacobian(net, X)")
    starts = np.cumsum([0, *net.inputs.values()])
    n_features = int(starts[-1])
    paths = {}
    for k, name in enumerate(net.inputs):
        paths[name] = np.eye(n_features)[starts[k]:starts[k + 1]]
    for name in net.topological_order():
        P = np.zeros((net.layers[name].size, n_features))
        for c in net.incoming(name):
            W = _dense(net, c.key)
            if c.source in net.inputs:                  # delay blocks side by side: sum them
                W = W.reshape(W.shape[0], len(c.delays), -1).sum(axis=1)
            P += W @ paths[c.source]
        paths[name] = P
    return np.vstack([paths[name] for name in net.outputs])


# -- sensitivity -------------------------------------------------------------------

def _sensitivity(net, output, X):
    _need_static(net, "sensitivity")
    if X is None:
        raise ValueError("sensitivity importance needs the data: importance(net, 'sensitivity', X=...)")
    J = input_jacobian(net, X)
    if isinstance(J, dict):
        J = np.concatenate([J[name] for name in net.inputs], axis=-1)
    J = J.reshape(-1, *J.shape[-2:])                   # one 1-D sample: (1, n_out, n_in)
    return np.mean(np.abs(J[:, output, :]), axis=0, dtype=np.float64)


def _need_static(net, method):
    if net.is_dynamic:
        raise ValueError(f"{method} importance needs a static network; for a network with delays use "
                         "input_jacobian(net, U), which gives dy(t)/dx(t-d) per delay")


# -- permutation -------------------------------------------------------------------

def _permutation(net, X, T, output, loss, n_repeats, seed):
    """``(mean, std)`` over ``n_repeats`` shuffles of each feature's loss increase."""
    _need_static(net, "permutation")
    if X is None or T is None:
        raise ValueError("permutation importance needs the data and its targets: "
                         "importance(net, 'permutation', X=..., T=...)")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int, got {n_repeats!r}")
    F = features(net, X)
    targets = _targets(net, T, F.shape[0])
    score = _loss_function(net, loss, output)
    baseline = score(_outputs(net, F), targets)
    rng = np.random.default_rng(seed)
    n, p = F.shape
    increases = np.empty((p, n_repeats))
    for i in range(p):
        shuffled = np.tile(F, (n_repeats, 1))           # every repeat at once: one forward pass
        for r in range(n_repeats):
            shuffled[r * n:(r + 1) * n, i] = F[rng.permutation(n), i]
        Y = _outputs(net, shuffled)
        increases[i] = [score(Y[r * n:(r + 1) * n], targets) - baseline for r in range(n_repeats)]
    return increases.mean(axis=1), increases.std(axis=1)


def _split(net, F):
    """Inverse of :func:`~matnet.analysis.names.features`: an array for one input, else a dict."""
    starts = np.cumsum([0, *net.inputs.values()])
    parts = {name: F[:, starts[k]:starts[k + 1]] for k, name in enumerate(net.inputs)}
    return parts if len(parts) > 1 else next(iter(parts.values()))


def _outputs(net, F):
    """Outputs of every output layer side by side, ``(n_samples, n_out)`` float64."""
    Y = net(_split(net, F))
    if isinstance(Y, dict):
        Y = np.hstack([Y[name] for name in net.outputs])
    return np.asarray(Y, np.float64).reshape(F.shape[0], -1)


def _targets(net, T, n):
    """Targets side by side ``(n, n_out)`` in data units, class labels one-hot encoded."""
    T = prepare_targets(net, T, n, scale=False)
    return np.hstack([np.asarray(T[name], np.float64) for name in net.outputs])


def _loss_function(net, loss, output):
    """``score(Y, T) -> float`` for the permutation importance."""
    if callable(loss):
        if output is not None:
            raise ValueError("output= selects a neuron for the squared error; a loss function sees all outputs")
        return lambda Y, T: float(loss(Y, T))
    classifier = net.classes is not None
    loss = ("error_rate" if classifier else "mse") if loss is None else loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} for permutation importance; use one of {', '.join(LOSSES)} "
                         "or a function loss(Y, T) -> float")
    if loss == "mse":
        if output is None:
            return lambda Y, T: float(np.mean((Y - T) ** 2))
        k = output_index(output, n_outputs(net))
        return lambda Y, T: float(np.mean((Y[:, k] - T[:, k]) ** 2))
    if output is not None:
        raise ValueError(f"output= selects a neuron for the squared error; {loss!r} takes every output column")
    if loss == "error_rate":
        return lambda Y, T: 1.0 - accuracy(Y, T)
    return _cross_entropy


def _cross_entropy(Y, T):
    """Mean over samples of ``-Σ_k t_k log y_k`` (one column: the binary form)."""
    Y = np.clip(Y, 1e-15, 1 - 1e-15)
    if Y.shape[1] == 1:
        return float(-np.mean(T * np.log(Y) + (1 - T) * np.log(1 - Y)))
    return float(-np.mean(np.sum(T * np.log(Y), axis=1)))


# -- Lek's profile -----------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """Lek's profile of one feature.

    Attributes
    ----------
    feature : str
        The varied feature's label.
    values : ndarray (n,)
        Its values: an even grid from its smallest to its largest value in ``X``.
    quantiles : ndarray (g,)
        The quantile at which the other features are held, per group.
    outputs : ndarray (g, n, n_out)
        The network's outputs (data units, output layers side by side) per group and
        grid value.
    held : ndarray (g, n_features)
        The values of every feature per group (the varied feature's own quantile in
        its column, for reference).
    """

    feature: str
    values: np.ndarray
    quantiles: np.ndarray
    outputs: np.ndarray
    held: np.ndarray


@on_host
def profile(net, X, feature, n=100, groups=6):
    """Lek's profile (NeuralNetTools' ``lekprofile``): the outputs as one feature runs
    over its range, the other features held at quantiles.

    Parameters
    ----------
    net : Network
        A static network.
    X : array (n_samples, n_features) or dict ``input name -> array``
        Data in data units: the range of the feature and the quantiles of the others.
    feature : int or str
        The feature's index (features of every input side by side, ``net.inputs``
        order) or its label (:func:`feature_labels`, e.g. ``"x[2]"`` or a CSV column).
    n : int
        Points of the grid from the feature's minimum to its maximum.
    groups : int or sequence of float
        An int ``g`` holds the others at the quantiles ``linspace(0, 1, g)``
        (NeuralNetTools' default 6: 0, 0.2, ..., 1; 1 group: the median); a sequence
        gives the quantiles, each in [0, 1].  Quantiles are the linear interpolation of numpy and R's
        default.

    Returns
    -------
    Profile
    """
    if net.is_dynamic:
        raise ValueError("profile needs a static network; for a network with delays use input_jacobian(net, U)")
    F = features(net, X)
    index = feature_index(net, feature)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int of at least 2 grid points, got {n!r}")
    q = _quantiles(groups)
    held = np.quantile(F, q, axis=0)                                        # (g, p)
    values = np.linspace(F[:, index].min(), F[:, index].max(), int(n))
    grid = np.repeat(held, len(values), axis=0)                             # (g * n, p)
    grid[:, index] = np.tile(values, len(q))
    outputs = _outputs(net, grid).reshape(len(q), len(values), -1)
    return Profile(feature_labels(net)[index], values, q, outputs, held)


def _quantiles(groups):
    if isinstance(groups, (int, np.integer)) and not isinstance(groups, bool):
        if groups < 1:
            raise ValueError(f"groups must be at least 1, got {groups}")
        return np.linspace(0, 1, int(groups)) if groups > 1 else np.array([0.5])
    q = np.asarray(groups, dtype=np.float64).ravel()
    if q.size == 0 or not np.all((q >= 0) & (q <= 1)):
        raise ValueError(f"groups must be an int or quantiles in [0, 1], got {groups!r}")
    return q
