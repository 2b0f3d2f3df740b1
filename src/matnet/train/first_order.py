"""First-order algorithms: minibatch SGD, Adam, RMSprop; full-batch Rprop; and
L-BFGS and nonlinear conjugate gradients through ``scipy.optimize``."""
from __future__ import annotations

import inspect
import math
from contextlib import nullcontext

import numpy as np
from scipy.optimize import minimize

from .. import backend
from ..threads import SMALL_PRODUCTS, one_thread
from ..weights import operator
from .optimizers import Rprop, make_schedule

__all__ = ["minibatch_runner", "rprop_runner", "scipy_runner", "optimizer_options", "SCIPY_OPTIONS"]


def optimizer_options(cls):
    """The options of an optimizer class and their defaults (its learning rate aside)."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items() if name != "lr"}


def _norm(g):
    return math.sqrt(backend.dot(g, g))


def batch_products(net, batch_size):
    """Multiply-adds of one batch's forward pass through the weights (an embedding, a
    gather, counts one per output)."""
    total = 0
    for c in net.connections.values():
        W = net.weights[c.key]
        total += W.shape[0] if c.source in net.index_inputs else operator(W).n_params
    return batch_size * total


def minibatch_runner(cls):
    """A runner that shuffles the training split into minibatches every epoch.

    The recorded training loss and metric are the means over the epoch's batches
    (the weights change during the epoch); the gradient norm is the mean of the
    batch gradients' norms.  Epoch 0 (the initial network) is not evaluated unless
    it is the only one: its losses are NaN, as evaluating them would cost a pass
    over all the data.  A network whose batches' products are small
    (:data:`~matnet.threads.SMALL_PRODUCTS`) trains on one BLAS thread, its evaluations too.
    """
    def runner(problem, monitor, options):
        batch_size = min(200, problem.n) if options["batch_size"] is None else int(options["batch_size"])
        small = batch_products(problem.net, min(batch_size, problem.n)) < SMALL_PRODUCTS
        with one_thread() if small else nullcontext():    # small products: no waiting threads when busy
            return epochs(problem, monitor, options, batch_size)

    def epochs(problem, monitor, options, batch_size):
        rng = options.pop("rng")
        options.pop("batch_size")
        schedule = make_schedule(options.pop("lr_schedule"))
        optimizer = cls(**options)
        theta = problem.theta
        if monitor.epochs == 0:                  # nothing but the initial network's loss
            metric = problem.fresh_metric()
            value, _ = problem.evaluate(need_gradient=False, metric=metric)
            monitor(value, None, metric.value(), optimizer.lr)
            return None
        monitor(None, None, lr=optimizer.lr)     # epoch 0 not evaluated: a pass over all data
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
    options.pop("rng")
    optimizer = Rprop(**options)
    theta = problem.theta
    metric = problem.fresh_metric()
    value, grad = problem.evaluate(metric=metric)
    while not monitor(value, _norm(grad), metric.value()):
        optimizer.step(theta, grad)
        metric = problem.fresh_metric()
        value, grad = problem.evaluate(metric=metric)
    return None


#: The options of ``"lbfgs"`` and ``"cg"`` passed on to ``scipy.optimize.minimize``, with
#: SciPy's defaults (``maxiter`` and ``gtol`` come from ``epochs`` and ``min_grad``).
SCIPY_OPTIONS = {"L-BFGS-B": {"maxcor": 10, "ftol": 2.220446049250313e-09, "maxls": 20, "maxfun": 15000},
                 "CG": {"norm": math.inf, "c1": 1e-4, "c2": 0.4}}


def scipy_runner(method):
    """A runner for ``scipy.optimize.minimize`` (``"L-BFGS-B"`` or ``"CG"``) on the flat
    parameter vector; one iteration is one epoch.  Options go to SciPy's ``options``."""
    def runner(problem, monitor, options):
        options.pop("rng")
        theta = problem.theta
        last = {}

        def objective(x):               # SciPy works on NumPy float64 vectors
            theta[...] = backend.asarray(x, problem.xp, problem.net.dtype)
            metric = problem.fresh_metric()
            value, grad = problem.evaluate(metric=metric)
            last.update(x=x.copy(), value=value, grad_norm=_norm(grad), metric=metric.value())
            return value, backend.to_numpy(grad).astype(np.float64)

        def callback(intermediate_result):
            x = intermediate_result.x
            if "x" not in last or not np.array_equal(last["x"], x):
                objective(x)
            theta[...] = backend.asarray(x, problem.xp, problem.net.dtype)
            if monitor(last["value"], last["grad_norm"], last["metric"]):
                raise StopIteration

        start = backend.to_numpy(theta).astype(np.float64)
        value, _ = objective(start)
        if monitor(value, last["grad_norm"], last["metric"]):
            return None
        scipy_options = {"maxiter": monitor.epochs, "gtol": monitor.min_grad, **options}
        result = minimize(objective, start, jac=True, method=method, callback=callback, options=scipy_options)
        if monitor.stop_reason is None:
            theta[...] = backend.asarray(result.x, problem.xp, problem.net.dtype)
            return f"converged ({result.message})"
        return None
    return runner
