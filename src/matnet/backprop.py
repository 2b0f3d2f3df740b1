"""Derivatives on a :class:`~matnet.simulate.Trace`: one backward pass and one Jacobian.

**Backward pass** (:func:`backward`): back-propagation through time, layers in reverse
topological order within a step and steps in reverse order, the rows of a step at
once::

    dZ = f'(Z) ⊙ dA                 (or the loss's fused dL/dZ at an output)
    dX_c = dZ @ W_c                  (op.rdot), one block per delay, sent to t - d
    dW_c = dZ.T @ X_c                (op.gradient, over all rows at the end)
    db   = sum over rows of dZ

A run without feedback from layers has one step (``n_steps = 1``), and this is plain
back-propagation.  Gradients are written into one flat vector laid out like
:meth:`Network.get_flat`.

**Jacobian** (:func:`jacobian_blocks`): the derivative of the errors ``e = y - t``,
forward in time (real-time recurrent learning, as De Jesús & Hagan (2007) describe,
vectorised).  Let ``M`` be the output layers and the layers read with a delay, and
``Σ(t) = da_M(t)/dθ`` their sensitivities.  Within a step, one reverse sweep from all
neurons of ``M`` at once (``K'`` seeds) gives the explicit derivative ``E(t)`` and, for
each delayed connection, the transition ``G_d(t) = da_M(t)/da_M(t-d)``; then

    Σ(t) = E(t) + sum_{d >= 1} G_d(t) Σ(t - d)

runs step by step, one matrix product per step (a long block of small products in
chunks of about ``√B`` steps: :meth:`_Recurrence._chunked`).  Without delays ``M`` is
the outputs and ``Σ = E``: the static Jacobian, back-propagation with one seed per
output.  Rows come in blocks (of samples, or of time steps for a recurrent network)
so that ``JᵀJ`` can be accumulated in bounded memory.

The same passes carry the step's extensions (docs/architecture.md): a graph connection
sends ``P(θ)ᵀ dZ`` to its weight (and ``P.gradient`` to a filter); a product layer sends
each contribution ``dZ`` times the others; a dropped layer multiplies ``dA`` by its mask;
shared parameters sum the derivatives of their uses.  A graph network's Jacobian seeds
one node and output at a time and sums over the graph (:func:`jacobian_blocks`).
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .simulate import plan

__all__ = ["backward", "add_l2", "jacobian_blocks", "jacobian_seeds", "input_sensitivities", "CHUNKED_STEPS",
           "CHUNKED_PRODUCTS"]

#: Blocks of at least this many time steps run the Jacobian's recurrence in chunks
#: (:meth:`_Recurrence._chunked`) when a step's product has at most
#: ``CHUNKED_PRODUCTS`` multiply-adds (``K' × D K' × n_params``): the chunks do about
#: twice the arithmetic in a tenth of the calls, which pays while the calls cost more
#: than the arithmetic.  Measured on 480 steps (one thread, 2026-11-30): ``K' = 2``,
#: ``D = 1``, 72 parameters 0.26 against 0.42 ms; ``K' = 1``, ``D = 3``, 72: 0.20
#: against 0.39 ms; ``K' = 7``, ``D = 3``, 72 parameters (10,584 multiply-adds) 1.6
#: against 1.2 ms.
CHUNKED_STEPS = 64
CHUNKED_PRODUCTS = 2000


def backward(net, trace, deltas, out=None, out_views=None):
    """Back-propagate output gradients through the network (and through time).

    Parameters
    ----------
    trace : Trace
        The forward run (:func:`matnet.simulate.run`).
    deltas : dict ``layer -> (G, at_z)``
        ``G`` ``(rows, size)``: the gradient with respect to a layer's activations
        (``at_z`` False) or, fused with the activation, its net inputs.
    out : ndarray (n_params,), optional
        Buffer for the result.
    out_views : (dict, dict), optional
        ``net.views(out)``, when the caller keeps them.

    Returns
    -------
    ndarray (n_params,): the gradient in :meth:`Network.get_flat` order.
    """
    p = plan(net)
    S, T = trace.shape
    xp, dtype = net.xp, backend.dtype_of(net.xp, net.dtype)
    grad = xp.empty(net.n_params, dtype=dtype) if out is None else out
    gW, gb = net.views(grad) if out_views is None else out_views
    if T == 1:
        dZ = _step_back(net, p, trace.z, trace.a, deltas, None, 0, trace)
    else:
        later = {name: xp.zeros((S, T, p.sizes[name]), dtype=dtype)
                 for name, d in p.delays.items() if d}                   # dA arriving from later steps
        z, a = ({k: trace.series(v) for k, v in d.items()} for d in (trace.z, trace.a))
        given = {k: (trace.series(G), at_z) for k, (G, at_z) in deltas.items()}
        dZ = {step.layer: xp.zeros((S, T, step.size), dtype=dtype) for step in p.steps}
        for t in reversed(range(T)):
            now = _step_back(net, p, {k: v[:, t, :] for k, v in z.items()}, {k: v[:, t, :] for k, v in a.items()},
                             {k: (G[:, t, :], at_z) for k, (G, at_z) in given.items()}, later, t)
            for name, d in now.items():
                dZ[name][:, t, :] = d
    gP = net.filter_views(grad) if p.coupled else {}
    for entry in p.shared:                      # shared parameters sum their uses' derivatives
        grad[p.columns[entry]] = 0
    for step in p.steps:
        D = dZ.get(step.layer)
        if D is None:                           # nothing downstream depends on this layer
            for c, _ in step.connections:
                if ("W", c.key) not in p.shared:
                    gW[c.key][...] = 0
                if c.key in gP:
                    gP[c.key][...] = 0
            if step.bias and ("b", step.layer) not in p.shared:
                gb[step.layer][...] = 0
            continue
        D = D if D.ndim == 2 else xp.reshape(D, (-1, step.size))
        for j, (c, op) in enumerate(step.connections):
            X = trace.connection_input(c)
            Dc = D if step.combine == "sum" else _times(D, trace.others(step.layer, j))
            if ("W", c.key) in p.shared:
                grad[p.columns[("W", c.key)]] += op.gradient(X, _to_weight(c, Dc))
            else:
                op.gradient(X, _to_weight(c, Dc), out=gW[c.key])
            if c.key in gP:
                gP[c.key][...] = c.propagate.gradient(op.dot(X), Dc)
        if step.bias and ("b", step.layer) in p.shared:
            grad[p.columns[("b", step.layer)]] += xp.sum(D, axis=0)
        elif step.bias and xp is np:
            np.sum(D, axis=0, out=gb[step.layer])
        elif step.bias:
            gb[step.layer][...] = xp.sum(D, axis=0)
    return grad


def _to_weight(c, D):
    """What reaches connection ``c``'s weight of ``dL/dZ``: ``Pᵀ D`` through a propagation."""
    return D if c.propagate is None else c.propagate.transpose(D)


def _times(D, others):
    """``dL/d term`` of a product layer's contribution: ``D`` times the other contributions."""
    return D if others is None else D * others


def _step_back(net, p, z, a, given, later, t, trace=None):
    """``dL/dZ`` of every layer at one step (rows of that step), layers in reverse
    order; gradients for earlier steps go into ``later`` (``layer -> (S, T, size)``);
    ``trace`` (a run of one step) gives dropout masks and product layers' terms."""
    now, dZ = {}, {}
    dropped = trace.dropped if trace is not None else None
    for step in reversed(p.steps):
        name = step.layer
        upstream = now.pop(name, None)
        if later and name in later:
            upstream = later[name][:, t, :] if upstream is None else upstream + later[name][:, t, :]
        G, at_z = given.get(name, _NONE)
        if G is not None and not at_z:
            upstream = G if upstream is None else upstream + G
        values = a[name]
        if dropped and name in dropped and upstream is not None:
            mask, values = dropped[name]
            upstream = upstream * mask
        d = None if upstream is None else step.activation.backward(z[name], values, upstream)
        if G is not None and at_z:
            d = G if d is None else d + G
        if d is None:
            continue
        dZ[name] = d
        for j, (c, op) in enumerate(step.connections):
            if c.source not in p.sizes:
                continue
            dc = d if step.combine == "sum" else _times(d, trace.others(name, j))
            back = op.rdot(_to_weight(c, dc))
            if c.delays == (0,):
                now[c.source] = back if c.source not in now else now[c.source] + back
            else:
                _send(back, c, t, p.sizes[c.source], now, later)
    return dZ


_NONE = (None, False)


def _send(back, c, t, size, now, later):
    """Split ``dX_c`` into its delay blocks: delay 0 to the source now, delay d to the
    source's step ``t - d``."""
    for j, delay in enumerate(c.delays):
        block = back[..., j * size:(j + 1) * size] if len(c.delays) > 1 else back
        if delay == 0:
            now[c.source] = block if c.source not in now else now[c.source] + block
        elif t - delay >= 0:
            later[c.source][:, t - delay, :] += block


def add_l2(net, l2, value, grad=None):
    """Add the penalty ``l2 / 2 * sum(W**2)`` over the weights (not biases) to a loss
    value and, in place, ``l2 * W`` to its flat gradient.  Returns ``(value, grad)``."""
    if l2:
        mask = weight_mask(net)
        weights = net.theta[mask]
        value += 0.5 * l2 * backend.dot(weights, weights)
        if grad is not None:
            grad[mask] += float(l2) * weights
    return value, grad


def weight_mask(net):
    """``plan(net).weight_mask`` as an array of the network's library (cached with the plan)."""
    mask = net.compiled.get("weight_mask")
    if mask is None:
        mask = net.compiled["weight_mask"] = backend.asarray(plan(net).weight_mask, net.xp)
    return mask


# -- the Jacobian ------------------------------------------------------------------

def jacobian_seeds(net):
    """``(layers, offsets)``: the layers whose sensitivities the Jacobian carries
    (outputs first, then layers read with a delay) and each one's slice of the
    ``K'`` seeds (cached with the plan)."""
    cached = net.compiled.get("jacobian_seeds")
    if cached is None:
        p = plan(net)
        layers = list(p.outputs)
        if p.recurrent:
            layers += [name for name, d in p.delays.items() if d and name not in layers]
        offsets, k = {}, 0
        for name in layers:
            offsets[name] = slice(k, k + p.sizes[name])
            k += p.sizes[name]
        cached = net.compiled["jacobian_seeds"] = (layers, offsets)
    return cached


def jacobian_blocks(net, trace, targets, scale=None, weight=None, block_rows=None, out=None):
    """The Jacobian of the errors, in blocks of rows.

    Parameters
    ----------
    trace : Trace
    targets : dict ``layer -> (rows, size)``, network units
    scale : dict ``layer -> (size,)``, optional
        Factor turning network-unit errors into data units (:func:`~matnet.prepare.error_scale`).
    weight : array (rows,), optional
        Error weights (sample weights, 0 masks a row out); rows are multiplied by
        ``sqrt(weight)``.
    block_rows : int, optional
        Rows per block (all at once when omitted).  A recurrent run is cut into
        blocks of time steps of all series, others into blocks of rows.
    out : ndarray (block rows, K', n_params), optional
        Where the blocks of a network without feedback from layers are written (a
        view is fine); by default one buffer for all blocks.

    Yields
    ------
    J : ndarray (n_block_rows * K, n_params)
        ``de/dθ``, rows ``(row, output)``, columns in :meth:`Network.get_flat` order.
    e : ndarray (n_block_rows * K,)
    rows : slice or (slice, slice)
        Which rows: ``(series, steps)`` of a recurrent run, else a slice of rows.

    Blocks of independent rows share one buffer: a block's ``J`` is overwritten by the
    next one (no fresh memory per block), so use or copy it before asking for the next.
    """
    p = plan(net)
    S, T = trace.shape
    layers, offsets = jacobian_seeds(net)
    s = _side_by_side([_scale(net, scale, o) for o in p.outputs])
    if p.coupled:
        yield from _graph_blocks(net, trace, targets, s, weight, block_rows)
        return
    block_rows = S * T if block_rows is None else max(1, int(block_rows))
    if not p.recurrent:
        blocks = [(None if block_rows >= S else slice(a, min(a + block_rows, S)), None)
                  for a in range(0, S, block_rows)]
    else:
        B = max(1, block_rows // S)
        blocks = [(None, None if B >= T else slice(a, min(a + B, T))) for a in range(0, T, B)]
    xp = net.xp
    recurrence = _Recurrence(net, trace, layers, offsets) if p.recurrent else None
    buffer = None if p.recurrent else out if out is not None else \
        xp.empty((min(block_rows, S), offsets[layers[-1]].stop, net.n_params), dtype=backend.dtype_of(xp, net.dtype))
    weight = None if weight is None else xp.sqrt(backend.asarray(weight, xp, net.dtype))[:, None]
    for series, steps in blocks:
        e = _side_by_side([trace.block(trace.a[o], series, steps) - trace.block(targets[o], series, steps)
                           for o in p.outputs]) * s
        root = None if weight is None else trace.block(weight, series, steps)
        if recurrence is None:          # the seeds are the outputs: scale them, J is E
            seed = s[None, :] if root is None else s[None, :] * root
            n = S if series is None else series.stop - series.start
            J, _ = explicit_jacobian(net, trace, layers, offsets, series, steps, seed, out=buffer[:n, ...])
        else:                           # the recurrence needs raw sensitivities; scale the outputs' rows
            E, G = explicit_jacobian(net, trace, layers, offsets, series, steps)
            J = recurrence(E, G, steps)[:, :s.shape[0], :] * s[:, None]  # the outputs' seeds come first
            if root is not None:
                J *= root[:, :, None]
        if root is not None:
            e *= root
        yield (xp.reshape(J, (-1, J.shape[-1])), xp.reshape(e, (-1,)),
               series if recurrence is None else (series, steps))


def _graph_blocks(net, trace, targets, s, weight, block_rows):
    """The Jacobian of a graph network in blocks of nodes: each node's errors depend on
    the whole graph, so each block seeds its nodes' outputs and sweeps all nodes.
    Nodes of weight 0 (unlabelled) have zero rows and are left out; ``rows`` is the
    index array of the block's nodes."""
    layers, offsets = jacobian_seeds(net)
    outputs = plan(net).outputs
    nodes = np.arange(trace.shape[0]) if weight is None else np.flatnonzero(np.asarray(weight) > 0)
    e = _side_by_side([trace.a[o] - targets[o] for o in outputs]) * s
    root = None if weight is None else np.sqrt(np.asarray(weight, net.dtype))[:, None]
    size = len(nodes) if block_rows is None else max(1, int(block_rows))
    for start in range(0, len(nodes), size):
        idx = nodes[start:start + size]
        seed = np.broadcast_to(s, (len(idx), len(s))) if root is None else s[None, :] * root[idx]
        J, _ = explicit_jacobian(net, trace, layers, offsets, seed=seed, nodes=idx)
        yield J, (e[idx] if root is None else e[idx] * root[idx]).reshape(-1), idx


def _side_by_side(arrays):
    return arrays[0] if len(arrays) == 1 else backend.concat(arrays, axis=-1)


def _scale(net, scale, name):
    size = net.layers[name].size
    s = np.ones(size, net.dtype) if not scale or name not in scale else scale[name]
    return backend.asarray(s, net.xp, net.dtype)


def explicit_jacobian(net, trace, layers, offsets, series=None, steps=None, seed=None, out=None,
                      parameters=True, inputs=None, at_z=False, nodes=None):
    """One reverse sweep within a step from every neuron of ``layers`` at once.

    ``seed`` ``(rows or 1, K')``, optional, scales each row's seeds (error scales and
    weights, when the seeds are the outputs); ``out`` ``(rows, K', n_params)``,
    optional, receives ``E``.  ``parameters=False`` sweeps the values only (``E`` is
    None); a dict ``inputs`` receives the derivatives with respect to the network's
    inputs, ``(input, delay) -> (K', rows, n)``, ``da(t)/dx(t - delay)``; ``at_z``
    seeds the net inputs of ``layers`` instead of their activations.

    ``nodes`` (an index array, for a graph network, whose rows depend on each other):
    one seed per node of ``nodes`` and neuron, ``seed`` ``(len(nodes), K')``; the
    derivatives are summed over the whole graph and ``E`` is ``(len(nodes) * K', n_params)``.

    Returns
    -------
    E : ndarray (rows, K', n_params)
        ``da(t)/dθ`` through this step's zero-delay paths only.
    G : dict ``(source, delay) -> (K', rows, size)``
        ``da(t)/da_source(t - delay)`` through the delayed connections.
    """
    p = plan(net)
    xp = net.xp
    K = offsets[layers[-1]].stop
    n = trace.block(next(iter(trace.z.values())), series, steps).shape[0]
    Q = K if nodes is None else len(nodes) * K            # seeds
    E = None if not parameters else xp.empty((n, K, net.n_params) if nodes is None else (Q, net.n_params),
                                             dtype=backend.dtype_of(xp, net.dtype)) if out is None else out
    dA, dZ_seed, G = {}, {}, {}
    for name in layers:
        (dZ_seed if at_z else dA)[name] = _seeds(net, name, offsets, K, n, seed, nodes)
    if parameters:
        for entry in p.shared:                  # shared parameters sum their uses' columns
            E[..., p.columns[entry]] = 0
    for step in reversed(p.steps):
        upstream, given = dA.pop(step.layer, None), dZ_seed.pop(step.layer, None)
        if upstream is None and given is None:  # no seed depends on this layer
            if parameters:
                for c, _ in step.connections:
                    if ("W", c.key) not in p.shared:
                        E[..., _param_columns(p, c)] = 0
                if step.bias and ("b", step.layer) not in p.shared:
                    E[..., p.columns[("b", step.layer)]] = 0
            continue
        dZ = given
        if upstream is not None:
            z_, values, mask = trace.derivative_values(step.layer, series, steps)
            dZ = step.activation.backward(z_, values, upstream if mask is None else upstream * mask)
            if given is not None:
                dZ = dZ + given                 # (Q, rows, R)
        for j, (c, op) in enumerate(step.connections):
            others = trace.others(step.layer, j) if step.combine == "product" else None
            dC = dZ if others is None else dZ * trace.block(others, series, steps)
            dW = _to_weight(c, dC)
            if parameters:
                _weight_jacobian(E, p, c, op, trace.connection_input(c, series, steps), dC, dW, nodes is not None)
            to_layer = c.source in net.layers
            if to_layer or inputs is not None:
                C = net.size_of(c.source)
                back = xp.reshape(op.rdot(xp.reshape(dW, (-1, step.size))), (Q, n, -1))
                for j, delay in enumerate(c.delays):
                    block = back[..., j * C:(j + 1) * C]
                    target, key = (inputs, (c.source, delay)) if not to_layer else \
                        (dA, c.source) if delay == 0 else (G, (c.source, delay))
                    target[key] = block if key not in target else target[key] + block
        if step.bias and parameters:
            db = xp.sum(dZ, axis=1) if nodes is not None else backend.permute(dZ, (1, 0, 2))
            if ("b", step.layer) in p.shared:
                E[..., p.columns[("b", step.layer)]] += db
            else:
                E[..., p.columns[("b", step.layer)]] = db
    return E, G


def _seeds(net, name, offsets, K, n, seed, nodes):
    """The starting derivatives of layer ``name``'s neurons: ``(K', rows, size)``, seed
    ``k`` at every row; or, given ``nodes``, ``(len(nodes) * K', n, size)``, one seed
    per node and neuron."""
    size = net.layers[name].size
    neurons = offsets[name].start + np.arange(size)
    if nodes is None and net.xp is not np:
        start = net.xp.zeros((K, n, size), dtype=backend.dtype_of(net.xp, net.dtype))
        for j, k in enumerate(neurons.tolist()):          # one neuron at a time: the standard's indexing
            start[k, :, j] = 1 if seed is None else seed[:, k]
        return start
    if nodes is None:
        start = np.zeros((K, n, size), net.dtype)
        start[neurons, :, np.arange(size)] = 1 if seed is None else seed[:, neurons].T
        return start
    m = len(nodes)
    start = np.zeros((m, K, n, size), net.dtype)
    value = 1 if seed is None else seed[:, neurons]
    start[np.arange(m)[:, None], neurons[None, :], np.asarray(nodes)[:, None], np.arange(size)[None, :]] = value
    return start.reshape(m * K, n, size)


def _param_columns(p, c):
    """The columns of connection ``c``'s weight and, if it has one, its filter."""
    W = p.columns[("W", c.key)]
    P = p.columns.get(("P", c.key))
    return W if P is None else slice(W.start, P.stop)


def _weight_jacobian(E, p, c, op, X, dZ, dW, summed):
    """Write connection ``c``'s columns of ``E``: per row and seed (``op.jacobian``), or,
    for a graph network, per seed over the whole graph (``op.gradient``, and the
    filter's ``gradient``)."""
    cols = p.columns[("W", c.key)]
    add = ("W", c.key) in p.shared
    if not summed:
        if add:
            E[:, :, cols] += op.jacobian(X, dW)
        else:
            op.jacobian(X, dW, out=E[:, :, cols])
        return
    for q in range(dW.shape[0]):
        if add:
            E[q, cols] += op.gradient(X, dW[q])
        else:
            op.gradient(X, dW[q], out=E[q, cols])
    if ("P", c.key) in p.columns:
        E[:, p.columns[("P", c.key)]] = c.propagate.gradient(op.dot(X), dZ)


def input_sensitivities(net, trace, at_z=False):
    """Derivatives of the outputs with respect to the inputs, through the zero-delay
    paths of each step (for a network with feedback from layers, the layers' delayed
    values held fixed).

    Parameters
    ----------
    trace : Trace
    at_z : bool
        Differentiate the output layers' net inputs instead of their activations.

    Returns
    -------
    dict ``(input, delay) -> (rows, K, n)``
        ``dy(t)/dx(t - delay)`` in network units, ``K`` the output neurons side by
        side (in ``net.outputs`` order), for every delay of every connection from an
        input.
    """
    if plan(net).coupled:
        raise ValueError("a graph network's node outputs depend on the inputs of other nodes; input sensitivities "
                         "per sample are not defined for it")
    outputs = list(plan(net).outputs)
    offsets, k = {}, 0
    for name in outputs:
        offsets[name] = slice(k, k + net.layers[name].size)
        k += net.layers[name].size
    found = {}
    explicit_jacobian(net, trace, outputs, offsets, parameters=False, inputs=found, at_z=at_z)
    return {key: backend.copy(backend.permute(v, (1, 0, 2))) for key, v in found.items()}


class _Recurrence:
    """``Σ(t) = E(t) + sum_d G_d(t) Σ(t-d)`` over consecutive blocks of steps, keeping
    the last ``d_max`` sensitivities between blocks (zero before the first step:
    initial states are constants).

    A long block on NumPy runs in chunks (:meth:`_chunked`): about ``√B`` products,
    each over all chunks at once, and ``√B`` small ones instead of ``B``; shorter
    blocks, and other array libraries, run step by step.
    """

    def __init__(self, net, trace, layers, offsets):
        p = plan(net)
        self.S = trace.shape[0]
        self.K = offsets[layers[-1]].stop
        self.offsets = offsets
        self.dmax = max(p.delays.values())
        self.xp = xp = net.xp
        self.history = xp.zeros((self.S, self.dmax, self.K, net.n_params), dtype=backend.dtype_of(xp, net.dtype))

    def __call__(self, E, G, steps):
        S, K, D, xp = self.S, self.K, self.dmax, self.xp
        E = xp.reshape(E, (S, -1, K, E.shape[-1]))
        B = E.shape[1]
        window = xp.zeros((S, B, K, D * K), dtype=E.dtype)     # [G_D ... G_1] per step, oldest first
        for (source, delay), block in G.items():
            cols = self.offsets[source]
            window[:, :, :, (D - delay) * K + cols.start:(D - delay) * K + cols.stop] += \
                backend.permute(xp.reshape(block, (K, S, B, -1)), (1, 2, 0, 3))
        if xp is np and B >= CHUNKED_STEPS and K * D * K * E.shape[-1] <= CHUNKED_PRODUCTS:
            sens = self._chunked(window, E, self.history)
            self.history = sens[:, B - D:].copy()
            return np.reshape(sens, (S * B, K, -1))
        sens = backend.concat([self.history, E], axis=1)       # (S, D + B, K', P)
        self._sweep(window, xp.reshape(sens, (S, (D + B) * K, -1)))
        self.history = backend.copy(sens[:, B:, ...])
        return xp.reshape(sens[:, D:, ...], (S * B, K, -1))

    def _sweep(self, window, flat):
        """The recurrence step by step, in place: ``window`` ``(S, B, K', D K')``, ``flat``
        ``(S, (D + B) K', columns)``, the ``D`` known steps first; step ``t``'s past is
        ``flat[:, t K':(t + D) K']``."""
        S, B, K, DK = window.shape
        if self.xp is np and S == 1:        # one series: ndarray.dot's calls cost half of matmul's
            self._one_series(window[0], flat[0], K, DK // K)
        elif self.xp is np:
            step = np.empty((S, K, flat.shape[-1]), flat.dtype)
            for t in range(B):
                np.matmul(window[:, t], flat[:, t * K:t * K + DK], out=step)
                flat[:, t * K + DK:(t + 1) * K + DK] += step
        else:
            for t in range(B):
                flat[:, t * K + DK:(t + 1) * K + DK, :] += window[:, t, :, :] @ flat[:, t * K:t * K + DK, :]

    @staticmethod
    def _one_series(window, flat, K, D):
        """The steps of one series on NumPy: ``window`` ``(B, K, D K)``, ``flat``
        ``((D + B) K, P)``; each step's past and its sensitivities taken from strided
        views (cheaper than slices per step)."""
        B, P = window.shape[0], flat.shape[-1]
        pasts = np.lib.stride_tricks.sliding_window_view(flat, (D * K, P))[::K, 0][:B]
        step = np.empty((K, P), flat.dtype)
        for G, past, sens in zip(window, pasts, flat.reshape(-1, K, P)[D:]):
            G.dot(past, out=step)
            sens += step

    def _chunked(self, window, E, history):
        """``Σ`` of a long block in chunks of ``L ≈ √B`` steps, written into ``E``
        ``(S, B, K', P)``.

        The recurrence is linear in its past ``x`` (the last ``D`` sensitivities, ``D K'``
        rows), so within a chunk ``Σ(t) = Σ₀(t) + Ψ(t) x₀``: ``Σ₀`` started from zero
        and ``Ψ`` from the identity, by one sweep over all chunks at once (``Ψ`` as
        ``D K'`` more columns).  Then each chunk's starting past ``x₀`` follows from the
        one before (a small product per chunk), and one product adds ``Ψ x₀``.
        """
        S, B, K, DK = window.shape
        P, D = E.shape[-1], DK // K
        L = max(D, math.isqrt(B - 1) + 1)
        n = -(-B // L)
        padded = np.zeros((S, n * L, K, DK), window.dtype)             # steps past the end: G = 0, E = 0
        padded[:, :B] = window
        chunks = np.zeros((S, n, D + L, K, P + DK), E.dtype)        # [Σ₀ | Ψ], the D known steps first
        chunks[:, :, :D, :, P:] = np.eye(DK, dtype=E.dtype).reshape(D, K, DK)
        for which, part in _chunks_of(E, L):
            chunks[:, which, D:D + part.shape[2], :, :P] = part
        self._sweep(padded.reshape(S * n, L, K, DK), chunks.reshape(S * n, (D + L) * K, P + DK))
        last = chunks[:, :, L:].reshape(S, n, DK, P + DK)                    # each chunk's last D steps
        starts = np.empty((S, n, DK, P), E.dtype)
        starts[:, 0] = history.reshape(S, DK, P)
        for j in range(n - 1):
            np.matmul(last[:, j, :, P:], starts[:, j], out=starts[:, j + 1])
            starts[:, j + 1] += last[:, j, :, :P]
        product = np.matmul if DK > 1 else np.multiply       # (matmul over one column is not BLAS's, and slow)
        for which, part in _chunks_of(E, L):                                # E is read: Σ goes there
            rows = part.shape[2] * K
            out = np.reshape(part, (S, -1, rows, P), copy=False)
            product(chunks[:, which, D:, :, P:].reshape(S, -1, L * K, DK)[:, :, :rows], starts[:, which], out=out)
            out += chunks[:, which, D:, :, :P].reshape(S, -1, L * K, P)[:, :, :rows]
        return E


def _chunks_of(A, L):
    """``A`` ``(S, B, ...)`` as ``[(chunks, view)]``: its whole chunks of ``L`` steps,
    ``(S, B // L, L, ...)``, and the partial one after them, if any (views)."""
    S, B = A.shape[:2]
    full = B // L
    parts = [(slice(0, full), np.reshape(A[:, :full * L], (S, full, L, *A.shape[2:]), copy=False))]
    if B > full * L:
        parts.append((slice(full, full + 1), np.reshape(A[:, full * L:], (S, 1, B - full * L, *A.shape[2:]),
                                                        copy=False)))
    return parts


def stack_blocks(blocks, shape):
    """The whole Jacobian from :func:`jacobian_blocks`: rows ``(series, step, output)``."""
    Js, es, rows = zip(*((backend.copy(J), e, r) for J, e, r in blocks))     # blocks share a buffer
    if not isinstance(rows[0], tuple):
        return backend.concat(Js), backend.concat(es)
    S = shape[0]
    P = Js[0].shape[-1]
    xp = backend.namespace(Js[0])
    J = backend.concat([xp.reshape(j, (S, -1, P)) for j in Js], axis=1)
    e = backend.concat([xp.reshape(v, (S, -1)) for v in es], axis=1)
    return xp.reshape(J, (-1, P)), xp.reshape(e, (-1,))


