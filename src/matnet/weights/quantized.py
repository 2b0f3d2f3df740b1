"""A weight matrix quantised to integers, computing as fixed-point hardware does.

``W ≈ diag(s) Q`` with ``Q`` an ``int8`` or ``int16`` matrix ``(n_out, n_in)`` whose
entries lie in ``[-qmax, qmax]`` (``qmax = 2**(bits - 1) - 1``: 127 or 32767, symmetric)
and ``s`` the weight scales, one per row (``"symmetric-per-row"``) or one for the
whole matrix (``"symmetric-per-tensor"``).  The input the connection reads is quantised
on its own grid of step ``input_scale`` before the product, so ``dot`` is what integer
hardware computes::

    X_q = clip(floor(X * input_inverse + 0.5), -qmax, qmax)       integers
    acc = X_q @ Q.T                                               integer products and sums
    X @ W.T ≈ acc * (s * input_scale)                             scaled accumulation

(``input_inverse = 1 / input_scale``, rounded once).  The products are exact: NumPy sums
them in float64 BLAS, where every partial sum is an integer below ``2**53``, so the
result equals an integer accumulator's as long as that does not overflow;
:attr:`Quantized.accumulator` names the narrowest C type (``int32`` or ``int64``) in
which the row with the largest ``sum |Q[i, :]| * qmax`` cannot overflow.  The bias and
the activation stay in the network's float type (``z = acc * scale + b``, ``a = f(z)``).

The parameters (``params``, a view into the network's parameter vector) are the weight
scales ``s``; ``Q`` and ``input_scale`` are structure.  Training a quantised network
therefore tunes only its scales.  ``rdot`` and ``jacobian`` treat the input's rounding as
the identity (the straight-through estimator), so gradients reach the layers before.
"""
from __future__ import annotations

import numpy as np

from .base import WeightRepresentation

__all__ = ["Quantized", "BITS", "SCHEMES", "qmax"]

#: Integer widths a weight may be quantised to, and the schemes of its scales.
BITS = (8, 16)
SCHEMES = ("symmetric-per-row", "symmetric-per-tensor")
_INT = {8: np.int8, 16: np.int16}


def qmax(bits):
    """The largest magnitude of a symmetric ``bits``-bit integer: ``2**(bits - 1) - 1``."""
    return 2 ** (int(bits) - 1) - 1


def _check_bits(bits):
    if bits not in BITS:
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    return int(bits)


class Quantized(WeightRepresentation):
    """``W ≈ diag(weight_scale) Q`` with integer ``Q``, reading inputs on a grid of step
    ``input_scale`` (see the module docstring); ``params`` are the weight scales.

    Parameters
    ----------
    q : (n_out, n_in) integer array
        Entries in ``[-qmax, qmax]``; stored as ``int8`` (8 bits) or ``int16`` (16 bits).
    weight_scale : (n_out,) or (1,) float array
        Per-row scales, or one scale for every row.
    input_scale : float
        Step of the grid the input is rounded to (> 0).
    bits : {8, 16}
    """

    kind = "quantized"

    def __init__(self, q, weight_scale, input_scale, bits=8):
        bits = _check_bits(bits)
        q = np.asarray(q)
        if q.ndim != 2 or q.dtype.kind not in "iu":
            raise ValueError(f"q must be a 2-D integer matrix (n_out, n_in), got {q.dtype} of shape {q.shape}")
        limit = qmax(bits)
        if q.size and np.abs(q.astype(np.int64)).max() > limit:
            raise ValueError(f"q holds values beyond ±{limit}, the range of {bits}-bit symmetric integers")
        scale = np.asarray(weight_scale)
        scale = scale if scale.dtype.kind == "f" else scale.astype(np.float64)
        if scale.ndim != 1 or scale.size not in (1, q.shape[0]):
            raise ValueError(f"weight_scale has shape {scale.shape}: expected ({q.shape[0]},) per row "
                             "or (1,) for the whole matrix")
        input_scale = np.asarray(input_scale, dtype=scale.dtype).reshape(-1)
        if input_scale.size != 1 or not np.isfinite(input_scale[0]) or input_scale[0] <= 0:
            raise ValueError(f"input_scale must be one positive number, got {input_scale.tolist()}")
        self.shape = q.shape
        self.bits = bits
        self.q = q.astype(_INT[bits], copy=False)
        self.input_scale = input_scale
        self._qT = None
        self._set_params(scale)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_dense(cls, W, input_scale, bits=8, scheme="symmetric-per-row"):
        """Round ``W`` ``(n_out, n_in)`` to ``bits``-bit integers with scales chosen so that
        each row's (or the matrix's) largest magnitude maps to ``qmax`` (an all-zero row
        gets scale 1)."""
        bits = _check_bits(bits)
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
        W = np.asarray(W)
        W = W if W.dtype.kind == "f" else W.astype(np.float64)
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D (n_out, n_in), got shape {W.shape}")
        peak = np.abs(W).max(axis=1) if scheme == "symmetric-per-row" else np.abs(W).max(keepdims=True)[0]
        scale = np.where(peak > 0, peak / qmax(bits), 1.0).astype(W.dtype)
        q = np.rint(W / (scale[:, None] if scale.size > 1 else scale))
        return cls(np.clip(q, -qmax(bits), qmax(bits)).astype(_INT[bits]), scale, input_scale, bits)

    @classmethod
    def from_arrays(cls, shape, arrays):
        """Rebuild from ``{"q", "weight_scale", "input_scale", "bits"}``, checking ``shape``."""
        needed = {"q", "weight_scale", "input_scale", "bits"}
        if not needed <= set(arrays):
            raise ValueError(f"quantized weight arrays need {sorted(needed)}, got {sorted(arrays)}")
        bits = np.asarray(arrays["bits"]).reshape(-1)
        if bits.size != 1 or bits.dtype.kind not in "iu":
            raise ValueError(f"bits must be one integer, got {bits.tolist()}")
        q = np.asarray(arrays["q"])
        if q.dtype != _INT.get(int(bits[0]), None):
            raise ValueError(f"q has dtype {q.dtype}, expected int{int(bits[0])}")
        out = cls(q, arrays["weight_scale"], arrays["input_scale"], int(bits[0]))
        if out.shape != tuple(shape):
            raise ValueError(f"q has shape {out.shape} but the weight has shape {tuple(shape)}")
        return out

    def arrays(self):
        return {"q": self.q, "weight_scale": self.weight_scale, "input_scale": self.input_scale,
                "bits": np.array([self.bits], dtype=np.int64)}

    def _set_params(self, flat):
        if flat.ndim != 1 or flat.size not in (1, self.shape[0]):
            raise ValueError(f"params of shape {flat.shape}: expected ({self.shape[0]},) or (1,)")
        self.params = flat
        self.weight_scale = flat
        if self.input_scale.dtype != flat.dtype:
            self.input_scale = self.input_scale.astype(flat.dtype)

    # -- what the integer hardware uses --------------------------------------------------
    @property
    def n_stored(self):
        """The integers and the scales."""
        return self.q.size + self.n_params

    @property
    def qmax(self):
        return qmax(self.bits)

    @property
    def per_row(self):
        """Whether the scales are per row (else one for the whole matrix)."""
        return self.weight_scale.size == self.shape[0] and self.shape[0] > 1

    @property
    def input_inverse(self):
        """``1 / input_scale`` in the weight's dtype: the factor inputs are rounded after."""
        return (self.input_scale.dtype.type(1) / self.input_scale)[0]

    @property
    def row_scale(self):
        """``weight_scale * input_scale`` per row, ``(n_out,)``: what one unit of the integer
        accumulator is worth."""
        return np.broadcast_to(self.weight_scale * self.input_scale[0], (self.shape[0],))

    @property
    def accumulator(self):
        """``"int32"`` when no row's accumulator can exceed ``2**31 - 1`` for inputs in
        ``[-qmax, qmax]``, else ``"int64"``."""
        bound = int(np.abs(self.q.astype(np.int64)).sum(axis=1).max(initial=0)) * self.qmax
        return "int32" if bound <= 2 ** 31 - 1 else "int64"

    def quantize_input(self, X):
        """``X`` ``(batch, n_in)`` on the input grid: integers in ``[-qmax, qmax]``, as floats."""
        grid = np.floor(X * self.input_inverse + X.dtype.type(0.5))
        return np.clip(grid, -self.qmax, self.qmax, out=grid)

    def reads(self, X):
        """``X`` rounded onto the input grid, in its units: ``quantize_input(X) * input_scale``."""
        return self.quantize_input(np.asarray(X, dtype=self.dtype)) * self.input_scale[0]

    def accumulate(self, X):
        """The integer accumulator ``X_q @ Q.T`` ``(batch, n_out)`` (exact, as float64)."""
        if self._qT is None:
            self._qT = self.q.T.astype(np.float64)
        return self.quantize_input(X).astype(np.float64, copy=False) @ self._qT

    # -- computing -------------------------------------------------------------------
    def dot(self, X):
        """``acc * (s * input_scale)``: ``(batch, n_in) -> (batch, n_out)``."""
        X, single = self._batch(X, self.shape[1], "X")
        Y = self.accumulate(X).astype(self.dtype, copy=False) * self.row_scale
        return Y[0] if single else Y

    def rdot(self, D):
        """``D @ W`` with ``W = diag(s) Q`` (the input's rounding passed straight through)."""
        D, single = self._batch(D, self.shape[0], "D")
        Y = (D * self.weight_scale) @ self.q.astype(self.dtype)
        return Y[0] if single else Y

    def gradient(self, X, D, out=None):
        """``d/ds`` of ``sum_b D[b] · (acc[b] * s * input_scale)``: ``(n_params,)``."""
        X, D = self._pair(X, D)
        out = self._grad_out(out)
        per_row = np.sum(D * self.accumulate(X), axis=0) * self.input_scale[0]
        out[...] = per_row if self.weight_scale.size == self.shape[0] else per_row.sum()
        return out

    def jacobian(self, X, D, out=None):
        """``(batch, K, n_params)``: ``D[k, b, i] * acc[b, i] * input_scale`` per row scale
        (summed over the rows for one scale)."""
        X, D = self._triple(X, D)
        J = D.transpose(1, 0, 2) * (self.accumulate(X) * self.input_scale[0]).astype(self.dtype)[:, None, :]
        if self.weight_scale.size != self.shape[0]:
            J = J.sum(axis=2, keepdims=True)
        if out is None:
            return J
        out[...] = J
        return out

    def to_dense(self):
        """``diag(s) Q`` ``(n_out, n_in)``, the dequantised matrix."""
        return self.q.astype(self.dtype) * self.weight_scale[:, None]

    def copy(self):
        return Quantized(self.q.copy(), self.weight_scale.copy(), self.input_scale.copy(), self.bits)

    def __repr__(self):
        scheme = "per row" if self.per_row else "per tensor"
        return f"Quantized(shape={self.shape}, bits={self.bits}, {scheme})"
