"""A dense weight read by an index input: an embedding.

An index input carries one integer per sample, ``i`` in ``0 .. n_in - 1``, held as a
column of the network's dtype (``X[:, 0]``).  The connection multiplies its weight
``W`` ``(n_out, n_in)`` by the one-hot vector of ``i``, which is column ``i`` of ``W``:

* ``dot(X) = W[:, i].T`` per sample, a gather of columns;
* ``gradient(X, D)`` adds each sample's ``D[b]`` into column ``i_b`` (a scatter-add:
  the samples sorted by index, each index's rows summed with ``np.add.reduceat``);
* ``jacobian(X, D)`` has ``D[k, b]`` in column ``i_b`` and zeros elsewhere.

No one-hot matrix is formed.  The weight itself is a plain matrix (:class:`Dense`'s
layout in the parameter vector), so files, pictures and the adjacency see an ordinary
connection.
"""
from __future__ import annotations

import numpy as np

from .dense import Dense

__all__ = ["Embedding", "indices"]


def indices(X, n):
    """The integer indices of an index input's column ``X`` ``(batch, 1)``, checked against ``0 .. n - 1``."""
    i = X[:, 0].astype(np.intp)
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError(f"an index is outside 0 .. {n - 1}: got {i.min()} .. {i.max()}")
    return i


class Embedding(Dense):
    """The operator of a dense ``W`` read by an index input (see the module docstring)."""

    kind = "embedding"

    def dot(self, X):
        return np.take(self.W, indices(X, self.W.shape[1]), axis=1).T

    def rdot(self, D):
        raise ValueError("an index input has no derivative: its values are indices, not numbers")

    def gradient(self, X, D, out=None):
        G = np.zeros(self.W.shape, self.W.dtype) if out is None else out.reshape(self.W.shape, copy=False)
        G[...] = 0
        i = indices(X, self.W.shape[1])
        order = np.argsort(i, kind="stable")                   # the samples of each index together
        seen, first = np.unique(i[order], return_index=True)
        if seen.size:
            G.T[seen] = np.add.reduceat(D[order], first, axis=0)
        return G.reshape(-1) if out is None else out

    def jacobian(self, X, D, out=None):
        K, B, R = D.shape
        n_in = self.W.shape[1]
        J = np.zeros((B, K, R * n_in), self.W.dtype) if out is None else out
        if out is not None:
            J[...] = 0
        columns = np.arange(R)[None, None, :] * n_in + indices(X, n_in)[:, None, None]     # W[r, i_b], row-major
        J[np.arange(B)[:, None, None], np.arange(K)[None, :, None], columns] = D.transpose(1, 0, 2)
        return J

    def reads(self, X):
        return X
