"""Graph networks: the matrices of a graph and the graph convolutional network.

A graph connection (``net.connect(source, target, propagate=P)``) computes
``Z += P (A_src @ W.T)``: ``W`` mixes each node's features, ``P`` (``(n_nodes,
n_nodes)``) mixes the nodes, which are the rows of the batch — the whole graph at once.
Kipf & Welling's (2017) graph convolution is ``P = Â``, the normalised adjacency
matrix with self-loops, so a two-layer GCN is::

    Y = softmax(Â · relu(Â X W1ᵀ + b1) · W2ᵀ + b2)

Learned propagations (:class:`SpectralFilter`, :class:`ChebyshevFilter`) put their
parameters into the network's parameter vector, gradient and Jacobian like any weight.

* :func:`normalized_adjacency` — ``D^-1/2 (A + I) D^-1/2``;
* :func:`laplacian` — ``I - D^-1/2 A D^-1/2`` (or ``D - A``);
* :func:`gcn` — the two-layer (or deeper) GCN as a :class:`~matnet.network.Network`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from .network import Network
from .weights.propagation import ChebyshevFilter, Fixed, Propagation, SpectralFilter

__all__ = ["normalized_adjacency", "laplacian", "gcn", "SpectralFilter", "ChebyshevFilter", "Fixed", "Propagation"]


def _adjacency(A):
    """``A`` as float64 CSR, checked square, finite and non-negative."""
    A = scipy.sparse.csr_array(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"the adjacency matrix must be square (n_nodes, n_nodes), got shape {A.shape}")
    if not np.isfinite(A.data).all() or (A.data < 0).any():
        raise ValueError("the adjacency matrix must have finite, non-negative entries")
    return A


def _inverse_sqrt_degree(A):
    degree = np.asarray(A.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        d = np.where(degree > 0, 1 / np.sqrt(degree), 0.0)
    return scipy.sparse.diags_array(d)


def normalized_adjacency(A, self_loops=True):
    """``Â = D^-1/2 (A + I) D^-1/2`` (Kipf & Welling's renormalisation), ``D`` the
    degrees of ``A + I``; without ``self_loops``, ``D^-1/2 A D^-1/2``.

    Parameters
    ----------
    A : array or SciPy sparse (n_nodes, n_nodes)
        Edge weights (symmetric for an undirected graph), non-negative.

    Returns
    -------
    scipy.sparse.csr_array (n_nodes, n_nodes), float64
        A node without edges keeps (with self-loops) only itself.
    """
    A = _adjacency(A)
    if self_loops:
        A = A + scipy.sparse.identity(A.shape[0], format="csr")
    d = _inverse_sqrt_degree(A)
    return scipy.sparse.csr_array(d @ A @ d)


def laplacian(A, normalized=True):
    """The graph Laplacian: ``I - D^-1/2 A D^-1/2`` (eigenvalues in ``[0, 2]``) or, with
    ``normalized=False``, ``D - A``.  ``A`` as in :func:`normalized_adjacency` (symmetric).

    Returns
    -------
    scipy.sparse.csr_array (n_nodes, n_nodes), float64
    """
    A = _adjacency(A)
    n = A.shape[0]
    if normalized:
        d = _inverse_sqrt_degree(A)
        return scipy.sparse.csr_array(scipy.sparse.identity(n, format="csr") - d @ A @ d)
    return scipy.sparse.csr_array(scipy.sparse.diags_array(np.asarray(A.sum(axis=1)).ravel()) - A)


def gcn(A, sizes, dropout=0.5, activation="relu", output_activation="softmax", seed=None, dtype="float64"):
    """A graph convolutional network (Kipf & Welling 2017) on the graph ``A``.

    ``x → h1 → ... → y``, each connection propagated by ``Â = normalized_adjacency(A)``,
    Glorot weights, hidden layers with ``activation``, the input and the hidden layers
    with ``dropout`` (as the paper).

    Parameters
    ----------
    A : array or SciPy sparse (n_nodes, n_nodes)
        The graph (made symmetric by the caller for an undirected graph).
    sizes : sequence of int
        ``[n_features, n_hidden, ..., n_classes]`` (Kipf & Welling: ``[n_features, 16, n_classes]``).
    dropout : float
        Dropout of the input and the hidden layers in training (0.5 in the paper).

    Returns
    -------
    Network
        Train it on the whole graph: ``net.fit(X, labels, sample_weight=mask,
        division=None)`` (``mask`` 1 on labelled nodes) or ``division=(train, val, test)``
        node index sets; ``net(X)`` gives every node's class probabilities.  Pass
        ``scaling=None`` to feed the features as given (Kipf & Welling divide each
        node's bag of words by its sum); ``fit``'s default maps each feature onto
        ``[-1, 1]``.

    Examples
    --------
    >>> import matnet as mn
    >>> g = mn.datasets.karate()                               # doctest: +SKIP
    >>> net = mn.gcn(g.adjacency, [34, 4, 2], seed=0)          # doctest: +SKIP
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"gcn needs at least the features and the classes in sizes, got {sizes}")
    P = normalized_adjacency(A)
    net = Network(dtype=dtype, seed=seed)
    names = ["x", *[f"h{k}" for k in range(1, len(sizes) - 1)], "y"]
    net.add_input("x", sizes[0], dropout=dropout)
    for k in range(1, len(sizes)):
        last = k == len(sizes) - 1
        net.add_layer(names[k], sizes[k], output_activation if last else activation,
                      dropout=0.0 if last else dropout)
        net.connect(names[k - 1], names[k], propagate=P)
    return net
