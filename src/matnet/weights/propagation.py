"""Propagation over the rows of a batch: the node side of a graph connection.

A connection may carry a propagation ``P`` (``(n_nodes, n_nodes)``) that mixes the rows
of a batch — the nodes of a graph — after the weight has mixed the columns::

    Z += P(θ) (X @ W.T)                       (``apply``)

so a graph convolution is ``Â H Wᵀ`` (Kipf & Welling 2017).  ``P`` acts on the rows,
``W`` on the columns; the two commute, and back-propagation sends ``P(θ)ᵀ D`` to the
weight (``transpose``).  Three kinds:

* :class:`Fixed` — a given matrix, usually SciPy sparse (the normalised adjacency
  matrix), no parameters;
* :class:`SpectralFilter` — ``U diag(θ) Uᵀ`` on the first ``k`` eigenvectors of a
  graph Laplacian (Bruna et al. 2014), ``θ`` learned (``k`` parameters, starting at 1:
  the projection onto the ``k`` smoothest graph signals);
* :class:`ChebyshevFilter` — ``Σ_k θ_k T_k(L̃)``, Chebyshev polynomials of the scaled
  Laplacian ``L̃ = 2 L / λ_max - I`` (Defferrard et al. 2016), ``order + 1``
  coefficients learned (starting at ``θ = [1, 0, ...]``, the identity), no
  eigendecomposition.

Every operation takes ``Y`` ``(n_nodes, n)`` or a stack ``(K, n_nodes, n)`` (the seeds of
a Jacobian).  A filter's parameters ``theta`` are, inside a network, a view into its
parameter vector (:meth:`bind`), like a compressed weight's.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

__all__ = ["Propagation", "Fixed", "SpectralFilter", "ChebyshevFilter", "propagation", "from_arrays", "KINDS",
           "DENSE_EIGH_NODES"]

#: Graphs up to this many nodes get all their eigenvectors from a dense ``eigh``;
#: larger ones the first ``k`` from ``eigsh``.
DENSE_EIGH_NODES = 3000


def _on_rows(M, Y):
    """``M @ Y`` for ``Y`` ``(N, n)`` or ``(K, N, n)`` (``M`` sparse or dense ``(N, N)``)."""
    if Y.ndim == 2:
        return np.asarray(M @ Y)
    K, N, n = Y.shape
    out = np.asarray(M @ Y.transpose(1, 0, 2).reshape(N, K * n))
    return out.reshape(N, K, n).transpose(1, 0, 2)


def _square(M, what):
    """``M`` as float64 CSR, checked square."""
    if not scipy.sparse.issparse(M):
        M = np.asarray(M)
        if M.ndim != 2 or not np.issubdtype(M.dtype, np.number):
            raise ValueError(f"{what} must be a square matrix, got an array of shape {M.shape}")
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{what} must be square (n_nodes, n_nodes), got shape {M.shape}")
    M = scipy.sparse.csr_array(M, dtype=np.float64)
    if not np.isfinite(M.data).all():
        raise ValueError(f"{what} has entries that are not finite")
    return M


def _symmetric(L, what):
    L = _square(L, what)
    if abs(L - L.T).max() > 1e-10 * max(abs(L).max(), 1.0):
        raise ValueError(f"{what} must be symmetric (a graph Laplacian); got a matrix with L != L.T")
    return L


class Propagation:
    """The protocol (see the module docstring): ``kind``, ``n_nodes``, ``n_params``,
    ``theta``, ``apply``, ``transpose``, ``gradient``, ``to_dense``, ``arrays``."""

    kind = "abstract"
    theta = np.zeros(0)

    @property
    def n_params(self):
        return self.theta.size

    def bind(self, buffer):
        """Move ``theta`` into ``buffer`` (a view into a network's parameter vector)."""
        buffer[...] = self.theta
        self.theta = buffer

    def apply(self, Y):
        """``P(θ) Y``: ``(N, n) -> (N, n)`` or ``(K, N, n) -> (K, N, n)``."""
        raise NotImplementedError

    def transpose(self, D):
        """``P(θ)ᵀ D``, what back-propagation sends through ``apply``."""
        return self.apply(D)                 # the filters are symmetric

    def gradient(self, Y, D):
        """``d <D, P(θ) Y> / dθ``: ``(n_params,)``, or ``(K, n_params)`` for ``D`` ``(K, N, n)``."""
        return np.zeros(D.shape[:-2] + (0,), D.dtype)

    def to_dense(self):
        """``P(θ)`` as a dense ``(N, N)`` matrix (for pictures and explanations)."""
        raise NotImplementedError

    def astype(self, dtype):
        raise NotImplementedError

    def describe(self):
        """A short text: what the propagation is."""
        return self.kind

    def __repr__(self):
        return f"{type(self).__name__}(n_nodes={self.n_nodes}, n_params={self.n_params})"


class Fixed(Propagation):
    """A fixed propagation matrix ``P`` ``(n_nodes, n_nodes)`` (dense or SciPy sparse; kept as CSR)."""

    kind = "fixed"

    def __init__(self, P, dtype=np.float64):
        P = _square(P, "the propagation matrix")
        self.P = P.astype(dtype)
        self.PT = self.P.T.tocsr()
        self.n_nodes = P.shape[0]
        self.theta = np.zeros(0, dtype)

    def apply(self, Y):
        return _on_rows(self.P, Y)

    def transpose(self, D):
        return _on_rows(self.PT, D)

    def to_dense(self):
        return self.P.toarray()

    def astype(self, dtype):
        return Fixed(self.P, dtype)

    def arrays(self):
        return {"indptr": self.P.indptr, "indices": self.P.indices, "data": self.P.data,
                "shape": np.array(self.P.shape)}

    @classmethod
    def from_arrays(cls, arrays):
        n = tuple(int(s) for s in arrays["shape"])
        P = scipy.sparse.csr_array((arrays["data"], arrays["indices"], arrays["indptr"]), shape=n)
        return cls(P, np.asarray(arrays["data"]).dtype)

    def describe(self):
        return f"fixed {self.n_nodes}x{self.n_nodes}, {self.P.nnz} entries"


class SpectralFilter(Propagation):
    """``U diag(θ) Uᵀ``: a learned filter on the first ``k`` eigenvectors ``U``
    ``(N, k)`` of the symmetric graph Laplacian ``L`` (smallest eigenvalues first).

    Parameters
    ----------
    L : array or sparse (N, N), symmetric
    k : int, 1 <= k <= N
    """

    kind = "spectral"

    def __init__(self, L, k, dtype=np.float64, _basis=None):
        if _basis is None:
            L = _symmetric(L, "the Laplacian")
            N = L.shape[0]
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= N:
                raise ValueError(f"k must be an integer in 1..{N} (the graph's nodes), got {k!r}")
            if N <= DENSE_EIGH_NODES or k >= N - 1:
                values, U = scipy.linalg.eigh(L.toarray(), subset_by_index=[0, int(k) - 1])
            else:
                values, U = scipy.sparse.linalg.eigsh(L, k=int(k), which="SA")
            order = np.argsort(values)
            _basis = values[order], U[:, order]
        self.eigenvalues = np.asarray(_basis[0], np.float64)
        self.U = np.ascontiguousarray(_basis[1], dtype)
        self.UT = np.ascontiguousarray(self.U.T)
        self.n_nodes, self.k = self.U.shape
        self.theta = np.ones(self.k, dtype)

    def apply(self, Y):
        spectrum = np.matmul(self.UT, Y)                      # (..., k, n)
        return np.matmul(self.U, spectrum * self.theta[:, None])

    def gradient(self, Y, D):
        return np.sum(np.matmul(self.UT, D) * (self.UT @ Y), axis=-1)

    def to_dense(self):
        return (self.U * self.theta) @ self.UT

    def astype(self, dtype):
        other = SpectralFilter(None, self.k, dtype, _basis=(self.eigenvalues, self.U))
        other.theta = self.theta.astype(dtype)
        return other

    def arrays(self):
        return {"eigenvalues": self.eigenvalues.astype(self.U.dtype), "U": self.U}

    @classmethod
    def from_arrays(cls, arrays):
        U = np.asarray(arrays["U"])
        return cls(None, U.shape[1], U.dtype, _basis=(arrays["eigenvalues"], U))

    def describe(self):
        return f"spectral filter on {self.k} of {self.n_nodes} eigenvectors"


class ChebyshevFilter(Propagation):
    """``Σ_{k=0..order} θ_k T_k(L̃)`` with ``L̃ = 2 L / λ_max - I`` (``λ_max`` the largest
    eigenvalue of ``L``, from ``eigsh``, unless given).

    Parameters
    ----------
    L : array or sparse (N, N), symmetric
    order : int >= 0
    lambda_max : float, optional
    """

    kind = "chebyshev"

    def __init__(self, L, order, lambda_max=None, dtype=np.float64, _scaled=None):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
            raise ValueError(f"order must be a non-negative integer, got {order!r}")
        if _scaled is None:
            L = _symmetric(L, "the Laplacian")
            if lambda_max is None:
                lambda_max = _largest_eigenvalue(L)
            if not np.isfinite(lambda_max) or lambda_max <= 0:
                raise ValueError(f"lambda_max must be a positive number, got {lambda_max!r}")
            _scaled = (2.0 / lambda_max) * L - scipy.sparse.identity(L.shape[0], format="csr")
        self.L = scipy.sparse.csr_array(_scaled).astype(dtype)
        self.n_nodes, self.order = self.L.shape[0], int(order)
        self.theta = np.zeros(self.order + 1, dtype)
        self.theta[0] = 1

    def _terms(self, Y):
        """``T_0(L̃) Y, ..., T_order(L̃) Y``."""
        terms = [Y]
        if self.order >= 1:
            terms.append(_on_rows(self.L, Y))
        for _ in range(2, self.order + 1):
            terms.append(2 * _on_rows(self.L, terms[-1]) - terms[-2])
        return terms

    def apply(self, Y):
        out = None
        for c, T in zip(self.theta, self._terms(Y)):
            out = c * T if out is None else out + c * T
        return out

    def gradient(self, Y, D):
        return np.stack([np.sum(D * T, axis=(-2, -1)) for T in self._terms(Y)], axis=-1)

    def to_dense(self):
        return self.apply(np.eye(self.n_nodes, dtype=self.theta.dtype))

    def astype(self, dtype):
        other = ChebyshevFilter(None, self.order, dtype=dtype, _scaled=self.L)
        other.theta = self.theta.astype(dtype)
        return other

    def arrays(self):
        return {"indptr": self.L.indptr, "indices": self.L.indices, "data": self.L.data,
                "shape": np.array(self.L.shape), "order": np.array(self.order)}

    @classmethod
    def from_arrays(cls, arrays):
        n = tuple(int(s) for s in arrays["shape"])
        L = scipy.sparse.csr_array((arrays["data"], arrays["indices"], arrays["indptr"]), shape=n)
        return cls(None, int(arrays["order"]), dtype=np.asarray(arrays["data"]).dtype, _scaled=L)

    def describe(self):
        return f"Chebyshev filter of order {self.order}"


def _largest_eigenvalue(L):
    if L.shape[0] <= 2:
        return float(np.linalg.eigvalsh(L.toarray())[-1])
    return float(scipy.sparse.linalg.eigsh(L, k=1, which="LA", return_eigenvectors=False)[0])


#: ``kind -> class`` of every propagation.
KINDS = {cls.kind: cls for cls in (Fixed, SpectralFilter, ChebyshevFilter)}


def propagation(P, dtype=np.float64):
    """A connection's propagation in ``dtype``: a :class:`Propagation` (copied) or a
    matrix (made :class:`Fixed`)."""
    if isinstance(P, Propagation):
        return P.astype(dtype)
    return Fixed(P, dtype)


def from_arrays(kind, arrays):
    """Rebuild a propagation of ``kind`` from its :meth:`arrays` (``theta`` comes from the
    network's parameter vector)."""
    if kind not in KINDS:
        raise ValueError(f"unknown propagation kind {kind!r}; known: {sorted(KINDS)}")
    return KINDS[kind].from_arrays(arrays)
