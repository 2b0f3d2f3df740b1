"""A weight matrix of low rank, ``W = U @ V``.

``U`` is ``(n_out, r)``, ``V`` is ``(r, n_in)``; ``params`` is ``[U.ravel(), V.ravel()]``
and ``U``, ``V`` are views into it.  Products go through the rank-``r`` bottleneck:
``X @ W.T = (X @ V.T) @ U.T``, which costs ``r (n_in + n_out)`` per sample instead of
``n_in n_out``.  :func:`truncated_svd` gives the best rank-``r`` approximation of a dense
matrix (Eckart–Young) and its error.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import WeightRepresentation, _check_k, _into

__all__ = ["LowRank", "truncated_svd"]


def _svd_rank(s, rank, energy):
    """The rank kept: ``rank``, or the smallest reaching ``energy`` of ``sum(s**2)``, or all."""
    full = s.size
    if rank is not None and energy is not None:
        raise ValueError("give rank or energy, not both")
    if rank is not None:
        if not 1 <= int(rank) <= full:
            raise ValueError(f"rank must be in [1, {full}] for this matrix, got {rank}")
        return int(rank)
    if energy is None:
        return full
    if not 0 < energy <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    cum = np.cumsum(s.astype(np.float64) ** 2)
    if cum[-1] == 0:
        return 1
    return min(full, int(np.searchsorted(cum / cum[-1], energy * (1 - 1e-12))) + 1)


def truncated_svd(W, rank=None, energy=None):
    """Best rank-``r`` factors of ``W`` (``(n_out, n_in)``) by the singular value decomposition.

    Parameters
    ----------
    W : (n_out, n_in) array
    rank : int, optional
        Rank kept.
    energy : float in (0, 1], optional
        Keep the smallest rank whose squared singular values reach this fraction of
        ``||W||_F**2``.  With neither, the full rank ``min(n_out, n_in)`` (exact).

    Returns
    -------
    U : (n_out, r) array
        Left singular vectors scaled by the singular values.
    V : (r, n_in) array
        Right singular vectors (rows).
    relative_error : float
        ``||W - U V||_F / ||W||_F = sqrt(sum of discarded s**2) / sqrt(sum s**2)``.
    singular_values : (min(n_out, n_in),) array
        All singular values, descending.
    """
    W = np.asarray(W)
    if W.dtype.kind != "f":
        W = W.astype(np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-D (n_out, n_in) array, got shape {W.shape}")
    u, s, vt = np.linalg.svd(W, full_matrices=False)
    r = _svd_rank(s, rank, energy)
    total = float(np.sqrt(np.sum(s.astype(np.float64) ** 2)))
    dropped = float(np.sqrt(np.sum(s[r:].astype(np.float64) ** 2)))
    error = dropped / total if total > 0 else 0.0
    return u[:, :r] * s[:r], vt[:r].copy(), error, s


class LowRank(WeightRepresentation):
    """``W = U @ V`` with ``U`` ``(n_out, r)`` and ``V`` ``(r, n_in)``; ``params = [U, V]`` flat.

    Attributes
    ----------
    error : float or None
        Relative Frobenius error of the approximation (set by :meth:`from_dense`).
    source_singular_values : array or None
        All singular values of the matrix it came from (set by :meth:`from_dense`); the
        weight's own are :meth:`singular_values`.
    """

    kind = "lowrank"

    def __init__(self, U, V):
        U, V = np.asarray(U), np.asarray(V)
        if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[0]:
            raise ValueError(f"U has shape {U.shape} and V has shape {V.shape}: expected "
                             "(n_out, r) and (r, n_in)")
        dtype = np.result_type(U.dtype, V.dtype)
        if dtype.kind != "f":
            dtype = np.dtype(np.float64)
        self.shape = (U.shape[0], V.shape[1])
        self.rank = U.shape[1]
        self.error = None
        self.source_singular_values = None
        self._set_params(np.concatenate([U.ravel(), V.ravel()]).astype(dtype, copy=False))

    @classmethod
    def from_dense(cls, W, rank=None, energy=None):
        """Truncated SVD of ``W`` (see :func:`truncated_svd`); records ``error``."""
        U, V, error, s = truncated_svd(W, rank, energy)
        out = cls(U, V)
        out.error, out.source_singular_values = error, s
        return out

    @classmethod
    def from_arrays(cls, shape, arrays):
        """Rebuild from ``{"U", "V"}``, checking the product has ``shape``."""
        if not {"U", "V"} <= set(arrays):
            raise ValueError(f"low-rank weight arrays need 'U' and 'V', got {sorted(arrays)}")
        out = cls(arrays["U"], arrays["V"])
        if out.shape != tuple(shape):
            raise ValueError(f"U {np.shape(arrays['U'])} @ V {np.shape(arrays['V'])} has shape "
                             f"{out.shape} but the weight has shape {tuple(shape)}")
        return out

    def arrays(self):
        return {"U": self.U, "V": self.V}

    # -- parameters ------------------------------------------------------------------
    def _set_params(self, flat):
        (n_out, n_in), r = self.shape, self.rank
        if tuple(flat.shape) != (r * (n_out + n_in),):
            raise ValueError(f"params of shape {flat.shape}: expected ({r * (n_out + n_in)},)")
        self.params = flat
        xp = backend.namespace(flat)            # views of the parameters, in their library
        self.U = xp.reshape(flat[: n_out * r], (n_out, r))
        self.V = xp.reshape(flat[n_out * r:], (r, n_in))

    @property
    def dtype(self):
        return backend.numpy_dtype(self.params.dtype)

    def to_dense(self):
        """The dense ``(n_out, n_in)`` matrix ``U V``, a NumPy array (on the host)."""
        return backend.to_numpy(self.U @ self.V)

    def singular_values(self, k=None):
        """Singular values of ``W = U V``, descending, float64, ``(min(n_out, n_in),)`` (the
        largest ``k`` when given), without forming ``W``: with ``U = Q_U R_U`` and
        ``V.T = Q_V R_V`` (QR), ``W = Q_U (R_U R_V.T) Q_V.T`` has the singular values of the
        small ``R_U R_V.T``; zeros beyond the rank.  Costs ``O(r² (n_out + n_in))``."""
        U, V = backend.to_numpy(self.U), backend.to_numpy(self.V)
        R_U = np.linalg.qr(U.astype(np.float64), mode="r")
        R_V = np.linalg.qr(V.T.astype(np.float64), mode="r")
        s = np.linalg.svd(R_U @ R_V.T, compute_uv=False)
        full = np.zeros(min(self.shape))
        full[: s.size] = s[: full.size]
        return full if k is None else full[:_check_k(k)]

    # -- computing -------------------------------------------------------------------
    def dot(self, X):
        """``X @ W.T = (X @ V.T) @ U.T``: ``(batch, n_in) -> (batch, n_out)``."""
        if backend.namespace(self.params) is not np:
            return (X @ self.V.T) @ self.U.T
        X, single = self._batch(X, self.shape[1], "X")
        Y = (X @ self.V.T) @ self.U.T
        return Y[0] if single else Y

    def rdot(self, D):
        """``D @ W = (D @ U) @ V``: ``(batch, n_out) -> (batch, n_in)``."""
        if backend.namespace(self.params) is not np:
            return (D @ self.U) @ self.V
        D, single = self._batch(D, self.shape[0], "D")
        Y = (D @ self.U) @ self.V
        return Y[0] if single else Y

    def gradient(self, X, D, out=None):
        """``[dU, dV]`` flat with ``dU = D.T @ (X @ V.T)``, ``dV = (D @ U).T @ X``."""
        xp = backend.namespace(self.params)
        if xp is not np:
            g = backend.concat([xp.reshape(D.T @ (X @ self.V.T), (-1,)), xp.reshape((D @ self.U).T @ X, (-1,))])
            return _into(out, g)
        X, D = self._pair(X, D)
        out = self._grad_out(out)
        n_u = self.U.size
        np.matmul(D.T, X @ self.V.T, out=np.reshape(out[:n_u], self.U.shape, copy=False))
        np.matmul((D @ self.U).T, X, out=np.reshape(out[n_u:], self.V.shape, copy=False))
        return out

    def jacobian(self, X, D, out=None):
        """``(batch, K, n_params)``: per sample ``dU = outer(D[k, b], V X[b])`` and
        ``dV = outer(U.T D[k, b], X[b])``."""
        xp = backend.namespace(self.params)
        if xp is not np:
            K, B = D.shape[:2]
            Dt, DUt = backend.permute(D, (1, 0, 2)), backend.permute(D @ self.U, (1, 0, 2))
            blocks = [xp.reshape(Dt[:, :, :, None] * (X @ self.V.T)[:, None, None, :], (B, K, -1)),
                      xp.reshape(DUt[:, :, :, None] * X[:, None, None, :], (B, K, -1))]
            return _into(out, backend.concat(blocks, axis=2))
        X, D = self._triple(X, D)
        K, B = D.shape[:2]
        (n_out, n_in), r = self.shape, self.rank
        J = np.empty((B, K, self.n_params), dtype=self.dtype) if out is None else out
        XV = X @ self.V.T                          # (B, r)
        DU = D @ self.U                            # (K, B, r)
        JU = np.reshape(J[:, :, : n_out * r], (B, K, n_out, r), copy=False)
        JV = np.reshape(J[:, :, n_out * r:], (B, K, r, n_in), copy=False)
        np.multiply(D.transpose(1, 0, 2)[:, :, :, None], XV[:, None, None, :], out=JU)
        np.multiply(DU.transpose(1, 0, 2)[:, :, :, None], X[:, None, None, :], out=JV)
        return J
