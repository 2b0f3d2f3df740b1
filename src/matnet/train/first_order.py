"""First-order algorithms: minibatch SGD, Adam, RMSprop; full-batch Rprop; and
L-BFGS and nonlinear conjugate gradients through ``scipy.optimize``."""
from __future__ import annotations

import inspect
import math

import numpy as np
from scipy.optimize import minimize

from .optimizers import Rprop, make_schedule

__all__ = ["minibatch_runner", "rprop_runner", "scipy_runner", "algorithm_options"]


def algorithm_options(cls, options, algorithm):
    """The entries of ``options`` that ``cls`` takes; a clear error for the rest."""
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"unknown option(s) for {algorithm!r}: {', '.join(unknown)}; "
                         f"it takes {', '.join(sorted(accepted)) or 'none'}")
    return options


def _norm(g):
    return math.sqrt(float(np.dot(g, g)))


def _pop_common(options):
    return (options.pop("lr", None), options.pop("batch_size", None), options.pop("lr_schedule", None),
            options.pop("rng"))


def minibatch_runner(cls, algorithm, default_lr):
    """A runner that shuffles the training split into minibatches every epoch.

    The recorded training loss and metric are the means over the epoch's batches
    (the weights change during the epoch); the gradient norm is the mean of the
    batch gradients' norms.
    """
    def runner(problem, monitor, options):
        lr, batch_size, schedule, rng = _pop_common(options)
        optimizer = cls(lr=default_lr if lr is None else lr, **algorithm_options(cls, options, algorithm))
        schedule = make_schedule(schedule)
        batch_size = min(200, problem.n) if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        theta = problem.theta
        metric = problem.fresh_metric()
        value, _ = problem.evaluate(need_gradient=False, metric=metric)   # epoch 0: loss only
        if monitor(value, None, metric.value(), optimizer.lr):
            return None
        while True:
            metric = problem.fresh_metric()
            total = norms = 0.0
            batches = problem.batches(batch_size, rng)
            for idx in batches:
                value, grad = problem.evaluate(idx, metric=metric)
                if not math.isfinite(value):
                    total = value
                    break
                optimizer.step(theta, grad)
                total += value * (problem.n if idx is None else len(idx))
                norms += _norm(grad)
            train_loss = total / problem.n if math.isfinite(total) else total
            if monitor(train_loss, norms / len(batches), metric.value(), optimizer.lr):
                return None
            if schedule is not None:
                val = monitor.history.val_loss[-1]
                optimizer.lr = schedule(monitor.epoch, optimizer.lr, train_loss if math.isnan(val) else val)
    return runner


def rprop_runner(problem, monitor, options):
    """Full-batch Rprop (see :class:`~matnet.train.optimizers.Rprop`)."""
    lr, _, schedule, _ = _pop_common(options)
    if lr is not None or schedule is not None:
        raise ValueError("'rprop' adapts its own step sizes; lr and lr_schedule do not apply")
    optimizer = Rprop(**algorithm_options(Rprop, options, "rprop"))
    theta = problem.theta
    metric = problem.fresh_metric()
    value, grad = problem.evaluate(metric=metric)
    while not monitor(value, _norm(grad), metric.value()):
        optimizer.step(theta, grad)
        metric = problem.fresh_metric()
        value, grad = problem.evaluate(metric=metric)
    return None


def scipy_runner(method, algorithm):
    """A runner for ``scipy.optimize.minimize`` (``"L-BFGS-B"`` or ``"CG"``) on the flat
    parameter vector; one iteration is one epoch."""
    def runner(problem, monitor, options):
        lr, _, schedule, _ = _pop_common(options)
        if lr is not None or schedule is not None:
            raise ValueError(f"{algorithm!r} chooses its own steps; lr and lr_schedule do not apply")
        theta = problem.theta
        last = {}

        def objective(x):
            theta[...] = x
            metric = problem.fresh_metric()
            value, grad = problem.evaluate(metric=metric)
            last.update(x=x.copy(), value=value, grad_norm=_norm(grad), metric=metric.value())
            return value, grad.astype(np.float64)

        def callback(intermediate_result):
            x = intermediate_result.x
            if "x" not in last or not np.array_equal(last["x"], x):
                objective(x)
            theta[...] = x
            if monitor(last["value"], last["grad_norm"], last["metric"]):
                raise StopIteration

        value, _ = objective(theta.astype(np.float64))
        if monitor(value, last["grad_norm"], last["metric"]):
            return None
        scipy_options = {"maxiter": monitor.epochs, "gtol": monitor.min_grad, **options}
        result = minimize(objective, theta.astype(np.float64), jac=True, method=method, callback=callback,
                          options=scipy_options)
        if monitor.stop_reason is None:
            theta[...] = result.x
            return f"converged ({result.message})"
        return None
    return runner
