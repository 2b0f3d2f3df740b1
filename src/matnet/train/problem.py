"""The training problem: what every algorithm optimises, one interface for every network.

A :class:`Problem` holds the data splits of one network in the engine's rows
(:mod:`matnet.simulate`): static samples, the time steps of input-delay networks
(each step a row of its own, minibatches over steps) or the series of a recurrent
network (the whole series is run; each split weights its own steps).  Algorithms talk
only to this interface:

* ``theta`` — the network's live parameter vector, updated in place;
* ``n``, ``batches(batch_size, rng)`` — minibatches of the training split;
* ``evaluate(idx=None, need_gradient=True, metric=None)`` — loss (L2 included) and its
  gradient on the training split or a batch;
* ``scores(name)`` — loss and metric of ``"train"``, ``"val"`` or ``"test"``;
* ``normal_equations(block_size, memory_reduction)`` — ``JᵀJ``, ``Jᵀe`` and the sum of
  squared errors for the Jacobian methods, accumulated over blocks of rows.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

import numpy as np

from .. import backend
from .. import losses as _losses
from ..losses import Metric
from ..backprop import add_l2, backward, jacobian_blocks, jacobian_seeds
from ..prepare import error_scale
from ..simulate import data_units, plan, run
from ..threads import blas_threads, threads, worker_threads

__all__ = ["Problem", "Split", "Selection", "Metric", "NormalEquations", "data_outputs", "BLOCK_BYTES", "BLOCK_ROWS",
           "VALUE_ROWS", "PARALLEL_PARAMS", "THREADED_PARAMS"]

#: Default size of one block of the Jacobian (the normal equations' working memory).
BLOCK_BYTES = 32 * 2 ** 20
#: At most this many rows per block of the Jacobian: more rows write ``J`` out of the
#: cache without making ``syrk`` faster (``benchmarks/lm_scale.py``: 541 weights reach
#: 60 % of dgemm with blocks of 2048 rows, 56 % with 3876).
BLOCK_ROWS = 2048
#: Networks of at least this many parameters accumulate their blocks on one worker thread
#: per BLAS thread (:meth:`NormalEquations.compute`).  Normal equations of 100,000 samples
#: on 2 cores, one worker with 2 BLAS threads / two workers with one each (2026-11-30):
#: 81 parameters 31 / 31 ms, 211: 90 / 71 ms, 541: 428 / 342 ms, 2881 (20,000 samples)
#: 2.05 / 1.70 s; 541 with one busy core 1.10 / 0.53 s.  Each worker keeps its own
#: ``(P + 1)²`` sum and workspace.
PARALLEL_PARAMS = 200
#: While BLAS runs threaded, only networks of at least this many parameters use workers:
#: the threads that BLAS leaves spinning after the epoch's threaded calls take the
#: workers' cores.  LM epochs (seconds; 10,000 samples; one worker / workers beside
#: threaded BLAS / workers with BLAS on one thread): 541 parameters 0.056 / 0.077 / 0.050,
#: 991: 0.154 / 0.187 / 0.151, 2201: 0.868 / 0.873 / 0.915, 2881: 1.68 / 1.58 / 1.81.
THREADED_PARAMS = 2000
#: Rows per block when a loss is evaluated without its gradient.
VALUE_ROWS = 2048


@dataclass
class Split:
    """One data split in network units, as engine rows.

    Attributes
    ----------
    x, shape, states : what :func:`matnet.simulate.run` takes
    targets : dict ``layer -> (rows, size)``, network units
    targets_data : ndarray (rows, K), the targets in data units (for metrics)
    weight : ndarray (rows,) or None, the weight of each row in the loss
    mask : bool ndarray (rows,) or None, the rows that belong to the split (None: all)
    """

    x: dict
    shape: tuple
    states: dict
    targets: dict
    targets_data: np.ndarray
    weight: np.ndarray | None = None
    mask: np.ndarray | None = None
    n: int = field(init=False)          # rows in the split

    def __post_init__(self):
        self.n = self.shape[0] * self.shape[1] if self.mask is None else \
            int(backend.namespace(self.mask).count_nonzero(self.mask))

    def take(self, idx):
        """The rows ``idx`` (an index array or a slice) of a split of independent rows."""
        rows = idx if isinstance(idx, slice) else np.asarray(idx)

        def pick(d):
            return {k: backend.take(v, rows) for k, v in d.items()}
        n = len(range(*rows.indices(self.shape[0]))) if isinstance(rows, slice) else len(rows)
        return Split(pick(self.x), (n, 1), {}, pick(self.targets), backend.take(self.targets_data, rows),
                     None if self.weight is None else backend.take(self.weight, rows))

    def select(self, rows):
        """The rows ``rows`` of a split of independent rows, taken only when used
        (a :class:`Selection`; the split itself when ``rows`` is every row in order)."""
        rows = np.asarray(rows)
        if len(rows) == self.n and np.array_equal(rows, np.arange(self.n)):
            return self
        return Selection(self, rows)

    def restrict(self, mask):
        """The same rows, counting only ``mask`` (a split of a recurrent run)."""
        xp = backend.namespace(self.targets_data)
        mask = backend.asarray(mask, xp)
        weight = xp.astype(mask, self.targets_data.dtype) if self.weight is None else self.weight * mask
        return replace(self, weight=weight, mask=mask)


class Selection:
    """Rows of a :class:`Split` of independent rows, gathered only when used: a batch
    or a block (:meth:`take`) reads the whole split's arrays directly; the whole
    selection is gathered once, on first use of its arrays (full-batch methods)."""

    def __init__(self, whole, rows):
        self.whole, self.rows = whole, rows
        self.n, self.shape, self.states, self.mask = len(rows), (len(rows), 1), {}, None
        self._taken = None

    def take(self, idx):
        """The rows ``idx`` (an index array or a slice) of the selection, as a Split."""
        return self.whole.take(self.rows[idx])

    def _split(self):
        if self._taken is None:
            self._taken = self.whole.take(self.rows)
        return self._taken

    x = property(lambda self: self._split().x)
    targets = property(lambda self: self._split().targets)
    targets_data = property(lambda self: self._split().targets_data)

    @property
    def weight(self):
        return None if self.whole.weight is None else backend.take(self.whole.weight, self.rows)


def data_outputs(net, trace):
    """The output layers' activations in data units, side by side ``(rows, K)``."""
    return backend.concat([data_units(net, name, trace.a[name]) for name in plan(net).outputs], axis=1)


class Problem:
    """What an algorithm optimises: the loss of ``net`` on the training split (see the
    module docstring for the interface).

    Parameters
    ----------
    splits : dict ``"train"``, ``"val"``, ``"test"`` -> Split (or None)
    loss : str
    l2 : float
    metric : {"accuracy", "R"}
    dropout : numpy.random.Generator, optional
        Where layers with dropout draw their masks in training evaluations.
    training : bool
        Whether weights that are not trainable get a zero gradient and no step (False:
        the derivatives of every parameter, for :mod:`matnet.derivatives`).
    """

    def __init__(self, net, splits, loss, l2, metric, dropout=None, training=True):
        self.net, self.splits, self.loss, self.l2, self.metric = net, splits, loss, l2, metric
        self.train = splits["train"]
        self.theta = net.theta
        self.xp = net.xp
        self.scale = error_scale(net)
        if self.scale and self.xp is not np:
            self.scale = {k: backend.asarray(v, self.xp) for k, v in self.scale.items()}
        self.grad = self.xp.empty_like(self.theta)
        self.grad_views = net.views(self.grad)
        p = plan(net)
        self.recurrent = p.recurrent
        self.whole = p.recurrent or p.coupled         # rows depend on each other: every split is one run
        self.outputs = p.outputs
        self.dropout = dropout if p.dropout else None
        self.frozen = p.frozen if training else None  # derivatives of every parameter, outside training
        self._frozen = None if self.frozen is None else backend.asarray(self.frozen, self.xp)
        self._cache = (None, None, None)

    @property
    def n(self):
        """Rows of the training split."""
        return self.train.n

    def batches(self, batch_size, rng):
        """Shuffled index batches covering the training split once (the whole split,
        ``[None]``, for a recurrent network, whose series are run whole, and a graph
        network, whose nodes are)."""
        if self.whole:
            return [None]
        perm = rng.permutation(self.n)
        return [perm[i:i + batch_size] for i in range(0, self.n, batch_size)]

    def run(self, split, training=False):
        """The forward run of ``split`` at the current parameters (the splits of a
        recurrent or graph run share one run, cached until the parameters change).
        ``training`` drops activations where layers have dropout (never cached)."""
        if training and self.dropout is not None:
            return run(self.net, split.x, split.shape, split.states, dropout=self.dropout)
        if not self.whole:
            return run(self.net, split.x, split.shape, split.states)
        x, theta, trace = self._cache
        if x is not split.x or not bool(self.xp.all(theta == self.theta)):
            trace = run(self.net, split.x, split.shape, split.states)
            self._cache = (split.x, backend.copy(self.theta), trace)
        return trace

    def remember(self, split, trace):
        """Keep ``trace`` as the run of ``split`` at the current parameters (a recurrent
        run computed elsewhere, e.g. side by side with other candidates)."""
        self._cache = (split.x, backend.copy(self.theta), trace)

    def _loss(self, split, trace, need_delta):
        return _losses.evaluate(self.loss, self.net, {o: trace.z[o] for o in self.outputs},
                                {o: trace.a[o] for o in self.outputs}, split.targets, split.weight, self.scale,
                                need_delta)

    def add_metric(self, metric, split, trace):
        Y, T = data_outputs(self.net, trace), split.targets_data
        if split.mask is not None:
            Y, T = Y[split.mask], T[split.mask]
        metric.add(Y, T)

    def evaluate(self, idx=None, need_gradient=True, metric=None):
        """``(loss, gradient)`` on the training split (or its rows ``idx``).

        The gradient is written into one reused buffer.  ``metric`` (a :class:`Metric`)
        accumulates the outputs when given.
        """
        split = self.train if idx is None else self.train.take(idx)
        if not need_gradient:
            value = self._value(split, metric)
            return add_l2(self.net, self.l2, value)
        trace = self.run(split, training=True)
        value, deltas = self._loss(split, trace, need_gradient)
        grad = backward(self.net, trace, deltas, self.grad, self.grad_views) if need_gradient else None
        if self.frozen is not None:
            grad[self._frozen] = 0                  # weights that are not trainable stay
        value, grad = add_l2(self.net, self.l2, value, grad)
        if metric is not None:
            self.add_metric(metric, split, trace)
        return value, grad

    def fresh_metric(self):
        return Metric(self.metric)

    def scores(self, name):
        """``(loss, metric)`` of the split ``name``; NaN when it is empty."""
        split = self.splits.get(name)
        if split is None or split.n == 0:
            return math.nan, math.nan
        metric = Metric(self.metric)
        return self._value(split, metric), metric.value()

    def _value(self, split, metric=None):
        """The loss of a split without its gradient: independent rows in blocks of
        :data:`VALUE_ROWS` (large batches would cost more in fresh memory than in
        arithmetic), a recurrent run whole."""
        rows = split.shape[0] * split.shape[1]
        if self.whole or rows <= VALUE_ROWS:
            trace = self.run(split)
            if metric is not None:
                self.add_metric(metric, split, trace)
            return self._loss(split, trace, need_delta=False)[0]
        total = norm = 0.0
        n_out = split.targets_data.shape[1]
        for start in range(0, rows, VALUE_ROWS):
            block = split.take(slice(start, start + VALUE_ROWS))
            weight = block.n if block.weight is None else float(self.xp.sum(block.weight))
            value = self._value(block, metric)
            block_norm = _losses.normalizer(self.loss, weight, n_out)
            total, norm = total + value * block_norm, norm + block_norm
        return total if self.loss == "sse" else total / norm

    def normal_equations(self, block_size=None, memory_reduction=None):
        """The accumulator of ``JᵀJ`` and ``Jᵀe`` the Jacobian methods use."""
        return NormalEquations(self, block_size, memory_reduction)


class NormalEquations:
    """``JᵀJ``, ``Jᵀe`` and the sum of squared errors of a :class:`Problem`'s training
    split, in float64, over blocks of rows.

    ``block_size`` rows go into one block of ``J`` (samples, or series × time steps of
    a recurrent run); ``memory_reduction=m`` splits the rows into ``m`` blocks
    (MATLAB's option); by default a block of ``J`` and of the sensitivities stays
    under :data:`BLOCK_BYTES` and :data:`BLOCK_ROWS`.  A network without feedback from layers also runs its
    forward pass block by block, so memory is bounded by the block size and
    ``P²``; a recurrent network keeps its forward run (``rows × neurons``) and the
    sensitivities of its last ``d_max`` steps.  By default the blocks of a large network
    may be computed by several workers, each with its own block and ``P²`` sum
    (:meth:`compute`); a given ``block_size`` or ``memory_reduction`` keeps to one block
    at a time.
    """

    def __init__(self, problem, block_size=None, memory_reduction=None):
        self.problem = problem
        net, split = problem.net, problem.train
        rows = split.shape[0] * split.shape[1]
        _, offsets = jacobian_seeds(net)
        seeds = max(s.stop for s in offsets.values())
        if block_size is not None and memory_reduction is not None:
            raise ValueError("give block_size or memory_reduction, not both")
        self.chosen = block_size is not None or memory_reduction is not None    # the user's memory bound
        if memory_reduction is not None:
            if int(memory_reduction) < 1:
                raise ValueError(f"memory_reduction must be a positive integer, got {memory_reduction}")
            block_size = math.ceil(rows / int(memory_reduction))
        if block_size is None:
            block_size = min(BLOCK_ROWS, BLOCK_BYTES // (net.dtype.itemsize * (seeds + 1) * max(net.n_params, 1)))
        elif int(block_size) < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size}")
        self.block_size = max(1, min(int(block_size), rows))
        self.seeds, self._work = seeds, {}
        K = sum(net.layers[o].size for o in net.outputs)
        self.n_errors = K * (split.n if split.weight is None else float(problem.xp.sum(split.weight)))

    def _blocks(self, workers=1):
        """``[(rows, block_rows)]``: blocks of independent rows (``rows`` a slice, or None
        for all) of at most ``block_size`` rows, as many for each of ``workers``; a
        recurrent run whole, its Jacobian in blocks of ``block_rows`` steps."""
        n = self.problem.train.n
        if self.problem.whole:
            return [(None, self.block_size)]
        if self.block_size >= n:
            return [(None, None)]
        size = self.block_size
        if workers > 1:                             # whole rounds: 5 blocks for 2 workers become 6
            count = -(-n // size)
            size = -(-n // (-(-count // workers) * workers))
        return [(slice(start, start + size), None) for start in range(0, n, size)]

    def _parts(self):
        """``(split, block_rows)`` of each block (see :meth:`_blocks`)."""
        for rows, block_rows in self._blocks():
            yield self._split(rows), block_rows

    def _split(self, rows):
        return self.problem.train if rows is None else self.problem.train.take(rows)

    def compute(self, metric=None):
        """``(JᵀJ, Jᵀe, sse)`` at the current parameters (float64).

        Each block of the Jacobian is written into one workspace ``[J | e]`` (in the
        network's dtype) whose symmetric rank-k update gives ``JᵀJ``, ``Jᵀe`` and
        ``eᵀe`` at once; the products are summed in float64.  Networks of at least
        :data:`PARALLEL_PARAMS` parameters on NumPy share the blocks out to one worker
        per BLAS thread, each running BLAS on one thread (:meth:`_workers`); block ``b``
        goes to worker ``b mod workers``, so the sums do not depend on timing.
        """
        problem, xp = self.problem, self.problem.xp
        P = problem.theta.size
        workers = self._workers()
        blocks = self._blocks(workers)
        workers = min(workers, len(blocks))
        M = self._accumulate(blocks, metric) if workers == 1 else self._accumulate_on(workers, blocks, metric)
        if problem.frozen is not None:              # a step never moves weights that are not trainable
            fixed = backend.asarray(np.append(problem.frozen, False).astype(np.float64), xp)
            M = M * (1 - fixed)[:, None] * (1 - fixed)[None, :] + xp.eye(P + 1, dtype=M.dtype) * fixed
        return M[:P, :P], backend.copy(M[:P, P]), float(M[P, P])

    def _accumulate_on(self, workers, blocks, metric=None):
        """:meth:`_accumulate` with block ``b`` on worker ``b mod workers``, each worker
        with BLAS on one thread; an error or Ctrl-C stops the others at their next block."""
        metrics = [None if metric is None else Metric(metric.kind) for _ in range(workers)]
        stop = threading.Event()
        with threads(1), ThreadPoolExecutor(workers, thread_name_prefix="matnet-normal-equations") as pool:
            jobs = [pool.submit(self._accumulate, blocks[i::workers], metrics[i], i, stop) for i in range(workers)]
            try:
                done, _ = wait(jobs, return_when=FIRST_EXCEPTION)
                if any(job.exception() is not None for job in done):
                    stop.set()
                sums = [job.result() for job in jobs]
            except BaseException:
                stop.set()
                raise
        for part in metrics if metric is not None else ():
            metric.merge(part)
        M = sums[0]
        for other in sums[1:]:
            M += other
        return M

    def _workers(self):
        """How many threads accumulate the blocks: one per BLAS thread in effect for a
        network on NumPy with at least :data:`PARALLEL_PARAMS` parameters whose rows are
        independent, called from the main thread, without a block size or memory
        reduction chosen by the user, and either with BLAS on one thread
        (:func:`~matnet.threads.few_threads`: the workers get the threads BLAS had) or
        with at least :data:`THREADED_PARAMS` parameters; else 1.  (BLAS thread limits
        are the process's: computations already running side by side in threads, such
        as a Dask scheduler's chunks, would undo each other's limits.)"""
        problem = self.problem
        P = problem.theta.size
        if (self.chosen or problem.whole or problem.xp is not np or P < PARALLEL_PARAMS
                or threading.current_thread() is not threading.main_thread()):
            return 1
        if blas_threads() > 1 and P < THREADED_PARAMS:
            return 1
        return max(1, worker_threads())

    def _accumulate(self, blocks, metric=None, worker=0, stop=None):
        """``[J e]ᵀ[J e]`` ``(P + 1, P + 1)`` in float64, summed over ``blocks`` in the
        workspace of ``worker`` (the outputs added to ``metric``; given an event ``stop``,
        no further block once it is set)."""
        problem, xp = self.problem, self.problem.xp
        P, K = problem.theta.size, self.seeds
        M = xp.zeros((P + 1, P + 1), dtype=backend.dtype_of(xp, np.float64))
        for rows, block_rows in blocks:
            if stop is not None and stop.is_set():
                break
            split = self._split(rows)
            trace = problem.run(split)
            n = split.shape[0] * split.shape[1]
            work = self._workspace(n * K if block_rows is None else None, worker)
            into = None if block_rows is not None else xp.reshape(work[:n * K, :P], (n, K, P))
            for J, e, _ in jacobian_blocks(problem.net, trace, split.targets, problem.scale, split.weight,
                                           block_rows, out=into):
                m = e.size
                block = self._workspace(m, worker)[:m, :]
                if xp is not np or not np.may_share_memory(J, block):
                    block[:, :P] = J
                block[:, P] = e
                M += block.T @ block
            if metric is not None:
                problem.add_metric(metric, split, trace)
        return M

    def _workspace(self, rows, worker=0):
        """The ``(rows, P + 1)`` workspace of ``worker``'s blocks (grown when needed; None:
        as it is)."""
        P, work = self.problem.theta.size, self._work.get(worker)
        if rows is not None and (work is None or work.shape[0] < rows):
            xp = self.problem.xp
            work = self._work[worker] = xp.empty((rows, P + 1), dtype=backend.dtype_of(xp, self.problem.net.dtype))
        return work

    def candidate_sse(self, candidates, thetas):
        """``(sums of squared errors, wide run)`` of the parameter vectors ``thetas``,
        run side by side (:class:`~matnet.train.candidates.Candidates`; a recurrent
        training split, run whole)."""
        problem, split = self.problem, self.problem.train
        candidates.load(thetas)
        trace = candidates.run(split)
        total = np.zeros(candidates.k)
        for name in problem.net.outputs:
            e = candidates.outputs(trace, name) - split.targets[name][:, None, :]
            if problem.scale and name in problem.scale:
                e = e * problem.scale[name]
            if split.weight is not None:
                e = e * np.sqrt(split.weight)[:, None, None]
            total += np.einsum("rkn,rkn->k", e, e, dtype=np.float64)
        return total[:len(thetas)], trace

    def sse(self):
        """Sum of squared (weighted, data-unit) errors at the current parameters."""
        problem, total = self.problem, 0.0
        for split, _ in self._parts():
            trace = problem.run(split)
            for name in problem.net.outputs:
                e = trace.a[name] - split.targets[name]
                if problem.scale and name in problem.scale:
                    e = e * problem.scale[name]
                if split.weight is not None:
                    e = e * problem.xp.sqrt(split.weight)[:, None]
                total += float(np.vdot(e, e)) if problem.xp is np else backend.dot(e, e)
        return total
