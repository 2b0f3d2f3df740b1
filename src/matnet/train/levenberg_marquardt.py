"""Levenberg–Marquardt (MATLAB ``trainlm``) and Bayesian regularisation (``trainbr``)
on the Jacobian of the errors.

Both work on the normal equations ``JᵀJ`` and ``Jᵀe`` of the training split,
accumulated over blocks of samples so that ``J`` is never formed whole for large data
(memory is bounded by the block size).  A step solves

    (JᵀJ + μ I) Δθ = -Jᵀe

by a Cholesky factorisation (a least-squares solve where the matrix is not positive
definite).  μ falls by ``mu_dec`` after a step that lowers the loss and rises by
``mu_inc`` until one does; training stops when μ exceeds ``mu_max``.
"""
from __future__ import annotations

import numpy as np

from ..simulate import plan

__all__ = ["solve_damped", "lm_runner", "br_runner", "LM_OPTIONS"]


def solve_damped(A, b, mu):
    """Solve ``(A + mu I) x = b`` by Cholesky; least squares if not positive definite.

    Returns ``(x, method)`` with method ``"cholesky"`` or ``"lstsq"``.  Everything runs
    in NumPy's own LAPACK (the library of its matrix products): mixing in a second BLAS
    library's thread pool makes the two compete for the cores.
    """
    M = A + mu * np.eye(A.shape[0])
    if np.all(np.isfinite(M)):
        try:
            L = np.linalg.cholesky(M)
            x = np.linalg.solve(L.T, np.linalg.solve(L, b))
            if np.all(np.isfinite(x)):
                return x, "cholesky"
        except np.linalg.LinAlgError:
            pass
    return np.linalg.lstsq(M, b, rcond=None)[0], "lstsq"


def damped_step(theta, A, b, mu, objective, current, opts):
    """One Levenberg–Marquardt epoch's search: solve ``(A + μI) Δ = b`` from the current
    parameters, multiplying μ by ``mu_inc`` until ``objective()`` falls below ``current``.

    Returns ``(μ × mu_dec, steps)`` after a successful step (the parameters moved), or
    ``(None, steps)`` once μ passes ``mu_max`` (the parameters are restored).
    """
    start = theta.astype(np.float64)
    steps = 0
    while True:
        steps += 1
        delta, _ = solve_damped(A, b, mu)
        theta[...] = (start + delta).astype(theta.dtype)
        if objective() < current:
            return max(mu * opts["mu_dec"], 1e-20), steps
        mu *= opts["mu_inc"]
        if mu > opts["mu_max"]:
            theta[...] = start.astype(theta.dtype)
            return None, steps


#: The options of ``lm`` (``br`` starts with ``mu=0.005``), MATLAB's defaults.
LM_OPTIONS = {"mu": 0.001, "mu_dec": 0.1, "mu_inc": 10.0, "mu_max": 1e10, "block_size": None,
              "memory_reduction": None}


def _check_loss(problem, algorithm):
    if problem.loss not in ("mse", "sse"):
        raise ValueError(f"{algorithm!r} minimises squared errors: use loss 'mse' or 'sse', not {problem.loss!r}")
    return 1.0 if problem.loss == "sse" else None


def lm_runner(problem, monitor, options):
    """Levenberg–Marquardt with MATLAB ``trainlm``'s rules (see the module docstring).

    Records ``mu`` (the damping the accepted step used, then lowered) and
    ``inner_steps`` (the solves the epoch needed) in the History.
    """
    opts = options
    fixed_norm = _check_loss(problem, "lm")
    equations = problem.normal_equations(opts["block_size"], opts["memory_reduction"])
    norm = fixed_norm or equations.n_errors
    theta = problem.theta
    mask = plan(problem.net).weight_mask.astype(np.float64)
    ridge = 0.5 * problem.l2 * norm   # l2/2 |W|² in the sum-of-squares units of JᵀJ

    weight_index = np.flatnonzero(mask)

    def objective(sse):
        if not problem.l2:
            return sse / norm
        w = theta[weight_index].astype(np.float64)
        return sse / norm + 0.5 * problem.l2 * float(w @ w)

    mu = opts["mu"]
    metric = problem.fresh_metric()
    JtJ, Jte, sse = equations.compute(metric)
    value = objective(sse)
    gradient = 2 * (Jte + ridge * mask * theta) / norm
    if monitor(value, float(np.linalg.norm(gradient)), metric.value(), mu=mu, inner_steps=0):
        return None
    while True:
        b = -(Jte + ridge * mask * theta.astype(np.float64))
        mu, steps = damped_step(theta, JtJ + ridge * np.diag(mask), b, mu,
                                lambda: objective(equations.sse()), value, opts)
        if mu is None:
            return "mu_max"
        metric = problem.fresh_metric()
        JtJ, Jte, sse = equations.compute(metric)
        value = objective(sse)
        gradient = 2 * (Jte + ridge * mask * theta) / norm
        if monitor(value, float(np.linalg.norm(gradient)), metric.value(), mu=mu, inner_steps=steps):
            return None


def br_runner(problem, monitor, options):
    """Bayesian regularisation (MacKay 1992; Foresee & Hagan 1997; MATLAB ``trainbr``).

    Minimises ``F = β E_D + α E_W`` with ``E_D`` the sum of squared errors and
    ``E_W`` the sum of squared parameters, by Levenberg–Marquardt steps on
    ``(β JᵀJ + (α + μ) I) Δθ = -(β Jᵀe + α θ)``.  After every accepted step the
    evidence framework re-estimates the effective number of parameters
    ``γ = P - α tr((β JᵀJ + α I)⁻¹)`` and ``α = γ / (2 E_W)``, ``β = (N - γ) / (2 E_D)``
    (``N`` the number of errors).  The History records ``alpha``, ``beta``, ``gamma``,
    ``mu`` and ``inner_steps``; its ``train_loss`` is the chosen loss (mse) of the data.
    """
    opts = options
    fixed_norm = _check_loss(problem, "br")
    if problem.l2:
        raise ValueError("'br' chooses its own regularisation; l2 does not apply")
    equations = problem.normal_equations(opts["block_size"], opts["memory_reduction"])
    norm = fixed_norm or equations.n_errors
    theta = problem.theta
    P, N = theta.size, equations.n_errors
    mu = opts["mu"]
    alpha, beta, gamma = 0.0, 1.0, float(P)

    def sum_squares(x):
        return float(x @ x)

    metric = problem.fresh_metric()
    JtJ, Jte, E_D = equations.compute(metric)
    E_W = sum_squares(theta.astype(np.float64))
    F = beta * E_D + alpha * E_W
    gradient = 2 * (beta * Jte + alpha * theta) / norm
    if monitor(E_D / norm, float(np.linalg.norm(gradient)), metric.value(), mu=mu, inner_steps=0,
               alpha=alpha, beta=beta, gamma=gamma):
        return None
    while True:
        A = beta * JtJ + alpha * np.eye(P)
        b = -(beta * Jte + alpha * theta.astype(np.float64))
        objective = lambda: beta * equations.sse() + alpha * sum_squares(theta.astype(np.float64))  # noqa: E731
        mu, steps = damped_step(theta, A, b, mu, objective, F, opts)
        if mu is None:
            return "mu_max"
        metric = problem.fresh_metric()
        previous = JtJ                          # the Gauss–Newton Hessian of this epoch
        JtJ, Jte, E_D = equations.compute(metric)
        E_W = sum_squares(theta.astype(np.float64))
        # Evidence update (MacKay): effective parameters, then the two hyperparameters.
        gamma = P - (alpha * float(np.trace(np.linalg.pinv(beta * previous + alpha * np.eye(P))))
                     if alpha > 0 else 0.0)
        alpha = gamma / (2 * E_W) if E_W > 0 else 1.0
        beta = max(N - gamma, 1e-3 * N) / (2 * E_D) if E_D > 0 else beta
        F = beta * E_D + alpha * E_W
        gradient = 2 * (beta * Jte + alpha * theta) / norm
        if monitor(E_D / norm, float(np.linalg.norm(gradient)), metric.value(), mu=mu, inner_steps=steps,
                   alpha=alpha, beta=beta, gamma=gamma):
            return None
