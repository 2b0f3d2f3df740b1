"""Scaled conjugate gradient (Møller 1993; MATLAB ``trainscg``).

Conjugate directions without a line search: the step length along ``p`` comes from a
finite-difference estimate of the curvature ``pᵀ H p``, kept positive by a
Levenberg–Marquardt-like scale ``λ`` that grows when the quadratic model predicts
badly and shrinks when it predicts well.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend

__all__ = ["scg_runner", "SCG_OPTIONS"]

#: SCG's options and Møller's defaults.
SCG_OPTIONS = {"sigma": 5e-5, "lambda_": 5e-7}


def scg_runner(problem, monitor, options):
    """Full-batch SCG with Møller's constants ``sigma=5e-5``, ``lambda_=5e-7``."""
    sigma0, lam = options["sigma"], options["lambda_"]
    theta = problem.theta
    dtype = backend.numpy_dtype(theta.dtype)

    def evaluate(x, metric=None):
        theta[...] = backend.astype(x, dtype)
        value, grad = problem.evaluate(metric=metric)
        return value, backend.astype(grad, np.float64, copy=True)

    w = backend.astype(theta, np.float64, copy=True)
    metric = problem.fresh_metric()
    value, g = evaluate(w, metric)
    if monitor(value, math.sqrt(backend.dot(g, g)), metric.value(), lambda_=lam):
        return None
    r = -g
    p = backend.copy(r)
    lam_bar, success, k, P = 0.0, True, 0, w.size
    delta = 0.0
    while True:
        k += 1
        p2 = float(p @ p)
        if p2 == 0:
            return "converged (zero search direction)"
        if success:
            sigma = sigma0 / math.sqrt(p2)
            _, g_sigma = evaluate(w + sigma * p)
            delta = float(p @ (g_sigma - g)) / sigma
        delta += (lam - lam_bar) * p2
        if delta <= 0:   # make the curvature estimate positive
            lam_bar = 2 * (lam - delta / p2)
            delta = -delta + lam * p2
            lam = lam_bar
        mu = float(p @ r)
        alpha = mu / delta
        new_value, new_g = evaluate(w + alpha * p)
        comparison = 2 * delta * (value - new_value) / (mu * mu) if mu != 0 else -1.0
        if comparison >= 0:
            w = w + alpha * p
            r_new = -new_g
            lam_bar, success = 0.0, True
            if k % P == 0:
                p = backend.copy(r_new)
            else:
                beta = (float(r_new @ r_new) - float(r_new @ r)) / mu
                p = r_new + beta * p
            r, g, value = r_new, new_g, new_value
            if comparison >= 0.75:
                lam = max(lam / 4, 1e-15)
        else:
            lam_bar, success = lam, False
        if comparison < 0.25:
            lam = min(lam + delta * (1 - comparison) / p2, 1e100)
        theta[...] = backend.astype(w, dtype)
        metric = problem.fresh_metric()
        if success:
            value, g = evaluate(w, metric)   # recorded at the accepted point (metric needs the outputs)
        else:
            evaluate(w, metric)
        if monitor(value, math.sqrt(backend.dot(g, g)), metric.value(), lambda_=lam):
            return None
