"""A network with delays unrolled in time: the static network on its acyclic graph.

Unrolling ``n_steps`` steps makes one copy of every input and layer per step, ``h@t``
for ``t = 1 .. n_steps``, and one connection per delay block and step: the block of a
connection ``s → h`` with delay ``d`` becomes ``s@(t-d) → h@t`` (for ``t - d >= 1``;
earlier values are the zero initial states, which :func:`matnet.simulate.simulate`
uses by default).  The copies share one parameter (:meth:`Network.share`): the first
copy of each weight block and each bias holds it, the others use it, so gradients and
Jacobian columns sum over the copies — back-propagation through the unrolled network
*is* back-propagation through time.  Its adjacency matrix is block lower-triangular:
every edge runs forward in time or within a step.
"""
from __future__ import annotations

from .network import Network

__all__ = ["unroll", "step_name"]


def step_name(name, t):
    """``"name@t"``, the copy of an input or layer at step ``t``."""
    return f"{name}@{t}"


def unroll(net, n_steps):
    """The static network computing ``n_steps`` steps of ``net`` from zero initial states.

    Parameters
    ----------
    net : Network
        Any network (with or without delays; a static one gives ``n_steps`` copies).
    n_steps : int

    Returns
    -------
    Network
        Inputs ``x@1 .. x@n`` for each input ``x``, layers ``h@1 .. h@n``, outputs
        ``y@t`` for each step and output layer (in that order), scalings and feature
        names copied.  ``net.unroll(n)(dict of x@t)`` equals ``net.simulate(U)`` step by
        step.  The weights hold one matrix per weight block (delay) of ``net``, named by
        its first copy; ``shared`` maps every copy to it.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if any(c.propagate is not None for c in net.connections.values()):
        raise ValueError("a graph network has no delays to unroll")
    out = Network(dtype=net.dtype)
    for t in range(1, n_steps + 1):
        for name, size in net.inputs.items():
            out.add_input(step_name(name, t), size, net.input_dropout.get(name, 0.0), name in net.index_inputs)
    for t in range(1, n_steps + 1):
        for name in net.topological_order():
            layer = net.layers[name]
            out.add_layer(step_name(name, t), layer.size, layer.activation, layer.bias, layer.dropout, layer.combine)
    owners = {}
    for t in range(1, n_steps + 1):
        for name in net.topological_order():
            _connect_step(net, out, name, t, owners)
            if net.layers[name].bias:
                _share(out, step_name(name, t), ("b", name), owners, net.biases[name])
    out.outputs = [step_name(o, t) for t in range(1, n_steps + 1) for o in net.outputs]
    _copy_units(net, out, n_steps)
    return out


def _connect_step(net, out, name, t, owners):
    """The connections into ``name@t``: one per delay block of each incoming connection."""
    for c in net.incoming(name):
        W = net.weights[c.key]
        W = W.to_dense() if hasattr(W, "to_dense") else W
        size = net.size_of(c.source)
        for j, d in enumerate(c.delays):
            if t - d < 1:
                continue                             # the zero initial state
            key = (step_name(c.source, t - d), step_name(name, t))
            block = W[:, j * size:(j + 1) * size]
            out.connect(*key, block, trainable=c.trainable)
            _share(out, key, ("W", c.key, j), owners, block)


def _share(out, key, origin, owners, value):
    """The first copy of ``origin`` holds the parameter; later ones share it."""
    if origin not in owners:
        owners[origin] = key
        if isinstance(key, str):
            out.biases[key] = value
    else:
        out.share(key, owners[origin])


def _copy_units(net, out, n_steps):
    for t in range(1, n_steps + 1):
        for name, scaling in net.input_scaling.items():
            out.input_scaling[step_name(name, t)] = scaling
        for name, scaling in net.output_scaling.items():
            out.output_scaling[step_name(name, t)] = scaling
        for name, names in net.feature_names.items():
            out.feature_names[step_name(name, t)] = list(names)
    out.classes = None if net.classes is None else list(net.classes)
