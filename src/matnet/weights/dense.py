"""The dense weight: a plain ``(n_out, n_in)`` ndarray behind the operator protocol.

:class:`Dense` wraps the live view of a connection's matrix inside the network's
parameter vector (it copies nothing), so the engine computes with a dense weight
exactly as with a compressed one — and as fast as with the bare array: each
operation is one BLAS call.
"""
from __future__ import annotations

import numpy as np

from .base import WeightOperator

__all__ = ["Dense"]


class Dense(WeightOperator):
    """``W`` ``(n_out, n_in)`` held as an ndarray (a view, never copied)."""

    kind = "dense"

    def __init__(self, W):
        self.W = W

    @property
    def shape(self):
        return self.W.shape

    @property
    def dtype(self):
        return self.W.dtype

    @property
    def n_params(self):
        return self.W.size

    def dot(self, X):
        return X @ self.W.T

    def rdot(self, D):
        return D @ self.W

    def gradient(self, X, D, out=None):
        """``(D.T @ X)`` flat, row-major like ``W``: ``(n_out * n_in,)``."""
        G = np.matmul(D.T, X, out=None if out is None else np.reshape(out, self.W.shape, copy=False))
        return G.reshape(-1)

    def jacobian(self, X, D, out=None):
        """``(batch, K, n_out * n_in)``: the outer products ``D[k, b] ⊗ X[b]``."""
        K, B, R = D.shape
        J = np.empty((B, K, self.W.size), self.W.dtype) if out is None else out
        np.multiply(D.transpose(1, 0, 2)[:, :, :, None], X[:, None, None, :],
                    out=np.reshape(J, (B, K, R, X.shape[1]), copy=False))
        return J

    def to_dense(self):
        return self.W

    def __repr__(self):
        return f"Dense(shape={self.shape})"
