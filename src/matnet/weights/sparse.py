"""A weight matrix with a fixed sparsity pattern, stored as CSR.

``W`` (``(n_out, n_in)``) keeps only the entries of its pattern: ``indptr``
(``n_out + 1``), ``indices`` (column of each stored entry, sorted within a row, no
duplicates) and ``data`` (the values, the parameters).  The pattern never changes;
``data`` may be a view into the network's parameter vector, so no SciPy matrix holding
it is ever cached: one is wrapped around the live arrays (no copy) at each product.

* ``dot(X) = X @ W.T`` and ``rdot(D) = D @ W`` are SciPy sparse-times-dense products
  (the second with the CSC view of the same arrays, which is ``W.T``).  Both return the
  transpose of a C-ordered ``(n, batch)`` result, i.e. an F-ordered ``(batch, n)`` array:
  the next sparse product then reads it without a copy.
* ``gradient(X, D)`` is the sampled dense-dense product ``g[p] = D[:, row_p] · X[:, col_p]``:
  row by row as a small gather and matrix-vector product where the pattern is sparse, as
  a dense block product sampled at the pattern where a block of rows is dense enough.
  Temporaries stay under :data:`CHUNK_BYTES`; no dense ``(n_out, n_in)`` array is formed.

Inside a network moved to another array library (``Network.to``), ``data`` is an array
of that library: the products use its sparse matrices (``cupyx.scipy.sparse`` on CuPy,
:func:`matnet.backend.sparse_module`), or a dense copy where it has none
(``array_api_strict``), and the gradient and Jacobian gather the pattern's rows and
columns (``take``), in chunks of at most :data:`CHUNK_BYTES`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from .. import backend
from .base import WeightRepresentation

__all__ = ["Sparse"]

#: Bytes of temporaries one chunk of :meth:`Sparse.gradient` / :meth:`Sparse.jacobian` may use.
CHUNK_BYTES = 8 * 2**20
#: Above this fraction of stored entries a block of rows is differentiated by a dense
#: block product sampled at the pattern (BLAS), below it row by row (a gather per row,
#: memory-bound).  Measured cross-over at 4096 x 4096, batch 256, float32: 5-8 %.
DENSE_BLOCK_DENSITY = 0.06


def _index_dtype(*sizes):
    """int32 where every index fits (what SciPy keeps without copying), else int64."""
    return np.int32 if max(sizes, default=0) < 2**31 - 1 else np.int64


def _float(a, name):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "iub":
        return a.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")


def _check_csr(shape, indptr, indices, data):
    """Raise a clear ValueError unless the arrays are a valid canonical CSR of ``shape``."""
    n_out, n_in = shape
    if indptr.ndim != 1 or indptr.size != n_out + 1:
        raise ValueError(f"indptr has shape {indptr.shape}: expected ({n_out + 1},) "
                         f"for a weight of shape {shape}")
    if indices.ndim != 1 or data.ndim != 1:
        raise ValueError(f"indices {indices.shape} and data {data.shape} must be 1-D")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("indptr must start at 0 and never decrease")
    nnz = int(indptr[-1])
    if indices.size != nnz:
        raise ValueError(f"indices has {indices.size} entries but indptr[-1] = {nnz}")
    if data.size != nnz:
        raise ValueError(f"data has {data.size} entries but the pattern has {nnz}")
    if nnz and (indices.min() < 0 or indices.max() >= n_in):
        raise ValueError(f"indices must lie in [0, {n_in}) for a weight of shape {shape}; "
                         f"found [{indices.min()}, {indices.max()}]")
    step = np.diff(indices.astype(np.int64))
    starts = np.zeros(max(nnz - 1, 0), dtype=bool)
    inner = indptr[1:-1]
    starts[inner[(inner > 0) & (inner < nnz)] - 1] = True  # steps that begin a new row
    if np.any((step <= 0) & ~starts):
        raise ValueError("indices must be sorted within each row, without duplicates")


class Sparse(WeightRepresentation):
    """``W`` ``(n_out, n_in)`` in CSR form with a fixed pattern; ``params`` is ``data``.

    Parameters
    ----------
    indptr : (n_out + 1,) int array
        Row ``i`` holds entries ``indptr[i]:indptr[i + 1]``.
    indices : (nnz,) int array
        Column of each entry, sorted within a row, no duplicates.
    data : (nnz,) float array
        Values (kept as given: float32 stays float32; integers become float64).
    shape : (int, int)
        ``(n_out, n_in)``.
    """

    kind = "sparse"

    def __init__(self, indptr, indices, data, shape):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape must be (n_out, n_in) with sizes >= 0, got {shape}")
        indptr, indices = np.asarray(indptr), np.asarray(indices)
        if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
            raise ValueError(f"indptr and indices must be integer arrays, got "
                             f"{indptr.dtype} and {indices.dtype}")
        data = _float(data, "data")
        _check_csr(shape, indptr, indices, data)
        idx = _index_dtype(indices.size, *shape)
        self.shape = shape
        self.indptr = indptr.astype(idx, copy=False)
        self.indices = indices.astype(idx, copy=False)
        self.data = data
        self._rows = None
        self._placed = None             # (namespace, rows, indices) in the library of data

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_dense(cls, W, mask=None):
        """The entries of ``W`` (``(n_out, n_in)``) at its nonzeros, or where ``mask`` is true."""
        W = _float(W, "W")
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D (n_out, n_in), got shape {W.shape}")
        mask = W != 0 if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != W.shape:
            raise ValueError(f"mask has shape {mask.shape} but W has shape {W.shape}")
        rows, cols = np.nonzero(mask)            # row-major: CSR order
        indptr = np.zeros(W.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=W.shape[0]), out=indptr[1:])
        return cls(indptr, cols, W[rows, cols], W.shape)

    @classmethod
    def from_arrays(cls, shape, arrays):
        """Rebuild from :meth:`arrays` (``indptr``, ``indices``, ``data``), validated."""
        missing = {"indptr", "indices", "data"} - set(arrays)
        if missing:
            raise ValueError(f"sparse weight arrays lack {sorted(missing)}")
        return cls(arrays["indptr"], arrays["indices"], arrays["data"], shape)

    def arrays(self):
        return {"indptr": self.indptr, "indices": self.indices, "data": self.data}

    # -- parameters ------------------------------------------------------------------
    @property
    def params(self):
        return self.data

    def _set_params(self, flat):
        if flat.shape != (self.nnz,):
            raise ValueError(f"params of shape {flat.shape}: expected ({self.nnz},)")
        self.data = flat

    @property
    def nnz(self):
        """Number of stored entries."""
        return self.indices.size

    @property
    def density(self):
        """Stored entries over ``n_out * n_in``."""
        return self.nnz / max(1, self.shape[0] * self.shape[1])

    @property
    def rows(self):
        """``(nnz,)`` row of each stored entry (cached: the pattern is fixed)."""
        if self._rows is None:
            self._rows = np.repeat(np.arange(self.shape[0], dtype=self.indices.dtype),
                                   np.diff(self.indptr))
        return self._rows

    def csr(self):
        """A SciPy ``csr_array`` sharing ``indptr``, ``indices`` and ``data`` (no copy)."""
        return scipy.sparse.csr_array((self.data, self.indices, self.indptr),
                                      shape=self.shape, copy=False)

    def _csc_transpose(self):
        """``W.T`` as a SciPy ``csc_array`` sharing the same arrays (no copy)."""
        return scipy.sparse.csc_array((self.data, self.indices, self.indptr),
                                      shape=self.shape[::-1], copy=False)

    @property
    def dtype(self):
        return backend.numpy_dtype(self.data.dtype)

    def to_dense(self):
        """The dense ``(n_out, n_in)`` matrix, a NumPy array (on the host)."""
        W = np.zeros(self.shape, dtype=self.dtype)
        W[self.rows, self.indices] = backend.to_numpy(self.data)
        return W

    def _placed_pattern(self, xp):
        """``(rows, indices)`` of the stored entries as integer arrays of ``xp`` (cached)."""
        if self._placed is None or self._placed[0] is not xp:
            self._placed = (xp, backend.asarray(self.rows.astype(np.int64), xp),
                            backend.asarray(self.indices.astype(np.int64), xp))
        return self._placed[1:]

    def _matrix(self, xp):
        """``W`` in a library other than NumPy: its sparse CSR matrix, or a dense array
        where the library has no sparse matrices."""
        module = backend.sparse_module(xp)
        if module is None:
            return backend.asarray(self.to_dense(), xp)
        return module.csr_matrix((self.data, backend.asarray(self.indices, xp), backend.asarray(self.indptr, xp)),
                                 shape=self.shape)

    # -- computing -------------------------------------------------------------------
    def entries(self):
        """``(rows, columns, values)`` of the pattern only (no dense block is formed)."""
        indptr = np.asarray(self.indptr)
        return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), np.asarray(self.indices), self.params

    def dot(self, X):
        """``X @ W.T``: ``(batch, n_in) -> (batch, n_out)`` (an F-ordered array)."""
        xp = backend.namespace(self.data)
        if xp is not np:
            return (self._matrix(xp) @ X.T).T
        X, single = self._batch(X, self.shape[1], "X")
        Y = (self.csr() @ X.T).T
        return Y[0] if single else Y

    def rdot(self, D):
        """``D @ W``: ``(batch, n_out) -> (batch, n_in)`` (an F-ordered array)."""
        xp = backend.namespace(self.data)
        if xp is not np:
            return (self._matrix(xp).T @ D.T).T
        D, single = self._batch(D, self.shape[0], "D")
        Y = (self._csc_transpose() @ D.T).T
        return Y[0] if single else Y

    def gradient(self, X, D, out=None):
        """``g[p] = sum_b D[b, row_p] * X[b, col_p]``: the dense gradient ``D.T @ X`` at the
        pattern, ``(nnz,)``, computed without forming it."""
        xp = backend.namespace(self.data)
        if xp is not np:
            return _gathered_gradient(*self._placed_pattern(xp), D, X, xp.empty(self.nnz, dtype=D.dtype)
                                      if out is None else out)
        X, D = self._pair(X, D)
        out = self._grad_out(out)
        _sddmm(self.indptr, self.indices, self.rows, D, X, out)
        return out

    def jacobian(self, X, D, out=None):
        """``(batch, K, nnz)``: ``J[b, k, p] = D[k, b, row_p] * X[b, col_p]``."""
        xp = backend.namespace(self.data)
        if xp is not np:
            K, B = D.shape[:2]
            J = xp.empty((B, K, self.nnz), dtype=D.dtype) if out is None else out
            return _gathered_jacobian(*self._placed_pattern(xp), D, X, J)
        X, D = self._triple(X, D)
        K, B = D.shape[:2]
        J = np.empty((B, K, self.n_params), dtype=self.dtype) if out is None else out
        step = max(1, CHUNK_BYTES // max(1, K * B * self.dtype.itemsize))
        Dt = D.transpose(1, 0, 2)
        for s in range(0, self.nnz, step):
            e = min(s + step, self.nnz)
            np.multiply(Dt[:, :, self.rows[s:e]], X[:, None, self.indices[s:e]], out=J[:, :, s:e])
        return J


def _chunks(nnz, values_per_entry, itemsize):
    """Slices of the ``nnz`` entries whose temporaries stay under :data:`CHUNK_BYTES`."""
    step = max(1, CHUNK_BYTES // max(1, values_per_entry * itemsize))
    return [slice(s, min(s + step, nnz)) for s in range(0, nnz, step)]


def _gathered_gradient(rows, indices, D, X, out):
    """``out[p] = D[:, rows[p]] · X[:, indices[p]]`` by gathers (any array library)."""
    xp = backend.namespace(D)
    for part in _chunks(out.shape[0], D.shape[0], backend.numpy_dtype(D.dtype).itemsize):
        out[part] = xp.sum(xp.take(D, rows[part], axis=1) * xp.take(X, indices[part], axis=1), axis=0)
    return out


def _gathered_jacobian(rows, indices, D, X, J):
    """``J[b, k, p] = D[k, b, rows[p]] * X[b, indices[p]]`` by gathers (any array library)."""
    xp = backend.namespace(D)
    Dt = backend.permute(D, (1, 0, 2))
    for part in _chunks(J.shape[2], D.shape[0] * D.shape[1], backend.numpy_dtype(D.dtype).itemsize):
        J[:, :, part] = xp.take(Dt, rows[part], axis=2) * xp.take(X, indices[part], axis=1)[:, None, :]
    return J


def _sddmm(indptr, indices, rows, D, X, out):
    """Sampled dense-dense product ``out[p] = D[:, rows[p]] · X[:, indices[p]]``.

    Blocks of rows that are dense enough (:data:`DENSE_BLOCK_DENSITY`) are computed as a
    dense ``(rows, n_in)`` block (at most :data:`CHUNK_BYTES`) and sampled; the others by
    :func:`_sddmm_rows`.
    """
    n_out, n_in = D.shape[1], X.shape[1]
    ptr = indptr.tolist()
    block = max(1, CHUNK_BYTES // max(1, n_in * out.dtype.itemsize))
    DT = XT = None
    for r0 in range(0, n_out, block):
        r1 = min(r0 + block, n_out)
        s, e = ptr[r0], ptr[r1]
        if e == s:
            continue
        if e - s > DENSE_BLOCK_DENSITY * (r1 - r0) * n_in:
            G = D[:, r0:r1].T @ X
            flat = (rows[s:e] - r0).astype(np.intp) * n_in + indices[s:e]
            np.take(G.reshape(-1), flat, out=out[s:e])
            continue
        if DT is None:
            DT = np.ascontiguousarray(D.T)    # (n_out, batch): one row per output neuron
            XT = np.ascontiguousarray(X.T)    # (n_in, batch): a gather reads whole rows
        _sddmm_rows(ptr, indices, DT, XT, out, r0, r1)


def _sddmm_rows(ptr, indices, DT, XT, out, r0, r1):
    """Rows ``r0:r1`` of :func:`_sddmm`, one gather and matrix-vector product per row, in
    chunks of at most :data:`CHUNK_BYTES`."""
    step = max(1, CHUNK_BYTES // max(1, XT.shape[1] * out.dtype.itemsize))
    for i in range(r0, r1):
        for s in range(ptr[i], ptr[i + 1], step):
            e = min(s + step, ptr[i + 1])
            np.matmul(XT[indices[s:e]], DT[i], out=out[s:e])
