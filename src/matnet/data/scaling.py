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

    def apply(self, X):
        """Scale ``X`` (``(n_samples, n)``) into network units."""
        return X * self.scale + self.shift

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


def minmax(X, dtype=np.float64):
    """Map each column's ``[min, max]`` onto ``[-1, 1]`` (``mapminmax``)."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    constant = hi == lo
    scale = np.where(constant, 0.0, 2.0 / np.where(constant, 1.0, hi - lo))
    shift = np.where(constant, 0.0, -1.0 - lo * scale)
    return Scaling("minmax", scale.astype(dtype), shift.astype(dtype), lo.astype(dtype))


def standard(X, dtype=np.float64):
    """Give each column mean 0 and standard deviation 1."""
    X = np.asarray(X, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    constant = std == 0
    scale = np.where(constant, 0.0, 1.0 / np.where(constant, 1.0, std))
    shift = np.where(constant, 0.0, -mean * scale)
    return Scaling("standard", scale.astype(dtype), shift.astype(dtype), mean.astype(dtype))


def fit_scaling(kind, X, dtype=np.float64):
    """A :class:`Scaling` of ``kind`` ("minmax" or "standard") fitted to ``X``."""
    if kind not in KINDS:
        raise ValueError(f"unknown scaling {kind!r}; use one of {', '.join(KINDS)} or None")
    return (minmax if kind == "minmax" else standard)(X, dtype)
