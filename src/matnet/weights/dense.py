"""The dense weight: a plain ``(n_out, n_in)`` ndarray behind the operator protocol.

:class:`Dense` wraps the live view of a connection's matrix inside the network's
parameter vector (it copies nothing), so the engine computes with a dense weight
exactly as with a compressed one — and as fast as with the bare array: each
operation is one BLAS call.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import WeightOperator, _into

__all__ = ["Dense", "Sum", "combine", "EINSUM_SIZE"]

#: Weights of fewer entries, and any weight for one seed, write their per-row Jacobian
#: one seed at a time with einsum, whose kernel writes short outer products about twice
#: as fast as a broadcast multiply (480 rows, 2 seeds, 5 × 3: 25 against 50 µs; 5,000
#: rows, 3 seeds, 10 × 5: 0.7 against 1.6 ms; 2,048 rows, 1 seed, 100 × 20: 2.3 against
#: 4.1 ms); larger weights for several seeds (1,000 rows, 10 seeds, 20 × 64: 15 against
#: 11 ms in float64) keep the multiply.  Measured on this project's machine, 2026-11-30.
EINSUM_SIZE = 1024


class Dense(WeightOperator):
    """``W`` ``(n_out, n_in)`` held as an ndarray (a view, never copied)."""

    kind = "dense"

    def __init__(self, W):
        self.W = W
        self._WT = W.T                  # a view: it follows W

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
        return X @ self._WT

    def rdot(self, D):
        return D @ self.W

    def gradient(self, X, D, out=None):
        """``D.T @ X``, row-major like ``W``: ``(n_out * n_in,)`` (``out`` may also have
        ``W``'s shape)."""
        xp = backend.namespace(D)
        if xp is not np:
            G = D.T @ X                 # out may have W's shape or be flat
            return _into(out, G if out is not None and tuple(out.shape) == tuple(G.shape) else xp.reshape(G, (-1,)))
        if out is None:
            return np.matmul(D.T, X).reshape(-1)
        shape = self.W.shape
        np.matmul(D.T, X, out=out if out.shape == shape else out.reshape(shape, copy=False))
        return out

    def jacobian(self, X, D, out=None):
        """``(batch, K, n_out * n_in)``: the outer products ``D[k, b] ⊗ X[b]``."""
        K, B, R = D.shape
        xp = backend.namespace(D)
        if xp is not np:
            outer = xp.reshape(xp.permute_dims(D, (1, 0, 2))[:, :, :, None] * X[:, None, None, :], (B, K, -1))
            return _into(out, outer)
        J = np.empty((B, K, self.W.size), self.W.dtype) if out is None else out
        blocks = np.reshape(J, (B, K, R, X.shape[1]), copy=False)
        if K == 1 or self.W.size < EINSUM_SIZE:
            for k in range(K):
                np.einsum("br,bc->brc", D[k], X, out=blocks[:, k])
        else:
            np.multiply(D.transpose(1, 0, 2)[:, :, :, None], X[:, None, None, :], out=blocks)
        return J

    def to_dense(self):
        return self.W

    def __repr__(self):
        return f"Dense(shape={self.shape})"


class Sum(WeightOperator):
    """``X -> sum op.dot(X[:, columns])``: several weights reading parts of one input
    ``(batch, n_in)`` (what :func:`combine` gives for compressed forms)."""

    kind = "sum"

    def __init__(self, parts, n_in):
        self.parts = [(op, np.asarray(columns), _runs(np.asarray(columns))) for op, columns in parts]
        self.shape = (self.parts[0][0].shape[0], n_in)

    def dot(self, X):
        out = None
        for op, _, runs in self.parts:
            part = op.dot(_columns(X, runs))
            out = part if out is None else out + part
        return out

    def rdot(self, D):
        xp = backend.namespace(D)
        out = xp.zeros((D.shape[0], self.shape[1]), dtype=D.dtype)
        for op, _, runs in self.parts:
            back = op.rdot(D)
            for into, start, stop in runs:
                out[:, into:into + stop - start] += back[:, start:stop]
        return out

    def to_dense(self):
        return _scatter(self.parts, self.shape, self.parts[0][0].dtype)


def _columns(X, runs):
    """The columns of ``X`` that ``runs`` (:func:`_runs`) name, side by side (a view for one run)."""
    blocks = [X[:, into:into + stop - start] for into, start, stop in runs]
    return blocks[0] if len(blocks) == 1 else backend.concat(blocks, axis=1)


def combine(parts, n_in, dtype):
    """One operator for a sum of weights, each acting on some columns of one input.

    ``parts`` is ``[(op, columns)]`` (at least one): ``dot(X) = sum op.dot(X[:, columns])``
    for ``X`` ``(batch, n_in)``.  When every weight is dense this is one dense matrix (a
    copy of the current values, for one run); otherwise a :class:`Sum` of the operators.
    """
    if all(op.kind == "dense" for op, _ in parts):
        return Dense(_scatter(parts, (parts[0][0].shape[0], n_in), dtype))
    return Sum(parts, n_in)


def _scatter(parts, shape, dtype):
    """The dense ``shape`` matrix with each part's matrix at its columns (runs of
    consecutive columns, so that any array library can write them)."""
    xp = backend.namespace(parts[0][0].to_dense())
    M = xp.zeros(shape, dtype=backend.dtype_of(xp, dtype))
    for op, columns, *_ in parts:
        W = op.to_dense()
        for into, start, stop in _runs(np.asarray(columns)):
            M[:, into:into + stop - start] += W[:, start:stop]
    return M


def _runs(columns):
    """``(column, start, stop)`` for each run of consecutive ``columns``: entries
    ``start:stop`` go to ``column:column + stop - start``."""
    runs, columns = [], columns.tolist()
    for i, column in enumerate(columns):
        if runs and column == runs[-1][0] + i - runs[-1][1]:
            runs[-1][2] = i + 1
        else:
            runs.append([column, i, i + 1])
    return [tuple(run) for run in runs]
