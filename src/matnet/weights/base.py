"""The operator protocol every weight form implements, dense included.

A connection's weight ``W`` (``(n_out, n_in)``, rows receive) acts on a batch through
these operations, and the engine (forward pass, backward pass, Jacobian) and the
analysis use nothing else — they never ask which form a weight has:

* ``dot(X) = X @ W.T`` — ``(batch, n_in) -> (batch, n_out)``, the forward pass;
* ``rdot(D) = D @ W`` — ``(batch, n_out) -> (batch, n_in)``, back-propagation;
* ``gradient(X, D)`` — the gradient of ``sum_b D[b] · W X[b]`` with respect to the
  weight's parameters (``(n_params,)``);
* ``jacobian(X, D)`` — the same per sample and seed: ``D`` ``(K, batch, n_out)`` gives
  ``(batch, K, n_params)``, the weight's columns of a Jacobian;
* ``to_dense()`` — the ``(n_out, n_in)`` matrix, for pictures, export and checks;
  ``entries()`` — the entries it holds, as the edges of a graph; ``reads(X)`` — what
  the product uses of ``X`` (``X`` itself; a quantised weight's input rounded onto its grid);
* ``singular_values(k=None)`` — the singular values of ``W``, descending, float64
  (``(min(n_out, n_in),)``; the largest ``k`` when ``k`` is given), for the spectra
  of :mod:`matnet.analysis`.  By default the SVD of ``to_dense()``; ``LowRank`` never
  forms the dense matrix, and ``Sparse`` and ``MPO`` give only the largest ones
  (:func:`top_singular_values`, from ``dot`` and ``rdot``) when the dense matrix
  would have more than :data:`DENSE_SVD_ENTRIES` entries.

Delay blocks need no operation of their own: a connection with delays ``[d1..dk]``
acts on the stacked vector ``[a(t-d1); ...; a(t-dk)]`` (its ``n_in`` is ``k`` times the
source's size), so ``dot`` takes the stacked lagged values and ``rdot`` returns one
block per delay side by side, which the engine sends to the steps ``t - d``.

:class:`Dense` (in :mod:`matnet.weights.dense`) wraps a plain ndarray — the default and
fast path.  A :class:`WeightRepresentation` holds ``W`` in a compressed form (sparse,
low rank, matrix product operator) and computes without forming the dense matrix.  Its
parameters are one flat vector ``params`` which, inside a network, is a view into the
network's parameter vector (``net.get_flat()``), so optimisers, ``set_flat`` and files
see them like any other parameters.
"""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["WeightOperator", "WeightRepresentation", "singular_values_of", "top_singular_values",
           "default_top_k", "DENSE_SVD_ENTRIES"]

#: Largest dense matrix (entries) whose full SVD a form without a cheaper route computes;
#: above it ``Sparse`` and ``MPO`` give only the largest singular values.
DENSE_SVD_ENTRIES = 4_000_000


class WeightOperator:
    """The operator protocol (see the module docstring): ``kind``, ``shape``,
    ``dtype``, ``n_params``, ``dot``, ``rdot``, ``gradient``, ``jacobian``, ``to_dense``,
    ``entries``, ``singular_values``."""

    kind = "abstract"

    def dot(self, X):
        """``X @ W.T``: ``(batch, n_in) -> (batch, n_out)``."""
        raise NotImplementedError

    def rdot(self, D):
        """``D @ W``: ``(batch, n_out) -> (batch, n_in)``."""
        raise NotImplementedError

    def gradient(self, X, D, out=None):
        """Gradient of ``sum_b D[b] · (W X[b])`` with respect to the parameters (the weight
        gradient back-propagation needs, for ``D = dL/dZ``): ``(n_params,)``."""
        raise NotImplementedError

    def jacobian(self, X, D, out=None):
        """Per-sample gradients for the Jacobian: ``D`` is ``(K, batch, n_out)``; returns
        ``(batch, K, n_params)`` with ``[b, k] = d(D[k, b] · W X[b]) / dparams``
        (written into ``out`` when given)."""
        raise NotImplementedError

    def to_dense(self):
        """The dense ``(n_out, n_in)`` matrix (for pictures, export and checks)."""
        raise NotImplementedError

    def reads(self, X):
        """What the product uses of ``X`` ``(batch, n_in)``: ``dot(X) == reads(X) @ W.T``
        (``X`` itself, but for a quantised weight, which rounds it onto a grid)."""
        return X

    @property
    def n_stored(self):
        """Numbers the form stores: its parameters, and fixed values that are not
        parameters (a quantised weight's integers)."""
        return self.n_params

    def entries(self):
        """``(rows, columns, values)`` of the entries the weight holds (every entry of a
        dense or factorised matrix; a sparse one's pattern): the edges of the graph."""
        W = np.asarray(self.to_dense())
        rows, cols = np.indices(W.shape)
        return rows.ravel(), cols.ravel(), W.ravel()

    def singular_values(self, k=None):
        """Singular values of ``W``, descending, float64.

        Parameters
        ----------
        k : int, optional
            Return only the largest ``k``.

        Returns
        -------
        (min(n_out, n_in),) array, or ``(min(k, n_out, n_in),)`` when ``k`` is given.
        This default is the SVD of :meth:`to_dense`.
        """
        s = np.linalg.svd(np.asarray(self.to_dense(), dtype=np.float64), compute_uv=False)
        return s if k is None else s[:_check_k(k)]


def _check_k(k):
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def default_top_k(shape):
    """How many singular values :func:`top_singular_values` gives by default:
    ``min(200, min(shape) - 1)`` (ARPACK needs ``k < min(shape)``), at least 1."""
    return max(1, min(200, min(shape) - 1))


def singular_values_of(op, k=None):
    """``op``'s singular values for a form without a cheaper route (``Sparse``, ``MPO``):
    the full SVD of the dense matrix when it has at most :data:`DENSE_SVD_ENTRIES`
    entries, else only the largest ``k`` (default :func:`default_top_k`) by
    :func:`top_singular_values`, never forming the dense matrix."""
    n_out, n_in = op.shape
    if n_out * n_in <= DENSE_SVD_ENTRIES:
        return WeightOperator.singular_values(op, k)
    return top_singular_values(op, default_top_k(op.shape) if k is None else _check_k(k))


def top_singular_values(op, k):
    """The largest ``k`` singular values of the operator ``op``, descending, float64.

    Lanczos bidiagonalisation (ARPACK, :func:`scipy.sparse.linalg.svds`) on a
    :class:`~scipy.sparse.linalg.LinearOperator` whose products are ``op.dot`` and
    ``op.rdot``: the dense ``(n_out, n_in)`` matrix is never formed.  ``k`` is capped at
    ``min(n_out, n_in) - 1`` (ARPACK's limit); a one-row or one-column ``W`` gives its
    norm.  The starting vector is fixed, so the result is reproducible.
    """
    from scipy.sparse.linalg import LinearOperator, svds

    n_out, n_in = op.shape
    if min(n_out, n_in) == 1:
        probe = np.ones((1, 1), dtype=op.dtype)
        column = op.rdot(probe) if n_out == 1 else op.dot(probe)
        return np.array([np.linalg.norm(np.asarray(column, dtype=np.float64))])

    def matmat(X):                    # W @ X, X (n_in, m)
        return np.asarray(op.dot(np.asarray(X).reshape(n_in, -1).T), dtype=np.float64).T

    def rmatmat(Y):                   # W.T @ Y, Y (n_out, m)
        return np.asarray(op.rdot(np.asarray(Y).reshape(n_out, -1).T), dtype=np.float64).T

    A = LinearOperator((n_out, n_in), matvec=lambda x: matmat(x)[:, 0], rmatvec=lambda y: rmatmat(y)[:, 0],
                       matmat=matmat, rmatmat=rmatmat, dtype=np.float64)
    k = min(_check_k(k), min(n_out, n_in) - 1)
    v0 = np.random.default_rng(0).standard_normal(min(n_out, n_in))
    s = svds(A, k=k, v0=v0, return_singular_vectors=False)
    return np.sort(s)[::-1].astype(np.float64)


def _into(out, value):
    """``value``, copied into ``out`` when a buffer is given."""
    if out is None:
        return value
    out[...] = value
    return out


class WeightRepresentation(WeightOperator):
    """A weight matrix ``W`` of ``shape`` ``(n_out, n_in)`` in a compressed form.

    Subclasses define ``kind``, ``shape``, ``params`` and the methods below.
    Batches are rows everywhere: ``X`` is ``(batch, n_in)``, ``D`` is ``(batch, n_out)``.
    """

    kind = "abstract"

    # -- parameters ------------------------------------------------------------------
    @property
    def n_params(self):
        """Number of stored parameters."""
        return self.params.size

    @property
    def dtype(self):
        return self.params.dtype

    def bind(self, buffer):
        """Move the parameters into ``buffer`` (a flat view of the network's parameter
        vector, length ``n_params``) and compute from there from now on."""
        buffer[...] = backend.asarray(self.params, backend.namespace(buffer))
        self._set_params(buffer)

    def with_params(self, flat):
        """The same structure with other parameters (e.g. a gradient), sharing ``flat``."""
        other = self.copy()
        other._set_params(np.asarray(flat).reshape(-1))
        return other

    def get_flat(self):
        return self.params.copy()

    def set_flat(self, flat):
        self.params[...] = flat

    # -- computing (the protocol of WeightOperator) ----------------------------------
    def singular_values(self, k=None):
        """Singular values of ``W``, descending, float64: all ``min(n_out, n_in)`` (the
        dense SVD) while ``n_out * n_in`` is at most :data:`DENSE_SVD_ENTRIES`; above it
        only the largest ``k`` (default ``min(200, min(n_out, n_in) - 1)``), by Lanczos
        on ``dot``/``rdot`` without forming the dense matrix (:func:`top_singular_values`).
        A form with a cheaper exact route (``LowRank``) overrides it."""
        return singular_values_of(self, k)

    def __array__(self, dtype=None, copy=None):
        dense = self.to_dense()
        return dense if dtype is None else dense.astype(dtype)

    # -- files and copies ------------------------------------------------------------
    def arrays(self):
        """``name -> array``: everything needed to rebuild it (structure and params)."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, shape, arrays):
        raise NotImplementedError

    def copy(self):
        arrays = {k: np.array(backend.to_numpy(v)) for k, v in self.arrays().items()}     # on the host
        return type(self).from_arrays(self.shape, arrays)

    def astype(self, dtype):
        arrays = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in self.arrays().items()}
        return type(self).from_arrays(self.shape, arrays)

    def _set_params(self, flat):
        raise NotImplementedError

    @property
    def nbytes(self):
        """Bytes of all stored arrays (parameters and structure)."""
        return sum(a.nbytes for a in self.arrays().values())

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, n_params={self.n_params})"

    # -- helpers for subclasses ----------------------------------------------------------
    def _batch(self, A, width, name):
        """``A`` as a 2-D ``(batch, width)`` array of ``self.dtype`` (cast, never upcast),
        and whether it was one 1-D sample."""
        A = np.asarray(A)
        if A.dtype != self.dtype:
            A = A.astype(self.dtype)
        given, single = A.shape, A.ndim == 1
        if single:
            A = A[None, :]
        if A.ndim != 2 or A.shape[1] != width:
            raise ValueError(f"{name} has shape {given} but the weight has shape {self.shape}: "
                             f"expected (batch, {width}) or ({width},)")
        return A, single

    def _pair(self, X, D):
        """``X`` ``(batch, n_in)`` and ``D`` ``(batch, n_out)`` checked together."""
        X, _ = self._batch(X, self.shape[1], "X")
        D, _ = self._batch(D, self.shape[0], "D")
        if X.shape[0] != D.shape[0]:
            raise ValueError(f"X has shape {X.shape} and D has shape {D.shape}: "
                             "they need the same number of rows (samples)")
        return X, D

    def _triple(self, X, D):
        """``X`` ``(batch, n_in)`` and a stack ``D`` ``(K, batch, n_out)`` for the Jacobian."""
        X, _ = self._batch(X, self.shape[1], "X")
        D = np.asarray(D)
        if D.dtype != self.dtype:
            D = D.astype(self.dtype)
        if D.ndim != 3 or D.shape[1:] != (X.shape[0], self.shape[0]):
            raise ValueError(f"D has shape {D.shape} and X has shape {X.shape}: expected D of "
                             f"shape (K, {X.shape[0]}, {self.shape[0]}) for a weight of shape "
                             f"{self.shape}")
        return X, D

    def _grad_out(self, out):
        """``out`` checked as a ``(n_params,)`` array of ``self.dtype``, or a new one."""
        if out is None:
            return np.empty(self.n_params, dtype=self.dtype)
        if out.shape != (self.n_params,) or out.dtype != self.dtype:
            raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}: expected "
                             f"({self.n_params},) of {self.dtype}")
        return out
