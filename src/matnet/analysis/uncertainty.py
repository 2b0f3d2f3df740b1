"""How sure the trained network is: covariance of its parameters, confidence intervals
of every weight and bias, the network information criterion, and confidence and
prediction intervals of its outputs (delta method), all from the Jacobian LM trains
with.

Notation: ``J`` ``(m, p)`` is the Jacobian of the ``m`` errors ``e = y - t`` (data
units, rows ``(sample, output)``) with respect to the ``p`` parameters, ``SSE = eᵀe``.

* Gauss–Newton: ``Σ = σ² (JᵀJ)⁻¹``, ``σ² = SSE / (m - r)``, ``r`` the rank of ``JᵀJ``
  (nonlinear least squares; for a linear network, ordinary least squares exactly).
* Sandwich (White 1980, HC0): ``Σ = (JᵀJ)⁻¹ (Σ_i J_iᵀ e_i e_iᵀ J_i) (JᵀJ)⁻¹``, ``i``
  over samples (or time steps), robust to unequal error variances.
* Posterior (a network trained with ``"br"``, MacKay's evidence framework):
  ``Σ = (β JᵀJ + α I)⁻¹`` with the ``α``, ``β`` the training ended with.

A ``JᵀJ`` that is near-singular (weights the data cannot tell apart: duplicate hidden
units, a unit that never changes, more weights than data) is not inverted blindly: its
correlation form ``D^-½ JᵀJ D^-½`` is decomposed, directions with eigenvalues below
``rcond`` are set aside, and the parameters taking part in them get NaN variances,
with a :class:`SingularInformationWarning` naming them.

Everything here is computed in float64 whatever the network's dtype: ``JᵀJ`` squares
the condition of ``J``, and float32 would lose most of its digits.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, stdtrit

from ..backend import on_host
from ..backprop import jacobian_blocks
from ..derivatives import problem_of
from ..network import bias_label, weight_label
from ..simulate import data_units, plan
from .names import n_outputs
from .table import Table

__all__ = ["parameter_covariance", "confidence_intervals", "nic", "prediction_intervals",
           "SingularInformationWarning"]

METHODS = ("gauss-newton", "sandwich", "posterior")
#: Eigenvalues of the correlation form of ``JᵀJ`` below this are taken as zero.
RCOND = 1e-10
#: Bytes of one block of Jacobian rows.
_BLOCK_BYTES = 2 ** 23


class SingularInformationWarning(UserWarning):
    """``JᵀJ`` is near-singular: some parameters are not determined by the data."""


@dataclass
class _Information:
    """What the Jacobian on the data gives: ``JᵀJ``, the sandwich's middle, ``SSE`` and
    the number of errors ``m`` (float64)."""
    JtJ: np.ndarray
    meat: np.ndarray
    sse: float
    m: int


@dataclass
class _Covariance:
    matrix: np.ndarray          # (p, p), NaN rows/columns for parameters not determined
    method: str
    sigma2: float
    dof: float                  # degrees of freedom of σ² (inf: normal quantiles)
    determined: np.ndarray      # (p,) bool


def _information(net, X, T, sample_weight=None, initial=None):
    problem = problem_of(net, X, T, "mse", 0.0, sample_weight, initial)
    split, P = problem.train, net.n_params
    K = n_outputs(net)
    trace = problem.run(split)
    JtJ, meat = np.zeros((P, P)), np.zeros((P, P))
    sse = 0.0
    rows = max(1, _BLOCK_BYTES // (8 * K * max(P, 1)))
    for J, e, _ in jacobian_blocks(net, trace, split.targets, problem.scale, split.weight, block_rows=rows):
        J, e = J.astype(np.float64), e.astype(np.float64)
        JtJ += J.T @ J
        g = np.einsum("rkp,rk->rp", J.reshape(-1, K, P), e.reshape(-1, K))      # J_iᵀ e_i per sample
        meat += g.T @ g
        sse += float(e @ e)
    if split.weight is None:
        m = int(np.prod(split.shape)) * K
    else:
        m = int(np.count_nonzero(np.asarray(split.weight) > 0)) * K
    return _Information(JtJ, meat, sse, m)


def _parameter_labels(net):
    """``(parameter, row, column)`` per parameter in :meth:`Network.get_flat` order: a
    dense weight's row and column, a bias's row (column -1), and for a weight in a
    compressed form the index of the form's own parameter (row -1)."""
    names, rows, cols = [], [], []
    for kind, key, shape in net.layout():
        label = weight_label(key) if kind == "W" else bias_label(key)
        n = int(np.prod(shape))
        if kind == "W" and len(shape) == 2:
            r, c = np.unravel_index(np.arange(n), shape)
        elif kind == "b":
            r, c = np.arange(n), np.full(n, -1)
        else:
            r, c = np.full(n, -1), np.arange(n)
        names += [label] * n
        rows.append(r)
        cols.append(c)
    return np.array(names, dtype=object), np.concatenate(rows or [[]]).astype(int), \
        np.concatenate(cols or [[]]).astype(int)


def _regular_inverse(H, rcond, net):
    """``(H⁻¹ on the determined parameters, NaN elsewhere; determined mask; rank)``."""
    P = H.shape[0]
    d = np.diag(H).copy()
    alive = d > (d.max() * 1e-14 if P and d.max() > 0 else np.inf)
    s = 1 / np.sqrt(d[alive])
    w, V = np.linalg.eigh(H[np.ix_(alive, alive)] * s[:, None] * s[None, :])
    keep = w > rcond * (w.max() if w.size else 0)
    inverse = np.full((P, P), np.nan)
    sub = (V[:, keep] / w[keep]) @ V[:, keep].T * s[:, None] * s[None, :]
    determined = np.zeros(P, bool)
    determined[np.flatnonzero(alive)] = np.sqrt(np.sum(V[:, ~keep] ** 2, axis=1)) < 0.05
    inverse[np.ix_(alive, alive)] = sub
    inverse[~determined, :] = np.nan
    inverse[:, ~determined] = np.nan
    if not determined.all():
        directions = int((~keep).sum()) + int((~alive).sum())
        warnings.warn(_undetermined(net, determined, directions), SingularInformationWarning, stacklevel=3)
    return inverse, determined, int(keep.sum())


def _undetermined(net, determined, directions):
    """The warning's text: how many directions and which parameters (the first six)."""
    names, rows, cols = _parameter_labels(net)
    which = [f"{names[i]}[{rows[i]},{cols[i]}]" if min(rows[i], cols[i]) >= 0
             else f"{names[i]}[{max(rows[i], cols[i])}]" for i in np.flatnonzero(~determined)]
    return (f"JᵀJ is near-singular ({directions} of {determined.size} directions not determined by the data): "
            f"no variance for {len(which)} parameters: " + ", ".join(which[:6]) + (" ..." if len(which) > 6 else "")
            + "; their standard errors are NaN (redundant or unused weights: a smaller network, more data, or "
            "training with 'br' helps)")


def _method(net, method):
    trained = net.training or {}
    if method is None:
        method = "posterior" if trained.get("algorithm") == "br" and trained.get("alpha") is not None \
            else "gauss-newton"
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "posterior" and (trained.get("alpha") is None or trained.get("beta") is None):
        raise ValueError("method 'posterior' needs a network trained with algorithm='br' "
                         "(its alpha and beta are kept in net.training)")
    return method


def _covariance(net, X, T, method=None, sample_weight=None, initial=None, rcond=RCOND):
    method = _method(net, method)
    info = _information(net, X, T, sample_weight, initial)
    P = net.n_params
    if method == "posterior":
        alpha, beta = float(net.training["alpha"]), float(net.training["beta"])
        matrix = np.linalg.inv(beta * info.JtJ + alpha * np.eye(P))
        return _Covariance(matrix, method, 1 / beta, np.inf, np.ones(P, bool)), info
    inverse, determined, rank = _regular_inverse(info.JtJ, rcond, net)
    dof = info.m - rank
    if dof <= 0:
        raise ValueError(f"{info.m} errors do not determine {rank} parameters with a residual variance; "
                         "use more data or a smaller network")
    sigma2 = info.sse / dof
    if method == "gauss-newton":
        return _Covariance(sigma2 * inverse, method, sigma2, dof, determined), info
    safe = np.where(np.isnan(inverse), 0.0, inverse)
    matrix = safe @ info.meat @ safe
    matrix[~determined, :] = np.nan
    matrix[:, ~determined] = np.nan
    return _Covariance(matrix, method, sigma2, np.inf, determined), info


@on_host
def parameter_covariance(net, X, T, method=None, sample_weight=None, initial=None, rcond=RCOND):
    """Covariance of the trained parameters.

    Parameters
    ----------
    X, T : the data the network was trained on (as ``fit`` takes them: samples, or
        series for a network with delays), data units.
    method : {"gauss-newton", "sandwich", "posterior"}, optional
        See the module docstring.  Default: ``"posterior"`` for a network trained
        with ``"br"``, else ``"gauss-newton"``.
    sample_weight : array (n_samples,), optional
    initial : dict, optional
        Initial delay states (network with delays).
    rcond : float
        Relative eigenvalue below which ``JᵀJ`` counts as singular (its correlation
        form); see the module docstring.

    Returns
    -------
    ndarray (n_params, n_params)
        In :meth:`Network.get_flat` order, in squared parameter units; NaN rows and
        columns for parameters the data does not determine.
    """
    return _covariance(net, X, T, method, sample_weight, initial, rcond)[0].matrix


def _quantile(level, dof):
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    q = 1 - (1 - level) / 2
    return float(ndtri(q) if np.isinf(dof) else stdtrit(dof, q))      # normal or Student's t quantile


@on_host
def confidence_intervals(net, X, T, level=0.95, method=None, sample_weight=None, initial=None, rcond=RCOND):
    """Confidence intervals of every weight and bias.

    Student's t with ``m - r`` degrees of freedom for ``"gauss-newton"`` (as
    statsmodels' OLS), normal quantiles for ``"sandwich"`` and ``"posterior"``.
    Arguments as :func:`parameter_covariance`.

    Returns
    -------
    Table
        One row per parameter (:meth:`Network.get_flat` order): ``parameter``
        (``W[x→h1]`` or ``b[h1]``, keyed like ``net.weights`` / ``net.biases``), ``row``,
        ``column`` (-1 for a bias; for a weight in a compressed form ``row`` is -1 and
        ``column`` indexes the form's parameters), ``estimate``, ``std_error``,
        ``lower``, ``upper``, ``determined`` (False where ``JᵀJ`` is singular: NaN
        errors and limits).  Its ``title`` gives the method, ``σ²`` and the degrees of
        freedom.
    """
    cov, _ = _covariance(net, X, T, method, sample_weight, initial, rcond)
    q = _quantile(level, cov.dof)
    estimate = net.get_flat().astype(np.float64)
    se = np.sqrt(np.where(np.diag(cov.matrix) >= 0, np.diag(cov.matrix), np.nan))
    names, rows, cols = _parameter_labels(net)
    dof = "normal quantiles" if np.isinf(cov.dof) else f"{cov.dof:g} degrees of freedom"
    title = f"{level:.0%} confidence intervals ({cov.method}, σ² = {cov.sigma2:.4g}, {dof})"
    return Table({"parameter": names, "row": rows, "column": cols, "estimate": estimate, "std_error": se,
                  "lower": estimate - q * se, "upper": estimate + q * se, "determined": cov.determined},
                 title=title)


@on_host
def nic(net, X, T, sample_weight=None, initial=None, hessian="exact"):
    """The network information criterion (Murata, Yoshizawa & Amari 1994) as R's
    neuralnet reports it: ``E + tr(B A⁻¹)``, ``E = SSE / 2`` the training error,
    ``A`` the Hessian of ``E`` per sample and ``B = Σ_i g_i g_iᵀ / n`` the outer
    products of the per-sample gradients ``g_i = J_iᵀ e_i``.  Smaller is better; for a
    correct model ``tr(B A⁻¹)`` is about ``σ² p``, so NIC generalises AIC to
    misspecified models.

    Parameters
    ----------
    hessian : {"exact", "gauss-newton"}
        ``A`` as neuralnet computes it (``"exact"``: central differences of the
        back-propagated gradient, step ``1e-6 (1 + |θ_i|)``), or its Gauss–Newton part
        ``JᵀJ / n`` (no second derivatives of the network).
    X, T, sample_weight, initial : as :func:`parameter_covariance`.

    Returns
    -------
    float, in units of the squared errors (data units).
    """
    if hessian not in ("exact", "gauss-newton"):
        raise ValueError(f"hessian must be 'exact' or 'gauss-newton', got {hessian!r}")
    info = _information(net, X, T, sample_weight, initial)
    H = info.JtJ if hessian == "gauss-newton" else _hessian(net, X, T, sample_weight, initial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularInformationWarning)
        inverse, determined, _ = _regular_inverse(H, RCOND, net)
    inverse = inverse[np.ix_(determined, determined)]
    return 0.5 * info.sse + float(np.trace(info.meat[np.ix_(determined, determined)] @ inverse))


def _hessian(net, X, T, sample_weight=None, initial=None):
    """The Hessian of ``SSE / 2`` (data units) by central differences of its exact
    gradient, symmetrised: ``(p, p)``, float64."""
    problem = problem_of(net, X, T, "sse", 0.0, sample_weight, initial)
    theta = net.get_flat()
    H = np.empty((theta.size, theta.size))
    try:
        for i in range(theta.size):
            h = 1e-6 * (1 + abs(float(theta[i])))
            columns = []
            for step in (h, -h):
                net.theta[i] = theta[i] + step
                columns.append(problem.evaluate()[1].astype(np.float64))
            net.theta[i] = theta[i]
            H[:, i] = (columns[0] - columns[1]) / (4 * h)        # d(SSE/2) = dSSE / 2
    finally:
        net.set_flat(theta)
    return (H + H.T) / 2


@on_host
def prediction_intervals(net, X, X_train, T_train, level=0.95, kind="confidence", method=None,
                         sample_weight=None, initial=None, T=None, rcond=RCOND):
    """Confidence or prediction intervals of the outputs (delta method, as MATLAB's
    ``nlpredci``).

    With ``g(x) = dy/dθ`` at each new input, the variance of the fitted output is
    ``gᵀ Σ g``; a ``"prediction"`` interval adds the error variance ``σ²`` (``1/β``
    for a network trained with ``"br"``).  Limits use the quantiles of
    :func:`confidence_intervals`.

    Parameters
    ----------
    X : array or dict
        New inputs (samples; series for a network with delays).
    X_train, T_train : the training data, which gives the covariance ``Σ``.
    level : float
    kind : {"confidence", "prediction"}
    method, sample_weight, initial, rcond : as :func:`parameter_covariance` (for the
        training data).
    T : array, optional
        Measured outputs along ``X``, needed by an open-loop NARX (it feeds them back).

    Returns
    -------
    (lower, upper) : arrays shaped like the network's outputs for ``X``, data units
    (``(n_samples, n_out)``; ``(n_steps, n_out)`` or ``(n_series, n_steps, n_out)``
    for series); NaN where the prediction depends on undetermined parameters.
    """
    if kind not in ("confidence", "prediction"):
        raise ValueError(f"kind must be 'confidence' or 'prediction', got {kind!r}")
    cov, _ = _covariance(net, X_train, T_train, method, sample_weight, initial, rcond)
    q = _quantile(level, cov.dof)
    y, variance = _output_variance(net, X, T, cov.matrix)
    if kind == "prediction":
        variance = variance + cov.sigma2
    half = q * np.sqrt(variance)
    return y - half, y + half


def _output_variance(net, X, T, cov):
    """Outputs ``y`` (data units) for ``X`` and the variances ``gᵀ Σ g`` of each."""
    outputs = plan(net).outputs
    if T is None:
        T = _placeholder_targets(net, X)
    problem = problem_of(net, X, T, "mse", 0.0)
    split = problem.train
    trace = problem.run(split)
    S, steps = split.shape
    K = n_outputs(net)
    y = np.concatenate([data_units(net, o, trace.a[o]) for o in outputs], axis=1).astype(np.float64)
    safe = np.where(np.isnan(cov), 0.0, cov)
    bad = np.isnan(np.diag(cov))
    blocks = []
    for J, _, _ in jacobian_blocks(net, trace, split.targets, problem.scale):
        J = J.astype(np.float64)
        v = np.einsum("rp,rp->r", J @ safe, J)
        v[np.abs(J[:, bad]).sum(axis=1) > 0] = np.nan
        blocks.append(v)
    variance = np.concatenate(blocks).reshape(-1, K)
    if not net.is_dynamic:
        single = np.ndim(next(iter(X.values())) if isinstance(X, dict) else X) == 1
        return (y[0], variance[0]) if single else (y, variance)
    n_steps = S * steps // _n_series(X)
    shape = (_n_series(X), n_steps, K)
    y, variance = y.reshape(shape), variance.reshape(shape)
    return (y[0], variance[0]) if _one_series(X) else (y, variance)


def _first(X):
    return np.asarray(next(iter(X.values())) if isinstance(X, dict) else X)


def _one_series(X):
    return _first(X).ndim == 2


def _n_series(X):
    x = _first(X)
    return 1 if x.ndim == 2 else x.shape[0]


def _placeholder_targets(net, X):
    """Zero targets of the right shape (the Jacobian of ``y`` does not depend on them)."""
    if any(name in net.inputs for name in net.feedback):
        raise ValueError("an open-loop NARX feeds back measured outputs: pass them as T=")
    x = _first(X)
    lead = x.shape[:-1] if net.is_dynamic else (1 if x.ndim == 1 else x.shape[0],)
    zeros = {o: np.zeros(lead + (net.layers[o].size,)) for o in net.outputs}
    return zeros if len(zeros) > 1 else next(iter(zeros.values()))
