"""Input and output scaling, stored in the network and applied by ``net(X)``.

A :class:`Scaling` is an affine map per feature, ``u = x * scale + shift``:

* ``"minmax"`` maps each feature's training range onto ``[-1, 1]`` (MATLAB's
  ``mapminmax``);
* ``"standard"`` gives each feature mean 0 and standard deviation 1.

A feature that is constant in the training data gets ``scale = 0``: as input it is
ignored (as MATLAB's ``removeconstantrows`` removes it); as output it maps back to its
constant value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scaling", "minmax", "standard", "fit_scaling", "KINDS"]

KINDS = ("minmax", "standard")


@dataclass(frozen=True)
class Scaling:
    """``u = x * scale + shift`` per feature; ``value`` is what a constant feature
    (``scale == 0``) maps back to."""

    kind: str
    scale: np.ndarray
    shift: np.ndarray
    value: np.ndarray

    def apply(self, X, out=None):
        """Scale ``X`` (``(..., n)``) into network units (into ``out``, which may be ``X``
        itself, when given)."""
        out = np.multiply(X, self.scale, out=out)
        out += self.shift
        return out

    @property
    def inverse_scale(self):
        """``dx/du`` per feature (0 for constant features)."""
        nonzero = self.scale != 0
        return np.where(nonzero, 1 / np.where(nonzero, self.scale, 1), 0).astype(self.scale.dtype)

    def invert(self, U):
        """Map network units ``U`` back to data units."""
        nonzero = self.scale != 0
        offset = np.where(nonzero, -self.shift / np.where(nonzero, self.scale, 1), self.value)
        return U * self.inverse_scale + offset.astype(self.scale.dtype)

    def astype(self, dtype):
        return Scaling(self.kind, *(a.astype(dtype) for a in (self.scale, self.shift, self.value)))

    def arrays(self):
        """``{"scale": ..., "shift": ..., "value": ...}`` for files."""
        return {"scale": self.scale, "shift": self.shift, "value": self.value}


def _columns(X):
    """``X`` as an array of columns, in its own dtype (integers and booleans as float64)."""
    X = np.asarray(X)
    return X if X.dtype.kind == "f" else X.astype(np.float64)


def _mean_var(X, rows=2048):
    """Column means and variances, accumulated in float64 without a float64 copy of
    ``X``: the mean in one buffered pass, then the squared deviations over blocks of
    ``rows`` (differences in ``X``'s own dtype, summed in float64)."""
    mean = X.mean(axis=0, dtype=np.float64)
    centre = mean.astype(X.dtype)
    m2 = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], rows):
        d = X[start:start + rows] - centre
        m2 += np.einsum("ij,ij->j", d, d, dtype=np.float64)
    return mean, m2 / max(X.shape[0], 1)


def minmax(X, dtype=np.float64):
    """Map each column's ``[min, max]`` onto ``[-1, 1]`` (``mapminmax``); one pass over
    ``X`` in its own dtype (min and max are exact in any)."""
    X = _columns(X)
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    constant = hi == lo
    scale = np.where(constant, 0.0, 2.0 / np.where(constant, 1.0, hi - lo))
    shift = np.where(constant, 0.0, -1.0 - lo * scale)
    return Scaling("minmax", scale.astype(dtype), shift.astype(dtype), lo.astype(dtype))


def standard(X, dtype=np.float64):
    """Give each column mean 0 and standard deviation 1 (accumulated in float64,
    without a float64 copy of ``X``)."""
    mean, var = _mean_var(_columns(X))
    std = np.sqrt(var)
    constant = std == 0
    scale = np.where(constant, 0.0, 1.0 / np.where(constant, 1.0, std))
    shift = np.where(constant, 0.0, -mean * scale)
    return Scaling("standard", scale.astype(dtype), shift.astype(dtype), mean.astype(dtype))


def fit_scaling(kind, X, dtype=np.float64):
    """A :class:`Scaling` of ``kind`` ("minmax" or "standard") fitted to ``X``."""
    if kind not in KINDS:
        raise ValueError(f"unknown scaling {kind!r}; use one of {', '.join(KINDS)} or None")
    return (minmax if kind == "minmax" else standard)(X, dtype)
