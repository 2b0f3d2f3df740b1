"""The one evaluation engine.

A network's structure is compiled once into a :class:`Plan` (layers in topological
order, each with the sources and weight matrices it sums) and cached on the network
until its structure changes.  :func:`forward` runs the plan on a batch, rows being
samples: ``Z = sum_k A_k @ W_k.T + b``, ``A = f(Z)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import shape_str

__all__ = ["Plan", "Forward", "plan", "forward", "predict", "prepare_inputs"]


@dataclass(frozen=True)
class Step:
    layer: str
    activation: object
    sources: tuple  # ((source name, weight key), ...)
    bias: bool


@dataclass(frozen=True)
class Plan:
    """Compiled structure: the steps in topological order, the outputs, which entries
    of the parameter vector are weights (not biases), and where each array lies in it
    (``columns[("W", key)]`` or ``columns[("b", layer)]``, a slice)."""

    steps: tuple
    outputs: tuple
    weight_mask: np.ndarray
    columns: dict


@dataclass
class Forward:
    """Everything one forward pass computed.

    Attributes
    ----------
    inputs : dict
        ``name -> X`` as used (validated, cast, 2-D ``(n_samples, n)``).
    z : dict
        ``layer -> Z``, the net inputs ``(n_samples, size)``.
    a : dict
        ``layer -> A = f(Z)``, the activations ``(n_samples, size)``.
    single : bool
        Whether the input was one 1-D sample.
    """

    inputs: dict
    z: dict
    a: dict
    single: bool = False

    def values(self, name):
        """The values a source ``name`` (input or layer) sends."""
        return self.inputs[name] if name in self.inputs else self.a[name]


def plan(net) -> Plan:
    """The compiled :class:`Plan` of ``net`` (cached until its structure changes)."""
    if net._plan is None:
        steps = tuple(
            Step(name, net.layers[name].activation,
                 tuple((c.source, c.key) for c in net.incoming(name)), net.layers[name].bias)
            for name in net.topological_order())
        mask = np.zeros(net.n_params, bool)
        for view in net.views(mask)[0].values():
            view[...] = True
        columns, start = {}, 0
        for kind, key, shape in net._layout():
            size = int(np.prod(shape))
            columns[(kind, key)] = slice(start, start + size)
            start += size
        net._plan = Plan(steps, tuple(net.outputs), mask, columns)
    return net._plan


def prepare_inputs(net, X, scale=True):
    """Validate inputs, cast them to the network's dtype and apply its input scaling.

    Parameters
    ----------
    X : array_like or dict
        ``(n_samples, n_features)`` or one sample ``(n_features,)`` for a network
        with one input; a dict ``name -> array`` for any network.

    scale : bool
        Apply ``net.input_scaling`` (the network's units are the scaled ones).

    Returns
    -------
    inputs : dict ``name -> (n_samples, n_features)`` array of ``net.dtype``
    single : bool, whether one 1-D sample was given
    """
    names = list(net.inputs)
    if not isinstance(X, dict):
        if len(names) != 1:
            raise ValueError(f"the network has inputs {', '.join(names)}; pass a dict name -> array")
        X = {names[0]: X}
    unknown = set(X) - set(names)
    missing = [n for n in names if n not in X]
    if unknown or missing:
        raise ValueError(f"inputs must be exactly {', '.join(names)}; "
                         + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(map(str, unknown))}"))
    out, dims, rows = {}, set(), set()
    for name in names:
        x = _as_matrix(X[name], name, net.inputs[name], net.dtype)
        dims.add(np.ndim(X[name]))
        rows.add(x.shape[0])
        if scale and name in net.input_scaling:
            x = net.input_scaling[name].apply(x)
        out[name] = x
    if len(rows) > 1:
        raise ValueError("inputs have different numbers of samples: "
                         + ", ".join(f"{n} {out[n].shape[0]}" for n in names))
    if len(dims) > 1:
        raise ValueError("give every input as one sample (1-D) or every input as a batch (2-D)")
    return out, dims == {1}


def _as_matrix(x, name, size, dtype):
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise ValueError(f"input {name!r} is not a numeric array: {e}") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise ValueError(f"input {name!r} must be real numbers, got dtype {x.dtype}")
    if x.ndim not in (1, 2) or x.shape[-1] != size:
        raise ValueError(f"input {name!r} expects {size} features per sample, got an array of shape "
                         f"{shape_str(x.shape)}")
    if x.ndim == 1:
        x = x[None, :]
    x = x.astype(dtype, copy=False)
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"input {name!r} contains NaN or inf (first at sample {i}, feature {j})")
    return x


def forward(net, X) -> Forward:
    """Run the network on a batch and keep every layer's net input and activation.

    Input scaling is applied first; the values kept are in the network's (scaled)
    units.

    Parameters
    ----------
    X : array_like or dict
        See :func:`prepare_inputs`.

    Returns
    -------
    Forward
    """
    if net.is_dynamic:
        raise ValueError("the network has delayed connections; run it over time with net.simulate()")
    inputs, single = prepare_inputs(net, X)
    return run(net, inputs, single)


def run(net, inputs, single=False) -> Forward:
    """:func:`forward` on inputs already validated by :func:`prepare_inputs`."""
    result = Forward(inputs, {}, {}, single)
    weights, biases = net.weights._views, net.biases._views
    n = next(iter(inputs.values())).shape[0] if inputs else 0
    for step in plan(net).steps:
        Z = None
        for source, key in step.sources:
            W = weights[key]
            part = result.values(source) @ W.T if type(W) is np.ndarray else W.dot(result.values(source))
            Z = part if Z is None else np.add(Z, part, out=Z)
        if Z is None:
            Z = np.zeros((n, net.layers[step.layer].size), net.dtype)
        if step.bias:
            Z += biases[step.layer]
        result.z[step.layer] = Z
        result.a[step.layer] = step.activation(Z)
    return result


def predict(net, X):
    """Outputs of ``net`` for ``X``.

    Input scaling is applied to ``X`` and output scaling undone on the outputs, so
    both are in data units.

    Returns
    -------
    ndarray or dict
        ``(n_samples, n_out)`` (or ``(n_out,)`` for one 1-D sample) of ``net.dtype``;
        a dict ``layer -> array`` when the network has several outputs.
    """
    result = forward(net, X)
    outputs = {}
    for name in plan(net).outputs:
        Y = result.a[name]
        if name in net.output_scaling:
            Y = net.output_scaling[name].invert(Y)
        outputs[name] = Y[0] if result.single else Y
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs


def predict_classes(net, X):
    """Class labels for ``X``: the most probable class of each sample.

    One output column is a binary classifier (class 1 where the output is >= 0.5);
    several columns pick the largest.  Labels are those the network was trained on
    (``net.classes``), or column indices when it has none.
    """
    Y = predict(net, X)
    if isinstance(Y, dict):
        raise ValueError("predict_classes needs a network with one output layer")
    Y2 = np.atleast_2d(Y)
    index = (Y2[:, 0] >= 0.5).astype(int) if Y2.shape[1] == 1 else np.argmax(Y2, axis=1)
    labels = index if net.classes is None else np.asarray(net.classes)[index]
    return labels[0] if Y.ndim == 1 else labels


# -- running over time -------------------------------------------------------------

def max_delays(net):
    """``name -> d``: the largest delay each input or layer is read with (0 if none)."""
    out = {name: 0 for name in [*net.inputs, *net.layers]}
    for c in net.connections.values():
        out[c.source] = max(out[c.source], max(c.delays))
    return out


def is_recurrent(net):
    """Whether some layer's past values feed a layer (layer feedback or closed-loop
    output feedback); if not, a dynamic network only has tapped delays on its inputs."""
    return any(c.source in net.layers and max(c.delays) > 0 for c in net.connections.values())


@dataclass
class SequenceForward:
    """Everything one run over time computed, series as the first axis.

    Attributes
    ----------
    inputs : dict ``name -> (n_series, n_steps, n)``, in network units.
    z, a : dict ``layer -> (n_series, n_steps, size)``.
    padded : dict ``name -> (n_series, d + n_steps, n)``: the ``d`` initial values
        (oldest first, ``d`` the source's largest delay) followed by the run's values.
    delays : dict ``name -> d``.
    """

    inputs: dict
    z: dict
    a: dict
    padded: dict
    delays: dict

    def lagged(self, source, delays, t0=0, t1=None):
        """``[v(t-d1), ..., v(t-dk)]`` stacked on the last axis for ``t0 <= t < t1``."""
        P, d = self.padded[source], self.delays[source]
        t1 = P.shape[1] - d if t1 is None else t1
        blocks = [P[:, d - k + t0:d - k + t1] for k in delays]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-1)


def _as_sequence(x, what, size, dtype):
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} is not a numeric array: {e}") from None
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise ValueError(f"{what} must be real numbers, got dtype {x.dtype}")
    if x.ndim not in (2, 3) or x.shape[-1] != size:
        raise ValueError(f"{what} must have shape (n_steps, {size}) or (n_series, n_steps, {size}), "
                         f"got {shape_str(x.shape)}")
    x = x.astype(dtype, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf")
    return (x[None] if x.ndim == 2 else x), x.ndim == 2


def prepare_sequences(net, U, scale=True):
    """Validate input sequences: ``(n_steps, n)`` for one series or
    ``(n_series, n_steps, n)``; a dict ``name -> array`` for several inputs.

    Returns ``(inputs, single)``: arrays ``(n_series, n_steps, n)`` of ``net.dtype``
    (input scaling applied when ``scale``), and whether one 2-D series was given.
    """
    names = list(net.inputs)
    if U is None:
        U = {}
    if not isinstance(U, dict):
        if len(names) != 1:
            raise ValueError(f"the network has inputs {', '.join(names) or 'none'}; pass a dict name -> array")
        U = {names[0]: U}
    if set(U) != set(names):
        raise ValueError(f"input sequences must be given for exactly the inputs {', '.join(names) or '(none)'}, "
                         f"got {', '.join(map(str, U)) or 'none'}")
    out, single, shapes = {}, set(), set()
    for name in names:
        x, one = _as_sequence(U[name], f"input sequence {name!r}", net.inputs[name], net.dtype)
        if scale and name in net.input_scaling:
            x = net.input_scaling[name].apply(x)
        out[name], _ = x, single.add(one)
        shapes.add(x.shape[:2])
    if len(shapes) > 1:
        raise ValueError(f"input sequences differ in series or steps: {sorted(shapes)}")
    return out, single != {False}


def _state_scaling(net, name):
    """The scaling between data units and network units of a delay state, if any."""
    if name in net.input_scaling:
        return net.input_scaling[name]
    return net.output_scaling.get(name)


def initial_history(net, initial, n_series):
    """Initial delay states ``name -> (n_series, d, size)`` in network units.

    ``initial`` maps an input or layer to its last ``d`` values before the run
    (oldest first), ``(d, size)`` or ``(n_series, d, size)``, as MATLAB's ``Xi``/``Ai``;
    inputs and scaled output layers are given in data units.  Missing states are 0.
    """
    delays = max_delays(net)
    initial = dict(initial or {})
    unknown = [k for k in initial if k not in delays or delays[k] == 0]
    if unknown:
        needed = [k for k, d in delays.items() if d]
        raise ValueError(f"no delay state {unknown[0]!r}: the network keeps states of {', '.join(needed) or 'nothing'}")
    history = {}
    for name, d in delays.items():
        if d == 0:
            continue
        size = net.size_of(name)
        if name not in initial:
            history[name] = np.zeros((n_series, d, size), net.dtype)
            continue
        x = np.asarray(initial[name], dtype=net.dtype)
        if x.shape not in ((d, size), (n_series, d, size)):
            raise ValueError(f"initial state of {name!r} must have shape {shape_str((d, size))} or "
                             f"{shape_str((n_series, d, size))} (its {d} past values, oldest first), "
                             f"got {shape_str(x.shape)}")
        scaling = _state_scaling(net, name)
        x = np.broadcast_to(x, (n_series, d, size))
        history[name] = (scaling.apply(x) if scaling is not None else x).astype(net.dtype)
    return history


def run_sequences(net, inputs, history, n_steps=None):
    """Run ``net`` over time on prepared inputs and initial states.

    Input connections (the inputs are known in advance) are computed for all steps at
    once; only connections from layers' past values need the step-by-step loop, and
    a network without them runs as one batch over all steps.

    Returns
    -------
    SequenceForward
    """
    delays = max_delays(net)
    if inputs:
        S, T = next(iter(inputs.values())).shape[:2]
    else:
        S = next(iter(history.values())).shape[0] if history else 1
        T = int(n_steps)
    padded = {}
    for name, x in inputs.items():
        padded[name] = np.concatenate([history[name], x], axis=1) if delays[name] else x
    for name, layer in net.layers.items():
        d = delays[name]
        padded[name] = np.empty((S, d + T, layer.size), net.dtype)
        if d:
            padded[name][:, :d] = history[name]
    fw = SequenceForward(inputs, {}, {}, padded, delays)
    weights, biases = net.weights._views, net.biases._views
    steps = plan(net).steps
    pre = {}
    for step in steps:
        acc = np.zeros((S, T, net.layers[step.layer].size), net.dtype)
        if step.bias:
            acc += biases[step.layer]
        for source, key in step.sources:
            if source in inputs:
                acc += fw.lagged(source, net.connections[key].delays) @ weights[key].T
        pre[step.layer] = acc
        fw.z[step.layer] = acc
    if is_recurrent(net):
        _recurrent_steps(net, fw, history, S, T)
    else:
        for step in steps:
            Z = fw.z[step.layer]
            for source, key in step.sources:
                if source not in inputs:
                    Z += fw.lagged(source, net.connections[key].delays) @ weights[key].T
            d = delays[step.layer]
            padded[step.layer][:, d:] = step.activation(Z)
    for name in net.layers:
        fw.a[name] = padded[name][:, delays[name]:]
    return fw


def layer_adjacency(net):
    """The layer-to-layer part of the adjacency matrices, one per delay.

    Returns
    -------
    offsets : dict ``layer -> slice`` of its neurons in the stacked layer vector
        (layers in topological order)
    L : ndarray (d_max + 1, N, N)
        ``L[d][i, j]``: weight from neuron ``j`` at ``t - d`` to neuron ``i`` at ``t``.
    """
    offsets, N = {}, 0
    for name in net.topological_order():
        offsets[name] = slice(N, N + net.layers[name].size)
        N += net.layers[name].size
    dmax = max([d for c in net.connections.values() if c.source in net.layers for d in c.delays] + [0])
    L = np.zeros((dmax + 1, N, N), net.dtype)
    for c in net.connections.values():
        if c.source in net.layers:
            C = net.layers[c.source].size
            for k, d in enumerate(c.delays):
                L[d, offsets[c.target], offsets[c.source]] += net.weights[c.key][:, k * C:(k + 1) * C]
    return offsets, L


def _recurrent_steps(net, fw, history, S, T):
    """The step-by-step loop of a recurrent network on one stacked state.

    All layers' past values live in one array ``(n_series, d + T, N)``; at step ``t``
    a layer adds ``[a(t-d); ...; a(t-1)] @ M.T`` (its rows of the delayed adjacency
    matrices) and ``a(t) @ L_0.T`` (zero-delay sources computed earlier this step)
    to the input terms computed beforehand.
    """
    offsets, L = layer_adjacency(net)
    D, N = L.shape[0] - 1, L.shape[1]
    states = np.zeros((S, D + T, N), net.dtype)
    for name, rows in offsets.items():
        d = min(fw.delays[name], D)
        if d:
            states[:, D - d:D, rows] = history[name][:, -d:]
    delayed = np.concatenate([L[d] for d in range(D, 0, -1)], axis=1)      # (N, D N), oldest first
    plans = []
    for step in plan(net).steps:
        rows = offsets[step.layer]
        past = delayed[rows].T.copy() if delayed[rows].any() else None
        now = L[0][rows].T.copy() if L[0][rows].any() else None
        plans.append((step, rows, past, now, fw.z[step.layer]))
    for t in range(T):
        window = states[:, t:t + D].reshape(S, D * N)
        current = states[:, D + t]
        for step, rows, past, now, Z in plans:
            z = Z[:, t]
            if past is not None:
                z += window @ past
            if now is not None:
                z += current @ now
            current[:, rows] = step.activation(z)
    for name, rows in offsets.items():
        d = fw.delays[name]
        fw.padded[name][:, d:] = states[:, D:, rows]


def simulate(net, U, initial=None, n_steps=None):
    """Run a (dynamic or static) network over time.

    Parameters
    ----------
    U : array or dict
        Input series ``(n_steps, n)`` or ``(n_series, n_steps, n)`` (a dict for
        several inputs; ``None`` for a network without inputs, with ``n_steps``).
    initial : dict, optional
        Initial delay states, see :func:`initial_history`.

    Returns
    -------
    outputs : array or dict
        ``(n_steps, n_out)`` (or ``(n_series, n_steps, n_out)``), data units; a dict
        for several output layers.
    state : dict
        The final delay states, usable as ``initial`` of a continuation run.
    """
    inputs, single = prepare_sequences(net, U)
    if not inputs and n_steps is None:
        raise ValueError("a network without inputs needs n_steps")
    S = next(iter(inputs.values())).shape[0] if inputs else max(
        [np.ndim(v) == 3 and np.shape(v)[0] or 1 for v in (initial or {}).values()] or [1])
    if not inputs:
        single = all(np.ndim(v) == 2 for v in (initial or {}).values())
    fw = run_sequences(net, inputs, initial_history(net, initial, S), n_steps)
    outputs = {}
    for name in plan(net).outputs:
        Y = fw.a[name]
        if name in net.output_scaling:
            Y = net.output_scaling[name].invert(Y)
        outputs[name] = Y[0] if single else Y
    state = {}
    for name, d in fw.delays.items():
        if d:
            values = fw.padded[name][:, -d:]
            scaling = _state_scaling(net, name)
            values = scaling.invert(values) if scaling is not None else values.copy()
            state[name] = values[0] if single else values
    return (next(iter(outputs.values())) if len(outputs) == 1 else outputs), state


def predict_ahead(net, U, Y_past, steps, initial=None):
    """See :meth:`matnet.Network.predict_ahead`."""
    opened = net if any(name in net.inputs for name in net.feedback) else net.open_loop()
    closed = opened.closed_loop()
    fb = dict(opened.feedback)
    Y_past = np.asarray(Y_past, dtype=net.dtype)
    Y_past = Y_past[:, None] if Y_past.ndim == 1 else Y_past
    n_past = Y_past.shape[0]
    U = None if U is None else np.asarray(U)
    exogenous = [k for k in opened.inputs if k not in fb]
    if exogenous and (U is None or U.shape[0] < n_past + steps):
        raise ValueError(f"U must cover the past and the future: at least {n_past + steps} steps")
    past = {name: Y_past for name in fb}
    if exogenous:
        past[exogenous[0]] = U[:n_past]
    _, state = simulate(opened, past, initial=initial)
    start = {fb[name] if name in fb else name: value for name, value in state.items()}
    future = None if not exogenous else {exogenous[0]: U[n_past:n_past + steps]}
    outputs, _ = simulate(closed, future, initial=start, n_steps=steps)
    return outputs
