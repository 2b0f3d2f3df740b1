"""The :class:`Network`: named inputs, layers and connections, and their parameters.

This module holds structure only; computing with a network is
:mod:`matnet.simulate`, its matrix views are :mod:`matnet.graph`, files are
:mod:`matnet.io`.

Conventions (fixed for all of matnet)
-------------------------------------
* A connection from a source of size ``n_in`` to a layer of size ``n_out`` has the
  weight matrix ``W`` of shape ``(n_out, n_in)``; ``W[i, j]`` weighs the edge from
  source neuron ``j`` to neuron ``i``.  With delays ``[d1, ..., dk]`` the source is
  seen as the stacked vector ``[a(t-d1); ...; a(t-dk)]`` and ``W`` is
  ``(n_out, k * n_in)``, blocks in delay order.
* Batches are rows: a layer computes ``Z = A_src @ W.T + b``.
* Parameter vector (:meth:`Network.get_flat`): layers in topological order; for each
  layer the weight matrices of its incoming connections (in the order they were
  connected), each row-major, then its bias.  For :func:`mlp` this is
  ``W[x→h1], b[h1], W[h1→h2], b[h2], ..., W[hk→y], b[y]``.

``net.weights`` and ``net.biases`` hold views into that one parameter vector: writing
into an array changes the network, and so does assigning a new array of the same shape
(``net.weights["x", "h1"] = W``).  A structural change (a new layer or connection)
lays the vector out anew: look the arrays up again afterwards.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from . import activations as _activations
from . import backend
from . import init as _init
from ._toposort import CycleError, topological_order
from ._format import shape_str
from .weights import is_compressed
from .weights.propagation import Propagation, propagation as _propagation

__all__ = ["Network", "Layer", "Connection", "mlp", "timedelay", "layer_recurrent", "narx", "nar", "CycleError"]

ARROW = "→"
#: Weight forms that move with the network to another array library (:meth:`Network.to`).
MOVABLE_FORMS = ("sparse", "lowrank")


@dataclass(frozen=True)
class Layer:
    """A layer of ``size`` neurons computing ``a = activation(z)``; in training, with
    ``dropout = p > 0``, each activation is zeroed with probability ``p`` and the rest
    scaled by ``1 / (1 - p)`` (inverted dropout).  ``combine`` is how its incoming
    contributions make ``z``: ``"sum"`` (``b + Σ_c W_c x_c``) or ``"product"``
    (``b + Π_c W_c x_c`` element-wise: sigma-pi units)."""

    name: str
    size: int
    activation: _activations.Activation
    bias: bool = True
    dropout: float = 0.0
    combine: str = "sum"


@dataclass(frozen=True)
class Connection:
    """A connection from ``source`` (an input or a layer) into the layer ``target``;
    ``propagate`` (a :class:`~matnet.weights.propagation.Propagation`) mixes the rows of
    a batch, the nodes of a graph: ``Z += P (X_c @ W.T)``; a connection that is not
    ``trainable`` keeps its weight in training."""

    source: str
    target: str
    delays: tuple = (0,)
    propagate: Propagation | None = field(default=None, compare=False, repr=False)
    trainable: bool = True

    @property
    def key(self):
        return (self.source, self.target)

    @property
    def label(self):
        """``W[source→target]``, the name used in equations and messages."""
        return weight_label(self.key)


def bias_label(name):
    return f"b[{name}]"


def weight_label(key):
    return f"W[{key[0]}{ARROW}{key[1]}]"


class Parameters(Mapping):
    """Live views of a network's weight matrices or bias vectors.

    Reading gives the array inside the network; assigning copies a value of the same
    shape into it (a scalar fills it), with a clear error for a wrong shape.  A
    parameter shared by several connections (or layers) is listed once, under the key
    that holds it; the others read and write it too.
    """

    def __init__(self, describe, replace=None):
        self._views = {}
        self._aliases = {}                 # shared parameters: key -> the key that holds them
        self._describe = describe
        self._replace = replace

    def __getitem__(self, key):
        try:
            return self._views[self._aliases.get(key, key)]
        except KeyError:
            raise KeyError(f"no {self._describe(key)} in this network; it has "
                           f"{', '.join(map(self._describe, self._views)) or 'none'}") from None

    def __setitem__(self, key, value):
        view = self[key]
        if self._replace is not None and (is_compressed(value) or is_compressed(view)):
            self._replace(key, value)
            return
        xp = backend.namespace(view)
        value = backend.to_numpy(value)
        if value.ndim and value.shape != view.shape:
            raise ValueError(f"{self._describe(key)} must have shape {shape_str(view.shape)}, "
                             f"got {shape_str(value.shape)}")
        if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
            raise TypeError(f"{self._describe(key)} must be real numbers, got dtype {value.dtype}")
        if xp is not np:
            value = backend.asarray(np.broadcast_to(value, view.shape), xp, backend.numpy_dtype(view.dtype))
        view[...] = value

    def __iter__(self):
        return iter(self._views)

    def __len__(self):
        return len(self._views)

    def __repr__(self):
        return "{" + ", ".join(f"{self._describe(k)}: {shape_str(v.shape)}" for k, v in self._views.items()) + "}"


def _check_name(name, what):
    if not isinstance(name, str) or not name or "/" in name or ARROW in name:
        raise ValueError(f"{what} name must be a non-empty string without '/' or '{ARROW}', got {name!r}")


def _check_size(size, what):
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{what} size must be a positive integer, got {size!r}")
    return int(size)


def _check_dropout(dropout, name):
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout of layer {name!r} must be a probability in [0, 1), got {dropout!r}")
    return float(dropout)


def _check_delays(delays, key):
    if delays is None:
        return (0,)
    delays = tuple(np.atleast_1d(np.asarray(delays)).tolist())
    if (not delays or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in delays)
            or any(b <= a for a, b in zip(delays, delays[1:]))):
        raise ValueError(f"delays of {weight_label(key)} must be strictly increasing non-negative "
                         f"integers, got {list(delays)}")
    return delays


class Network:
    """A neural network written as its matrices.

    Parameters
    ----------
    dtype : {"float64", "float32"}
        Dtype of every parameter and of all arithmetic.
    seed : int or numpy.random.Generator, optional
        Source of the initial weights of connections made without a weight.
    init : str
        Matrix initialiser for such connections (see :mod:`matnet.init`).

    Attributes
    ----------
    weights, biases : live views of the parameters (see the module docstring)
    theta : the live parameter vector
    compiled : dict
        What the engine derives from the structure (its plan), cleared whenever the
        structure changes.
    feature_names : dict ``name -> list of str``
        Names of the columns of an input or an output layer (e.g. a CSV file's header),
        kept in files and shown by ``explain``, pictures and reports (empty: none).
    compression_errors : dict ``(source, target) -> float``
        For a network made by a :mod:`matnet.compress` conversion: each converted
        weight's relative Frobenius error ``||W - W'|| / ||W||`` against the matrix it
        was converted from, at conversion (empty otherwise; not kept in files).
    quantization : QuantizationReport or None
        For a network made by :func:`matnet.compress.quantize`: what it quantised and
        what that cost (not kept in files).

    Examples
    --------
    >>> import matnet as mn
    >>> net = mn.Network(seed=0)
    >>> net.add_input("x", 2)
    >>> net.add_layer("h", 3, activation="tanh")
    >>> net.add_layer("y", 1, activation="linear")
    >>> net.connect("x", "h"); net.connect("h", "y")
    >>> net.weights["x", "h"].shape
    (3, 2)
    """

    def __init__(self, dtype="float64", seed=None, init="glorot_uniform"):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self._rng = _init.rng(seed)
        self._init = _init.matrix_initializer(init)
        self._inputs = {}
        self._input_dropout = {}
        self._index_inputs = set()
        self._shared = {}
        self._layers = {}
        self._connections = {}
        self._outputs = None
        self._forms = {}
        self.weights = Parameters(weight_label, self._replace_weight)
        self.biases = Parameters(bias_label)
        self._theta = np.zeros(0, self.dtype)
        self.xp = np                                  # the array namespace of the parameters (:meth:`to`)
        self._order = None
        self.compiled = {}
        self.input_scaling = {}
        self.output_scaling = {}
        self.classes = None
        self.training = None
        self.feedback = {}
        self.feature_names = {}
        self.compression_errors = {}
        self.quantization = None

    # -- structure -------------------------------------------------------------------
    @property
    def inputs(self):
        """Read-only mapping ``input name -> size``, in the order added."""
        return MappingProxyType(self._inputs)

    @property
    def layers(self):
        """Read-only mapping ``layer name -> Layer``, in the order added."""
        return MappingProxyType(self._layers)

    @property
    def connections(self):
        """Read-only mapping ``(source, target) -> Connection``, in the order connected."""
        return MappingProxyType(self._connections)

    @property
    def outputs(self):
        """Ordered list of output layers.

        Unless set, the layers that feed no other layer without delay, in
        topological order.
        """
        if self._outputs is not None:
            return list(self._outputs)
        feeding = {c.source for c in self._connections.values()
                   if 0 in c.delays and c.source != c.target}
        return [name for name in self.topological_order() if name not in feeding]

    @outputs.setter
    def outputs(self, names):
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in self._layers:
                raise ValueError(f"output {name!r} is not a layer; layers: {', '.join(self._layers)}")
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"outputs must be distinct layer names, at least one, got {names}")
        self._outputs = names
        self._changed()

    def add_input(self, name, size, dropout=0.0, index=False):
        """Add a named input of ``size`` features; ``dropout`` as in :meth:`add_layer`
        (each connection from the input drops its own values).

        With ``index=True`` the input takes one integer per sample, an index in
        ``0 .. size - 1`` (a user, an item, a word): a connection from it multiplies its
        weight ``(n_out, size)`` by that index's one-hot vector, computed as a column
        gather (an embedding) with a scatter-add gradient; no one-hot matrix is formed.
        """
        _check_name(name, "input")
        self._check_new_name(name)
        size = _check_size(size, f"input {name!r}")
        dropout = _check_dropout(dropout, name)
        if index and dropout:
            raise ValueError(f"index input {name!r} cannot have dropout")
        self._inputs[name] = size
        if dropout:
            self._input_dropout[name] = dropout
        if index:
            self._index_inputs.add(name)
        self._changed()

    @property
    def index_inputs(self):
        """The names of the inputs that take indices (``add_input(..., index=True)``)."""
        return frozenset(self._index_inputs)

    @property
    def input_dropout(self):
        """Read-only mapping ``input name -> dropout probability`` (inputs with dropout only)."""
        return MappingProxyType(self._input_dropout)

    def dropout_of(self, name):
        """The dropout probability of an input or layer ``name`` (0: none)."""
        return self._layers[name].dropout if name in self._layers else self._input_dropout.get(name, 0.0)

    def add_layer(self, name, size, activation="tanh", bias=True, dropout=0.0, combine="sum"):
        """Add a layer of ``size`` neurons with ``activation`` (a name or ``(f, df)``).

        ``dropout`` ``p`` in ``[0, 1)``: in training by a minibatch method, each of the
        layer's activations is zeroed with probability ``p`` (the rest scaled by
        ``1 / (1 - p)``), drawn from ``fit``'s seed; prediction never drops.
        ``combine="product"`` multiplies the incoming contributions element-wise
        instead of summing them (``z = b + Π_c W_c x_c``, sigma-pi units).
        """
        _check_name(name, "layer")
        self._check_new_name(name)
        size = _check_size(size, f"layer {name!r}")
        if combine not in ("sum", "product"):
            raise ValueError(f"combine of layer {name!r} must be 'sum' or 'product', got {combine!r}")
        self._layers[name] = Layer(name, size, _activations.get(activation), bool(bias), _check_dropout(dropout, name),
                                   combine)
        self._relayout({})

    def set_dropout(self, name, dropout):
        """Change the dropout probability of an input or layer ``name`` (0 turns it off)."""
        dropout = _check_dropout(dropout, name)
        if name in self._layers:
            self._layers[name] = replace(self._layers[name], dropout=dropout)
        elif name in self._inputs:
            self._input_dropout.pop(name, None)
            if dropout:
                self._input_dropout[name] = dropout
        else:
            raise ValueError(f"no input or layer {name!r}; they are: {', '.join([*self._inputs, *self._layers])}")
        self._changed()

    def connect(self, source, target, weight=None, delays=None, propagate=None, trainable=True):
        """Connect ``source`` (an input or a layer) into layer ``target``.

        Parameters
        ----------
        weight : array (n_out, k * n_in), optional
            The weight matrix; drawn with the network's initialiser when omitted.
        delays : sequence of int, optional
            Tapped delays, strictly increasing (default ``[0]``, no delay).  A
            connection that closes a cycle must have only delays >= 1.
        propagate : matrix or Propagation, optional
            A graph connection: ``Z += P (X_c @ W.T)`` with ``P`` ``(n_nodes, n_nodes)``
            (SciPy sparse or dense, e.g. :func:`matnet.graphs.normalized_adjacency`) or a
            learned filter (:class:`~matnet.graphs.SpectralFilter`,
            :class:`~matnet.graphs.ChebyshevFilter`, whose parameters join the
            network's).  The rows of every batch are then the graph's nodes, the whole
            graph at once; graph connections take no delays.
        trainable : bool
            False keeps the weight as given in training (e.g. the summing weights of
            ones after a product layer); initialisers leave it alone.
        """
        key = (source, target)
        if source not in self._inputs and source not in self._layers:
            raise ValueError(f"cannot connect {source!r}{ARROW}{target!r}: unknown source {source!r}; "
                             f"inputs and layers: {', '.join([*self._inputs, *self._layers]) or 'none'}")
        if target not in self._layers:
            what = "an input receives no connections" if target in self._inputs else "unknown layer"
            raise ValueError(f"cannot connect {source!r}{ARROW}{target!r}: {what} {target!r}; "
                             f"layers: {', '.join(self._layers) or 'none'}")
        if key in self._connections:
            raise ValueError(f"{weight_label(key)} already exists")
        delays = _check_delays(delays, key)
        if propagate is not None:
            if delays != (0,):
                raise ValueError(f"{weight_label(key)} propagates over the graph's nodes and takes no delays, "
                                 f"got {list(delays)}")
            propagate = _propagation(propagate, self.dtype)
            nodes = {c.propagate.n_nodes for c in self._connections.values() if c.propagate is not None}
            if nodes and propagate.n_nodes not in nodes:
                raise ValueError(f"{weight_label(key)} propagates over {propagate.n_nodes} nodes, but the network's "
                                 f"graph has {nodes.pop()}")
        if source in self._index_inputs and delays != (0,):
            raise ValueError(f"{weight_label(key)} reads the index input {source!r}, which takes no delays")
        connection = Connection(source, target, delays, propagate, bool(trainable))
        if 0 in delays and source in self._layers:
            edges = [c.key for c in self._zero_delay()] + [key]
            try:
                topological_order(self._layers, edges)
            except CycleError as e:
                ring = e.cycle[:-1]
                if source in ring:  # start the named cycle with the new connection
                    ring = ring[ring.index(source):] + ring[:ring.index(source)]
                cycle = ring + ring[:1]
                raise CycleError(cycle, f"{weight_label(key)} with delay 0 would close the cycle "
                                 f"{f' {ARROW} '.join(cycle)}; give it delays >= 1") from None
        shape = (self._layers[target].size, len(delays) * self._source_size(source))
        drawn = None
        if weight is None:
            drawn = self._init(shape, self._rng, self.dtype.type)
        elif is_compressed(weight):
            weight = self._check_form(key, weight, shape)
            self._forms[key] = weight
        else:
            weight = backend.to_numpy(weight)
            if weight.shape != shape:
                raise ValueError(f"{weight_label(key)} must have shape {shape_str(shape)} "
                                 f"({target} has {shape[0]} neurons, {source} sends {shape[1]} values), "
                                 f"got {shape_str(weight.shape)}")
        self._connections[key] = connection
        self._relayout({("W", key): drawn if weight is None else weight})
        if weight is None and source in self._layers and max(delays) > 0:
            _init.stabilize(self, keys=[key])      # a drawn recurrent weight starts with a stable loop

    def _check_form(self, key, form, shape):
        """A copy of a weight representation for ``key``, checked and in this dtype."""
        if tuple(form.shape) != shape:
            raise ValueError(f"{weight_label(key)} must have shape {shape_str(shape)}, got a "
                             f"{form.kind} weight of shape {shape_str(form.shape)}")
        return form.astype(self.dtype) if form.dtype != self.dtype else form.copy()

    def _replace_weight(self, key, value):
        """``net.weights[key] = value`` where the weight's form changes or is not dense."""
        if not is_compressed(value):
            raise TypeError(f"{weight_label(key)} is a {self._forms[key].kind} weight; assign a weight "
                            f"representation (or turn it dense with mn.compress.to_dense)")
        self._forms[key] = self._check_form(key, value, tuple(self.weights[key].shape))
        self._relayout({("W", key): self._forms[key]})

    def incoming(self, layer):
        """Connections into ``layer``, in the order they were made."""
        return [c for c in self._connections.values() if c.target == layer]

    def topological_order(self):
        """Layer names ordered so that every zero-delay connection runs forward."""
        if self._order is None:
            self._order = topological_order(self._layers, [c.key for c in self._zero_delay()])
        return list(self._order)

    @property
    def is_dynamic(self):
        """Whether any connection has a delay other than 0."""
        return any(c.delays != (0,) for c in self._connections.values())

    @property
    def is_graph(self):
        """Whether a connection propagates over the rows of a batch (a graph network:
        its rows are the graph's nodes and depend on each other)."""
        return any(c.propagate is not None for c in self._connections.values())

    @property
    def is_recurrent(self):
        """Whether some layer's past values feed a layer (layer feedback or closed-loop
        output feedback); if not, every delay is on an input and each time step can be
        computed on its own."""
        return any(c.source in self._layers and max(c.delays) > 0 for c in self._connections.values())

    def max_delays(self):
        """``name -> d``: the largest delay each input or layer is read with (0 if none)."""
        out = {name: 0 for name in [*self._inputs, *self._layers]}
        for c in self._connections.values():
            out[c.source] = max(out[c.source], max(c.delays))
        return out

    def size_of(self, name):
        """Number of values an input or layer ``name`` carries."""
        return self._source_size(name)

    def _source_size(self, name):
        return self._inputs[name] if name in self._inputs else self._layers[name].size

    def _zero_delay(self):
        return [c for c in self._connections.values() if 0 in c.delays and c.source in self._layers]

    def _check_new_name(self, name):
        if name in self._inputs or name in self._layers:
            raise ValueError(f"the name {name!r} is already used by an "
                             f"{'input' if name in self._inputs else 'layer'}")

    def _changed(self):
        self._order = None
        self._entries = None
        self.compiled = {}

    # -- parameters ------------------------------------------------------------------
    def layout(self):
        """``[(kind, key, shape)]`` in parameter-vector order: ``("W", (source, target),
        shape)`` and ``("b", layer, (size,))`` (a compressed weight's shape is
        ``(n_params,)``); cached until the structure changes."""
        if getattr(self, "_entries", None) is None:
            self._entries = self._compute_layout()
        return self._entries

    def _compute_layout(self):
        entries = []
        for name in self.topological_order():
            for c in self.incoming(name):
                form = self._forms.get(c.key)
                if ("W", c.key) not in self._shared:
                    entries.append(("W", c.key, (form.n_params,) if form is not None else
                                    (self._layers[name].size, len(c.delays) * self._source_size(c.source))))
                if c.propagate is not None and c.propagate.n_params:
                    entries.append(("P", c.key, (c.propagate.n_params,)))
            if self._layers[name].bias and ("b", name) not in self._shared:
                entries.append(("b", name, (self._layers[name].size,)))
        return entries

    # -- shared parameters -------------------------------------------------------------
    def share(self, key, owner):
        """Make a weight or a bias the same parameter as another's.

        ``key`` and ``owner`` are connections ``(source, target)`` (their weights, of the
        same shape, in any form) or layer names (their biases).  The parameter vector then
        holds it once (under ``owner``, in ``owner``'s form); its gradient and Jacobian
        columns sum over the connections (layers) that use it, as in a recurrent network
        unrolled in time (:func:`matnet.unrolled.unroll`).  The shared value is ``owner``'s.
        """
        kind = "b" if isinstance(key, str) else "W"
        if (kind == "b") != isinstance(owner, str):
            raise ValueError(f"share a weight with a weight and a bias with a bias, got {key!r} and {owner!r}")
        label = bias_label if kind == "b" else weight_label
        mapping = self.biases if kind == "b" else self.weights
        for k in (key, owner):
            mapping[k]                                   # a clear KeyError for an unknown one
        root = self._shared.get((kind, owner), (kind, owner))
        if root == (kind, key):
            raise ValueError(f"{label(key)} cannot share its own parameter")
        if mapping[key].shape != mapping[root[1]].shape:
            raise ValueError(f"{label(key)} has shape {shape_str(mapping[key].shape)}, {label(root[1])} "
                             f"{shape_str(mapping[root[1]].shape)}: shared parameters need the same shape")
        for entry, held in list(self._shared.items()):   # what key held now comes from the root
            if held == (kind, key):
                self._shared[entry] = root
        self._shared[(kind, key)] = root
        if kind == "W":
            self._forms.pop(key, None)                    # it is the owner's weight, in the owner's form
        self._relayout({})

    @property
    def shared(self):
        """Read-only mapping ``("W", (source, target))`` or ``("b", layer)`` -> the entry
        that holds its parameter (:meth:`share`)."""
        return MappingProxyType(self._shared)

    def _relayout(self, new_values):
        """Lay the parameter vector out for the current structure, keeping old values."""
        self._changed()
        old = {("W", k): v for k, v in self.weights._views.items()}
        old.update({("b", k): v for k, v in self.biases._views.items()})
        old.update(new_values)
        xp = self.xp
        self._check_library(xp, moving=False)
        self._theta = xp.zeros(sum(int(np.prod(shape)) for _, _, shape in self.layout()),
                               dtype=backend.dtype_of(xp, self.dtype))
        weights, biases = self.views(self._theta)
        for key, view in self.filter_views(self._theta).items():
            self._connections[key].propagate.bind(view)      # a filter's parameters live in theta
        for kind, views in (("W", weights), ("b", biases)):
            for key, view in views.items():
                if kind == "W" and key in self._forms:
                    self._forms[key].bind(view)        # its parameters now live in theta
                    weights[key] = self._forms[key]
                elif (kind, key) in old:
                    view[...] = backend.asarray(old[(kind, key)], xp, self.dtype)
        self.weights._views = weights
        self.biases._views = biases
        self.weights._aliases = {k[1]: v[1] for k, v in self._shared.items() if k[0] == "W"}
        self.biases._aliases = {k[1]: v[1] for k, v in self._shared.items() if k[0] == "b"}

    def views(self, flat):
        """Split a flat vector of length ``n_params`` (parameters, a gradient, ...) into
        views ``(weights, biases)`` shaped and keyed like ``net.weights``/``net.biases``
        (a weight held in a compressed form gets the flat slice of its parameters)."""
        weights, biases, start = {}, {}, 0
        xp = backend.namespace(flat)
        for kind, key, shape in self.layout():
            size = int(np.prod(shape))
            if kind != "P":
                (weights if kind == "W" else biases)[key] = xp.reshape(flat[start:start + size], shape)
            start += size
        return weights, biases

    def filter_views(self, flat):
        """Views ``(source, target) -> (n,)`` of ``flat`` at the parameters of the
        learned propagations (:class:`~matnet.graphs.SpectralFilter`, ...)."""
        views, start = {}, 0
        for kind, key, shape in self.layout():
            size = int(np.prod(shape))
            if kind == "P":
                views[key] = flat[start:start + size]
            start += size
        return views

    @property
    def theta(self):
        """The live parameter vector (order in the module docstring): writing into it
        changes the network; optimisers update it in place."""
        return self._theta

    @property
    def n_params(self):
        """Number of weights and biases."""
        return self._theta.size

    def get_flat(self):
        """A copy of all parameters as one vector (order in the module docstring), an
        array of the network's library (:meth:`to`)."""
        return backend.copy(self._theta)

    def set_flat(self, theta):
        """Set all parameters from one vector of length ``n_params``."""
        theta = backend.asarray(theta, self.xp)
        if tuple(theta.shape) != tuple(self._theta.shape):
            raise ValueError(f"flat parameter vector must have shape ({self.n_params},), "
                             f"got {shape_str(theta.shape)}")
        self._theta[...] = theta

    # -- array libraries -------------------------------------------------------------
    @property
    def library(self):
        """The array library the parameters live in and the network computes with:
        ``"numpy"`` (the default), ``"cupy"`` or ``"array_api_strict"``."""
        return backend.name_of(self.xp)

    def to(self, library):
        """Move the parameters to the array library ``library`` (one of
        :data:`matnet.backend.LIBRARIES`) and compute there from now on; returns the network.

        The parameter vector stays one contiguous array, so ``net.weights`` and
        ``net.biases`` stay views of it.  Data given to the network must then be arrays
        of the same library (``net(X)``, ``fit``); files always store NumPy arrays.
        ``Sparse`` and ``LowRank`` weights move too; MPO and quantised weights, graph
        propagations and index inputs compute on NumPy only.
        """
        xp = backend.library(library)
        if backend.name_of(xp) == self.library:
            return self
        self._check_library(xp)
        self.xp = xp
        self._relayout({})                 # the same values, in one vector of the library
        return self

    def _check_library(self, xp, moving=True):
        """A clear error for what does not compute in a library other than NumPy (when
        moving the network there, or changing a network that is there)."""
        if xp is np:
            return
        name = backend.name_of(xp)
        for key, form in self._forms.items():
            if form.kind in MOVABLE_FORMS:
                continue
            fix = (f"turn it dense (mn.compress.to_dense) before moving the network to {name}" if moving else
                   "bring the network to numpy first (net.to('numpy'))")
            raise ValueError(f"{weight_label(key)} is a {form.kind} weight, which computes on numpy only; {fix}")
        for c in self._connections.values():
            if c.propagate is not None:
                raise ValueError(f"{c.label} propagates over a graph, which computes on numpy only, not {name}")
        if self._index_inputs:
            raise ValueError(f"index input {sorted(self._index_inputs)[0]!r} (an embedding) computes on numpy only, "
                             f"not {name}")

    # -- copies ----------------------------------------------------------------------
    def copy(self, dtype=None):
        """A deep copy (optionally with another dtype); the copy shares nothing."""
        return self.rebuild(dict(self._inputs), [(c, self.weights[c.key]) for c in self._connections.values()],
                             dtype=dtype)

    def rebuild(self, inputs, connections, dtype=None):
        """A new network with this one's layers, biases, outputs, scaling and labels,
        and the given inputs and ``[(Connection, W)]`` (in parameter order)."""
        net = Network(dtype=dtype or self.dtype, seed=copy.deepcopy(self._rng))   # draws go on alike
        for name, size in inputs.items():
            net.add_input(name, size, self._input_dropout.get(name, 0.0), name in self._index_inputs)
        for layer in self._layers.values():
            net.add_layer(layer.name, layer.size, layer.activation, layer.bias, layer.dropout, layer.combine)
        for c, W in connections:
            net.connect(c.source, c.target, W, delays=c.delays, propagate=c.propagate, trainable=c.trainable)
        for name, b in self.biases.items():
            net.biases[name] = b
        for (kind, key), (_, owner) in self._shared.items():
            present = net.layers if kind == "b" else net.connections
            if key in present and owner in present:
                net.share(key, owner)
        if self._outputs is not None:
            net.outputs = self._outputs
        net.input_scaling = {k: v.astype(net.dtype) for k, v in self.input_scaling.items() if k in inputs}
        net.output_scaling = {k: v.astype(net.dtype) for k, v in self.output_scaling.items()}
        net.classes = None if self.classes is None else list(self.classes)
        net.training = None if self.training is None else dict(self.training)
        net.feedback = dict(self.feedback)
        net.feature_names = {k: list(v) for k, v in self.feature_names.items() if k in inputs or k in net.layers}
        keys = {c.key for c, _ in connections}
        net.compression_errors = {k: e for k, e in self.compression_errors.items() if k in keys}
        return net.to(self.library)

    # -- NARX: open and closed loop ---------------------------------------------------
    def closed_loop(self):
        """The closed-loop (parallel) form of an open-loop NARX network.

        Every connection from a feedback input (``net.feedback``: input -> output
        layer) becomes the same connection, with the same weight matrix and delays,
        from the output layer itself, so the network feeds its own predictions back.
        The feedback input's scaling must equal the output's (``fit`` makes it so).
        """
        if not self.feedback or not any(name in self._inputs for name in self.feedback):
            raise ValueError("closed_loop needs an open-loop NARX network (net.feedback maps a feedback "
                             "input to an output layer)")
        for name, output in self.feedback.items():
            mine, theirs = self.input_scaling.get(name), self.output_scaling.get(output)
            if (mine is None) != (theirs is None) or (mine is not None and not (
                    np.array_equal(mine.scale, theirs.scale) and np.array_equal(mine.shift, theirs.shift))):
                raise ValueError(f"feedback input {name!r} is scaled differently from output {output!r}; "
                                 "closing the loop would change the network")
        connections = []
        for c in self._connections.values():
            W = self.weights[c.key]
            if c.source in self.feedback:
                if 0 in c.delays:
                    raise ValueError(f"{c.label} has delay 0: closing the loop would make a cycle without delay")
                c = Connection(self.feedback[c.source], c.target, c.delays)
            connections.append((c, W))
        inputs = {k: v for k, v in self._inputs.items() if k not in self.feedback}
        return self.rebuild(inputs, connections)

    def _feedback_input(self, output):
        return next(k for k, v in self.feedback.items() if v == output)

    def open_loop(self):
        """The open-loop (series-parallel) form of a closed-loop NARX network: the
        inverse of :meth:`closed_loop`; feedback inputs get the outputs' scaling."""
        outputs = set(self.feedback.values())
        if not self.feedback or any(name in self._inputs for name in self.feedback):
            raise ValueError("open_loop needs a closed-loop NARX network (made by closed_loop or narx)")
        inputs = dict(self._inputs)                      # feedback inputs come last
        inputs.update({fb: self._layers[output].size for fb, output in self.feedback.items()})
        connections = []
        for c in self._connections.values():
            W = self.weights[c.key]
            if c.source in outputs and min(c.delays) > 0:
                c = Connection(self._feedback_input(c.source), c.target, c.delays)
            connections.append((c, W))
        net = self.rebuild(inputs, connections)
        for fb, output in self.feedback.items():
            if output in self.output_scaling:
                net.input_scaling[fb] = self.output_scaling[output].astype(net.dtype)
        return net

    def astype(self, dtype):
        """A copy whose parameters and arithmetic use ``dtype``."""
        return self.copy(dtype=dtype)

    # -- builders --------------------------------------------------------------------
    @classmethod
    def from_matrices(cls, weights, biases=None, activations=None, dtype=None):
        """A chain ``x → h1 → ... → y`` from weight matrices given by hand.

        Parameters
        ----------
        weights : sequence of arrays
            ``W_k`` of shape ``(n_k, n_{k-1})``; consecutive shapes must chain.
        biases : sequence of arrays or None, optional
            ``b_k`` of shape ``(n_k,)``; ``None`` (or a ``None`` entry) means no bias.
        activations : str, pair or sequence, optional
            One for every layer, or one for all; default ``tanh`` for hidden layers
            and ``linear`` for the output layer.
        dtype : optional
            Default float32 when every matrix is float32, else float64.
        """
        weights = [np.asarray(W) for W in weights]
        if not weights:
            raise ValueError("from_matrices needs at least one weight matrix")
        for k, W in enumerate(weights):
            if W.ndim != 2:
                raise ValueError(f"weights[{k}] must be a matrix (n_out, n_in), got shape {shape_str(W.shape)}")
            if k and W.shape[1] != weights[k - 1].shape[0]:
                raise ValueError(
                    f"weights[{k}] has shape {shape_str(W.shape)} but weights[{k - 1}] has shape "
                    f"{shape_str(weights[k - 1].shape)}: weights[{k}] needs {weights[k - 1].shape[0]} "
                    f"columns, one per output of weights[{k - 1}]")
        n = len(weights)
        biases = [None] * n if biases is None else list(biases)
        if len(biases) != n:
            raise ValueError(f"got {n} weight matrices but {len(biases)} biases")
        acts = _chain_activations(activations, n)
        if dtype is None:
            arrays = weights + [np.asarray(b) for b in biases if b is not None]
            dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
        net = cls(dtype=dtype)
        names = chain_names(n)
        net.add_input(names[0], weights[0].shape[1])
        for k, (W, b) in enumerate(zip(weights, biases)):
            net.add_layer(names[k + 1], W.shape[0], acts[k], bias=b is not None)
            net.connect(names[k], names[k + 1], W)
            if b is not None:
                b = np.asarray(b)
                if b.shape not in ((W.shape[0],), (W.shape[0], 1)):
                    raise ValueError(f"biases[{k}] must have shape ({W.shape[0]},) to match "
                                     f"weights[{k}] {shape_str(W.shape)}, got {shape_str(b.shape)}")
                net.biases[names[k + 1]] = b.reshape(-1)
        return net

    # -- display ---------------------------------------------------------------------
    def __repr__(self):
        layers = ", ".join(f"{l.name}: {l.size} {l.activation.name}" for l in self._layers.values())
        inputs = ", ".join(f"{k}: {v}" for k, v in self._inputs.items())
        return f"Network(inputs=[{inputs}], layers=[{layers}], outputs={self.outputs}, n_params={self.n_params})"

    def summary(self):
        """A plain-text table of inputs, layers, connections and parameter counts."""
        rows = [f"{'input':<7} {name:<12} size {size}"
                f"{f'  dropout {self._input_dropout[name]:g}' if name in self._input_dropout else ''}"
                f"{'  (indices)' if name in self._index_inputs else ''}"
                for name, size in self._inputs.items()]
        for name in self.topological_order():
            layer = self._layers[name]
            mark = "  (output)" if name in self.outputs else ""
            rows.append(f"{'layer':<7} {name:<12} size {layer.size:<5} {layer.activation.name:<10} "
                        f"bias {'yes' if layer.bias else 'no'}"
                        f"{f'  dropout {layer.dropout:g}' if layer.dropout else ''}"
                        f"{'  product' if layer.combine == 'product' else ''}{mark}")
        for c in self._connections.values():
            delays = "" if c.delays == (0,) else f"  delays {list(c.delays)}"
            W = self.weights[c.key]
            form = f"  {W.kind}, {W.n_params} parameters" if is_compressed(W) else ""
            graph = "" if c.propagate is None else f"  propagated: {c.propagate.describe()}"
            fixed = "" if c.trainable else "  fixed"
            held = self._shared.get(("W", c.key))
            shared = f"  = {weight_label(held[1])}" if held else ""
            rows.append(f"{'weight':<7} {c.label:<20} {shape_str(W.shape)}{delays}{form}{graph}{fixed}{shared}")
        rows.append(f"{self.n_params} parameters, {self.dtype}")
        return "\n".join(rows)


def chain_names(n_layers):
    """``["x", "h1", ..., "h{n-1}", "y"]``: the names of a chain with ``n_layers`` layers."""
    return ["x", *[f"h{k}" for k in range(1, n_layers)], "y"]


def _chain_activations(activations, n_layers):
    if activations is None:
        return ["tanh"] * (n_layers - 1) + ["linear"]
    if isinstance(activations, (str, _activations.Activation)) or (
            isinstance(activations, tuple) and len(activations) == 2 and all(map(callable, activations))):
        return [activations] * n_layers
    activations = list(activations)
    if len(activations) != n_layers:
        raise ValueError(f"got {len(activations)} activations for {n_layers} layers")
    return activations


def mlp(sizes, activation="tanh", output_activation="linear", bias=True, init="auto",
        seed=None, dtype="float64"):
    """A multilayer perceptron ``x → h1 → ... → y``.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_inputs, n_hidden_1, ..., n_outputs]``, at least two entries.
    activation : str or pair
        Activation of the hidden layers.
    output_activation : str or pair
        Activation of the output layer ``y``.
    bias : bool
        Whether layers have biases.
    init : str
        ``"auto"`` (Nguyen–Widrow, as MATLAB's ``fitnet``, when the hidden activation
        saturates — tanh, sigmoid, satlin —; He for relu-like ones; Glorot
        otherwise), ``"glorot_uniform"``, ``"glorot_normal"``, ``"he"``,
        ``"he_uniform"``, ``"uniform"`` or ``"nguyen_widrow"`` (see :mod:`matnet.init`).
    seed : int or numpy.random.Generator, optional
    dtype : {"float64", "float32"}
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {sizes}")
    net = Network(dtype=dtype, seed=seed)          # later connects draw from the same stream
    names = chain_names(len(sizes) - 1)
    net.add_input(names[0], sizes[0])
    for k, size in enumerate(sizes[1:], start=1):
        last = k == len(sizes) - 1
        net.add_layer(names[k], size, output_activation if last else activation, bias=bias)
        net.connect(names[k - 1], names[k], weight=np.zeros((size, sizes[k - 1])))
    _init.initialize(net, _auto_init(init, activation), net._rng)
    return net


def _auto_init(init, activation):
    """``"auto"``: Nguyen–Widrow for saturating activations, He for relu-like, else Glorot."""
    if init != "auto":
        return init
    hidden = _activations.get(activation)
    lo, hi = hidden.active_range
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        return "nguyen_widrow"
    return "he" if hidden.name in ("relu", "leaky_relu", "elu") else "glorot_uniform"


def _delays(spec, what, allow_zero=True):
    """Delays from an int ``d`` (meaning ``1..d``), a sequence or a range."""
    delays = list(range(1, spec + 1)) if isinstance(spec, (int, np.integer)) else list(spec)
    if not delays or (not allow_zero and min(delays) < 1):
        raise ValueError(f"{what} must be {'delays >= 1' if not allow_zero else 'delays'}, got {spec!r}")
    return delays


def timedelay(input_delays, hidden_sizes, n_inputs=1, n_outputs=1, activation="tanh",
              output_activation="linear", init="auto", seed=None, dtype="float64"):
    """A time-delay network (MATLAB ``timedelaynet``): tapped delays on the input.

    Parameters
    ----------
    input_delays : int or sequence of int
        Delays of the input ``x`` into ``h1`` (an int ``d`` means ``1..d``; include 0
        to see the current input).
    hidden_sizes : sequence of int
    """
    return _builder({"x": (n_inputs, _delays(input_delays, "input_delays"))}, hidden_sizes, n_outputs,
                    activation, output_activation, None, init, seed, dtype)


def layer_recurrent(layer_delays, hidden_sizes, n_inputs=1, n_outputs=1, activation="tanh",
                    output_activation="linear", init="auto", seed=None, dtype="float64"):
    """A layer-recurrent (Elman) network (MATLAB ``layrecnet``): each hidden layer
    feeds its own past values back with ``layer_delays`` (>= 1)."""
    return _builder({"x": (n_inputs, [0])}, hidden_sizes, n_outputs, activation, output_activation,
                    _delays(layer_delays, "layer_delays", allow_zero=False), init, seed, dtype)


def narx(input_delays, feedback_delays, hidden_sizes, n_inputs=1, n_outputs=1, activation="tanh",
         output_activation="linear", loop="open", init="auto", seed=None, dtype="float64"):
    """A NARX network (MATLAB ``narxnet``): ``y(t) = f(x(t-d), ..., y(t-d), ...)``.

    In open loop (series-parallel, the default) the past outputs are an input,
    ``y_fb``, fed with the measured series; ``net.closed_loop()`` feeds the network's
    own output back instead, with the same weights.

    Parameters
    ----------
    input_delays : int or sequence of int
        Delays of the exogenous input ``x`` (an int ``d`` means ``1..d``; may include 0).
    feedback_delays : int or sequence of int
        Delays (>= 1) of the output fed back.
    hidden_sizes : sequence of int
    loop : {"open", "closed"}
    """
    inputs = {"x": (n_inputs, _delays(input_delays, "input_delays")),
              "y_fb": (n_outputs, _delays(feedback_delays, "feedback_delays", allow_zero=False))}
    net = _builder(inputs, hidden_sizes, n_outputs, activation, output_activation, None, init, seed, dtype)
    net.feedback = {"y_fb": "y"}
    return _loop(net, loop)


def nar(feedback_delays, hidden_sizes, n_outputs=1, activation="tanh", output_activation="linear",
        loop="open", init="auto", seed=None, dtype="float64"):
    """A NAR network (MATLAB ``narnet``): ``y(t) = f(y(t-1), ..., y(t-d))``, NARX
    without an exogenous input."""
    inputs = {"y_fb": (n_outputs, _delays(feedback_delays, "feedback_delays", allow_zero=False))}
    net = _builder(inputs, hidden_sizes, n_outputs, activation, output_activation, None, init, seed, dtype)
    net.feedback = {"y_fb": "y"}
    return _loop(net, loop)


def _loop(net, loop):
    if loop not in ("open", "closed"):
        raise ValueError(f"loop must be 'open' or 'closed', got {loop!r}")
    if loop == "open":
        return net
    closed = net.closed_loop()
    _init.stabilize(closed)         # a new closed loop starts stable (trained ones are closed as they are)
    return closed


def _builder(inputs, hidden_sizes, n_outputs, activation, output_activation, recurrent, init, seed, dtype):
    """Inputs ``name -> (size, delays)`` into ``h1``, then ``h1 → ... → y``."""
    hidden_sizes = [hidden_sizes] if isinstance(hidden_sizes, (int, np.integer)) else list(hidden_sizes)
    net = Network(dtype=dtype, seed=seed)          # later connects draw from the same stream
    names = chain_names(len(hidden_sizes) + 1)[1:]
    sizes = [*hidden_sizes, n_outputs]
    for name, (size, _) in inputs.items():
        net.add_input(name, size)
    for name, size in zip(names, sizes):
        net.add_layer(name, size, output_activation if name == "y" else activation)
    for name, (size, delays) in inputs.items():
        net.connect(name, names[0], np.zeros((sizes[0], size * len(delays))), delays=delays)
    for k in range(1, len(names)):
        net.connect(names[k - 1], names[k], np.zeros((sizes[k], sizes[k - 1])))
    for name, size in zip(names[:-1], sizes[:-1]):
        if recurrent:
            net.connect(name, name, np.zeros((size, size * len(recurrent))), delays=recurrent)
    _init.initialize(net, _auto_init(init, activation), net._rng)
    return net
