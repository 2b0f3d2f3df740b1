"""The loss, its gradient and the Jacobian of a network on given data, and the
finite-difference check: every kind of network, the same way.

Data is what ``fit`` takes: samples for a static network; for a network with delays,
input and target series (an open-loop NARX takes its feedback input from the
targets), every step counted, starting from the initial delay states ``initial``
(zero when not given, as MATLAB's ``Xi``/``Ai`` otherwise).  Inputs and targets are in
data units: the network's scaling is applied inside.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .backend import on_host
from . import losses as _losses
from .backprop import jacobian_blocks, stack_blocks
from .train.splits import sequence_data, static_data, whole_split
from .train.problem import Problem

__all__ = ["gradient", "jacobian", "loss_value", "check_gradient", "problem_of"]


def problem_of(net, X, T, loss="mse", l2=0.0, sample_weight=None, initial=None):
    """The :class:`~matnet.train.problem.Problem` of ``net`` on all of the data."""
    _losses.check_loss(loss, net)
    if net.is_dynamic:
        if sample_weight is not None:
            raise ValueError("sample_weight does not apply to sequences")
        data = sequence_data(net, X, T, initial, shift=False)
    else:
        if initial is not None:
            raise ValueError("initial= gives delay states; the network has no delays")
        data = static_data(net, X, T, sample_weight)
    return Problem(net, {"train": whole_split(net, data)}, loss, l2, "R", training=False)


def gradient(net, X, T, loss="mse", l2=0.0, sample_weight=None, initial=None):
    """Gradient of the loss with respect to every weight and bias.

    Parameters
    ----------
    X, T : inputs and targets (see the module docstring); class labels as targets
        of a network trained on them.
    loss : {"mse", "sse", "cross_entropy", "binary_cross_entropy"}
    l2 : float
        L2 penalty ``l2 / 2 * sum(W**2)`` over the weights.
    sample_weight : array (n_samples,), optional
    initial : dict, optional
        Initial delay states of a network with delays.

    Returns
    -------
    (grad_weights, grad_biases) : dicts keyed like ``net.weights`` and ``net.biases``.
    """
    _, grad = problem_of(net, X, T, loss, l2, sample_weight, initial).evaluate()
    return net.views(backend.copy(grad))


def loss_value(net, X, T, loss="mse", l2=0.0, sample_weight=None, initial=None):
    """The loss :func:`gradient` differentiates (a float)."""
    return problem_of(net, X, T, loss, l2, sample_weight, initial).evaluate(need_gradient=False)[0]


def jacobian(net, X, T, sample_weight=None, initial=None):
    """Jacobian of the errors ``e = (y - t)`` with respect to the parameters.

    Returns
    -------
    J : ndarray (n_samples * n_out, n_params)
        ``de/dθ``, rows sample-major (``i * n_out + k``), columns in
        :meth:`Network.get_flat` order.  For a network with delays rows are
        ``(series, step, output)``: the dynamic Jacobian, forward in time.
    e : ndarray (n_samples * n_out,), data units

    Notes
    -----
    ``J.T @ e`` is half the gradient of the sum of squared errors (``sse``).
    """
    problem = problem_of(net, X, T, "mse", 0.0, sample_weight, initial)
    split = problem.train
    trace = problem.run(split)
    return stack_blocks(jacobian_blocks(net, trace, split.targets, problem.scale, split.weight), trace.shape)


@on_host
def check_gradient(net, X, T, loss="mse", l2=0.0, sample_weight=None, eps=1e-6, initial=None):
    """Compare the backprop gradient with central finite differences.

    Returns
    -------
    dict with ``max_relative_error`` (worst ``|g - g_fd| / max(|g| + |g_fd|, tiny)``
    over parameters whose gradient is not negligible), ``max_absolute_error``, the
    index of the worst parameter and both gradients.
    """
    problem = problem_of(net, X, T, loss, l2, sample_weight, initial)
    theta = net.get_flat()
    grad = problem.evaluate()[1].copy()
    numeric = np.empty_like(grad)
    try:
        for i in range(theta.size):
            values = []
            for step in (eps, -eps):
                net.theta[i] = theta[i] + step
                values.append(problem.evaluate(need_gradient=False)[0])
            net.theta[i] = theta[i]
            numeric[i] = (values[0] - values[1]) / (2 * eps)
    finally:
        net.set_flat(theta)
    absolute = np.abs(grad - numeric)
    scale = np.maximum(np.abs(grad) + np.abs(numeric), 1e-12)
    relative = np.where(scale > 1e-9, absolute / scale, 0.0)
    worst = int(np.argmax(relative))
    return {"max_relative_error": float(relative[worst]), "max_absolute_error": float(absolute.max()),
            "worst_index": worst, "gradient": grad, "numeric": numeric}
