"""Levenberg–Marquardt (MATLAB ``trainlm``) and Bayesian regularisation (``trainbr``)
on the Jacobian of the errors.

Both work on the normal equations ``JᵀJ`` and ``Jᵀe`` of the training split,
accumulated over blocks of samples so that ``J`` is never formed whole for large data
(memory is bounded by the block size).  A step solves

    (JᵀJ + μ I) Δθ = -Jᵀe

by a Cholesky factorisation (a least-squares solve where the matrix is not positive
definite).  μ falls by ``mu_dec`` after a step that lowers the loss and rises by
``mu_inc`` until one does; training stops when μ exceeds ``mu_max``.

The trials of a small recurrent network run side by side, up to :data:`TRIALS` damping
values in one run over time (:mod:`matnet.train.candidates`, :class:`TrialRuns`): a
run's cost is its steps' overhead, so four trials cost little more than one, with the
same result as one by one.

A network with feedback from layers (closed-loop NARX, layer-recurrent) starts with
μ = :data:`RECURRENT_MU` unless ``mu`` is given: a nearly undamped first step on a
closed loop often jumps to weights whose loop latches into saturation, with a constant
output and no gradient left (the loop gain went from 0.9 to 12 in one step).  Over 20
seeds of a PT2 plant identified by pyrenn's ``[1, 2, 2, 1]`` closed-loop topology, the
runs ending above half the output variance fell from 10–15 % (μ = 0.001, depending on
the last bits of the arithmetic) to none, and those below a tenth rose from 60 % to 95 %;
a layer-recurrent network improved alike (75 % to 100 %) and Narendra's plant was
unaffected (``benchmarks/recurrent_seeds.py``; ``tests/test_dynamic.py`` keeps ten
seeds of each).
"""
from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np

from .. import backend
from ..backprop import weight_mask

from ..threads import SMALL, few_threads, one_thread
from .candidates import Candidates

__all__ = ["solve_damped", "Spectrum", "damped_step", "lm_runner", "br_runner", "LM_OPTIONS", "RECURRENT_MU"]


def solve_damped(A, b, mu):
    """Solve ``(A + mu I) x = b`` by Cholesky; least squares if not positive definite.

    Returns ``(x, method)`` with method ``"cholesky"`` or ``"lstsq"``.  The factorisation
    runs in NumPy's LAPACK (the library of its matrix products); the two triangular
    solves in SciPy's on one thread, so that no second pool of BLAS threads competes
    with NumPy's for the cores.
    """
    xp = backend.namespace(A)
    M = A + mu * xp.eye(A.shape[0], dtype=A.dtype)
    if bool(xp.all(xp.isfinite(M))):
        try:
            L = xp.linalg.cholesky(M)
            # one thread: no second BLAS pool left spinning (small systems run so already)
            with one_thread() if A.shape[0] >= SMALL else nullcontext():
                x = backend.solve_triangular(L.T, backend.solve_triangular(L, b, lower=True), lower=False)
            if bool(xp.all(xp.isfinite(x))):
                return x, "cholesky"
        except np.linalg.LinAlgError:
            pass
    return backend.lstsq(M, b), "lstsq"


class Spectrum:
    """``A = βH + αI`` for a symmetric ``H`` (``JᵀJ``) through one eigen-decomposition
    ``H = Q diag(λ) Qᵀ``: the damped solves of every μ trial and the trace of ``A⁻¹``
    (the evidence's effective parameters) cost ``O(P²)`` each afterwards."""

    def __init__(self, H, alpha, beta):
        self.alpha, self.beta, self.xp = alpha, beta, backend.namespace(H)
        self.eigenvalues, self.Q = self.xp.linalg.eigh(H)
        self.eigenvalues = self.xp.clip(self.eigenvalues, 0.0, None)   # JᵀJ is positive semi-definite

    def solve(self, b, mu):
        """``(βH + (α + μ) I)⁻¹ b``."""
        return self.Q @ ((self.Q.T @ b) / (self.beta * self.eigenvalues + self.alpha + mu))

    def trace_inverse(self):
        """``tr((βH + αI)⁻¹)``."""
        return float(self.xp.sum(1.0 / (self.beta * self.eigenvalues + self.alpha)))


def damped_step(theta, solve, mu, objective, current, opts):
    """One Levenberg–Marquardt epoch's search: the step ``Δ = solve(μ)`` (the solution of
    ``(A + μI) Δ = b``) from the current parameters, multiplying μ by ``mu_inc`` until
    ``objective()`` falls below ``current``.

    Returns ``(μ × mu_dec, steps)`` after a successful step (the parameters moved), or
    ``(None, steps)`` once μ passes ``mu_max`` (the parameters are restored).
    """
    start, dtype = backend.astype(theta, np.float64, copy=True), backend.numpy_dtype(theta.dtype)
    steps = 0
    while True:
        steps += 1
        theta[...] = backend.astype(start + solve(mu), dtype)
        if objective() < current:
            return max(mu * opts["mu_dec"], 1e-20), steps
        mu *= opts["mu_inc"]
        if mu > opts["mu_max"]:
            theta[...] = backend.astype(start, dtype)
            return None, steps


#: Most damping trials of a recurrent network's epoch evaluated in one run, side by side.
TRIALS = 4
#: Trials side by side after an epoch that needed at most this many: with μ lowered
#: after each success an epoch most often takes its second trial (pyrenn's problems:
#: 95 % of epochs), and a narrower run and fewer solves cost less.
FEW_TRIALS = 2


class TrialRuns:
    """The damping trials of a recurrent network's epochs run side by side
    (:class:`~matnet.train.candidates.Candidates`): each round tries :data:`FEW_TRIALS`
    after an epoch that needed at most that many, else :data:`TRIALS` (the first epoch
    too); the accepted trial's run is the next Jacobian's forward pass.  :meth:`of` gives
    None where the trials cannot run side by side."""

    def __init__(self, problem, equations):
        self.problem, self.equations = problem, equations
        self.runs, self.k = {}, TRIALS

    @classmethod
    def of(cls, problem, equations):
        rows = problem.train.shape[0] * problem.train.shape[1]
        return cls(problem, equations) if Candidates.applies(problem.net, rows, TRIALS) else None

    def step(self, theta, solve, mu, value_of, current, opts):
        """:func:`damped_steps_together` with ``value_of(sse, theta)`` the objective of a
        trial from its sum of squared errors."""
        def objectives(thetas):
            k = FEW_TRIALS if len(thetas) <= FEW_TRIALS else TRIALS
            if k not in self.runs:
                self.runs[k] = Candidates(self.problem.net, k)
            candidates = self.runs[k]
            sums, wide = self.equations.candidate_sse(candidates, thetas)
            return ([value_of(s, t) for s, t in zip(sums, thetas)],
                    lambda j: self.problem.remember(self.problem.train, candidates.trace(wide, j)))
        mu, steps = damped_steps_together(theta, solve, mu, objectives, current, opts, self.k)
        self.k = FEW_TRIALS if steps <= FEW_TRIALS else TRIALS
        return mu, steps


def damped_steps_together(theta, solve, mu, objectives, current, opts, k=TRIALS):
    """:func:`damped_step` with up to ``k`` trials ``μ, μ·mu_inc, ...`` in one call of
    ``objectives(thetas) -> (values, accept)``: the first that lowers the loss is taken
    (``accept(j)`` is called with the parameters set), so the result is that of the
    trials one by one; ``steps`` counts the trials up to it."""
    start = theta.astype(np.float64)
    steps = 0
    while True:
        mus = [mu]
        while len(mus) < k and mus[-1] * opts["mu_inc"] <= opts["mu_max"]:
            mus.append(mus[-1] * opts["mu_inc"])
        thetas = [(start + solve(m)).astype(theta.dtype) for m in mus]
        values, accept = objectives(thetas)
        for j, value in enumerate(values):
            steps += 1
            if value < current:
                theta[...] = thetas[j]
                accept(j)
                return max(mus[j] * opts["mu_dec"], 1e-20), steps
        mu = mus[-1] * opts["mu_inc"]
        if mu > opts["mu_max"]:
            theta[...] = start.astype(theta.dtype)
            return None, steps


#: Largest precision of the data errors ``br`` sets; beyond it (a data error of about
#: zero: separable classes, as many weights as data) it keeps the last one, so that
#: ``β JᵀJ`` stays finite.
BETA_MAX = 1e100

#: Starting damping of ``lm`` for a network with feedback from layers.
RECURRENT_MU = 10.0

#: The options of ``lm`` (``br`` starts with ``mu=0.005``), MATLAB's defaults; ``mu=None``
#: starts at 0.001, or :data:`RECURRENT_MU` for a network with feedback from layers.
LM_OPTIONS = {"mu": None, "mu_dec": 0.1, "mu_inc": 10.0, "mu_max": 1e10, "block_size": None,
              "memory_reduction": None}


def _check_loss(problem, algorithm):
    if problem.loss not in ("mse", "sse"):
        raise ValueError(f"{algorithm!r} minimises squared errors: use loss 'mse' or 'sse', not {problem.loss!r}")
    return 1.0 if problem.loss == "sse" else None


def few_threads_when_small(small):
    """Run a Jacobian method's epochs on one BLAS thread when the network has fewer than
    ``small`` parameters: its products and solves are small, and several threads
    collapse when another process holds a core (``benchmarks/busy_machine.py``).  The
    normal equations still share their blocks out to as many workers as BLAS had threads."""
    def decorate(runner):
        def run(problem, monitor, options):
            with few_threads(problem.theta.size, small):
                return runner(problem, monitor, options)
        run.__doc__, run.__name__ = runner.__doc__, runner.__name__
        return run
    return decorate


#: LM epochs of networks with fewer parameters run on one BLAS thread, their normal
#: equations on one worker per BLAS thread (3-epoch fits of 10,000 samples, 2026-11-30,
#: seconds per epoch, every BLAS thread / one with workers: 991 parameters 0.154 /
#: 0.151, 1541: 0.401 / 0.393, 2201: 0.873 / 0.915).  BR's eigendecompositions keep
#: :data:`~matnet.threads.SMALL` (991 parameters: 0.213 / 0.235).
LM_SMALL = 2000


@few_threads_when_small(LM_SMALL)
def lm_runner(problem, monitor, options):
    """Levenberg–Marquardt with MATLAB ``trainlm``'s rules (see the module docstring).

    Records ``mu`` (the damping the accepted step used, then lowered) and
    ``inner_steps`` (the solves the epoch needed) in the History.
    """
    opts = options
    fixed_norm = _check_loss(problem, "lm")
    equations = problem.normal_equations(opts["block_size"], opts["memory_reduction"])
    norm = fixed_norm or equations.n_errors
    theta, xp = problem.theta, problem.xp
    weights = weight_mask(problem.net)
    mask = backend.astype(weights, np.float64)
    ridge = 0.5 * problem.l2 * norm   # l2/2 |W|² in the sum-of-squares units of JᵀJ

    def objective(sse, parameters=theta):
        if not problem.l2:
            return sse / norm
        w = backend.astype(parameters[weights], np.float64)
        return sse / norm + 0.5 * problem.l2 * backend.dot(w, w)

    together = TrialRuns.of(problem, equations)
    mu = opts["mu"] if opts["mu"] is not None else (RECURRENT_MU if problem.recurrent else 0.001)
    metric = problem.fresh_metric()
    JtJ, Jte, sse = equations.compute(metric)
    value = objective(sse)
    gradient = 2 * (Jte + ridge * mask * theta) / norm
    if monitor(value, _norm(gradient), metric.value(), mu=mu, inner_steps=0):
        return None
    while True:
        b = -(Jte + ridge * mask * backend.astype(theta, np.float64))
        A = JtJ + ridge * (xp.eye(theta.shape[0], dtype=JtJ.dtype) * mask)
        if together is None:
            mu, steps = damped_step(theta, lambda m: solve_damped(A, b, m)[0], mu,
                                    lambda: objective(equations.sse()), value, opts)
        else:
            mu, steps = together.step(theta, lambda m: solve_damped(A, b, m)[0], mu, objective, value, opts)
        if mu is None:
            return "mu_max"
        metric = problem.fresh_metric()
        JtJ, Jte, sse = equations.compute(metric)
        value = objective(sse)
        gradient = 2 * (Jte + ridge * mask * theta) / norm
        if monitor(value, _norm(gradient), metric.value(), mu=mu, inner_steps=steps):
            return None


def _norm(v):
    return math.sqrt(backend.dot(v, v))


@few_threads_when_small(SMALL)
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
    theta, xp = problem.theta, problem.xp
    free = backend.asarray(np.ones(theta.size) if problem.frozen is None else (~problem.frozen).astype(np.float64),
                           xp)
    P, N = int(xp.sum(free)), equations.n_errors    # weights that are not trainable are constants
    mu = opts["mu"]
    alpha, beta, gamma = 0.0, 1.0, float(P)

    def sum_squares(x):
        x = x * free
        return backend.dot(x, x)

    together = TrialRuns.of(problem, equations)

    metric = problem.fresh_metric()
    JtJ, Jte, E_D = equations.compute(metric)
    E_W = sum_squares(backend.astype(theta, np.float64))
    F = beta * E_D + alpha * E_W
    gradient = 2 * (beta * Jte + alpha * free * theta) / norm
    if monitor(E_D / norm, _norm(gradient), metric.value(), mu=mu, inner_steps=0,
               alpha=alpha, beta=beta, gamma=gamma):
        return None
    while True:
        b = -(beta * Jte + alpha * free * backend.astype(theta, np.float64))
        if bool(xp.all(xp.isfinite(JtJ))):      # one eigen-decomposition of this epoch's Hessian
            spectrum = Spectrum(JtJ, alpha, beta)
            solve = lambda m: spectrum.solve(b, m) * free  # noqa: E731   (rounding never moves a fixed weight)
        else:
            spectrum, A = None, beta * JtJ + alpha * xp.eye(theta.shape[0], dtype=JtJ.dtype)
            solve = lambda m: solve_damped(A, b, m)[0] * free  # noqa: E731
        if together is None:
            def objective():
                return beta * equations.sse() + alpha * sum_squares(backend.astype(theta, np.float64))
            mu, steps = damped_step(theta, solve, mu, objective, F, opts)
        else:
            mu, steps = together.step(theta, solve, mu,
                                      lambda s, t: beta * s + alpha * sum_squares(backend.astype(t, np.float64)),
                                      F, opts)
        if mu is None:
            return "mu_max"
        metric = problem.fresh_metric()
        JtJ, Jte, E_D = equations.compute(metric)
        E_W = sum_squares(backend.astype(theta, np.float64))
        # Evidence update (MacKay) with the Hessian of the step: effective parameters,
        # then the two hyperparameters.
        if spectrum is not None:
            fixed = (theta.size - P) / (beta + alpha)       # their block of the Hessian is I (NormalEquations)
            gamma = P - (alpha * (spectrum.trace_inverse() - fixed) if alpha > 0 else 0.0)
        alpha = gamma / (2 * E_W) if E_W > 0 else 1.0
        fresh = max(N - gamma, 1e-3 * N) / (2 * E_D) if E_D > 0 else math.inf
        beta = fresh if fresh <= BETA_MAX else beta     # data fitted exactly: keep the last beta
        F = beta * E_D + alpha * E_W
        gradient = 2 * (beta * Jte + alpha * free * theta) / norm
        if monitor(E_D / norm, _norm(gradient), metric.value(), mu=mu, inner_steps=steps,
                   alpha=alpha, beta=beta, gamma=gamma):
            return None
