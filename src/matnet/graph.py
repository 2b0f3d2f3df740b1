"""Equivalent matrix forms of a network.

* **Augmented** (bias folded): per layer ``[W_1 | ... | W_k | b]`` acting on
  ``[a_1; ...; a_k; 1]``.
* **Adjacency**: the whole network as one weighted directed graph over neurons.  ``A``
  is ``(N, N)``, rows receive and columns send: ``A[i, j]`` weighs the edge from node
  ``j`` to node ``i``, so a static network satisfies ``a = f(A a)`` node by node.
  Nodes: input nodes (input order), then layer nodes (layers in topological order),
  then one constant bias node of value 1.  A network with delays has one matrix per
  delay, ``{d: A_d}``.  Every weight of the network is a stored entry (also when it
  is 0), so the structure survives the round trip exactly.
* :func:`evaluate` computes outputs straight from a bare ``(N, N)`` matrix of any DAG.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .backend import on_host
from . import activations as _activations
from ._toposort import CycleError, _find_cycle
from ._format import shape_str
from .network import Network
from .weights import operator

__all__ = ["Node", "Nodes", "augmented", "from_augmented", "adjacency", "from_adjacency",
           "evaluate", "to_networkx"]


# -- augmented ---------------------------------------------------------------------

@on_host
def augmented(net):
    """Per layer, the augmented matrix ``[W_1 | ... | W_k | b]``.

    Returns
    -------
    dict ``layer -> ndarray (n, sum(n_in_k) + 1)``
        Sources in the order of ``net.incoming(layer)``; the last column is the bias
        (present only for layers with a bias).  Layers in topological order.
    """
    out = {}
    for name in net.topological_order():
        blocks = [np.asarray(net.weights[c.key]) for c in net.incoming(name)]
        if net.layers[name].bias:
            blocks.append(net.biases[name][:, None])
        out[name] = np.hstack(blocks) if blocks else np.zeros((net.layers[name].size, 0), net.dtype)
    return out


def from_augmented(matrices, activations=None, like=None, dtype=None):
    """Rebuild a network from augmented matrices.

    Parameters
    ----------
    matrices : list or dict
        A list ``[[W_1 | b_1], [W_2 | b_2], ...]`` builds a chain as
        :meth:`Network.from_matrices`; a dict ``layer -> [W_1 | ... | W_k | b]`` (as
        :func:`augmented` returns) needs ``like``.
    activations : optional
        For a chain, as in :meth:`Network.from_matrices`.
    like : Network, optional
        A network whose structure (inputs, layers, connections, outputs) the dict
        follows; it is copied, not changed.
    """
    if isinstance(matrices, dict):
        if like is None:
            raise ValueError("a dict of augmented matrices needs like=<network whose structure they follow>; "
                             "give a list for a chain")
        if activations is not None:
            raise ValueError("activations come from like= when rebuilding from a dict")
        net = like.copy(dtype=dtype)
        missing = set(net.layers) - set(matrices)
        if missing or set(matrices) - set(net.layers):
            raise ValueError(f"augmented matrices must be given for exactly the layers {', '.join(net.layers)}")
        for name, M in matrices.items():
            _split_augmented(net, name, np.asarray(M))
        return net
    matrices = [np.asarray(M) for M in matrices]
    for k, M in enumerate(matrices):
        if M.ndim != 2 or M.shape[1] < 2:
            raise ValueError(f"augmented matrix {k} must be [W | b] with at least 2 columns, "
                             f"got shape {shape_str(M.shape)}")
    return Network.from_matrices([M[:, :-1] for M in matrices], [M[:, -1] for M in matrices],
                                 activations=activations, dtype=dtype)


def _split_augmented(net, name, M):
    incoming = net.incoming(name)
    widths = [net.weights[c.key].shape[1] for c in incoming]
    expected = (net.layers[name].size, sum(widths) + net.layers[name].bias)
    if M.shape != expected:
        parts = " | ".join([c.label for c in incoming] + ([f"b[{name}]"] if net.layers[name].bias else []))
        raise ValueError(f"augmented matrix of {name} must have shape {shape_str(expected)} ([{parts}]), "
                         f"got {shape_str(M.shape)}")
    start = 0
    for c, width in zip(incoming, widths):
        net.weights[c.key] = M[:, start:start + width]
        start += width
    if net.layers[name].bias:
        net.biases[name] = M[:, -1]


# -- adjacency ---------------------------------------------------------------------

class Node(NamedTuple):
    """One node of the adjacency view.

    kind : ``"input"``, ``"layer"`` or ``"bias"``
    layer : name of its input or layer (``None`` for the bias node)
    unit : index within that input or layer
    activation : its layer's :class:`~matnet.activations.Activation` (``None`` otherwise)
    output : position of its layer in ``net.outputs``, or ``None``
    """

    kind: str
    layer: str | None
    unit: int
    activation: object = None
    output: int | None = None

    def __str__(self):
        return "1" if self.kind == "bias" else f"{self.layer}[{self.unit}]"


class Nodes(tuple):
    """The node table of an adjacency matrix: a tuple of :class:`Node` with the index
    lists :func:`evaluate` takes."""

    @property
    def inputs(self):
        """Indices of the input nodes."""
        return [i for i, n in enumerate(self) if n.kind == "input"]

    @property
    def outputs(self):
        """Indices of the output nodes, output layers in ``net.outputs`` order."""
        out = [(n.output, i) for i, n in enumerate(self) if n.output is not None]
        return [i for _, i in sorted(out)]

    @property
    def bias(self):
        """Index of the bias node (``None`` if there is none)."""
        return next((i for i, n in enumerate(self) if n.kind == "bias"), None)

    @property
    def activations(self):
        """One activation per node (``None`` for inputs and the bias)."""
        return [n.activation for n in self]

    @property
    def groups(self):
        """Per node, the index of the layer it belongs to (softmax acts per group)."""
        names = {}
        return np.array([names.setdefault((n.kind, n.layer), len(names)) for n in self])

    def __repr__(self):
        return f"Nodes({', '.join(map(str, self))})"


def _node_table(net):
    nodes = [Node("input", name, j) for name, size in net.inputs.items() for j in range(size)]
    outputs = net.outputs
    for name in net.topological_order():
        layer = net.layers[name]
        position = outputs.index(name) if name in outputs else None
        nodes += [Node("layer", name, j, layer.activation, position) for j in range(layer.size)]
    nodes.append(Node("bias", None, 0))
    return Nodes(nodes)


def _offsets(nodes):
    start = {}
    for i, n in enumerate(nodes):
        start.setdefault(n.layer, i)
    return start


@on_host
def adjacency(net):
    """The network as one weighted directed graph over its neurons.

    Returns
    -------
    A : scipy.sparse.csr_array (N, N), or dict ``delay -> csr_array`` if the network has delays
        ``A[i, j]`` weighs the edge from node ``j`` to node ``i`` (rows receive).
    nodes : Nodes
        Which input or layer, and which unit, each node is; the last is the bias node.
        For a graph network, ``nodes.propagation`` maps each graph connection to its
        propagation (``.to_dense()``: the ``(n_nodes, n_nodes)`` matrix over the
        graph's nodes, the rows of a batch): ``A`` holds ``W``, which every graph node
        applies alike, and ``P`` mixes the graph's nodes — two matrices over different
        index sets, kept apart.
    """
    nodes = _node_table(net)
    nodes.propagation = {c.key: c.propagate for c in net.connections.values() if c.propagate is not None}
    start = _offsets(nodes)
    entries = {}
    for c in net.connections.values():
        rows, cols, values = operator(net.weights[c.key]).entries()   # a sparse weight: its pattern
        n_in = net.size_of(c.source)
        block = cols // n_in                                            # which delay
        for k, d in enumerate(c.delays):
            at = block == k
            entries.setdefault(d, []).append((rows[at] + start[c.target], cols[at] % n_in + start[c.source],
                                              values[at]))
    bias = len(nodes) - 1
    for name in [name for name, layer in net.layers.items() if layer.bias]:   # a shared bias for each layer
        b = net.biases[name]
        rows = np.arange(b.size) + start[name]
        entries.setdefault(0, []).append((rows, np.full(b.size, bias), b))
    N = len(nodes)
    matrices = {}
    for d in sorted(entries) if entries else [0]:
        parts = entries.get(d, [])
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, int)
        cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, int)
        vals = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, net.dtype)
        matrices[d] = sp.coo_array((vals.astype(net.dtype), (rows, cols)), shape=(N, N)).tocsr()
    return (matrices if net.is_dynamic else matrices[0]), nodes


def from_adjacency(A, nodes, dtype=None):
    """Rebuild a network from its adjacency matrix (or ``{delay: A_d}``) and node table
    (with its graph connections' ``propagation``, when it has them).

    Every stored entry (also an explicit 0) of a block between two groups of nodes
    makes a connection; stored entries in the bias column make a layer's bias.
    """
    matrices = {d: sp.csr_array(M) for d, M in (A.items() if isinstance(A, dict) else [(0, A)])}
    propagation = getattr(nodes, "propagation", {})
    nodes = Nodes(nodes)
    nodes.propagation = propagation
    N = len(nodes)
    for d, M in matrices.items():
        if M.shape != (N, N):
            raise ValueError(f"adjacency matrix A_{d} has shape {shape_str(M.shape)} but there are {N} nodes")
        receives = np.flatnonzero(np.diff(M.indptr))
        bad = [i for i in receives if nodes[i].kind != "layer"]
        if bad:
            raise ValueError(f"adjacency matrix has edges into node {bad[0]} ({nodes[bad[0]]}), "
                             "which is not a layer neuron")
    dtype = dtype or (np.float32 if all(M.dtype == np.float32 for M in matrices.values()) else np.float64)
    net = Network(dtype=dtype)
    groups = {}
    for i, n in enumerate(nodes):
        groups.setdefault((n.kind, n.layer), []).append(i)
    for (kind, name), idx in groups.items():
        if kind == "input":
            net.add_input(name, len(idx))
    bias = nodes.bias
    for (kind, name), idx in groups.items():
        if kind == "layer":
            has_bias = bias is not None and 0 in matrices and matrices[0][idx][:, [bias]].nnz > 0
            net.add_layer(name, len(idx), nodes[idx[0]].activation or "linear", bias=has_bias)
    for (kind, target), rows in groups.items():
        if kind != "layer":
            continue
        for (source_kind, source), cols in groups.items():
            if source_kind == "bias":
                continue
            blocks = {d: M[rows][:, cols] for d, M in sorted(matrices.items())}
            delays = [d for d, B in blocks.items() if B.nnz]
            if delays:
                W = np.hstack([blocks[d].toarray() for d in delays])
                net.connect(source, target, W, delays=delays,
                            propagate=getattr(nodes, "propagation", {}).get((source, target)))
        if net.layers[target].bias:
            net.biases[target] = matrices[0][rows][:, [bias]].toarray()[:, 0]
    outputs = sorted({(n.output, n.layer) for n in nodes if n.output is not None})
    if outputs:
        net.outputs = [name for _, name in outputs]
    return net


# -- evaluation straight from the matrix -------------------------------------------

def _levels(A, sources):
    """Longest-path depth of every node from nodes without incoming edges.

    Raises :class:`CycleError` naming a cycle.
    """
    N = A.shape[0]
    csc = A.tocsc()
    indegree = np.diff(A.indptr).astype(np.int64)
    level = np.full(N, -1)
    current = np.flatnonzero(indegree == 0)
    depth = 0
    while current.size:
        level[current] = depth
        succ = np.concatenate([csc.indices[csc.indptr[j]:csc.indptr[j + 1]] for j in current])
        indegree -= np.bincount(succ, minlength=N)
        current = np.flatnonzero((indegree == 0) & (level == -1))
        depth += 1
    if (level == -1).any():
        remaining = np.flatnonzero(level == -1)
        successors = {int(j): [int(i) for i in csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] for j in remaining}
        cycle = _find_cycle(remaining.tolist(), successors)
        raise CycleError(cycle, "adjacency matrix has a cycle through nodes " + " → ".join(map(str, cycle)))
    return level


def evaluate(A, x, activations, inputs, outputs, bias=None, groups=None):
    """Outputs of the directed acyclic graph ``A`` for inputs ``x``, in topological order.

    Parameters
    ----------
    A : (N, N) sparse or dense array
        ``A[i, j]`` weighs the edge from node ``j`` to node ``i`` (rows receive).
    x : array (n_samples, len(inputs)) or (len(inputs),)
        Values of the input nodes.
    activations : sequence of length N
        Per node a name, :class:`~matnet.activations.Activation` or pair; entries of
        input nodes and the bias node are ignored (may be ``None``).
    inputs, outputs : sequences of int
        Node indices fed by ``x`` and returned.
    bias : int, optional
        Index of a constant node of value 1 (or feed ones through ``inputs``).
    groups : array of length N, optional
        Group ids; a non-elementwise activation (softmax) acts on each group's nodes
        together.  Default: every node alone.

    Returns
    -------
    ndarray (n_samples, len(outputs)), or (len(outputs),) for a 1-D ``x``.
    """
    A = sp.csr_array(A)
    N = A.shape[0]
    if A.shape != (N, N):
        raise ValueError(f"adjacency matrix must be square, got shape {shape_str(A.shape)}")
    if len(activations) != N:
        raise ValueError(f"need one activation per node ({N}), got {len(activations)}")
    dtype = A.dtype if A.dtype in (np.float32, np.float64) else np.float64
    x = np.asarray(x, dtype=dtype)
    single = x.ndim == 1
    X = np.atleast_2d(x)
    sources = list(inputs) + ([bias] if bias is not None else [])
    if X.ndim != 2 or X.shape[1] != len(inputs):
        raise ValueError(f"x must have {len(inputs)} columns, one per input node, got shape {shape_str(x.shape)}")
    receiving = [s for s in sources if A.indptr[s + 1] > A.indptr[s]]
    if receiving:
        raise ValueError(f"node {receiving[0]} is an input or the bias node but receives edges")
    level = _levels(A, sources)
    is_source = np.zeros(N, bool)
    is_source[sources] = True
    groups = np.arange(N) if groups is None else np.asarray(groups)
    V = np.zeros((X.shape[0], N), dtype)
    V[:, list(inputs)] = X
    if bias is not None:
        V[:, bias] = 1
    for depth in range(level.max() + 1):
        rows = np.flatnonzero((level == depth) & ~is_source)
        if rows.size:
            Z = (A[rows] @ V.T).T
            V[:, rows] = _activate(Z, rows, activations, groups)
    out = V[:, list(outputs)]
    return out[0] if single else out


def _activate(Z, rows, activations, groups):
    """Apply each node's activation to its column of ``Z`` (softmax per group)."""
    out = np.empty_like(Z)
    acts = []
    for r in rows:
        if activations[r] is None:
            raise ValueError(f"node {r} computes a value but its activation is None")
        acts.append(_activations.get(activations[r]))
    keys = [(a, None if a.elementwise else groups[r]) for a, r in zip(acts, rows)]
    for key in dict.fromkeys(keys):
        cols = [k for k, kk in enumerate(keys) if kk == key]
        out[:, cols] = key[0](Z[:, cols])
    return out


# -- networkx ----------------------------------------------------------------------

@on_host
def to_networkx(net):
    """The network as a ``networkx`` graph of neurons.

    Node ``i`` of the adjacency view becomes node ``i`` with attributes ``kind``,
    ``layer``, ``unit`` and ``activation`` (a name); each edge ``j → i`` carries
    ``weight`` and ``delay``.  A network with delays gives a ``MultiDiGraph``.
    """
    try:
        import networkx as nx
    except ImportError:
        raise ImportError("to_networkx needs networkx: pip install networkx") from None
    A, nodes = adjacency(net)
    matrices = A if isinstance(A, dict) else {0: A}
    g = nx.MultiDiGraph() if isinstance(A, dict) else nx.DiGraph()
    for i, n in enumerate(nodes):
        g.add_node(i, kind=n.kind, layer=n.layer, unit=n.unit,
                   activation=n.activation.name if n.activation is not None else None)
    for d, M in matrices.items():
        coo = M.tocoo()
        for i, j, w in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()):
            g.add_edge(j, i, weight=w, delay=d)
    return g

