"""A weight matrix as a matrix product operator (tensor-train matrix).

Novikov et al. 2015, "Tensorizing neural networks"; Gao et al. 2020.  With
``n_in = m_1 ... m_d`` (``in_factors``) and ``n_out = n_1 ... n_d`` (``out_factors``),
core ``G_k`` has shape ``(r_{k-1}, n_k, m_k, r_k)``, ``r_0 = r_d = 1``, and

    W[(i_1..i_d), (j_1..j_d)] = G_1[:, i_1, j_1, :] @ ... @ G_d[:, i_d, j_d, :]

with the row index ``i`` row-major over ``(i_1..i_d)`` and the column index ``j`` row-major
over ``(j_1..j_d)``.  ``params`` is every core flattened, in order; the cores are views.

Products contract the input with one core after another and never form ``W``.  Step
``k`` is one matrix product ``Tt_k @ M_k`` where ``Tt_k`` has rows ``(sample, outputs done,
inputs left)`` and columns ``(bond, m_k)``, and ``M_k`` is the core as a
``(r_{k-1} m_k, n_k r_k)`` matrix.  The gradient keeps every ``Tt_k`` and runs the chain
backwards.  :meth:`MPO.from_dense` is the TT-SVD (sequential truncated SVDs).
"""
from __future__ import annotations

import math

import numpy as np

from .base import WeightRepresentation

__all__ = ["MPO"]

_FORWARD = (0, 1, 4, 3, 5, 2)   # (B, P, m', Q', n, c) -> (B, P, n, Q', c, m')
_BACKWARD = (0, 1, 5, 3, 2, 4)  # its inverse


def _factors(f, name):
    f = tuple(int(x) for x in np.asarray(f).reshape(-1))
    if not f or min(f) < 1:
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {f}")
    return f


def _next_rows(R, B, P, ins, k, n, c):
    """Step ``k``'s result ``(B P Q_k, n c)`` as step ``k + 1``'s input ``(B P n Q_{k+1}, c m)``."""
    m, Q = ins[k + 1], math.prod(ins[k + 2:])
    return R.reshape(B, P, m, Q, n, c).transpose(_FORWARD).reshape(B * P * n * Q, c * m)


def _prev_rows(dT, B, P, ins, k, n, c):
    """Inverse of :func:`_next_rows`: a gradient ``(B P n Q_{k+1}, c m)`` as ``(B P Q_k, n c)``."""
    m, Q = ins[k + 1], math.prod(ins[k + 2:])
    return dT.reshape(B, P, n, Q, c, m).transpose(_BACKWARD).reshape(B * P * m * Q, n * c)


def _forward(X, mats, ins, outs, ranks):
    """Contract ``X`` ``(B, prod(ins))`` with the core matrices; returns ``Y`` ``(B, prod(outs))``
    and the inputs ``Tt_k`` of every step."""
    B, Q = X.shape[0], math.prod(ins[1:])
    # step 0: rows (sample, inputs left), columns m_1 (r_0 = 1)
    T = X.reshape(B, ins[0], Q).transpose(0, 2, 1).reshape(B * Q, ins[0])
    steps, P = [], 1
    for k, M in enumerate(mats):
        steps.append(T)
        R = T @ M
        if k + 1 < len(mats):
            T = _next_rows(R, B, P, ins, k, outs[k], ranks[k + 1])
            P *= outs[k]
    return R.reshape(B, P * outs[-1]), steps


def _backward(D, mats, ins, outs, ranks):
    """Gradients ``dR_k`` ``(B P Q_k, n_k r_k)`` of every step's result, for ``D`` ``(B, prod(outs))``."""
    B, d = D.shape[0], len(mats)
    P = math.prod(outs[:-1])
    dR = D.reshape(B * P, outs[-1])
    grads = [None] * d
    for k in range(d - 1, -1, -1):
        grads[k] = dR
        if k:
            P //= outs[k - 1]
            dR = _prev_rows(dR @ mats[k].T, B, P, ins, k - 1, outs[k - 1], ranks[k])
    return grads


class MPO(WeightRepresentation):
    """``W`` ``(prod(out_factors), prod(in_factors))`` as a chain of cores.

    Parameters
    ----------
    cores : list of arrays
        ``G_k`` of shape ``(r_{k-1}, n_k, m_k, r_k)``, ``r_0 = r_d = 1``.
    in_factors : sequence of int
        ``(m_1, ..., m_d)``, ``n_in = prod``.
    out_factors : sequence of int
        ``(n_1, ..., n_d)``, ``n_out = prod``.

    Attributes
    ----------
    ranks : tuple of int
        Bond dimensions ``(1, r_1, ..., r_{d-1}, 1)``.
    error, error_bound : float or None
        Relative Frobenius error of :meth:`from_dense` and the TT-SVD bound on it.
    """

    kind = "mpo"

    def __init__(self, cores, in_factors, out_factors):
        ins, outs = _factors(in_factors, "in_factors"), _factors(out_factors, "out_factors")
        cores = [np.asarray(G) for G in cores]
        _check_cores(cores, ins, outs)
        dtype = np.result_type(*cores)
        if dtype.kind != "f":
            dtype = np.dtype(np.float64)
        self.in_factors, self.out_factors = ins, outs
        self.shape = (math.prod(outs), math.prod(ins))
        self.ranks = (1,) + tuple(G.shape[3] for G in cores)
        self.error = self.error_bound = None
        self._set_params(np.concatenate([G.ravel() for G in cores]).astype(dtype, copy=False))

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_dense(cls, W, in_factors, out_factors, bond_dim=None):
        """TT-SVD of ``W`` ``(n_out, n_in)`` truncated to ``bond_dim`` (an int for every bond,
        a list of ``d - 1`` ints, or None for exact); records ``error`` and ``error_bound``."""
        W = np.asarray(W)
        if W.dtype.kind != "f":
            W = W.astype(np.float64)
        ins, outs = _factors(in_factors, "in_factors"), _factors(out_factors, "out_factors")
        if len(ins) != len(outs) or W.shape != (math.prod(outs), math.prod(ins)):
            raise ValueError(f"W has shape {W.shape} but out_factors {outs} and in_factors "
                             f"{ins} give ({math.prod(outs)}, {math.prod(ins)})")
        cores, discarded = _tt_svd(W, ins, outs, _bonds(bond_dim, len(ins)))
        out = cls(cores, ins, outs)
        norm = np.linalg.norm(W)
        out.error = float(np.linalg.norm(W - out.to_dense()) / norm) if norm else 0.0
        out.error_bound = float(np.sqrt(discarded) / norm) if norm else 0.0
        return out

    @classmethod
    def from_arrays(cls, shape, arrays):
        """Rebuild from ``core0 .. core{d-1}``, ``in_factors``, ``out_factors``, validated."""
        if not {"in_factors", "out_factors"} <= set(arrays):
            raise ValueError(f"MPO arrays need 'in_factors' and 'out_factors', got {sorted(arrays)}")
        d = np.asarray(arrays["in_factors"]).size
        names = {f"core{k}" for k in range(d)}
        extra = set(arrays) - names - {"in_factors", "out_factors"}
        if not names <= set(arrays) or extra:
            raise ValueError(f"MPO arrays need exactly core0..core{d - 1} for {d} factors; "
                             f"got {sorted(arrays)}")
        out = cls([arrays[f"core{k}"] for k in range(d)], arrays["in_factors"], arrays["out_factors"])
        if out.shape != tuple(shape):
            raise ValueError(f"the MPO factors give shape {out.shape} but the weight has shape "
                             f"{tuple(shape)}")
        return out

    def arrays(self):
        out = {f"core{k}": G for k, G in enumerate(self.cores)}
        out["in_factors"] = np.array(self.in_factors, dtype=np.int64)
        out["out_factors"] = np.array(self.out_factors, dtype=np.int64)
        return out

    # -- parameters ------------------------------------------------------------------
    @property
    def core_shapes(self):
        r = self.ranks
        return [(r[k], n, m, r[k + 1])
                for k, (n, m) in enumerate(zip(self.out_factors, self.in_factors))]

    def _set_params(self, flat):
        shapes = self.core_shapes
        sizes = [math.prod(s) for s in shapes]
        if flat.shape != (sum(sizes),):
            raise ValueError(f"params of shape {flat.shape}: expected ({sum(sizes)},)")
        self.params = flat
        offsets = np.cumsum([0] + sizes)
        self.cores = [np.reshape(flat[a:b], s, copy=False)
                      for a, b, s in zip(offsets[:-1], offsets[1:], shapes)]

    def to_dense(self):
        T = np.ones((1, 1, 1), dtype=self.dtype)
        for G in self.cores:
            a, n, m, c = G.shape
            T = np.einsum("xya,anmc->xnymc", T, G).reshape(T.shape[0] * n, T.shape[1] * m, c)
        return T[:, :, 0]

    # -- computing -------------------------------------------------------------------
    def _mats(self):
        """Cores as ``(r_{k-1} m_k, n_k r_k)`` matrices: the steps of ``X @ W.T``."""
        return [G.transpose(0, 2, 1, 3).reshape(G.shape[0] * G.shape[2], G.shape[1] * G.shape[3])
                for G in self.cores]

    def _tmats(self):
        """Cores as ``(r_{k-1} n_k, m_k r_k)`` matrices: the steps of ``D @ W``."""
        return [G.reshape(G.shape[0] * G.shape[1], G.shape[2] * G.shape[3]) for G in self.cores]

    def dot(self, X):
        """``X @ W.T``: ``(batch, n_in) -> (batch, n_out)``, core by core."""
        X, single = self._batch(X, self.shape[1], "X")
        Y, _ = _forward(X, self._mats(), self.in_factors, self.out_factors, self.ranks)
        return Y[0] if single else Y

    def rdot(self, D):
        """``D @ W``: ``(batch, n_out) -> (batch, n_in)``, the transposed chain."""
        D, single = self._batch(D, self.shape[0], "D")
        Y, _ = _forward(D, self._tmats(), self.out_factors, self.in_factors, self.ranks)
        return Y[0] if single else Y

    def gradient(self, X, D, out=None):
        """Gradient with respect to every core, flat in ``params`` order: ``(n_params,)``."""
        X, D = self._pair(X, D)
        out = self._grad_out(out)
        mats = self._mats()
        _, steps = _forward(X, mats, self.in_factors, self.out_factors, self.ranks)
        grads = _backward(D, mats, self.in_factors, self.out_factors, self.ranks)
        for T, dR, view in zip(steps, grads, self._core_views(out)):
            view[...] = _as_core(T.T @ dR, view.shape)
        return out

    def jacobian(self, X, D, out=None):
        """``(batch, K, n_params)``: the gradient of ``D[k, b] · W X[b]`` for each sample and k."""
        X, D = self._triple(X, D)
        K, B = D.shape[:2]
        J = np.empty((B, K, self.n_params), dtype=self.dtype) if out is None else out
        mats = self._mats()
        _, steps = _forward(X, mats, self.in_factors, self.out_factors, self.ranks)
        grads = _backward(D.reshape(K * B, self.shape[0]), mats, self.in_factors,
                          self.out_factors, self.ranks)
        for k, (T, dR, view) in enumerate(zip(steps, grads, self._core_views(J))):
            PQ = math.prod(self.out_factors[:k]) * math.prod(self.in_factors[k + 1:])
            T = T.reshape(B, PQ, T.shape[1]).transpose(0, 2, 1)[:, None]    # (B, 1, a m, P Q)
            dR = dR.reshape(K, B, PQ, dR.shape[1]).transpose(1, 0, 2, 3)    # (B, K, P Q, n c)
            view[...] = _as_core(T @ dR, view.shape)
        return J

    def _core_views(self, flat):
        """Views of ``flat[..., n_params]`` as ``(..., r, n, m, c)`` per core."""
        lead, views, a = flat.shape[:-1], [], 0
        for s in self.core_shapes:
            b = a + math.prod(s)
            views.append(np.reshape(flat[..., a:b], lead + s, copy=False))
            a = b
        return views


def _as_core(dM, shape):
    """``(..., a m, n c)`` gradient of a core matrix as ``(..., a, n, m, c)``."""
    *lead, a, n, m, c = shape
    return dM.reshape(*lead, a, m, n, c).swapaxes(-3, -2)


def _check_cores(cores, ins, outs):
    d = len(ins)
    if len(outs) != d or len(cores) != d:
        raise ValueError(f"{len(cores)} cores, in_factors {ins} and out_factors {outs}: "
                         "they need the same length")
    for k, G in enumerate(cores):
        if G.ndim != 4 or G.shape[1:3] != (outs[k], ins[k]):
            raise ValueError(f"core {k} has shape {G.shape}: expected (r, {outs[k]}, {ins[k]}, r')")
    bonds = [G.shape[0] for G in cores] + [cores[-1].shape[3]]
    if bonds[0] != 1 or bonds[-1] != 1:
        raise ValueError(f"the first core must start and the last end with bond 1; core shapes "
                         f"{[G.shape for G in cores]}")
    for k in range(d - 1):
        if cores[k].shape[3] != cores[k + 1].shape[0]:
            raise ValueError(f"core {k} has shape {cores[k].shape} and core {k + 1} has shape "
                             f"{cores[k + 1].shape}: bond dimensions differ")


def _bonds(bond_dim, d):
    """``bond_dim`` as a list of ``d - 1`` maxima (None: no truncation)."""
    if bond_dim is None:
        return [None] * (d - 1)
    dims = [int(bond_dim)] * (d - 1) if np.ndim(bond_dim) == 0 else [int(b) for b in bond_dim]
    if len(dims) != d - 1 or any(b < 1 for b in dims):
        raise ValueError(f"bond_dim must be a positive int or {d - 1} positive ints, got {bond_dim}")
    return dims


def _tt_svd(W, ins, outs, bonds):
    """Cores of ``W`` by sequential SVDs truncated to ``bonds``; and the sum of the
    discarded squared singular values (``||W - W_tt||_F**2`` is at most this)."""
    d = len(ins)
    T = W.reshape(outs + ins).transpose([a for k in range(d) for a in (k, d + k)])
    C, r, cores, discarded = T, 1, [], 0.0
    for k in range(d - 1):
        u, s, vt = np.linalg.svd(C.reshape(r * outs[k] * ins[k], -1), full_matrices=False)
        keep = s.size if bonds[k] is None else min(s.size, bonds[k])
        discarded += float(np.sum(s[keep:].astype(np.float64) ** 2))
        cores.append(u[:, :keep].reshape(r, outs[k], ins[k], keep))
        C, r = s[:keep, None] * vt[:keep], keep
    cores.append(np.reshape(C, (r, outs[-1], ins[-1], 1)))
    return cores, discarded
