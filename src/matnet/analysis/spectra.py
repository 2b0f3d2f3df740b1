"""Spectra of the weight matrices: singular values, norms, stable rank and the
power-law exponent of the eigenvalue distribution (Martin & Mahoney's heavy-tailed
self-regularisation, as WeightWatcher computes it).

For a connection's ``W`` (``(n_out, n_in)``; with delays the whole ``(n_out, k n_in)``
matrix) with singular values ``σ_1 ≥ ... ≥ σ_m``, ``m = min(n_out, n_in)``, the
eigenvalues of ``WᵀW`` are ``λ_i = σ_i²`` (and ``n_in - m`` zeros, ignored).  Their
largest ones are fitted by a continuous power law ``p(λ) ∝ λ^-α`` for ``λ ≥ xmin``
(Clauset, Shalizi & Newman 2009): :func:`power_law`.  A random (untrained) matrix has
a Marchenko–Pastur bulk with a sharp edge and no heavy tail, so the fit gives a large
``α`` (WeightWatcher reads ``α > 6`` as random-like); well-trained layers give
``2 ≤ α ≤ 6``, and ``α < 2`` signals a very heavy tail.

The singular values come from each weight's own operator
(:meth:`~matnet.weights.WeightOperator.singular_values`), so no dense matrix is formed
where the form allows it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import on_host
from ..network import weight_label
from ..weights import operator
from .table import Table

__all__ = ["spectra", "power_law", "PowerLaw", "Spectra", "MIN_TAIL", "RELATIVE_ZERO"]

#: Default smallest tail fitted by :func:`power_law`: fewer eigenvalues give ``α = NaN``
#: (with ``n`` values the standard error of ``α`` is ``(α - 1)/sqrt(n)``, already a
#: third of ``α - 1`` at 10).
MIN_TAIL = 10
#: Eigenvalues at most this fraction of the largest count as zero (rounding of a
#: rank-deficient matrix) and are ignored.
RELATIVE_ZERO = 1e-12
#: Candidates of xmin evaluated at once: a block is ``(block, n)`` floats, at most this many.
_BLOCK_ENTRIES = 2**21


class PowerLaw(NamedTuple):
    """A continuous power law fitted to the tail ``λ ≥ xmin`` of a sample.

    Attributes
    ----------
    alpha : float
        Exponent ``α`` of ``p(λ) ∝ λ^-α`` (NaN when too few values).
    xmin : float
        Start of the tail.
    ks_distance : float
        Kolmogorov–Smirnov distance between the tail's empirical CDF and the fitted
        ``1 - (λ/xmin)^(1-α)``.
    n_tail : int
        Values ``≥ xmin``.
    sigma : float
        Standard error of ``α``: ``(α - 1) / sqrt(n_tail)``.
    """

    alpha: float
    xmin: float
    ks_distance: float
    n_tail: int
    sigma: float


_NO_FIT = PowerLaw(np.nan, np.nan, np.nan, 0, np.nan)


def _positive(values):
    """The values above ``RELATIVE_ZERO`` times the largest, sorted ascending, float64."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x) & (x > 0)]
    if x.size:
        x = x[x > RELATIVE_ZERO * x.max()]
    return np.sort(x)


def _ks_distances(logx, starts, log_lower, alphas):
    """KS distance of each candidate ``c``: the tail ``x[starts[c]:]`` (``logx`` the
    logarithms of the sorted values, ``starts`` ascending) against the power law from
    ``exp(log_lower[c])`` with exponent ``alphas[c]``.

    The tail's empirical CDF steps from ``k/m`` to ``(k+1)/m`` at its ``k``-th value
    (``m`` values), so with the fitted survival ``S = (λ/xmin)^(1-α) = 1 - F`` the
    distance is ``max_k max((k+1)/m - 1 + S, 1 - S - k/m)``.  Candidates go in blocks,
    each an array over the values from its first tail on (positions before a
    candidate's own tail masked out).
    """
    n = logx.size
    out = np.empty(starts.size)
    block = max(1, _BLOCK_ENTRIES // n)
    for a in range(0, starts.size, block):
        i = starts[a:a + block, None]
        m = (n - i).astype(np.float64)
        k = np.arange(i[0, 0], n)[None, :] - i                                   # rank within the tail
        G = (alphas[a:a + block, None] - 1.0) * (logx[None, i[0, 0]:] - log_lower[a:a + block, None])
        S = np.exp(-np.maximum(G, 0.0))
        step = k / m
        D = np.maximum(step + (1.0 / m - 1.0) + S, (1.0 - S) - step)
        D[k < 0] = -np.inf
        out[a:a + block] = D.max(axis=1)
    return out


def power_law(eigenvalues, xmin=None, min_tail=MIN_TAIL):
    """Fit a continuous power law ``p(λ) ∝ λ^-α``, ``λ ≥ xmin``, by maximum likelihood.

    Clauset, Shalizi & Newman (2009), as WeightWatcher fits the eigenvalues of ``WᵀW``:
    for a tail of ``n`` values ``λ_i ≥ xmin`` the estimate is
    ``α = 1 + n / Σ ln(λ_i / xmin)``; ``xmin`` is the distinct value (leaving at least
    ``min_tail`` values in the tail) whose fit has the smallest Kolmogorov–Smirnov
    distance to the tail's empirical distribution.  All candidates are evaluated with
    array operations (cumulative sums of logarithms).

    Parameters
    ----------
    eigenvalues : array_like, any shape
        The sample (e.g. squared singular values).  Zero, negative and non-finite values
        and values at most ``1e-12`` times the largest are ignored.
    xmin : float, optional
        Fix the start of the tail instead of choosing it.
    min_tail : int
        Fewest values in a tail (default 10, at least 2).

    Returns
    -------
    PowerLaw
        ``(alpha, xmin, ks_distance, n_tail, sigma)``; all NaN (``n_tail = 0``) when
        fewer than ``min_tail`` values qualify.
    """
    min_tail = max(2, int(min_tail))
    x = _positive(eigenvalues)
    if xmin is not None:
        x = x[x >= xmin]
        if x.size < min_tail:
            return _NO_FIT
        starts, lower = np.array([0]), np.array([float(xmin)])
    else:
        if x.size < min_tail:
            return _NO_FIT
        starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])         # first of each distinct value
        starts = starts[starts <= x.size - min_tail]
        lower = x[starts]
    scale = np.log(x[-1])                      # logarithms relative to the largest: no cancellation
    logx, log_lower = np.log(x) - scale, np.log(lower) - scale
    tail_logs = np.cumsum(logx[::-1])[::-1]                            # Σ_{j ≥ i} ln x_j
    n_tail = x.size - starts
    spread = tail_logs[starts] - n_tail * log_lower                    # Σ ln(x_j / xmin)
    valid = spread > 0
    if not valid.any():
        return _NO_FIT
    starts, lower, log_lower = starts[valid], lower[valid], log_lower[valid]
    n_tail, alphas = n_tail[valid], 1.0 + n_tail[valid] / spread[valid]
    distances = _ks_distances(logx, starts, log_lower, alphas)
    best = int(np.argmin(distances))
    alpha, n = float(alphas[best]), int(n_tail[best])
    return PowerLaw(alpha, float(lower[best]), float(distances[best]), n, float((alpha - 1.0) / np.sqrt(n)))


class Spectra(Table):
    """The table :func:`spectra` returns: one row per connection, and per connection its
    singular values and power-law fit.

    Attributes
    ----------
    singular_values : dict ``(source, target) -> ndarray``
        Singular values, descending (``(min(n_out, n_in),)``, or the largest ones only
        where the form computes no more: see :func:`spectra`).
    fits : dict ``(source, target) -> PowerLaw``
        The fit of the eigenvalues of ``WᵀW``.
    """

    def __init__(self, columns, singular_values, fits, title=""):
        super().__init__(columns, title)
        self.singular_values = dict(singular_values)
        self.fits = dict(fits)

    def eigenvalues(self, key):
        """The nonzero eigenvalues of ``WᵀW`` of connection ``key``, descending: ``σ²``."""
        s = self.singular_values[key] ** 2
        return s[s > RELATIVE_ZERO * s.max()] if s.size and s.max() > 0 else s[:0]


def _row(label, op, s, fit):
    """One row of the table: the weight's shape, norms, stable rank, condition and fit
    from its singular values ``s`` (descending; NaN ratios for a zero matrix, and a NaN
    condition when ``s`` holds only the largest ones)."""
    rows, cols = op.shape
    top = float(s[0]) if s.size else 0.0
    frobenius = float(np.sqrt(np.sum(s ** 2)))
    if top == 0 or s.size < min(rows, cols):
        condition = np.nan
    else:
        condition = np.inf if s[-1] == 0 else top / float(s[-1])
    return {"connection": label, "form": op.kind, "rows": rows, "columns": cols, "spectral_norm": top,
            "frobenius_norm": frobenius, "stable_rank": frobenius ** 2 / top ** 2 if top > 0 else np.nan,
            "condition": condition, "alpha": fit.alpha, "xmin": fit.xmin, "ks_distance": fit.ks_distance,
            "n_tail": fit.n_tail}


@on_host
def spectra(net, min_tail=MIN_TAIL):
    """Spectra of a network's weight matrices, one row per connection.

    Parameters
    ----------
    net : Network
    min_tail : int
        Fewest eigenvalues in a power-law tail (:func:`power_law`); a matrix with fewer
        nonzero singular values gets ``α = NaN``.

    Returns
    -------
    Spectra
        A :class:`Table` with one row per connection in ``net.weights`` order and the
        columns ``connection`` (``W[x→h1]``), ``form`` (``dense``, ``sparse``,
        ``lowrank``, ``mpo``), ``rows``, ``columns`` (``n_out``, ``n_in``; with delays
        ``n_in`` counts every delay block), ``spectral_norm`` ``σ_max``,
        ``frobenius_norm`` ``sqrt(Σ σ²)``, ``stable_rank`` ``‖W‖²_F / ‖W‖²₂``,
        ``condition`` ``σ_max/σ_min`` (inf when ``σ_min = 0``; the ratios are NaN for
        a zero matrix), and the power-law fit of the eigenvalues ``σ²`` of ``WᵀW``:
        ``alpha``, ``xmin``, ``ks_distance``, ``n_tail``.  ``.singular_values[key]`` and
        ``.fits[key]`` hold the singular values and fits per connection
        ``key = (source, target)``.

    Notes
    -----
    The singular values come from each weight's operator, so a low-rank weight never
    forms its dense matrix.  A sparse or MPO weight of more than 4·10⁶ entries gives
    only its 200 largest singular values: then ``frobenius_norm`` and ``stable_rank``
    are lower bounds, ``condition`` is NaN and the fit sees the top of the spectrum.
    """
    values, fits, rows = {}, {}, []
    for key, W in net.weights.items():
        op = operator(W)
        values[key] = s = np.asarray(op.singular_values(), dtype=np.float64)
        fits[key] = fit = power_law(s ** 2, min_tail=min_tail)
        rows.append(_row(weight_label(key), op, s, fit))
    columns = {name: np.array([row[name] for row in rows], dtype=dtype) for name, dtype in _COLUMNS.items()}
    return Spectra(columns, values, fits, title="spectra of the weight matrices")


#: The columns of :func:`spectra` and their dtypes.
_COLUMNS = {"connection": str, "form": str, "rows": np.int64, "columns": np.int64,
            "spectral_norm": np.float64, "frobenius_norm": np.float64, "stable_rank": np.float64,
            "condition": np.float64, "alpha": np.float64, "xmin": np.float64, "ks_distance": np.float64,
            "n_tail": np.int64}
