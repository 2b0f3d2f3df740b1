"""Training on Dask arrays chunked by rows: the engine runs where the chunks live.

``fit(net, X, T, ...)`` with Dask arrays (``X`` or ``T``; NumPy parts are cut into the
same chunks) trains a static network without gathering the data on the client.  It is
not a second engine: each chunk's computation builds the ordinary in-memory objects on
the worker that holds the chunk (:func:`~matnet.train.splits.static_data`,
:func:`~matnet.train.splits.whole_split`, a :class:`~matnet.train.problem.Problem` of
the chunk) and calls their methods; only small arrays come back and are summed by a
Dask tree reduction (``dask.array`` ``sum``), one ``compute`` per pass:

* Levenberg–Marquardt and Bayesian regularisation: per chunk the upper triangle of
  ``[J e]ᵀ[J e]`` (``JᵀJ``, ``Jᵀe``, ``eᵀe``; ``(P+1)(P+2)/2`` numbers) and the
  metric's sums; the damping trials' sums of squared errors the same way (one number
  per chunk).  The client solves the ``P × P`` system.
* Full-batch methods (rprop, lbfgs, cg, scg), validation and test losses: per chunk
  the loss numerator, its normalizer (:func:`~matnet.losses.normalizer`), the gradient
  (``P`` numbers) and the metric's sums; the L2 penalty is added once, on the client.
* Minibatch methods (sgd, adam, rmsprop) stream the data through the client: every
  epoch the training chunks come in random order, **one chunk at a time** is brought
  to the client, its rows are shuffled and cut into batches.

Division is by **whole chunks of rows**: ``division=(train, val, test)`` fractions
(default ``(0.7, 0.15, 0.15)``) assign chunks at random (not stratified by class), so
the sets' sizes follow the chunks'; ``None`` trains on every chunk.  Explicit index
sets, ``validation=``, other division modes and ``initial=`` are refused.  The scaling
is fitted on the training chunks by Dask reductions (only per-column statistics come to
the client), with the formulas of :mod:`matnet.data.scaling`.  Class labels are
encoded with the classes found on the cluster.

Only static networks (no delays, no feedback, no graph connections, no dropout, no
index inputs, on NumPy) train so.  The network travels to the workers as its model file
(:mod:`matnet.io`, so custom activations cannot), once per process and fit; the
parameters go with every task as a small array.  Data that is expensive to produce
should be persisted on the cluster first (``X = X.persist()``): every pass reads it.
Works with any Dask scheduler: a ``distributed`` client when one is active (its workers
need matnet installed), else the default (threads, in this process).
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from .. import losses as _losses
from .._format import shape_str
from ..backend import is_dask, is_numpy
from ..backprop import add_l2
from ..data import divide, encode_labels
from ..data.scaling import minmax_from, standard_from
from ..io import load, save
from ..simulate import plan
from .splits import static_data, whole_split
from .problem import Problem

__all__ = ["ChunkedSplit", "ChunkedProblem", "ChunkedEquations", "chunked_splits"]

#: Numbers a chunk returns besides its sums: the metric's (:class:`~matnet.losses.Metric`).
METRIC_SUMS = 6


@dataclass
class ChunkedSplit:
    """The row chunks of Dask data that form one split, in data units.

    Attributes
    ----------
    inputs : dict ``name -> dask array (rows, n)``
    targets : dask array ``(rows, K)``, all outputs side by side (class labels encoded)
    weight : dask array ``(rows, 1)`` or None, the sample weights
    chunks : int ndarray, the indices of its chunks among the data's row chunks
    n : int, rows
    total_weight : float, the rows' weights summed (``n`` without weights)
    """

    inputs: dict
    targets: object
    weight: object
    chunks: np.ndarray
    n: int
    total_weight: float
    states = {}
    mask = None

    @property
    def shape(self):
        return (self.n, 1)

    @property
    def arrays(self):
        """The arrays a chunk's task reads, in the order of its blocks."""
        return [*self.inputs.values(), self.targets] + ([] if self.weight is None else [self.weight])

    @property
    def chunk_rows(self):
        return self.targets.chunks[0]


# -- the network on the workers ------------------------------------------------------

@dataclass(frozen=True)
class _Model:
    """A network as the bytes of its model file: what a task rebuilds it from."""

    data: bytes
    digest: str

    @classmethod
    def of(cls, net):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "net.npz")
            try:
                save(net, path)
            except ValueError as e:
                raise ValueError(f"training on Dask arrays sends the network to the workers as its model file: {e}"
                                 ) from None
            with open(path, "rb") as f:
                data = f.read()
        return cls(data, hashlib.sha256(data).hexdigest())

    def load(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "net.npz")
            with open(path, "wb") as f:
                f.write(self.data)
            return load(path)


_IDLE = {}                      # model digest -> networks no task is using (in this process)
_IDLE_LOCK = threading.Lock()
_KEEP = 4                       # models kept per process (the latest fits')


@contextmanager
def _borrowed(model):
    """A network of ``model`` for one task alone (tasks of one process share idle ones)."""
    with _IDLE_LOCK:
        idle = _IDLE.get(model.digest)
        net = idle.pop() if idle else None
    if net is None:
        net = model.load()
    try:
        yield net
    finally:
        with _IDLE_LOCK:
            _IDLE[model.digest] = _IDLE.pop(model.digest, []) + [net]      # the latest last
            while len(_IDLE) > _KEEP:
                del _IDLE[next(iter(_IDLE))]


# -- one chunk's work (on the worker) ----------------------------------------------

@dataclass(frozen=True)
class _Job:
    """What every chunk's task of one pass computes, and at which parameters."""

    kind: str                   # "normal", "sse", "value" or "gradient"
    model: _Model
    theta: np.ndarray
    loss: str
    metric: str
    inputs: tuple               # input names, in the order of the blocks
    weighted: bool
    block_size: int | None = None


def _chunk_data(net, blocks, inputs, weighted):
    """:class:`~matnet.train.splits.Data` of one chunk's blocks (data units)."""
    X = dict(zip(inputs, blocks))
    t = blocks[len(inputs)]
    ends = np.cumsum([net.layers[o].size for o in net.outputs])
    T = {o: t[:, end - net.layers[o].size:end] for o, end in zip(net.outputs, ends)}
    return static_data(net, X, T, blocks[len(inputs) + 1][:, 0] if weighted else None)


def _chunk_problem(net, data, loss, metric, l2=0.0, training=False):
    """The :class:`Problem` whose training split is all of ``data``."""
    return Problem(net, {"train": whole_split(net, data), "val": None, "test": None}, loss, l2, metric,
                   training=training)


def _normalizer(problem):
    split = problem.train
    weight = split.n if split.weight is None else float(np.sum(split.weight))
    return _losses.normalizer(problem.loss, weight, split.targets_data.shape[1])


def _normal_task(problem, job):
    metric = problem.fresh_metric()
    JtJ, Jte, sse = problem.normal_equations(job.block_size).compute(metric)
    P = JtJ.shape[0]
    M = np.empty((P + 1, P + 1))
    M[:P, :P], M[:P, P], M[P, P] = JtJ, Jte, sse
    return np.concatenate([M[np.triu_indices(P + 1)], metric.sums])


def _sse_task(problem, job):
    return np.array([problem.normal_equations(job.block_size).sse()])


def _value_task(problem, job):
    metric = problem.fresh_metric()
    value, _ = problem.evaluate(need_gradient=False, metric=metric)
    norm = _normalizer(problem)
    return np.concatenate([[value * norm, norm], metric.sums])


def _gradient_task(problem, job):
    metric = problem.fresh_metric()
    value, grad = problem.evaluate(metric=metric)
    norm = _normalizer(problem)
    return np.concatenate([[value * norm, norm], grad.astype(np.float64) * norm, metric.sums])


_TASKS = {"normal": _normal_task, "sse": _sse_task, "value": _value_task, "gradient": _gradient_task}


def _chunk_task(*blocks, job):
    """One chunk's numbers for ``job`` as a ``(1, Q)`` float64 block."""
    with _borrowed(job.model) as net, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        net.theta[...] = job.theta
        problem = _chunk_problem(net, _chunk_data(net, blocks, job.inputs, job.weighted), job.loss, job.metric)
        return _TASKS[job.kind](problem, job)[None, :]


# -- the problem (on the client) -----------------------------------------------------

def _width(kind, P):
    return {"normal": (P + 1) * (P + 2) // 2 + METRIC_SUMS, "sse": 1, "value": 2 + METRIC_SUMS,
            "gradient": 2 + P + METRIC_SUMS}[kind]


class ChunkedProblem(Problem):
    """A :class:`~matnet.train.problem.Problem` of :class:`ChunkedSplit` splits: every
    pass maps over a split's chunks where they live and sums small arrays (see the
    module docstring).  Same interface, and the in-memory problem's results on the
    same rows to rounding."""

    def __init__(self, net, splits, loss, l2, metric, dropout=None, training=True):
        super().__init__(net, splits, loss, l2, metric, dropout, training)
        self.model = _Model.of(net)
        self.training = training
        self._local = None          # the Problem of the chunk a minibatch stream is on
        self._scored = {}           # split -> (parameters, sums) computed with another split's

    def summed(self, kind, split, block_size=None):
        """The lazy sum over ``split``'s chunks of their ``kind`` numbers, ``(Q,)``:
        one ``(1, Q)`` block per chunk, tree-reduced."""
        job = _Job(kind, self.model, self.theta.copy(), self.loss, self.metric, tuple(split.inputs),
                   split.weight is not None, block_size)
        width = _width(kind, self.theta.size)
        parts = da.map_blocks(_chunk_task, *split.arrays, job=job, dtype=np.float64, meta=np.empty((0, 0)),
                              chunks=((1,) * len(split.chunks), (width,)))
        return parts.sum(axis=0)

    def reduce(self, kind, split, block_size=None):
        """:meth:`summed`, computed."""
        return self.summed(kind, split, block_size).compute()

    def _combine(self, sums, metric):
        """``(loss, sums after the normalizer)`` of summed value or gradient numbers."""
        if metric is not None:
            metric.sums += sums[-METRIC_SUMS:]
        scale = 1.0 if self.loss == "sse" else 1.0 / sums[1]
        return float(sums[0] * scale), sums[2:-METRIC_SUMS] * scale

    def evaluate(self, idx=None, need_gradient=True, metric=None):
        """``(loss, gradient)`` on the training chunks (L2 included), or on the rows
        ``idx`` of the chunk a minibatch stream has brought to the client."""
        if idx is not None:
            return self._local.evaluate(idx, need_gradient, metric)
        if not need_gradient:
            value, _ = self._combine(self.reduce("value", self.train), metric)
            return add_l2(self.net, self.l2, value)
        value, grad = self._combine(self.reduce("gradient", self.train), metric)
        self.grad[...] = grad
        if self.frozen is not None:
            self.grad[self.frozen] = 0
        return add_l2(self.net, self.l2, value, self.grad)

    def scores(self, name):
        """``(loss, metric)`` of the split ``name``; NaN when it is empty.  The
        validation and test splits are evaluated together, in one ``compute``."""
        if self.splits.get(name) is None or self.splits[name].n == 0:
            return math.nan, math.nan
        key = self.theta.tobytes()
        if self._scored.get(name, (None,))[0] != key:
            names = list(dict.fromkeys([name] + [k for k in ("val", "test") if self.splits.get(k) is not None
                                                 and self.splits[k].n]))
            sums = dask.compute(*(self.summed("value", self.splits[k]) for k in names))
            self._scored = {k: (key, s) for k, s in zip(names, sums)}
        metric = self.fresh_metric()
        value, _ = self._combine(self._scored.pop(name)[1], metric)
        return value, metric.value()

    def batches(self, batch_size, rng):
        """Shuffled index batches of the training chunks, streamed one chunk at a time
        (see :class:`_Stream`); :meth:`evaluate` takes them."""
        return _Stream(self, batch_size, rng)

    def load_chunk(self, k):
        """Bring the ``k``-th training chunk to the client for minibatches; its rows."""
        blocks = dask.compute(*(a.blocks[int(k)] for a in self.train.arrays))
        data = _chunk_data(self.net, blocks, tuple(self.train.inputs), self.train.weight is not None)
        self._local = _chunk_problem(self.net, data, self.loss, self.metric, self.l2, self.training)
        return self._local.n

    def normal_equations(self, block_size=None, memory_reduction=None):
        return ChunkedEquations(self, block_size, memory_reduction)


class _Stream:
    """Minibatches of one epoch: the training chunks in random order, each brought to
    the client once, its rows shuffled and cut into batches of ``batch_size``."""

    def __init__(self, problem, batch_size, rng):
        self.problem, self.batch_size, self.rng = problem, batch_size, rng
        self.order = rng.permutation(len(problem.train.chunks))

    def __len__(self):
        return sum(math.ceil(rows / self.batch_size) for rows in self.problem.train.chunk_rows)

    def __iter__(self):
        for k in self.order:
            rows = self.problem.load_chunk(k)
            perm = self.rng.permutation(rows)
            for start in range(0, rows, self.batch_size):
                yield perm[start:start + self.batch_size]


class ChunkedEquations:
    """``JᵀJ``, ``Jᵀe`` and the sum of squared errors of a :class:`ChunkedProblem`'s
    training chunks, as :class:`~matnet.train.problem.NormalEquations` gives them
    (``block_size`` rows of ``J`` at a time on a worker; ``memory_reduction=m``:
    blocks of ``n_train / m`` rows)."""

    def __init__(self, problem, block_size=None, memory_reduction=None):
        self.problem = problem
        split = problem.train
        if block_size is not None and memory_reduction is not None:
            raise ValueError("give block_size or memory_reduction, not both")
        if memory_reduction is not None:
            if int(memory_reduction) < 1:
                raise ValueError(f"memory_reduction must be a positive integer, got {memory_reduction}")
            block_size = math.ceil(split.n / int(memory_reduction))
        elif block_size is not None and int(block_size) < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size}")
        self.block_size = None if block_size is None else int(block_size)
        self.n_errors = sum(problem.net.layers[o].size for o in problem.net.outputs) * split.total_weight

    def compute(self, metric=None):
        """``(JᵀJ, Jᵀe, sse)`` at the current parameters (float64), one ``compute``."""
        problem = self.problem
        sums = problem.reduce("normal", problem.train, self.block_size)
        P = problem.theta.size
        M = np.empty((P + 1, P + 1))
        upper = np.triu_indices(P + 1)
        M[upper] = sums[:-METRIC_SUMS]
        M.T[upper] = sums[:-METRIC_SUMS]
        if metric is not None:
            metric.sums += sums[-METRIC_SUMS:]
        if problem.frozen is not None:              # a step never moves weights that are not trainable
            f = np.flatnonzero(problem.frozen)
            M[f, :], M[:, f] = 0, 0
            M[f, f] = 1
        return M[:P, :P], M[:P, P].copy(), float(M[P, P])

    def sse(self):
        """Sum of squared (weighted, data-unit) errors at the current parameters."""
        return float(self.problem.reduce("sse", self.problem.train, self.block_size)[0])


# -- the data, its division and scaling (on the client, by Dask reductions) -------------

def chunked_splits(net, X, T, loss, classification, sample_weight, division, division_mode, validation, initial,
                   kinds, rng):
    """Steps 1-3 of :func:`~matnet.train.fit.fit` for Dask data: the splits (by chunks
    of rows, see the module docstring), class labels encoded (``net.classes``), the
    scaling fitted on the training chunks and stored in ``net``.

    Returns
    -------
    splits : dict ``"train"``, ``"val"``, ``"test"`` -> :class:`ChunkedSplit` or None (empty)
    rows : (train, val, test) row indices, sorted Dask int64 arrays (lazy: nothing of
        size ``n`` is made on the client)
    """
    _check_supported(net, validation, initial, division_mode)
    T = T if isinstance(T, dict) or is_dask(T) else np.asarray(T)
    inputs, targets, weight = _arrays(net, X, T, sample_weight)
    targets = _encoded(net, targets, weight) if classification and _labels(T) else _numeric(net, targets)
    sets = _chunk_division(len(targets.chunks[0]), division, rng)
    parts = [_select(inputs, targets, weight, chunks) for chunks in sets]
    totals = _check_and_fit_scaling(net, kinds, parts)
    splits = {name: None if part is None else ChunkedSplit(*part, chunks, n, total)
              for name, part, chunks, (n, total) in zip(("train", "val", "test"), parts, sets, totals)}
    index = da.arange(targets.shape[0], chunks=targets.chunks[0], dtype=np.int64)
    return splits, tuple(index.blocks[list(map(int, chunks))] if len(chunks) else da.zeros(0, np.int64, chunks=1)
                         for chunks in sets)


def _check_supported(net, validation, initial, division_mode):
    if not is_numpy(net.xp):
        raise ValueError("training on Dask arrays needs a network on NumPy; move it with net.to('numpy')")
    p = plan(net)
    what = ("feedback from layers" if p.recurrent else "tapped delays" if net.is_dynamic
            else "graph connections" if p.coupled else "dropout" if p.dropout
            else "index inputs" if net.index_inputs else None)
    if what:
        raise ValueError(f"training on Dask arrays supports static networks only; this network has {what}")
    custom = next((layer for layer in net.layers.values() if not layer.activation.builtin), None)
    if custom is not None:
        raise ValueError(f"training on Dask arrays sends the network to the workers as its model file, which cannot "
                         f"hold layer {custom.name!r}'s custom activation {custom.activation.name!r}")
    for name, value in (("validation=", validation), ("initial=", initial)):
        if value is not None:
            raise ValueError(f"Dask data is divided by chunks of rows (division= fractions); {name} does not apply")
    if division_mode not in (None, "random"):
        raise ValueError(f"Dask data is divided by chunks of rows, at random; division_mode={division_mode!r} "
                         "does not apply")


def _labels(T):
    return not isinstance(T, dict) and T.ndim == 1 and T.dtype.kind in "iubUSO"


def _arrays(net, X, T, sample_weight):
    """``(inputs, targets, weight)`` as Dask arrays with the same row chunks (those of
    the first Dask array given), one chunk across the columns; ``targets`` a dict."""
    X = X if isinstance(X, dict) else {name: X for name in net.inputs} if len(net.inputs) == 1 else X
    if not isinstance(X, dict) or set(X) != set(net.inputs):
        raise ValueError(f"inputs must be given for exactly the inputs {', '.join(net.inputs)} (a dict name -> array)")
    T = T if isinstance(T, dict) else {net.outputs[0]: T} if len(net.outputs) == 1 else T
    if not isinstance(T, dict) or set(T) != set(net.outputs):
        raise ValueError(f"targets must be given for exactly the outputs {', '.join(net.outputs)}")
    given = [*(X[k] for k in net.inputs), *(T[k] for k in net.outputs), sample_weight]
    first = next(a for a in given if is_dask(a))
    if any(math.isnan(c) for c in first.chunks[0]):
        raise ValueError("Dask arrays with unknown chunk sizes cannot be divided; call compute_chunk_sizes() first")
    rows = first.chunks[0]

    def chunked(a, what):
        a = a if is_dask(a) else da.from_array(np.asarray(a), chunks=-1)
        if a.ndim == 0 or a.shape[0] != sum(rows):
            raise ValueError(f"{what} has {a.shape[0] if a.ndim else 0} rows, the other arrays {sum(rows)}")
        return a.rechunk({0: rows, **({1: -1} if a.ndim == 2 else {})})
    inputs = {k: chunked(X[k], f"input {k!r}") for k in net.inputs}
    targets = {k: chunked(T[k], f"targets for output {k!r}") for k in net.outputs}
    weight = None if sample_weight is None else chunked(sample_weight, "sample_weight")
    for k, a in inputs.items():
        if a.ndim != 2 or a.shape[1] != net.inputs[k]:
            raise ValueError(f"input {k!r} expects {net.inputs[k]} features per sample, got a Dask array of shape "
                             f"{shape_str(a.shape)}")
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"sample_weight must be {sum(rows)} finite non-negative numbers, got shape "
                         f"{shape_str(weight.shape)}")
    return inputs, targets, None if weight is None else weight.astype(net.dtype)[:, None]


def _numeric(net, targets):
    """The targets ``(rows, K)`` of ``net.dtype``, outputs side by side."""
    columns = []
    for name in net.outputs:
        t, size = targets[name], net.layers[name].size
        if t.dtype.kind not in "fiub":
            raise ValueError(f"targets for output {name!r} must be numbers, got dtype {t.dtype}")
        t = t[:, None] if t.ndim == 1 and size == 1 else t
        if t.ndim != 2 or t.shape[1] != size:
            raise ValueError(f"targets for output {name!r} must have shape {shape_str((t.shape[0], size))}, "
                             f"got {shape_str(t.shape)}")
        columns.append(t.astype(net.dtype))
    return columns[0] if len(columns) == 1 else da.concatenate(columns, axis=1)


def _encode_block(t, classes, size):
    """One chunk's labels one-hot (0/1 for one column); a label that is no class
    (a sample of weight 0) as zeros."""
    known = np.isin(t, np.asarray(classes, dtype=t.dtype))
    if known.all():
        return encode_labels(t, classes, size)[0]
    encoded = np.zeros((t.size, size))
    encoded[known] = encode_labels(t[known], classes, size)[0]
    return encoded


def _encoded(net, targets, weight):
    """Class labels one-hot encoded with the classes of the samples that count
    (``weight > 0``), found on the cluster and kept in ``net.classes``."""
    name = net.outputs[0]
    labels, size = targets[name], net.layers[name].size
    counted = labels if weight is None else labels[weight[:, 0] > 0]
    classes = sorted(da.unique(counted).compute().tolist())
    encode_labels(np.asarray(classes), classes, size)          # the same errors as in memory
    net.classes = classes
    encoded = labels.map_blocks(_encode_block, classes, size, dtype=np.float64, new_axis=1,
                                chunks=(labels.chunks[0], (size,)), meta=np.empty((0, 0)))
    return encoded.astype(net.dtype)


def _needed_chunks(fractions):
    """The fewest chunks that ``fractions`` can divide (one in each set asked for)."""
    for m in range(1, 10 ** 4):
        try:
            divide(m, fractions, "block")
            return m
        except ValueError:
            continue
    return None


def _chunk_division(n_chunks, division, rng):
    """``(train, val, test)`` chunk indices: fractions of the chunks at random, or all."""
    if division is None:
        return np.arange(n_chunks), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if isinstance(division, dict) or not all(np.ndim(f) == 0 for f in division):
        raise ValueError("Dask data is divided by chunks of rows: give division as (train, val, test) fractions "
                         "or None, not index sets")
    try:
        return divide(n_chunks, division, "random", seed=rng)
    except ValueError as e:
        if "needs at least" not in str(e):
            raise
        raise ValueError(f"Dask data is divided by whole chunks of rows: division {tuple(division)} needs at "
                         f"least {_needed_chunks(division)} chunks (one in each set), the data has {n_chunks}; "
                         "rechunk it into more chunks of rows, or use division=None") from None


def _select(inputs, targets, weight, chunks):
    """``(inputs, targets, weight)`` of the chunks ``chunks`` (None when there are none)."""
    if len(chunks) == 0:
        return None
    if np.array_equal(chunks, np.arange(len(targets.chunks[0]))):
        return inputs, targets, weight
    take = list(map(int, chunks))
    return ({k: a.blocks[take] for k, a in inputs.items()}, targets.blocks[take],
            None if weight is None else weight.blocks[take])


def _check_and_fit_scaling(net, kinds, parts):
    """Check the data of ``parts`` (train, val, test; None when empty): finite, weights
    non-negative; fit the scalings on the training part and store them in ``net``.
    Returns ``(rows, weight summed)`` of each part."""
    present = [part for part in parts if part is not None]
    planned = [(side, name, kind, a.astype(net.dtype)) for side, kind, arrays in
               (("outputs", kinds[1], _by_output(net, parts[0][1])), ("inputs", kinds[0], parts[0][0]))
               if kind not in ("keep", None) for name, a in arrays.items()]
    results = dask.compute(*[_checks(net, part) for part in present],
                           *[_first_statistics(kind, a) for *_, kind, a in planned])
    checks, statistics = results[:len(present)], results[len(present):]
    _raise_bad_data(net, checks)
    variances = dask.compute(*[((a - mean.astype(a.dtype)) ** 2).sum(axis=0, dtype=np.float64) / a.shape[0]
                               for (*_, kind, a), (mean, *_) in zip(planned, statistics) if kind == "standard"])
    _store_scalings(net, kinds, planned, statistics, iter(variances))
    totals = iter([(int(part[1].shape[0]), float(check[-1])) for part, check in zip(present, checks)])
    return [(0, 0.0) if part is None else next(totals) for part in parts]


def _by_output(net, targets):
    ends = np.cumsum([net.layers[o].size for o in net.outputs])
    return {o: targets[:, end - net.layers[o].size:end] for o, end in zip(net.outputs, ends)}


def _checks(net, part):
    """Lazy ``(bad inputs per name..., bad targets, bad weights, weight summed)`` of a part."""
    inputs, targets, weight = part
    bad = [(~da.isfinite(a.astype(net.dtype))).any() for a in inputs.values()]
    bad.append((~da.isfinite(targets)).any())
    if weight is None:
        return (*bad, False, float(targets.shape[0]))
    return (*bad, (~da.isfinite(weight) | (weight < 0)).any(), weight.sum(dtype=np.float64))


def _raise_bad_data(net, checks):
    for check in checks:
        for name, bad in zip([*(f"input {k!r}" for k in net.inputs), "the targets"], check):
            if bad:
                raise ValueError(f"{name} contains NaN or inf")
        if check[-2]:
            raise ValueError("sample_weight must be finite non-negative numbers")


def _first_statistics(kind, a):
    """Lazy per-column statistics of the first pass: ``(min, max)`` or ``(mean,)``."""
    if kind == "minmax":
        return a.min(axis=0), a.max(axis=0)
    return (a.sum(axis=0, dtype=np.float64) / a.shape[0],)


def _store_scalings(net, kinds, planned, statistics, variances):
    fitted = {"inputs": {}, "outputs": {}}
    for (side, name, kind, _), stats in zip(planned, statistics):
        fitted[side][name] = (minmax_from(*stats, net.dtype) if kind == "minmax"
                              else standard_from(stats[0], next(variances), net.dtype))
    if kinds[1] != "keep":
        net.output_scaling = fitted["outputs"]
    if kinds[0] != "keep":
        net.input_scaling = fitted["inputs"]
