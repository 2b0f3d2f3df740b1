"""Matrix factorisation as matrix networks: PMF, biased MF and neural network matrix
factorisation (Dziugaite & Roy 2015).

A rating ``r(u, i)`` is predicted from two index inputs, ``user`` and ``item``.  A
connection from an index input is an embedding (column ``u`` of its weight), and a
product layer (``combine="product"``) multiplies its incoming contributions element-wise,
so the dot product ``p_u · q_i`` is a product layer followed by a fixed summing
connection (a row of ones that training keeps):

* :func:`pmf` — ``r = p_u · q_i``: ``W[user→uv]`` is ``Pᵀ`` ``(d, n_users)``, ``W[item→uv]`` is ``Qᵀ``;
* :func:`biased_mf` — ``r = μ + b_u + c_i + p_u · q_i``: the biases are the weights
  ``W[user→r]`` ``(1, n_users)`` and ``W[item→r]``, ``μ`` the bias of ``r``;
* :func:`nnmf` — ``r = f(U_u, V_i, U'_u ∘ V'_i)``: a network on the concatenation of
  two ``d``-dimensional embeddings and the element-wise product of two ``d'``-dimensional
  ones (the paper's input), through ``hidden_sizes`` sigmoid layers.

Train them with ``net.fit({"user": u, "item": i}, r, ...)`` (any algorithm); ``fit``'s
default output scaling maps the ratings onto ``[-1, 1]`` and back.
"""
from __future__ import annotations

import numpy as np

from .network import Network

__all__ = ["pmf", "biased_mf", "nnmf", "rmse"]


def _inputs(net, n_users, n_items):
    net.add_input("user", n_users, index=True)
    net.add_input("item", n_items, index=True)


def _dot(net, d, name="uv"):
    """``p_u ∘ q_i`` in a product layer ``name`` of ``d`` neurons."""
    net.add_layer(name, d, "linear", bias=False, combine="product")
    net.connect("user", name)
    net.connect("item", name)


def pmf(n_users, n_items, d, seed=None, dtype="float64"):
    """Probabilistic matrix factorisation: ``r(u, i) = p_u · q_i``.

    Parameters
    ----------
    n_users, n_items : int
    d : int, the rank (length of the factor vectors)

    Returns
    -------
    Network
        Index inputs ``user``, ``item``; product layer ``uv`` ``(d)``; output ``r``
        ``(1)``, linear, without bias, reading ``uv`` through fixed ones.
    """
    net = Network(seed=seed, dtype=dtype)
    _inputs(net, n_users, n_items)
    _dot(net, d)
    net.add_layer("r", 1, "linear", bias=False)
    net.connect("uv", "r", np.ones((1, d)), trainable=False)
    return net


def biased_mf(n_users, n_items, d, seed=None, dtype="float64"):
    """Biased matrix factorisation: ``r(u, i) = μ + b_u + c_i + p_u · q_i``.

    Returns
    -------
    Network
        As :func:`pmf`, and ``r`` reads ``user`` (``b``) and ``item`` (``c``) directly
        and has the bias ``μ``.
    """
    net = Network(seed=seed, dtype=dtype)
    _inputs(net, n_users, n_items)
    _dot(net, d)
    net.add_layer("r", 1, "linear")
    net.connect("uv", "r", np.ones((1, d)), trainable=False)
    net.connect("user", "r", np.zeros((1, n_users)))
    net.connect("item", "r", np.zeros((1, n_items)))
    return net


def nnmf(n_users, n_items, d, d_prime, hidden_sizes, activation="sigmoid", seed=None, dtype="float64"):
    """Neural network matrix factorisation (Dziugaite & Roy 2015).

    ``r(u, i) = f([U_u, V_i, U'_u ∘ V'_i])`` with ``f`` a network of ``hidden_sizes``
    layers.  The paper uses ``d = 10``, ``d' = 60`` and three hidden layers of 50
    sigmoid units.

    Parameters
    ----------
    d, d_prime : int
        Lengths of the embeddings ``U``, ``V`` and of ``U'``, ``V'``.
    hidden_sizes : sequence of int

    Returns
    -------
    Network
        Index inputs ``user``, ``item``; linear layers ``u``, ``v`` ``(d)`` and the product
        layer ``uv`` ``(d')`` (no biases), read by ``h1``; ``h1 → ... → r``.
    """
    hidden_sizes = [hidden_sizes] if isinstance(hidden_sizes, (int, np.integer)) else list(hidden_sizes)
    if not hidden_sizes:
        raise ValueError("nnmf needs at least one hidden layer")
    net = Network(seed=seed, dtype=dtype)
    _inputs(net, n_users, n_items)
    for name, source in (("u", "user"), ("v", "item")):
        net.add_layer(name, d, "linear", bias=False)
        net.connect(source, name)
    _dot(net, d_prime)
    names = [f"h{k}" for k in range(1, len(hidden_sizes) + 1)]
    for name, size in zip(names, hidden_sizes):
        net.add_layer(name, size, activation)
    net.add_layer("r", 1, "linear")
    for source in ("u", "v", "uv"):
        net.connect(source, names[0])
    for a, b in zip(names, [*names[1:], "r"]):
        net.connect(a, b)
    return net


def rmse(net, ratings):
    """Root mean squared error of ``net`` on a :class:`~matnet.data.Ratings` set (stars)."""
    predicted = np.asarray(net({"user": ratings.user, "item": ratings.item})).reshape(-1)
    return float(np.sqrt(np.mean((predicted - ratings.rating) ** 2)))
