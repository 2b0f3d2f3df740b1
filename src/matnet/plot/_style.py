"""Conventions shared by every picture and by the HTML: colours and number formats.

Nothing here needs matplotlib, so the HTML summary works without it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["POSITIVE", "NEGATIVE", "DIVERGING", "format_value", "symmetric_limit", "as_matrix"]

#: Colour of positive weights (the red end of ``RdBu_r``, the diverging colour map).
POSITIVE = "#b2182b"
#: Colour of negative weights (the blue end of ``RdBu_r``).
NEGATIVE = "#2166ac"
#: Diverging colour map of every weight picture: blue negative, white 0, red positive.
DIVERGING = "RdBu_r"


def format_value(value, digits=3):
    """A short number for a cell or an edge: ``-0.27``, ``1.23``, ``1.2e+03``."""
    text = f"{value:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def symmetric_limit(values):
    """``max |values|`` over the finite values (1 when there are none or all are 0)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def as_matrix(W):
    """``W`` as a 2-D float64 array: sparse and weight objects densified, a vector as a column."""
    if hasattr(W, "toarray"):
        W = W.toarray()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2:
        raise ValueError(f"expected a matrix (n_out, n_in) or a vector, got an array of shape {W.shape}")
    return W
