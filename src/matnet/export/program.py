"""What an exported network computes, written once for every target language.

:func:`program` reads a network through the engine's :class:`~matnet.simulate.Plan` and
gives a :class:`Program`: the steps :func:`matnet.simulate.run` takes, with every number
they use.  The writers (:mod:`.python`, :mod:`.c`, :mod:`.matlab`) only spell it in their
language.  One time step, in the network's units, is::

    u = x * scale + shift                        every scaled input
    for each layer, in topological order:
        z = sum over terms of  W · [v(t-d1); ...; v(t-dk)]     (in connection order)
        z = z + b
        a = f(z)
    y = a * inverse_scale + offset               every output layer (scaling undone)

where ``v(t-d)`` is a source's current value for ``d = 0`` (an input, or a layer computed
earlier in the step) and its delay state otherwise.  A static network is the case without
delays.  After the step every source read with delay pushes its value into its state
(the last ``d`` values, in network units).  Initial states are given as
:func:`matnet.simulate.simulate` takes them: in data units for inputs and scaled output
layers (mapped with :attr:`State.scaling`), zeros when not given.

Each term keeps its weight's form: ``dense`` (``W``), ``sparse`` (CSR ``indptr``,
``indices``, ``data``), ``lowrank`` (``U``, ``V``: ``W = U V``), ``mpo`` (the cores
``core0``, ... of shape ``(r_{k-1}, n_k, m_k, r_k)``, ``in_factors``, ``out_factors``,
``ranks``: see :class:`~matnet.weights.MPO`) and ``quantized`` (``q``, ``row_scale``,
``input_inverse``, ``qmax``, ``accumulator``: see :class:`~matnet.weights.Quantized`).
The summation order is the engine's, so a writer that keeps it reproduces ``net(X)`` to
round-off (bit for bit where the products are exact).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..analysis.table import Table
from ..network import weight_label
from ..prepare import state_scaling
from ..simulate import plan

__all__ = ["Program", "Term", "Step", "Port", "State", "program", "identifier", "layer_lines"]

#: Activations every writer can spell.
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "hardlim",
               "satlin", "satlins")


@dataclass(frozen=True)
class Affine:
    """``v = x * scale + shift`` per feature."""

    scale: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class Port:
    """An input (its scaling into network units) or an output layer (its scaling back)."""

    name: str
    ident: str
    size: int
    affine: Affine | None
    offset: int            # where it starts in the concatenated vector of all inputs (outputs)


@dataclass(frozen=True)
class Term:
    """One connection into a layer: ``W · [v(t-d1); ...; v(t-dk)]`` of ``source``."""

    label: str
    ident: str
    source: str
    delays: tuple
    shape: tuple
    form: str               # as written: dense, sparse, lowrank, mpo or quantized
    kind: str               # as held by the network
    arrays: dict

    @property
    def numbers(self):
        """How many numbers the written form stores."""
        return sum(int(np.size(a)) for a in self.arrays.values() if isinstance(a, np.ndarray))


@dataclass(frozen=True)
class Step:
    """One layer's step."""

    name: str
    ident: str
    size: int
    activation: str
    bias: np.ndarray | None
    terms: tuple


@dataclass(frozen=True)
class State:
    """A source read with delay: its last ``depth`` values are the state."""

    name: str
    ident: str
    size: int
    depth: int
    scaling: Affine | None       # data units -> network units (initial states)
    inverse: Affine | None       # network units -> data units (final states)
    offset: int                  # where it starts in the flat vector of all states


@dataclass(frozen=True)
class Program:
    """Everything an exported network computes (see the module docstring)."""

    name: str
    dtype: np.dtype
    inputs: tuple
    steps: tuple
    outputs: tuple
    states: tuple
    recurrent: bool
    classes: list | None = None
    feature_names: dict = field(default_factory=dict)

    @property
    def dynamic(self):
        return bool(self.states)

    @property
    def n_inputs(self):
        return sum(p.size for p in self.inputs)

    @property
    def n_outputs(self):
        return sum(p.size for p in self.outputs)

    @property
    def n_state(self):
        """Length of the flat vector of all delay states (oldest value first per source)."""
        return sum(s.size * s.depth for s in self.states)

    @property
    def terms(self):
        return [t for step in self.steps for t in step.terms]

    def state(self, name):
        return next((s for s in self.states if s.name == name), None)

    def manifest(self, float_bytes=8):
        """Per connection: its form as held and as written, shape, numbers and bytes
        (floats of ``float_bytes``; integer matrices of their own width; indices int32)."""
        def size(t):
            total = 0
            for a in t.arrays.values():
                if isinstance(a, np.ndarray):
                    total += a.size * (a.itemsize if a.dtype.kind in "iu" else float_bytes)
            return total
        terms = self.terms
        return Table({"connection": [t.label for t in terms], "form": [t.kind for t in terms],
                      "written": [t.form for t in terms], "shape": [f"{t.shape[0]}x{t.shape[1]}" for t in terms],
                      "numbers": [t.numbers for t in terms], "bytes": [size(t) for t in terms]},
                      title=f"{self.name}: the weights as written")


def identifier(name, taken):
    """A C/MATLAB/Python identifier for ``name`` (letters, digits, ``_``), not in ``taken``."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "v"
    if not ident[0].isalpha():
        ident = "v" + ident
    base, k = ident, 2
    while ident in taken:
        ident, k = f"{base}_{k}", k + 1
    taken.add(ident)
    return ident


def _affine(scaling):
    return None if scaling is None else Affine(scaling.scale, scaling.shift)


def _term(c, op, idents, taken):
    """The written form of connection ``c``'s weight operator ``op``."""
    kind = op.kind
    if kind == "sparse":
        arrays = {"indptr": op.indptr.astype(np.int32), "indices": op.indices.astype(np.int32),
                  "data": np.asarray(op.data)}
    elif kind == "lowrank":
        arrays = {"U": np.asarray(op.U), "V": np.asarray(op.V)}
    elif kind == "mpo":
        arrays = {**{f"core{k}": np.asarray(G) for k, G in enumerate(op.cores)},
                  "in_factors": tuple(op.in_factors), "out_factors": tuple(op.out_factors), "ranks": tuple(op.ranks)}
    elif kind == "quantized":
        arrays = {"q": op.q, "row_scale": np.ascontiguousarray(op.row_scale), "input_inverse": op.input_inverse,
                  "qmax": op.qmax, "accumulator": op.accumulator}
    else:
        arrays = {"W": np.asarray(op.to_dense())}
    form = kind if kind in ("sparse", "lowrank", "mpo", "quantized") else "dense"
    ident = identifier(f"W_{idents[c.source]}_{idents[c.target]}", taken)
    return Term(weight_label(c.key), ident, c.source, tuple(c.delays), tuple(op.shape), form, kind, arrays)


def program(net, name="net"):
    """The :class:`Program` of ``net``: what every writer writes.

    Raises
    ------
    ValueError
        For a network without inputs, with a custom activation (named) or a graph connection.
    """
    if not net.inputs and not net.is_dynamic:
        raise ValueError("export needs a network with inputs or delay states")
    graph = [c.label for c in net.connections.values() if c.propagate is not None]
    if graph:
        raise ValueError(f"{graph[0]} propagates over a graph's nodes; export writes per-sample code and does not "
                         "write graph networks")
    for layer in net.layers.values():
        if layer.activation.name not in ACTIVATIONS or not layer.activation.builtin:
            raise ValueError(f"layer {layer.name!r} uses the activation {layer.activation.name!r}, which export "
                             f"cannot write; built-in activations: {', '.join(ACTIVATIONS)}")
    p = plan(net)
    taken = set()
    idents = {n: identifier(n, taken) for n in [*net.inputs, *(s.layer for s in p.steps)]}
    inputs, offset = [], 0
    for n, size in net.inputs.items():
        inputs.append(Port(n, idents[n], size, _affine(net.input_scaling.get(n)), offset))
        offset += size
    steps = []
    for s in p.steps:
        terms = tuple(_term(c, op, idents, taken) for c, op in s.connections)
        bias = np.asarray(net.biases[s.layer]) if s.bias else None
        steps.append(Step(s.layer, idents[s.layer], s.size, s.activation.name, bias, terms))
    outputs, offset = [], 0
    for n in p.outputs:
        scaling = net.output_scaling.get(n)
        affine = None if scaling is None else Affine(scaling.inverse_scale, scaling.offset)
        outputs.append(Port(n, idents[n], p.sizes[n], affine, offset))
        offset += p.sizes[n]
    states, offset = [], 0
    depths = net.max_delays()
    for n in [*net.inputs, *(s.layer for s in p.steps)]:
        if depths.get(n, 0):
            size = net.size_of(n)
            scaling = state_scaling(net, n)
            inverse = None if scaling is None else Affine(scaling.inverse_scale, scaling.offset)
            states.append(State(n, idents[n], size, depths[n], _affine(scaling), inverse, offset))
            offset += size * depths[n]
    return Program(name, net.dtype, tuple(inputs), tuple(steps), tuple(outputs), tuple(states), p.recurrent,
                   None if net.classes is None else list(net.classes), dict(net.feature_names))


def layer_lines(program, spell):
    """Every layer's step as lines, in the engine's order of products and sums.

    ``spell(what, step, term=None)`` gives the lines of one part in the writer's language:
    ``"begin"`` (a layer starts), ``"first"`` (``z = W x`` of its first term), ``"term"``
    (``z = z + W x``), ``"zeros"`` (``z = 0`` of a layer without terms), ``"bias"``
    (``z = z + b``) and ``"activation"`` (``a = f(z)``).
    """
    lines = []
    for step in program.steps:
        lines += spell("begin", step)
        for k, term in enumerate(step.terms):
            lines += spell("first" if k == 0 else "term", step, term)
        if not step.terms:
            lines += spell("zeros", step)
        if step.bias is not None:
            lines += spell("bias", step)
        lines += spell("activation", step)
    return lines


def check_name(name):
    """``name`` if it is a valid identifier for the exported function, else a ValueError."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"name must be a letter followed by letters, digits or '_' (at most 63), got {name!r}")
    return name
