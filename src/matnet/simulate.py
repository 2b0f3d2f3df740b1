"""The one evaluation engine: every network, static or dynamic, in every weight form.

A network's structure is compiled once into a :class:`Plan` (layers in topological
order, each with its incoming connections and their weight operators, see
:mod:`matnet.weights`) and cached until the structure changes.  :func:`run` computes
on *rows* — ``n_series * n_steps`` of them, series-major — with one per-layer step
that owns the matrix products::

    Z = b + sum over connections c of  X_c @ W_c.T      (op.dot(X_c))
    A = f(Z)

where ``X_c`` is what connection ``c`` reads: its source's values, or for tapped
delays ``[d1..dk]`` the stacked lagged values ``[a(t-d1); ...; a(t-dk)]``.

* Terms from inputs are known in advance and computed for all rows at once.
* A network without feedback from layers (static, time-delay, open-loop NARX) has
  rows that do not depend on each other: it runs as one step over all rows — a
  static network is the zero-delay case, with ``n_steps = 1``.
* A recurrent network (layer feedback, closed-loop NARX) runs the same step once per
  time step, all series at a time, reading its layers' past values from buffers that
  start with the initial delay states.

:class:`Trace` keeps everything a run computed; :mod:`matnet.backprop` runs backwards
over it (back-propagation through time, which with ``n_steps = 1`` is plain
back-propagation) and computes the Jacobian.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import backend
from .prepare import (as_rows, engine_rows, initial_states, prepare_inputs, prepare_sequences, stack_lagged,
                      state_scaling)
from .weights import Dense, combine, is_compressed, operator
from .weights.embedding import Embedding

__all__ = ["Plan", "Trace", "plan", "run", "forward", "record", "predict", "predict_classes", "simulate",
           "run_sequences", "predict_ahead", "data_units"]


@dataclass(frozen=True)
class Step:
    """One layer's step: its activation, incoming ``(Connection, operator)`` pairs, bias."""

    layer: str
    size: int
    activation: object
    connections: tuple
    bias: bool
    dropout: float = 0.0
    combine: str = "sum"


@dataclass(frozen=True)
class Plan:
    """Compiled structure.

    Attributes
    ----------
    steps : tuple of Step, in topological order
    outputs : tuple of output layer names
    weight_mask : bool array (n_params,), True at weights (not biases)
    columns : dict ``("W", key)`` or ``("b", layer)`` -> slice of the parameter vector
    delays : dict ``layer -> d``, the largest delay the layer is read with
    recurrent : bool, whether layers' past values feed layers
    sizes : dict ``layer -> size``
    coupled : bool, whether a connection propagates over the rows (a graph network:
        the rows of a batch are its nodes and depend on each other)
    dropout : bool, whether a layer drops activations in training
    frozen : bool array (n_params,), True at the weights of connections that are not trainable
    shared : frozenset of ``("W", key)`` / ``("b", layer)`` whose parameters several use
        (:meth:`Network.share`): their derivatives are summed, not written
    """

    steps: tuple
    outputs: tuple
    weight_mask: np.ndarray
    columns: dict
    delays: dict
    recurrent: bool
    sizes: dict
    coupled: bool = False
    dropout: bool = False
    frozen: np.ndarray | None = None
    shared: frozenset = frozenset()


def plan(net) -> Plan:
    """The compiled :class:`Plan` of ``net`` (cached until its structure changes)."""
    cached = net.compiled.get("plan")
    if cached is not None:
        return cached
    steps = tuple(
        Step(name, net.layers[name].size, net.layers[name].activation,
             tuple((c, _operator(net, c)) for c in net.incoming(name)), net.layers[name].bias,
             net.layers[name].dropout, net.layers[name].combine)
        for name in net.topological_order())
    coupled = any(c.propagate is not None for c in net.connections.values())
    dropout = any(step.dropout for step in steps) or bool(net.input_dropout)
    if coupled and net.is_dynamic:
        raise ValueError("a graph network (a connection with propagate=) cannot have delayed connections")
    if dropout and net.is_recurrent:
        raise ValueError("dropout applies to networks without feedback from layers; this one is recurrent")
    products = [step.layer for step in steps if step.combine == "product"]
    if products and net.is_recurrent:
        raise ValueError(f"product layer {products[0]!r}: product layers work in networks without feedback from "
                         "layers; this one is recurrent")
    dropped_outputs = [name for name in net.outputs if net.layers[name].dropout]
    if dropped_outputs:
        raise ValueError(f"output layer {dropped_outputs[0]!r} has dropout; drop activations of hidden layers only")
    columns, start = {}, 0
    mask, frozen = np.zeros(net.n_params, bool), np.zeros(net.n_params, bool)
    for kind, key, shape in net.layout():
        size = int(np.prod(shape))
        columns[(kind, key)] = slice(start, start + size)
        frozen[start:start + size] = kind == "W" and not net.connections[key].trainable
        mask[start:start + size] = kind == "W" and not frozen[start]
        start += size
    for entry, owner in net.shared.items():
        columns[entry] = columns[owner]
    shared = frozenset(net.shared) | frozenset(net.shared.values())
    delays = {name: d for name, d in net.max_delays().items() if name in net.layers}
    sizes = {name: layer.size for name, layer in net.layers.items()}
    net.compiled["plan"] = Plan(steps, tuple(net.outputs), mask, columns, delays, net.is_recurrent, sizes,
                                coupled, dropout, frozen if frozen.any() else None, shared)
    return net.compiled["plan"]


def _operator(net, c):
    """The operator of connection ``c``'s weight (an :class:`~matnet.weights.embedding.Embedding`
    when it reads an index input)."""
    W = net.weights[c.key]
    if c.source not in net.index_inputs:
        return operator(W)
    if is_compressed(W):
        raise ValueError(f"{c.label} reads the index input {c.source!r}: its weight must be dense, "
                         f"got a {W.kind} weight")
    return Embedding(W)


@dataclass
class Trace:
    """Everything one run computed.

    Attributes
    ----------
    shape : (n_series, n_steps)
        The rows are ``n_series * n_steps``, series-major.  A run without feedback
        from layers has ``n_steps = 1`` (every row on its own).
    x : dict ``(source, target) -> (rows, k * n)``
        Connection inputs from the network's inputs (network units).
    z, a : dict ``layer -> (rows, size)``
        Net inputs and activations.
    states : dict ``layer -> (n_series, d, size)``
        The layers' values before the first step (recurrent runs).
    single : bool
        Whether the data was one 1-D sample (or one 2-D series).
    inputs : dict ``name -> (rows, n)``, the inputs as used (when known).
    dropped : dict ``layer -> (mask, f(z))``
        Layers that dropped activations (training): ``a = mask * f(z)``, ``mask`` 0 or
        ``1 / (1 - p)``.
    terms : dict ``layer -> list of (rows, size)``
        The incoming contributions of product layers with several connections, in
        connection order.
    """

    shape: tuple
    x: dict
    z: dict = field(default_factory=dict)
    a: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    single: bool = False
    inputs: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)
    terms: dict = field(default_factory=dict)

    def others(self, layer, j):
        """The product of product layer ``layer``'s contributions other than the ``j``-th
        (``dz/d term_j``), or None for a layer that sums."""
        terms = self.terms.get(layer)
        if terms is None:
            return None
        rest = [t for k, t in enumerate(terms) if k != j]
        out = backend.copy(rest[0])
        for t in rest[1:]:
            out *= t
        return out

    def derivative_values(self, name, series=None, steps=None):
        """What ``f'`` reads of layer ``name``: ``(z, f(z))`` before any dropout, and the
        dropout mask (None if none), of the given series and steps (None: all)."""
        if name in self.dropped:
            mask, kept = self.dropped[name]
            return tuple(self.block(v, series, steps) for v in (self.z[name], kept, mask))
        return self.block(self.z[name], series, steps), self.block(self.a[name], series, steps), None

    def values(self, name):
        """The rows of what an input or layer ``name`` sends (without delays)."""
        return self.inputs[name] if name in self.inputs else self.a[name]

    def series(self, v):
        """Rows ``(rows, n)`` seen as ``(n_series, n_steps, n)``."""
        return backend.namespace(v).reshape(v, (self.shape[0], self.shape[1], v.shape[-1]))

    def block(self, v, series=None, steps=None):
        """The rows of ``v`` of the given series and steps (slices; None: all), as rows."""
        if series is None and steps is None:
            return v
        return as_rows(self.series(v)[series or slice(None), steps or slice(None), :])

    def connection_input(self, c, series=None, steps=None):
        """``X_c``, what connection ``c`` reads, as rows ``(rows, k * n)`` (of the given
        series and steps)."""
        whole = series is None and steps is None
        if c.key in self.x:
            return self.x[c.key] if whole else self.block(self.x[c.key], series, steps)
        if c.delays == (0,):
            return self.a[c.source] if whole else self.block(self.a[c.source], series, steps)
        states = self.states[c.source]
        padded = backend.concat([states, self.series(self.a[c.source])], axis=1)[series or slice(None), ...]
        t0, t1, _ = (steps or slice(None)).indices(self.shape[1])
        return as_rows(stack_lagged(padded, states.shape[1], c.delays, t0, t1))


def run(net, x, shape, states=None, single=False, dropout=None) -> Trace:
    """Run ``net`` on prepared connection inputs.

    Parameters
    ----------
    x : dict ``(source, target) -> (rows, k * n)``
        Per connection from an input, what it reads (:func:`matnet.prepare.connection_inputs`).
    shape : (n_series, n_steps)
        ``n_steps = 1`` for networks without feedback from layers.
    states : dict ``layer -> (n_series, d, size)``, optional
        Initial values of layers read with delay (zeros when missing).
    dropout : numpy.random.Generator, optional
        Training: layers with dropout drop activations drawn from it (None: never).

    Returns
    -------
    Trace
    """
    p = plan(net)
    S, T = shape
    if p.coupled:
        _check_nodes(net, S * T)
    if dropout is not None and net.input_dropout:
        x = _drop_inputs(net, x, dropout)
    trace = Trace(shape, x, single=single)
    if not p.recurrent:                        # one step over all rows (of a graph: its nodes)
        for step in p.steps:
            Z, product = None, step.combine == "product" and len(step.connections) > 1
            for c, op in step.connections:
                part = op.dot(x[c.key] if c.key in x else trace.a[c.source])
                if c.propagate is not None:
                    part = c.propagate.apply(part)
                if product:
                    trace.terms.setdefault(step.layer, []).append(part)
                    if Z is None:
                        Z = backend.copy(part)
                    else:
                        Z *= part
                elif Z is None:
                    Z = part
                else:
                    Z += part
            trace.z[step.layer] = Z = _with_bias(net, step, Z, S * T)
            trace.a[step.layer] = A = step.activation(Z)
            if step.dropout and dropout is not None:
                mask = _dropout_mask(dropout, A.shape, step.dropout, net)
                trace.dropped[step.layer] = (mask, A)
                trace.a[step.layer] = A * mask
        return trace
    for step in p.steps:                       # terms known in advance: inputs and bias
        Z = None
        for c, op in step.connections:
            if c.key in x:
                part = op.dot(x[c.key])
                if Z is None:
                    Z = part
                else:
                    Z += part
        trace.z[step.layer] = _with_bias(net, step, Z, S * T)
    _run_over_time(net, p, trace, states or {})
    return trace


def _drop_inputs(net, x, rng):
    """``x`` with the values of inputs that have dropout dropped (one mask per connection)."""
    x = dict(x)
    for key, X in x.items():
        p = net.input_dropout.get(key[0], 0.0)
        if p:
            x[key] = X * _dropout_mask(rng, X.shape, p, net)
    return x


def _dropout_mask(rng, shape, p, net):
    """A mask of inverted dropout, 0 or ``1 / (1 - p)``, drawn from the NumPy generator
    ``rng`` (the same masks in every array library) in the network's."""
    mask = (rng.random(shape, dtype=net.dtype) >= p) / net.dtype.type(1 - p)
    return mask if net.xp is np else backend.asarray(mask, net.xp)


def _check_nodes(net, rows):
    c = next(c for c in net.connections.values() if c.propagate is not None)
    if rows != c.propagate.n_nodes:
        raise ValueError(f"{c.label} propagates over a graph of {c.propagate.n_nodes} nodes; the data has {rows} "
                         "rows (a graph network takes every node at once, in the graph's order)")


def _with_bias(net, step, Z, n):
    """``Z + b`` (zeros when the layer has no input term yet)."""
    if Z is None:
        Z = net.xp.zeros((n, step.size), dtype=backend.dtype_of(net.xp, net.dtype))
    if step.bias:
        Z += net.biases[step.layer]
    return Z


def _run_over_time(net, p, trace, given):
    """The steps of a recurrent run on one buffer of the values of the layers in its loop.

    ``buffer`` ``(n_series, D + n_steps, 2 N)`` holds, per step, the loop's layers' net-input
    terms known in advance (inputs and bias), then their values, side by side
    (topological order); the ``D`` initial states come first.  At step ``t`` a layer's
    net input is one product of the window from the values of step ``t - D`` to those of
    step ``t`` — its delayed sources, its own terms and the zero-delay sources computed
    earlier in the step — with one matrix that combines its connections from layers and
    an identity for its terms.  Layers that need not be in the loop
    (:func:`_outside_loop`) are computed after it, for all steps at once.
    """
    S, T = trace.shape
    xp, dtype = net.xp, backend.dtype_of(net.xp, net.dtype)
    for name, d in p.delays.items():
        trace.states[name] = (backend.astype(given[name][:, -d:, :], net.dtype, copy=True) if d and name in given
                              else xp.zeros((S, d, p.sizes[name]), dtype=dtype))
    composed, after = _outside_loop(net, p)
    loop = [step for step in p.steps if step.layer not in composed and step.layer not in after]
    offsets, N = layer_offsets(loop)
    D = max(p.delays.values())
    buffer = xp.zeros((S, D + T, 2 * N), dtype=dtype)
    steps = [_loop_step(net, step, trace, composed, buffer, offsets, D) for step in loop]
    per_step = [(product, W, write, _by_step(Z), _by_step(a)) for Z, product, W, write, a in steps]
    for t, window in enumerate(_windows(buffer, D, T)):
        for product, W, write, z, a in per_step:
            product(window, W, z[t])
            write(z[t], a[t])
    for (Z, *_, a), step in zip(steps, loop):
        trace.z[step.layer] = as_rows(backend.permute(Z, (1, 0, 2)))
        trace.a[step.layer] = as_rows(backend.copy(backend.permute(a, (1, 0, 2))))
    for outside in (composed, after):   # composed layers first: layers after the loop may read them
        for step in [step for step in p.steps if step.layer in outside]:
            _after_loop(step, trace)


def _windows(buffer, D, T):
    """The window of each step ``t``: ``buffer``'s values of step ``t - D`` to those of step
    ``t`` as one row per series ``(n_series, D M + N)`` (views; on NumPy taken from one
    strided view, cheaper than a slice per step)."""
    S, _, M = buffer.shape
    xp, N = backend.namespace(buffer), M // 2
    flat = xp.reshape(buffer, (S, -1))
    if xp is np:
        return np.lib.stride_tricks.sliding_window_view(flat, D * M + N, axis=1)[:, N::M][:, :T].transpose(1, 0, 2)
    return (flat[:, t * M + N:(t + D + 1) * M] for t in range(T))


def _loop_step(net, step, trace, composed, buffer, offsets, D):
    """Layer ``step``'s part of the loop over time: ``(Z, product, W, write, a)``, its net
    inputs time-major, the product of a window with its matrix (:func:`_product`), its
    activation (:func:`_writer`) and its values in ``buffer``, time-major; its terms known
    in advance and its initial states written into ``buffer``."""
    xp, dtype = net.xp, buffer.dtype
    (S, _, M), N, rows = buffer.shape, buffer.shape[-1] // 2, offsets[step.layer]
    values = slice(N + rows.start, N + rows.stop)
    buffer[:, D - trace.states[step.layer].shape[1]:D, values] = trace.states[step.layer]
    parts = [(Dense(xp.eye(step.size, dtype=dtype)), D * M - N + np.arange(rows.start, rows.stop))]
    for c, op in step.connections:
        if c.source in composed:
            parts += _through(net, c, composed[c.source], trace, offsets, D, M)
        elif c.key not in trace.x:
            parts.append((op, _window_columns(c, offsets, D, M)))
    buffer[:, D:, rows] = trace.series(trace.z[step.layer])
    return (_time_major(trace.z.pop(step.layer), S, buffer.shape[1] - D),
            *_product(combine(parts, D * M + N, net.dtype), xp),
            _writer(step.activation, xp), backend.permute(buffer[:, D:, values], (1, 0, 2)))


def _outside_loop(net, p):
    """``(composed, after)``: layers of a recurrent run that its loop over time need not
    compute, as ``{layer: its connections from layers}`` and a set.

    *After*: layers that only other such layers read, without delay (outputs that are
    not fed back).  *Composed*: linear layers with dense weights that layers read only
    with delay, themselves reading layers only without delay, layers that none reads
    with delay (a NARX network's fed-back output): a reader in the loop takes their
    sources' past values through the product of the two weights (:func:`_through`).
    """
    readers = {name: [] for name in p.sizes}
    for c in net.connections.values():
        if c.source in readers:
            readers[c.source].append(c)
    composed = {}
    for step in p.steps:
        sources = [c for c, _ in step.connections if c.source in net.layers]
        if (step.activation.builtin and step.activation.name == "linear" and readers[step.layer]
                and all(min(c.delays) >= 1 and c.target != step.layer and not is_compressed(net.weights[c.key])
                        for c in readers[step.layer])
                and all(c.delays == (0,) and p.delays[c.source] == 0 and not is_compressed(net.weights[c.key])
                        for c in sources)):
            composed[step.layer] = sources
    after = set()
    for step in reversed(p.steps):
        if step.layer not in composed and all(c.delays == (0,) and c.target in after for c in readers[step.layer]):
            after.add(step.layer)
    return composed, after


def _through(net, c, sources, trace, offsets, D, M):
    """The parts of connection ``c`` from the composed layer ``L`` (:func:`_outside_loop`)
    to a layer in the loop: for each delay ``d`` and each connection from layer ``s``
    to ``L``, the weight ``W_c,d W_s`` reading ``s`` ``d`` steps back.  ``L``'s terms
    known in advance (before the first step: its initial states) are added, through
    ``W_c,d``, to the reader's own terms."""
    L = c.source
    W, n = net.weights[c.key], net.layers[L].size
    padded = backend.concat([trace.states[L], trace.series(trace.z[L])], axis=1)
    trace.z[c.target] += operator(W).dot(as_rows(stack_lagged(padded, trace.states[L].shape[1], c.delays, 0,
                                                                 trace.shape[1])))
    parts = []
    for i, d in enumerate(c.delays):
        for s in sources:
            rows = np.arange(offsets[s.source].start, offsets[s.source].stop)
            parts.append((Dense(W[:, i * n:(i + 1) * n] @ net.weights[s.key]), (D - d) * M + rows))
    return parts


def _after_loop(step, trace):
    """Layer ``step``'s net inputs and values for all steps at once, from its terms known
    in advance and what it reads of layers (computed already)."""
    Z = trace.z[step.layer]
    for c, op in step.connections:
        if c.key not in trace.x:
            Z += op.dot(trace.connection_input(c))
    A = step.activation(Z)
    trace.a[step.layer] = backend.copy(A) if A is Z else A


def _by_step(A):
    """A time-major array indexed by step, ``[t]`` for ``A[t, ...]`` (NumPy's integer
    index is its fast path; the array API indexes every axis)."""
    return A if backend.namespace(A) is np else _Steps(A)


class _Steps:
    """``A[t, ...]`` as ``[t]``."""

    def __init__(self, A):
        self.A = A

    def __getitem__(self, t):
        return self.A[t, ...]


def _time_major(Z, S, T):
    """Storage ``(T, S, n)`` for a layer's net inputs in place of its terms known in
    advance ``Z`` ``(S T, n)`` (copied into the buffer already): ``Z``'s own memory for
    one series."""
    xp = backend.namespace(Z)
    return xp.reshape(Z, (T, 1, Z.shape[-1])) if S == 1 else xp.empty((T, S, Z.shape[-1]), dtype=Z.dtype)


def _product(op, xp):
    """``(product, W)``: ``product(window, W, out)`` writes ``window``'s product with the
    operator ``op`` into ``out``.  A dense matrix on NumPy is multiplied by
    ``ndarray.dot``, whose calls cost a third of ``@``'s on a time step's few rows."""
    if op.kind == "dense" and xp is np:
        return np.ndarray.dot, op.W.T
    return _product_into, op


def _product_into(window, op, out):
    out[...] = op.dot(window)


def _writer(activation, xp):
    """``write(z, out)``: ``out[...] = f(z)`` (NumPy's ufunc writes it directly)."""
    if activation.ufunc is not None and xp is np:
        return activation.ufunc
    f = activation.function

    def write(z, out):
        out[...] = f(z)
    return write


def layer_offsets(steps):
    """``(offsets, N)``: each layer's slice of the stacked vector of the layers of ``steps``."""
    offsets, N = {}, 0
    for step in steps:
        offsets[step.layer] = slice(N, N + step.size)
        N += step.size
    return offsets, N


def _window_columns(c, offsets, D, M):
    """Where ``[a(t-d1); ...; a(t-dk)]`` of connection ``c`` lies in a window that starts
    at the values of step ``t - D`` (``M`` entries per step)."""
    rows = np.arange(offsets[c.source].start, offsets[c.source].stop)
    return np.concatenate([(D - d) * M + rows for d in c.delays])


# -- static use: one batch of samples ----------------------------------------------

def static_inputs(net, inputs):
    """Connection inputs of a static network: each connection reads its input."""
    return {c.key: inputs[c.source] for c in net.connections.values() if c.source in inputs}


def forward(net, X) -> Trace:
    """Run a network without delays on a batch and keep every layer's net input and
    activation (network units; input scaling is applied first).

    Parameters
    ----------
    X : array_like or dict
        See :func:`matnet.prepare.prepare_inputs`.
    """
    if net.is_dynamic:
        raise ValueError("the network has delayed connections; run it over time with net.simulate()")
    inputs, single = prepare_inputs(net, X)
    n = next(iter(inputs.values())).shape[0]
    trace = run(net, static_inputs(net, inputs), (n, 1), single=single)
    trace.inputs = inputs
    return trace


def data_units(net, name, Y):
    """Outputs ``Y`` of the output layer ``name`` in data units (its scaling undone)."""
    return net.output_scaling[name].invert(Y) if name in net.output_scaling else Y


def _one_or_dict(outputs):
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs


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
    trace = forward(net, X)
    outputs = {name: data_units(net, name, trace.a[name]) for name in plan(net).outputs}
    return _one_or_dict({k: (v[0, ...] if trace.single else v) for k, v in outputs.items()})


def predict_classes(net, X):
    """Class labels for ``X``: the most probable class of each sample.

    One output column is a binary classifier (class 1 where the output is >= 0.5);
    several columns pick the largest.  Labels are those the network was trained on
    (``net.classes``), or column indices when it has none.
    """
    Y = predict(net, X)
    if isinstance(Y, dict):
        raise ValueError("predict_classes needs a network with one output layer")
    Y = backend.to_numpy(Y)                    # labels live on the host
    Y2 = np.atleast_2d(Y)
    index = (Y2[:, 0] >= 0.5).astype(int) if Y2.shape[1] == 1 else np.argmax(Y2, axis=1)
    labels = index if net.classes is None else np.asarray(net.classes)[index]
    return labels[0] if Y.ndim == 1 else labels


# -- running over time -------------------------------------------------------------

def run_sequences(net, inputs, states, n_steps=None):
    """Run ``net`` over time on prepared input series and initial states.

    Parameters
    ----------
    inputs : dict ``name -> (n_series, n_steps, n)``, network units
    states : dict ``name -> (n_series, d, n)`` (:func:`matnet.prepare.initial_states`)
    n_steps : int, for a network without inputs

    Returns
    -------
    Trace, with ``shape`` ``(n_series, n_steps)`` for a recurrent network and
    ``(n_series * n_steps, 1)`` otherwise (rows in the same series-major order).
    """
    if inputs:
        trace = run(net, *engine_rows(net, inputs, states))
    else:                                      # a network without inputs runs n_steps
        S = next(iter(states.values())).shape[0] if states else 1
        shape = (S, int(n_steps)) if net.is_recurrent else (S * int(n_steps), 1)
        trace = run(net, {}, shape, {k: v for k, v in states.items() if k in net.layers})
    trace.inputs = {name: as_rows(v) for name, v in inputs.items()}
    return trace


def record(net, X, initial=None) -> Trace:
    """Run ``net`` on data and keep everything it computed (network units): a batch for
    a static network (:func:`forward`), input series for one with delays (``X`` as
    :func:`simulate`'s ``U``, ``initial`` its delay states)."""
    if not net.is_dynamic:
        return forward(net, X)
    inputs, single = prepare_sequences(net, X)
    if not inputs:
        raise ValueError("the network has no inputs: there is no data to run it on")
    S, T = next(iter(inputs.values())).shape[:2]
    trace = run_sequences(net, inputs, initial_states(net, initial, S), T)
    trace.single = single
    return trace


def _n_series(initial):
    return max([np.ndim(v) == 3 and np.shape(v)[0] or 1 for v in (initial or {}).values()] or [1])


def simulate(net, U, initial=None, n_steps=None):
    """Run a network (dynamic or static) over time.

    Parameters
    ----------
    U : array or dict
        Input series ``(n_steps, n)`` or ``(n_series, n_steps, n)`` (a dict for
        several inputs; ``None`` for a network without inputs, with ``n_steps``).
    initial : dict, optional
        Initial delay states, see :func:`matnet.prepare.initial_states`.

    Returns
    -------
    outputs : array or dict
        ``(n_steps, n_out)`` (or ``(n_series, n_steps, n_out)``), data units; a dict
        for several output layers.
    state : dict
        The final delay states, usable as ``initial`` of a continuation run.
    """
    if not net.inputs and n_steps is None:
        raise ValueError("a network without inputs needs n_steps")
    inputs, single = prepare_sequences(net, U)
    if inputs:
        S, T = next(iter(inputs.values())).shape[:2]
    else:
        S, T = _n_series(initial), int(n_steps)
        single = all(np.ndim(v) == 2 for v in (initial or {}).values())
    states = initial_states(net, initial, S)
    trace = run_sequences(net, inputs, states, T)
    outputs = {}
    for name in plan(net).outputs:
        Y = data_units(net, name, net.xp.reshape(trace.a[name], (S, T, -1)))
        outputs[name] = Y[0, ...] if single else Y
    final = {}
    for name, d in net.max_delays().items():
        if d:
            values = inputs[name] if name in inputs else net.xp.reshape(trace.a[name], (S, T, -1))
            last = backend.concat([states[name], values], axis=1)[:, -d:, :]
            scaling = state_scaling(net, name)
            last = scaling.invert(last) if scaling is not None else backend.copy(last)
            final[name] = last[0, ...] if single else last
    return _one_or_dict(outputs), final


def predict_ahead(net, U, Y_past, steps, initial=None):
    """Multi-step-ahead prediction with a NARX network.

    The open-loop network runs over the known past (exogenous inputs ``U[:n_past]``,
    measured outputs ``Y_past``, ``n_past = len(Y_past)``) to reach the current state;
    the closed-loop network then predicts ``steps`` outputs from
    ``U[n_past:n_past+steps]``.

    Parameters
    ----------
    U : array, dict or None
        The exogenous input series (a dict ``name -> series`` for several inputs;
        ``None`` for a NAR network), covering at least ``n_past + steps`` steps.
    Y_past : array or dict
        The measured outputs ``(n_past, n_out)`` (a dict ``layer -> array`` for
        several fed-back outputs).
    steps : int
    initial : dict, optional
        Initial delay states of the open-loop run.

    Returns
    -------
    ndarray (steps, n_out), or a dict for several output layers
    """
    opened = net if any(name in net.inputs for name in net.feedback) else net.open_loop()
    closed = opened.closed_loop()
    fb = dict(opened.feedback)
    outputs = set(fb.values())
    if not isinstance(Y_past, dict):
        if len(outputs) != 1:
            raise ValueError(f"the network feeds back {', '.join(sorted(outputs))}; pass Y_past as a dict")
        Y_past = {next(iter(outputs)): Y_past}
    if set(Y_past) != outputs:
        raise ValueError(f"Y_past must give the measured outputs {', '.join(sorted(outputs))}, "
                         f"got {', '.join(map(str, Y_past)) or 'none'}")
    past = {}
    for name, output in fb.items():
        y = backend.asarray(Y_past[output], net.xp, net.dtype)
        past[name] = y[:, None] if y.ndim == 1 else y
    n_past = next(iter(past.values())).shape[0]
    exogenous = [k for k in opened.inputs if k not in fb]
    if exogenous:
        if U is None:
            raise ValueError(f"the network has exogenous inputs {', '.join(exogenous)}; pass U")
        U = U if isinstance(U, dict) else {exogenous[0]: U} if len(exogenous) == 1 else None
        if U is None or set(U) != set(exogenous):
            raise ValueError(f"U must give the exogenous inputs {', '.join(exogenous)} (a dict for several)")
        for name in exogenous:
            if np.shape(U[name])[0] < n_past + steps:
                raise ValueError(f"U must cover the past and the future: at least {n_past + steps} steps "
                                 f"of {name!r}, got {np.shape(U[name])[0]}")
            past[name] = U[name][:n_past, ...]
    _, state = simulate(opened, past, initial=initial)
    start = {fb.get(name, name): value for name, value in state.items()}
    future = {name: U[name][n_past:n_past + steps, ...] for name in exogenous} or None
    outputs, _ = simulate(closed, future, initial=start, n_steps=steps)
    return outputs
