"""Spectra of the weight matrices: per connection the empirical spectral density of
the eigenvalues of ``WᵀW`` on log-log axes, with the fitted power-law tail
(:func:`matnet.analysis.spectra`)."""
from __future__ import annotations

import math

import numpy as np

from ..backend import on_host
from ..analysis.spectra import MIN_TAIL, Spectra
from ..analysis.spectra import spectra as compute_spectra
from ._mpl import NEGATIVE, POSITIVE, new_figure, panels

__all__ = ["spectra", "log_histogram"]

#: Panels per row of a new figure.
COLUMNS = 3


def log_histogram(values, bins=None):
    """Empirical density of positive ``values`` over logarithmic bins.

    Parameters
    ----------
    values : (n,) array of positive numbers
    bins : int, optional
        Number of bins (default ``2 sqrt(n)`` between 4 and 40).

    Returns
    -------
    edges : (bins + 1,) array
    density : (bins,) array
        ``count / (n · width)``: integrates to 1 over the bins.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    bins = int(bins) if bins is not None else int(np.clip(np.ceil(2 * np.sqrt(n)), 4, 40))
    lo, hi = float(values.min()), float(values.max())
    lo, hi = (lo / 1.5, hi * 1.5) if hi <= lo * (1 + 1e-9) else (lo, hi)
    edges = np.geomspace(lo, hi, bins + 1)
    counts, _ = np.histogram(values, edges)
    return edges, counts / (n * np.diff(edges))


def _log_axes(ax):
    """Log-log axes with compact labels at 1, 2, 5 times powers of ten (no minor labels,
    which crowd a narrow range)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(NullFormatter())


def _panel(ax, label, eigenvalues, fit, bins, min_tail):
    """One connection: histogram, fitted tail from ``xmin``, title with ``α``."""
    ax.set_xlabel("eigenvalue λ of WᵀW", fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)
    if eigenvalues.size == 0:
        ax.text(0.5, 0.5, "no nonzero eigenvalues", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(label, fontsize=9)
        return
    edges, density = log_histogram(eigenvalues, bins)
    shown = density > 0
    ax.bar(edges[:-1][shown], density[shown], width=np.diff(edges)[shown], align="edge", color=NEGATIVE,
           alpha=0.6, edgecolor="white", linewidth=0.4, gid="density")
    _log_axes(ax)
    if np.isfinite(fit.alpha):
        xs = np.geomspace(fit.xmin, eigenvalues.max(), 50)
        share = fit.n_tail / eigenvalues.size          # the tail's part of the whole density
        ax.plot(xs, share * (fit.alpha - 1) / fit.xmin * (xs / fit.xmin) ** -fit.alpha, color=POSITIVE,
                linewidth=1.6, gid="power_law", label=f"λ^-{fit.alpha:.2f} from xmin")
        ax.axvline(fit.xmin, color="0.4", linestyle=":", linewidth=1.0, gid="xmin")
        ax.legend(fontsize=7)
        ax.set_title(f"{label}  α = {fit.alpha:.2f} ± {fit.sigma:.2f}", fontsize=9)
    else:
        ax.set_title(f"{label}  α: fewer than {min_tail} eigenvalues", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)


def _axes(n, ax):
    """``(fig, axes)``: ``n`` panels — the given Axes, a given subplot divided, or a new
    figure of :data:`COLUMNS` panels a row."""
    if ax is not None:
        return panels(n, ax=ax, sharex=False)
    cols = min(COLUMNS, n)
    rows = math.ceil(n / cols)
    fig = new_figure((3.4 * cols, 2.8 * rows))
    grid = fig.add_gridspec(rows, cols)
    return fig, [fig.add_subplot(grid[k // cols, k % cols]) for k in range(n)]


@on_host
def spectra(net, ax=None, bins=None, min_tail=MIN_TAIL):
    """Empirical spectral density of each connection's ``WᵀW`` with its power-law fit.

    One log-log panel per connection (``net.weights`` order): the histogram of the
    nonzero eigenvalues ``λ = σ²`` over logarithmic bins, as a density, and the fitted
    tail ``p(λ) ∝ λ^-α`` from ``xmin`` (scaled by the tail's share of the eigenvalues),
    titled with the connection and ``α ± σ``.

    Parameters
    ----------
    net : Network or Spectra
        A network, or what :func:`matnet.analysis.spectra` returned for it.
    ax : Axes or sequence of Axes, optional
        One Axes per connection, or one subplot whose place is divided into the panels.
    bins : int, optional
        Bins per histogram (default ``2 sqrt(n)`` between 4 and 40).
    min_tail : int
        Fewest eigenvalues in a fitted tail (when ``net`` is a network).

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = net if isinstance(net, Spectra) else compute_spectra(net, min_tail=min_tail)
    keys = list(table.singular_values)
    if not keys:
        raise ValueError("the network has no connections: there is no spectrum to draw")
    fig, axes = _axes(len(keys), ax)
    for axis, key, label in zip(axes, keys, table["connection"]):
        _panel(axis, str(label), table.eigenvalues(key), table.fits[key], bins, min_tail)
    return fig
