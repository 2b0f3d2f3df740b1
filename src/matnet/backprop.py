"""Gradients by backpropagation in matrix form.

One backward pass visits the layers in reverse topological order, the batch as rows:

    dZ = f'(Z) ⊙ dA            (or the loss's fused dL/dZ at an output)
    dW[src→layer] = dZ.T @ A_src        (n_out, n_in)
    db[layer]     = sum over rows of dZ
    dA_src       += dZ @ W[src→layer]

Gradients are written straight into one flat vector laid out like
:meth:`Network.get_flat`.  The L2 penalty is ``l2 / 2 * sum of squared weights``
(biases are not penalised), so it adds ``l2 * W`` to each weight gradient.
"""
from __future__ import annotations

import numpy as np

from . import losses as _losses
from .data.targets import prepare_targets
from .simulate import is_recurrent, layer_adjacency, plan, prepare_inputs, run

__all__ = ["backward", "loss_and_gradient", "add_l2", "gradient", "loss_value", "check_gradient", "error_scale",
           "error_jacobian", "jacobian", "backward_sequences", "sequence_jacobian"]


def error_scale(net):
    """Per output layer, the factor turning network-unit errors into data-unit errors."""
    return {name: s.inverse_scale for name, s in net.output_scaling.items()} or None


def backward(net, fw, deltas, out=None, out_views=None):
    """Back-propagate output gradients through the network.

    Parameters
    ----------
    fw : Forward
        The forward pass (:func:`matnet.simulate.run`).
    deltas : dict ``layer -> (G, at_z)``
        Gradient with respect to a layer's activation (``at_z`` False) or net input.
    out : ndarray (n_params,), optional
        Buffer for the result.
    out_views : (dict, dict), optional
        ``net.views(out)``, when the caller keeps them.

    Returns
    -------
    ndarray (n_params,): the gradient in :meth:`Network.get_flat` order.
    """
    grad = np.empty(net.n_params, net.dtype) if out is None else out
    gW, gb = net.views(grad) if out_views is None else out_views
    weights = net.weights._views
    dA = {}
    for step in reversed(plan(net).steps):
        name = step.layer
        G, at_z = deltas.get(name, (None, False))
        upstream = dA.pop(name, None)
        if G is not None and not at_z:
            upstream = G if upstream is None else upstream + G
        dZ = None if upstream is None else step.activation.backward(fw.z[name], fw.a[name], upstream)
        if G is not None and at_z:
            dZ = G if dZ is None else dZ + G
        if dZ is None:  # nothing downstream depends on this layer
            for _, key in step.sources:
                gW[key][...] = 0
            if step.bias:
                gb[name][...] = 0
            continue
        for source, key in step.sources:
            W = weights[key]
            if type(W) is np.ndarray:
                np.matmul(dZ.T, fw.values(source), out=gW[key])
            else:
                W.gradient(fw.values(source), dZ, out=gW[key])
            if source in fw.a:
                back = dZ @ W if type(W) is np.ndarray else W.rdot(dZ)
                if source in dA:
                    dA[source] += back
                else:
                    dA[source] = back
        if step.bias:
            np.sum(dZ, axis=0, out=gb[name])
    return grad


def loss_and_gradient(net, inputs, targets, loss, l2=0.0, sample_weight=None, scale=None, out=None,
                      need_gradient=True):
    """Loss and flat gradient on prepared data (network units); the trainers' hot path.

    Parameters
    ----------
    inputs, targets : dict
        From :func:`~matnet.simulate.prepare_inputs` and
        :func:`~matnet.data.prepare_targets`.
    scale : dict, optional
        :func:`error_scale` of the network.
    """
    fw = run(net, inputs)
    value, deltas = _losses.evaluate(loss, net, fw.z, fw.a, targets, sample_weight, scale, need_gradient)
    grad = backward(net, fw, deltas, out) if need_gradient else None
    return add_l2(net, l2, value, grad)


def add_l2(net, l2, value, grad=None):
    """Add the penalty ``l2 / 2 * sum(W**2)`` over the weights (not biases) to a loss
    value and, in place, ``l2 * W`` to its flat gradient.  Returns ``(value, grad)``."""
    if l2:
        mask = plan(net).weight_mask
        weights = net._theta[mask]
        value += 0.5 * l2 * float(np.dot(weights, weights))
        if grad is not None:
            grad[mask] += net.dtype.type(l2) * weights
    return value, grad


def _prepare(net, X, T, loss, sample_weight):
    _losses.check_loss(loss, net)
    inputs, _ = prepare_inputs(net, X)
    n = next(iter(inputs.values())).shape[0]
    targets = prepare_targets(net, T, n)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=net.dtype)
        if sample_weight.shape != (n,) or not np.isfinite(sample_weight).all() or (sample_weight < 0).any():
            raise ValueError(f"sample_weight must be {n} finite non-negative numbers, got shape {sample_weight.shape}")
    return inputs, targets, sample_weight


def gradient(net, X, T, loss="mse", l2=0.0, sample_weight=None):
    """Gradient of the loss with respect to every weight and bias.

    Parameters
    ----------
    X : array or dict
        Inputs as for ``net(X)`` (input scaling is applied); for a network with delays,
        input sequences ``(n_steps, n)`` or ``(n_series, n_steps, n)`` (an open-loop
        NARX takes its feedback input from ``T``; initial states are zero), and the
        gradient is back-propagated through time.
    T : array or dict
        Targets in data units (output scaling is applied), or class labels.
    loss : {"mse", "sse", "cross_entropy", "binary_cross_entropy"}
    l2 : float
        L2 penalty ``l2 / 2 * sum(W**2)`` over the weights.
    sample_weight : array (n_samples,), optional

    Returns
    -------
    (grad_weights, grad_biases) : dicts keyed like ``net.weights`` and ``net.biases``.
    """
    if net.is_dynamic:
        problem = _sequence_problem(net, X, T, loss, l2, sample_weight)
        return net.views(problem.evaluate()[1].copy())
    inputs, targets, w = _prepare(net, X, T, loss, sample_weight)
    _, grad = loss_and_gradient(net, inputs, targets, loss, l2, w, error_scale(net))
    return net.views(grad)


def _sequence_problem(net, U, T, loss, l2, sample_weight, initial=None):
    """The training problem of sequences ``U``, ``T`` (every step counted; an open-loop
    NARX takes its feedback input from ``T``; initial states zero unless given)."""
    from .data.timeseries import sequence_inputs
    from .train.sequences import SequenceProblem
    if sample_weight is not None:
        raise ValueError("sample_weight does not apply to sequences")
    _losses.check_loss(loss, net)
    targets = T if isinstance(T, dict) else {net.outputs[0]: T}
    n_steps = np.shape(next(iter(targets.values())))[-2]
    masks = {"train": np.ones(n_steps, bool), "val": np.zeros(n_steps, bool), "test": np.zeros(n_steps, bool)}
    return SequenceProblem(net, sequence_inputs(net, U, T), initial, targets, masks, loss, l2)


def loss_value(net, X, T, loss="mse", l2=0.0, sample_weight=None):
    """The loss :func:`gradient` differentiates (a float)."""
    inputs, targets, w = _prepare(net, X, T, loss, sample_weight)
    return loss_and_gradient(net, inputs, targets, loss, l2, w, error_scale(net), need_gradient=False)[0]


def check_gradient(net, X, T, loss="mse", l2=0.0, sample_weight=None, eps=1e-6):
    """Compare the backprop gradient with central finite differences.

    Returns
    -------
    dict with ``max_relative_error`` (worst ``|g - g_fd| / max(|g| + |g_fd|, tiny)``
    over parameters whose gradient is not negligible), ``max_absolute_error``, the
    index of the worst parameter and both gradients.
    """
    inputs, targets, w = _prepare(net, X, T, loss, sample_weight)
    scale = error_scale(net)
    theta = net.get_flat()
    _, grad = loss_and_gradient(net, inputs, targets, loss, l2, w, scale)
    numeric = np.empty_like(grad)
    try:
        for i in range(theta.size):
            values = []
            for step in (eps, -eps):
                net._theta[i] = theta[i] + step
                values.append(loss_and_gradient(net, inputs, targets, loss, l2, w, scale, need_gradient=False)[0])
            net._theta[i] = theta[i]
            numeric[i] = (values[0] - values[1]) / (2 * eps)
    finally:
        net.set_flat(theta)
    absolute = np.abs(grad - numeric)
    scale_ = np.maximum(np.abs(grad) + np.abs(numeric), 1e-12)
    relative = np.where(scale_ > 1e-9, absolute / scale_, 0.0)
    worst = int(np.argmax(relative))
    return {"max_relative_error": float(relative[worst]), "max_absolute_error": float(absolute.max()),
            "worst_index": worst, "gradient": grad, "numeric": numeric}


# -- Jacobian of the errors --------------------------------------------------------

def error_jacobian(net, fw, targets, scale=None, sample_weight=None, out=None):
    """Jacobian of the error vector for one prepared batch.

    The error vector is ``e = (y - t)`` in data units (times ``sqrt(w_i)`` with sample
    weights), flattened sample-major: ``e[i * K + k]`` for sample ``i`` and output
    ``k`` (output layers side by side).  Back-propagation runs once for all ``K``
    outputs at the same time: every layer carries a ``(K, n, size)`` tensor of
    derivatives, and a connection's block of ``J`` is the outer product
    ``J[(i, k), (r, c)] = dZ[k, i, r] * A_src[i, c]`` (bias: ``dZ[k, i, r]``).

    Returns
    -------
    J : ndarray (n * K, n_params) in :meth:`Network.get_flat` order
    e : ndarray (n * K,)
    """
    outputs = net.outputs
    n = next(iter(targets.values())).shape[0]
    sizes = [net.layers[o].size for o in outputs]
    K = sum(sizes)
    root = None if sample_weight is None else np.sqrt(np.asarray(sample_weight, net.dtype))[:, None]
    errors, dA, offset = [], {}, 0
    for name, size in zip(outputs, sizes):
        s = np.ones(size, net.dtype) if scale is None or name not in scale else scale[name]
        e = (fw.a[name] - targets[name]) * s
        errors.append(e if root is None else e * root)
        seed = np.zeros((K, n, size), net.dtype)
        seed[offset + np.arange(size), :, np.arange(size)] = s[:, None] if root is None else s[:, None] * root[:, 0]
        dA[name] = seed
        offset += size
    P = net.n_params
    J = np.empty((n * K, P), net.dtype) if out is None else out
    J3 = J.reshape(n, K, P)
    weights = net.weights._views
    columns = plan(net).columns
    for step in reversed(plan(net).steps):
        name = step.layer
        upstream = dA.pop(name, None)
        if upstream is None:
            for _, key in step.sources:
                J3[:, :, columns[("W", key)]] = 0
            if step.bias:
                J3[:, :, columns[("b", name)]] = 0
            continue
        dZ = step.activation.backward(fw.z[name], fw.a[name], upstream)   # (K, n, R)
        dZt = dZ.transpose(1, 0, 2)                                         # (n, K, R)
        R = dZ.shape[2]
        for source, key in step.sources:
            A, W = fw.values(source), weights[key]
            if type(W) is not np.ndarray:
                J3[:, :, columns[("W", key)]] = W.jacobian(A, dZ)
            else:
                block = J3[:, :, columns[("W", key)]].reshape(n, K, R, A.shape[1])
                np.multiply(dZt[:, :, :, None], A[:, None, None, :], out=block)
            if source in fw.a:
                back = dZ @ W if type(W) is np.ndarray else W.rdot(dZ.reshape(-1, R)).reshape(K, n, -1)
                dA[source] = back if source not in dA else dA[source] + back
        if step.bias:
            J3[:, :, columns[("b", name)]] = dZt
    return J, np.hstack(errors).ravel()


def jacobian(net, X, T, sample_weight=None):
    """Jacobian of the errors ``e = (y - t)`` with respect to the parameters.

    Parameters
    ----------
    X, T : inputs and targets as for :func:`gradient` (data units; scaling is
        applied inside, and ``e`` is in data units).

    Returns
    -------
    J : ndarray (n_samples * n_out, n_params)
        ``de/dθ``, rows sample-major (``i * n_out + k``), columns in
        :meth:`Network.get_flat` order.  For a network with delays and sequences,
        rows are ``(series, step, output)`` and ``J`` is the dynamic Jacobian
        (:func:`sequence_jacobian`).
    e : ndarray (n_samples * n_out,)

    Notes
    -----
    ``J.T @ e`` is half the gradient of the sum of squared errors (``sse``).
    """
    if net.is_dynamic:
        problem = _sequence_problem(net, X, T, "mse", 0.0, sample_weight)
        return sequence_jacobian(net, problem.forward(), problem.targets, problem.scale)
    inputs, targets, w = _prepare(net, X, T, "mse", sample_weight)
    fw = run(net, inputs)
    return error_jacobian(net, fw, targets, error_scale(net), w)


# -- networks over time: BPTT and the dynamic Jacobian -----------------------------

def backward_sequences(net, fw, deltas, out=None):
    """Back-propagation through time for a run over sequences.

    Parameters
    ----------
    fw : SequenceForward
        From :func:`matnet.simulate.run_sequences`.
    deltas : dict ``layer -> (G, at_z)``
        ``G`` ``(n_series, n_steps, size)``: the loss gradient with respect to the
        layer's activations (or, ``at_z``, its net inputs), every step.

    Returns
    -------
    ndarray (n_params,): the gradient in :meth:`Network.get_flat` order.

    Notes
    -----
    Steps run backwards (all at once when no layer feeds its own past): each layer's
    ``dZ`` at step ``t`` sends ``dZ @ W_d`` to its source at step ``t - d``.  The
    weight gradients then take one matrix product over all steps and series:
    ``dW = sum_t dZ(t).T @ [a(t-d1); ...; a(t-dk)]``.
    """
    grad = np.empty(net.n_params, net.dtype) if out is None else out
    gW, gb = net.views(grad)
    weights = net.weights._views
    steps = plan(net).steps
    S, T = next(iter(fw.z.values())).shape[:2]
    dA = {name: np.zeros((S, T, layer.size), net.dtype) for name, layer in net.layers.items()}
    dZ = {name: np.zeros((S, T, layer.size), net.dtype) for name, layer in net.layers.items()}
    for name, (G, at_z) in deltas.items():
        (dZ if at_z else dA)[name] += G
    block = 1 if is_recurrent(net) else max(T, 1)
    for t1 in range(T, 0, -block):
        t0 = max(t1 - block, 0)
        for step in reversed(steps):
            name = step.layer
            d = step.activation.backward(fw.z[name][:, t0:t1], fw.a[name][:, t0:t1], dA[name][:, t0:t1])
            d = dZ[name][:, t0:t1] + d
            dZ[name][:, t0:t1] = d
            for source, key in step.sources:
                if source not in net.layers:
                    continue
                C = net.layers[source].size
                for k, delay in enumerate(net.connections[key].delays):
                    lo, hi = t0 - delay, t1 - delay
                    if hi <= 0:
                        continue
                    cut = max(0, -lo)
                    dA[source][:, lo + cut:hi] += d[:, cut:] @ weights[key][:, k * C:(k + 1) * C]
    for step in steps:
        flat_dZ = dZ[step.layer].reshape(S * T, -1)
        for source, key in step.sources:
            X = fw.lagged(source, net.connections[key].delays)
            np.matmul(flat_dZ.T, X.reshape(S * T, -1), out=gW[key])
        if step.bias:
            np.sum(flat_dZ, axis=0, out=gb[step.layer])
    return grad


def sequence_jacobian(net, fw, targets, scale=None, weight=None):
    """Jacobian of the errors of a run over time (real-time recurrent learning,
    forward in time, as De Jesús & Hagan (2007) describe, vectorised).

    With ``a(t)`` all layer activations stacked (``N`` neurons), its sensitivity
    ``S(t) = da(t)/dθ`` (``N × P``) obeys the linear recurrence

        S(t) = Q(t) [E(t) + sum_{d>=1} L_d S(t-d)],   Q(t) = (I - D(t) L_0)^-1 D(t)

    with ``D(t) = diag f'(z(t))``, ``L_d`` the layer-to-layer weights of delay ``d``
    (the adjacency matrix of that delay) and ``E(t)`` the explicit derivative of the
    net inputs (the stacked source values at the weights' places, 1 at the biases).
    ``Q``, ``Q E`` and ``Q L_d`` are formed for all steps and series at once; only the
    recurrence itself runs step by step, one matrix product per step.

    Parameters
    ----------
    targets : dict ``layer -> (n_series, n_steps, size)``, network units
    weight : array (n_series, n_steps), optional
        Error weights (0 masks a step out); rows are multiplied by ``sqrt(weight)``.

    Returns
    -------
    J : ndarray (n_series * n_steps * K, n_params), rows ``(series, step, output)``
    e : ndarray (n_series * n_steps * K,)
    """
    for name, layer in net.layers.items():
        if not layer.activation.elementwise:
            raise ValueError(f"the dynamic Jacobian needs elementwise activations; layer {name!r} is "
                             f"{layer.activation.name}")
    offsets, L = layer_adjacency(net)
    dmax, N = L.shape[0] - 1, L.shape[1]
    S, T = next(iter(fw.z.values())).shape[:2]
    P = net.n_params
    dtype = net.dtype
    columns = plan(net).columns
    D = np.concatenate([net.layers[name].activation.derivative(fw.z[name], fw.a[name])
                        for name in net.topological_order()], axis=-1)          # (S, T, N)
    eye = np.eye(N, dtype=dtype)
    Q = np.linalg.solve(eye - D[..., :, None] * L[0], eye * D[..., None, :])     # (S, T, N, N)
    H = np.zeros((S, T, N, P), dtype)
    for c in net.connections.values():
        rows = offsets[c.target]
        X = fw.lagged(c.source, c.delays)                                       # (S, T, kC)
        R, kC = rows.stop - rows.start, X.shape[-1]
        block = H[..., columns[("W", c.key)]].reshape(S, T, N, R, kC)
        np.multiply(Q[..., :, rows][..., None], X[:, :, None, None, :], out=block)
        H[..., columns[("W", c.key)]] = block.reshape(S, T, N, R * kC)
    for name in net.biases:
        H[..., columns[("b", name)]] = Q[..., :, offsets[name]]
    if dmax:
        G = Q @ np.concatenate([L[d] for d in range(dmax, 0, -1)], axis=1)       # (S, T, N, dmax N)
        sens = np.zeros((S, dmax + T, N, P), dtype)
        for t in range(T):
            history = sens[:, t:t + dmax].reshape(S, dmax * N, P)
            np.matmul(G[:, t], history, out=sens[:, dmax + t])
            sens[:, dmax + t] += H[:, t]
        sens = sens[:, dmax:]
    else:
        sens = H
    blocks, errors = [], []
    for name in net.outputs:
        s = np.ones(net.layers[name].size, dtype) if not scale or name not in scale else scale[name]
        blocks.append(sens[:, :, offsets[name]] * s[:, None])
        errors.append((fw.a[name] - targets[name]) * s)
    J, e = np.concatenate(blocks, axis=2), np.concatenate(errors, axis=2)       # (S, T, K, P), (S, T, K)
    if weight is not None:
        root = np.sqrt(np.asarray(weight, dtype))[:, :, None]
        J, e = J * root[..., None], e * root
    return J.reshape(-1, P), e.reshape(-1)
