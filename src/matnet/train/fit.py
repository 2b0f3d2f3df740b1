"""The training loop: data preparation, division, scaling, stopping rules, History.

:func:`fit` reads as its steps: prepare the data (samples, or series with their
initial delay states; class labels encoded), divide it (samples, or time steps of
every series), fit the scaling on the training rows, then hand a
:class:`~matnet.train.problem.Problem` to the chosen algorithm.  Algorithms
report each epoch to a :class:`Monitor`, which evaluates the validation and test sets,
records the :class:`History`, applies the stopping rules and keeps the best weights.
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import backend
from .. import losses as _losses
from ..backend import is_dask
from ..data import divide, encode_labels, fit_scaling, is_labels
from ..data.scaling import KINDS
from ..init import initialize
from ..init import rng as _rng
from ..prepare import as_rows
from ..simulate import plan
from .constraints import check_option, check_options
from .history import History
from .problem import Problem
from .progress import Progress
from .splits import sequence_data, static_data, whole_split

__all__ = ["fit", "register", "parse_options", "Algorithm", "Monitor", "TrainingWarning", "ALGORITHMS"]


@dataclass(frozen=True)
class Algorithm:
    """A training algorithm as ``fit`` knows it.

    Attributes
    ----------
    runner : callable
        ``runner(problem, monitor, options) -> stop reason or None``.
    options : dict or None
        Its own options and their defaults; ``None`` takes any (passed on to SciPy).
    lr : float or None
        Default learning rate of a minibatch method; ``None`` for a full-batch method
        that chooses its own steps (``lr``, ``lr_schedule`` and ``batch_size`` are refused).
    epochs, max_fail : defaults of ``fit``.
    squared_errors : bool
        Whether it minimises squared errors only (the Jacobian methods): ``fit``'s
        default loss is then ``mse``, also for a classifier.
    """

    runner: Callable
    options: dict | None
    lr: float | None = None
    epochs: int = 1000
    max_fail: int | None = 6
    squared_errors: bool = False


ALGORITHMS = {}


def register(name, runner, options=None, lr=None, epochs=1000, max_fail=6, squared_errors=False):
    """Make ``runner(problem, monitor, options)`` available as ``fit(algorithm=name)``
    (see :class:`Algorithm`)."""
    ALGORITHMS[name] = Algorithm(runner, None if options is None else dict(options), lr, epochs, max_fail,
                                 squared_errors)


def parse_options(name, options, lr=None, batch_size=None, lr_schedule=None):
    """The options the runner of algorithm ``name`` gets: its own, checked and completed
    with their defaults, and for a minibatch method ``lr``, ``batch_size`` and
    ``lr_schedule`` (the one place where options are parsed)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; use one of {', '.join(ALGORITHMS)}")
    algorithm = ALGORITHMS[name]
    if algorithm.lr is None:
        if batch_size is not None:
            raise ValueError(f"{name!r} trains on the full batch; batch_size does not apply")
        if lr is not None or lr_schedule is not None:
            raise ValueError(f"{name!r} chooses its own steps; lr and lr_schedule do not apply")
    if algorithm.options is not None:
        unknown = sorted(set(options) - set(algorithm.options))
        if unknown:
            raise ValueError(f"unknown option(s) for {name!r}: {', '.join(unknown)}; "
                             f"it takes {', '.join(sorted(algorithm.options)) or 'none'}")
    parsed = {**(algorithm.options or {}), **options}
    if algorithm.lr is not None:
        parsed.update(lr=algorithm.lr if lr is None else lr, batch_size=batch_size, lr_schedule=lr_schedule)
    check_options(parsed, name)
    return parsed


class TrainingWarning(UserWarning):
    """Training stopped because it diverged (NaN or inf)."""


class Monitor:
    """Records each epoch, evaluates validation/test, applies the stopping rules."""

    def __init__(self, problem, history, epochs, max_fail, goal, min_grad, max_time,
                 callbacks, progress, record_weights):
        self.problem, self.history = problem, history
        self.epochs, self.max_fail, self.goal, self.min_grad = epochs, max_fail, goal, min_grad
        self.max_time = math.inf if max_time is None else max_time
        self.callbacks, self.record_weights = callbacks, record_weights
        self.progress = progress
        self.start = time.perf_counter()
        self.epoch = -1
        self.best_val, self.fails = math.inf, 0
        self.best_theta = self.last_good = backend.copy(problem.theta)
        self.best_epoch = 0
        self.stop_reason = None
        self.interrupted = False          # Ctrl-C: stop after the current epoch

    def __call__(self, train_loss, grad_norm, train_metric=math.nan, lr=math.nan, **extra):
        """Record one epoch (``grad_norm`` None: not computed; ``train_loss`` None: the
        epoch is not evaluated, its losses NaN); return True when training must stop."""
        self.epoch += 1
        theta = self.problem.theta
        evaluated = train_loss is not None
        train_loss = math.nan if train_loss is None else train_loss
        bad_gradient = grad_norm is not None and not np.isfinite(grad_norm)
        grad_norm = math.nan if grad_norm is None else grad_norm
        if evaluated and (not np.isfinite(train_loss) or bad_gradient):
            what = "loss" if not np.isfinite(train_loss) else "gradient"
            value = train_loss if what == "loss" else grad_norm
            self.stop_reason = (f"diverged: the {what} became {value} at epoch {self.epoch}; "
                                + (f"restored the weights of epoch {self.epoch - 1}" if self.epoch else
                                   "the initial network already diverges; its weights are unchanged"))
            theta[...] = self.last_good
            self.epoch -= 1
            return True
        val_loss, val_metric = self.problem.scores("val") if evaluated else (math.nan, math.nan)
        test_loss, test_metric = self.problem.scores("test") if evaluated else (math.nan, math.nan)
        if not math.isnan(val_loss) and self.max_fail is not None:
            if val_loss < self.best_val:
                self.best_val, self.fails, self.best_epoch = val_loss, 0, self.epoch
                self.best_theta = backend.copy(theta)
            elif val_loss > self.best_val:
                self.fails += 1
        else:
            self.best_epoch = self.epoch
        self.last_good = backend.copy(theta)
        elapsed = time.perf_counter() - self.start
        self.history.record(train_loss=train_loss, val_loss=val_loss, test_loss=test_loss,
                            train_metric=train_metric, val_metric=val_metric, test_metric=test_metric,
                            lr=lr, grad_norm=grad_norm, time=elapsed, val_fail=self.fails, **extra)
        if self.record_weights:
            host = self.problem.xp is np            # kept on the host (a copy of a compressed form)
            self.history.weights.append({k: v.copy() if host else backend.to_numpy(v)
                                         for k, v in self.problem.net.weights.items()})
        self.progress.update(self.epoch, train=train_loss, val=val_loss)
        self.stop_reason = self._stop(train_loss, grad_norm, elapsed)
        return self.stop_reason is not None

    def _stop(self, train_loss, grad_norm, elapsed):
        stops = [hook(self.epoch, self.history, self.problem.net)        # every callback, every epoch
                 for hook in (getattr(cb, "on_epoch_end", cb) for cb in self.callbacks)]
        if any(stops):
            return "callback"
        if self.interrupted:
            return "stopped by the user"
        if train_loss <= self.goal:
            return "goal"
        if grad_norm < self.min_grad:
            return "min_grad"
        if self.max_fail is not None and self.fails >= self.max_fail:
            return "validation stop"
        if elapsed >= self.max_time:
            return "max_time"
        if self.epoch >= self.epochs:
            return "epochs"
        return None

    def finish(self, reason=None):
        """Set the final weights: the best validation epoch's (or the last good ones)."""
        self.stop_reason = self.stop_reason or reason or "epochs"
        if not math.isnan(self.best_val) and self.best_val < math.inf:
            self.problem.theta[...] = self.best_theta
        else:
            self.best_epoch = max(self.epoch, 0)
        self.history.best_epoch = self.best_epoch
        self.history.stop_reason = self.stop_reason
        if self.stop_reason.startswith("diverged"):
            warnings.warn(self.stop_reason, TrainingWarning, stacklevel=3)
        self.progress.close(self.history.summary())
        self.problem.net.training = self.history.best()


def _default_loss(net, T, algorithm):
    """Cross-entropy for a softmax output (binary for sigmoid outputs with labels), the
    mean squared error otherwise and for the Jacobian methods, which minimise squared
    errors (MATLAB's ``patternnet`` trained with ``trainlm``)."""
    acts = {net.layers[name].activation.name for name in net.outputs}
    if ALGORITHMS[algorithm].squared_errors:
        return "mse"
    if acts == {"softmax"}:
        return "cross_entropy"
    if acts == {"sigmoid"} and not isinstance(T, dict) and is_labels(T):
        return "binary_cross_entropy"
    return "mse"


def _is_classification(net, T, loss):
    """Cross-entropy, or class labels into one softmax or sigmoid output layer (trained
    on one-hot targets with a squared error)."""
    if loss in ("cross_entropy", "binary_cross_entropy"):
        return True
    return (not isinstance(T, dict) and is_labels(T) and len(net.outputs) == 1
            and net.layers[net.outputs[0]].activation.name in ("softmax", "sigmoid"))


def _setup_classes(net, T, classification, validation, sample_weight=None):
    """Encode class labels (kept in ``net.classes``) for a classifier.  The classes are
    those of the samples that count (``sample_weight > 0``): a sample of weight 0 may
    carry any label (an unlabelled graph node), and is encoded as zeros if it is no class."""
    if not classification or isinstance(T, dict) or not is_labels(T):
        return T, validation
    size = net.layers[net.outputs[0]].size
    T = backend.to_numpy(T)                     # labels are read on the host
    weight = None if sample_weight is None else np.asarray(sample_weight)
    if weight is not None and weight.shape == T.shape and (weight == 0).any():
        _, net.classes = encode_labels(T[weight > 0], None, size)
        known = np.isin(T, np.asarray(net.classes, dtype=T.dtype))
        encoded = np.zeros((T.size, size))
        encoded[known] = encode_labels(T[known], net.classes, size)[0]
    else:
        encoded, net.classes = encode_labels(T, None, size)
    if validation is not None and is_labels(validation[1]):
        validation = (validation[0], backend.asarray(encode_labels(validation[1], net.classes, size)[0], net.xp))
    return backend.asarray(encoded, net.xp), validation


def _scaling_plan(scaling, loss, net):
    """``(input kind, output kind)``; ``"keep"`` keeps what the network has."""
    kinds = _planned_scaling(scaling, loss, net)
    for kind in kinds:
        if kind not in (*KINDS, None, "keep"):
            raise ValueError(f"unknown scaling {kind!r}; use one of {', '.join(KINDS)}, 'keep', None or 'auto'")
    return kinds


def _planned_scaling(scaling, loss, net):
    if isinstance(scaling, dict):
        unknown = set(scaling) - {"inputs", "outputs"}
        if unknown:
            raise ValueError(f"scaling takes the keys 'inputs' and 'outputs', got {', '.join(map(repr, unknown))}")
        return scaling.get("inputs"), scaling.get("outputs")
    if isinstance(scaling, tuple):
        if len(scaling) != 2:
            raise ValueError(f"scaling as a pair is (inputs, outputs), got {scaling!r}")
        return scaling
    linear_outputs = all(net.layers[n].activation.name == "linear" for n in net.outputs)
    regression = loss in ("mse", "sse") and linear_outputs
    if scaling == "auto":
        if net.input_scaling or net.output_scaling:
            return "keep", "keep"
        return "minmax", ("minmax" if regression else None)
    return scaling, (scaling if regression else None)


def _rows(data, division, mode, labels, rng, dynamic):
    """Row indices ``(train, val, test)``: samples, or time steps of every series."""
    S, T = data.shape
    if not dynamic:
        return divide(S, division, mode or "random", labels=labels, seed=rng)
    steps = divide(T, division, mode or "block", seed=rng)         # time is divided in blocks
    return [np.sort((np.arange(S)[:, None] * T + idx[None, :]).ravel()) for idx in steps]


def _apply_scaling(net, kinds, data, idx=None):
    """Fit the planned scalings on the rows ``idx`` (default all) and store them in
    ``net``; a feedback input shares its output's scaling, so the loop closes exactly."""
    kind_in, kind_out = kinds
    if kind_out != "keep":
        net.output_scaling = {} if kind_out is None else {
            k: fit_scaling(kind_out, as_rows(v), net.dtype, idx) for k, v in data.targets.items()}
    if kind_in != "keep":
        net.input_scaling = {} if kind_in is None else {
            k: fit_scaling(kind_in, as_rows(v), net.dtype, idx) for k, v in data.inputs.items()
            if k not in net.feedback and k not in net.index_inputs}
        for fb, output in net.feedback.items():
            if fb in net.inputs and output in net.output_scaling:
                net.input_scaling[fb] = net.output_scaling[output]


def _splits(net, data, rows, kinds):
    """``train``, ``val`` and ``test`` splits with the scaling fitted on the training
    rows.  The data is scaled once (one copy); each split is its rows of it, taken when
    used (samples, or time steps after lagging), or, for a recurrent network, the whole
    run counting each split's steps."""
    _apply_scaling(net, kinds, data, rows[0])
    whole = whole_split(net, data)
    names = ("train", "val", "test")
    if not (plan(net).recurrent or plan(net).coupled):
        return {name: whole.select(idx) for name, idx in zip(names, rows)}
    n = whole.shape[0] * whole.shape[1]
    splits = {}
    for name, idx in zip(names, rows):
        mask = np.zeros(n, bool)
        mask[idx] = True
        splits[name] = whole.restrict(mask)
    return splits


def _stratify_labels(data, net, classification):
    if not classification or len(net.outputs) != 1:
        return None
    T = backend.to_numpy(as_rows(data.targets[net.outputs[0]]))
    return (T[:, 0] >= 0.5).astype(int) if T.shape[1] == 1 else np.argmax(T, axis=1)


_DEFAULT = object()


def _check_options(**options):
    for name, value in options.items():
        check_option(name, value)


def _fit_restarts(net, X, T, restarts, restart_init, arguments):
    """Train ``restarts`` initialisations on one division; keep the best in ``net``."""
    if restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts}")
    g = _rng(arguments.pop("seed"))
    division_seed, init_seeds = int(g.integers(2 ** 62)), g.spawn(restarts)
    best, scores = None, []
    for r in range(restarts):
        candidate = net.copy()
        if r:
            initialize(candidate, restart_init, seed=init_seeds[r])
        history = fit(candidate, X, T, seed=division_seed, **arguments)
        b = history.best_epoch
        score = history.val_loss[b] if not math.isnan(history.val_loss[b]) else history.train_loss[b]
        scores.append(score)
        if best is None or score < best[0]:
            best = (score, candidate, history, r)
    _, winner, history, index = best
    net.set_flat(winner.get_flat())
    net.input_scaling, net.output_scaling = winner.input_scaling, winner.output_scaling
    net.classes, net.training = winner.classes, winner.training
    history.restart_scores, history.restart = scores, index
    return history


def fit(net, X, T, algorithm="adam", loss=None, epochs=None, batch_size=None, lr=None, l2=0.0,
        sample_weight=None, division=_DEFAULT, division_mode=None, validation=None,
        scaling="auto", max_fail=_DEFAULT, patience=None, goal=0.0, min_grad=1e-7, max_time=None,
        lr_schedule=None, seed=None, callbacks=(), progress=None, record_weights=False, restarts=1,
        restart_init="nguyen_widrow", initial=None, **options):
    """Train ``net`` in place.

    Parameters
    ----------
    X : array or dict
        Inputs ``(n_samples, n_features)`` (a dict for several inputs); for a network
        with delays, input series ``(n_steps, n)`` or ``(n_series, n_steps, n)``.
        Arrays of the network's library (``net.to``: NumPy, CuPy, ...); or Dask arrays
        chunked by rows, for a static network: each pass runs where the chunks live
        and only small sums reach the client (:mod:`matnet.train.chunked`; the
        division is then by whole chunks).
    T : array or dict
        Targets ``(n_samples, n_out)`` (series for a network with delays); class
        labels ``(n_samples,)`` (ints or strings) for a softmax/sigmoid classifier,
        kept in ``net.classes``.
    algorithm : str
        ``"sgd"``, ``"adam"``, ``"rmsprop"`` (minibatch); ``"rprop"``, ``"lbfgs"``,
        ``"cg"``, ``"scg"`` (full batch); ``"lm"``, ``"br"`` (Jacobian methods).
    loss : str, optional
        Default ``cross_entropy`` for softmax outputs, ``binary_cross_entropy`` for
        sigmoid outputs with label targets, else ``mse``; always ``mse`` for ``"lm"``
        and ``"br"``, which then train class labels on one-hot targets (MATLAB's
        ``patternnet`` with ``trainlm``).
    epochs : int, optional
        Maximum epochs (default 200 for minibatch methods, 1000 otherwise).
    batch_size : int, optional
        Minibatch size for sgd/adam/rmsprop (default ``min(200, n_train)``).
    lr : float, optional
        Learning rate (defaults: sgd and adam 0.01, rmsprop 0.001).
    l2 : float
        L2 penalty ``l2 / 2 * sum(W**2)`` on the weights.
    sample_weight : array (n_samples,), optional
    division : tuple, dict or None
        ``(train, val, test)`` fractions (default ``(0.7, 0.15, 0.15)``, or ``None``
        when ``validation`` is given), explicit index sets, or ``None``.
    division_mode : {"random", "block", "interleaved"}
        Default ``"random"`` (stratified for classification); ``"block"`` for time
        series (networks with delays divide time steps).
    validation : (X_val, T_val), optional
        A separate validation set (networks without delays).
    scaling : "auto", "minmax", "standard", None, or (inputs, outputs)
        ``"auto"``: inputs ``minmax``; outputs ``minmax`` for regression with linear
        outputs; an already scaled network keeps its scaling.  Fitted on the
        training split, stored in the network, applied by ``net(X)``.
    max_fail, patience : int
        Stop after the validation loss rose this many times since its best
        (``patience`` is an alias; default 6, as MATLAB; 10 for the minibatch methods,
        whose validation loss is noisy; ``None`` for ``"br"``); the
        best validation epoch's weights are restored.  ``None`` disables validation
        stopping: the final weights are kept.
    goal, min_grad, max_time : float
        Stop when the training loss reaches ``goal``, the gradient norm falls below
        ``min_grad``, or after ``max_time`` seconds.
    lr_schedule : str, pair or callable, optional
        ``"step"``, ``"exponential"``, ``"plateau"`` (with options as a pair), or
        ``f(epoch, lr, loss) -> lr``.
    seed : int or numpy.random.Generator, optional
        Division and minibatch order; the same seed gives bit-identical weights.
    callbacks : sequence
        ``f(epoch, history, net)`` or objects with ``on_epoch_end``; a true return
        stops training.  So does Ctrl-C (in the main thread): training ends after the
        current epoch as a finished run would, ``stop_reason`` "stopped by the user";
        a second Ctrl-C aborts with ``KeyboardInterrupt``.
    progress : bool, optional
        Progress bar on standard error (default: when it is a terminal and not CI).
    record_weights : bool
        Keep a copy of the weight matrices of every epoch in ``history.weights`` (NumPy
        arrays, also for a network on another array library).
    restarts : int
        Train this many initialisations (the given weights, then ``restart_init``
        drawn from ``seed``) on the same division and keep the one with the lowest
        validation loss (training loss without a validation set).  The History is the
        winner's, with ``restart_scores`` and ``restart`` (its index) added.
    restart_init : str
        Initialiser of the restarts (see :func:`matnet.init.initialize`).
    initial : dict, optional
        Initial delay states of a network with delays (``name -> (d, n)``, data units,
        as MATLAB's ``Xi``/``Ai``); the series are then used whole.  Without it the
        first steps of the series become the initial states (MATLAB's ``preparets``).
    **options
        Options of the algorithm (``momentum``, ``nesterov``, ``beta1``, ``mu``, ...).

    Returns
    -------
    History
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    _check_options(epochs=epochs, l2=l2, patience=patience, goal=goal, min_grad=min_grad, max_time=max_time,
                   restarts=restarts, **({} if max_fail is _DEFAULT else {"max_fail": max_fail}))
    if restarts != 1:
        arguments = dict(locals())
        for key in ("net", "X", "T", "restarts", "restart_init", "options"):
            arguments.pop(key)
        return _fit_restarts(net, X, T, int(restarts), restart_init, {**arguments, **options})
    options = parse_options(algorithm, options, lr, batch_size, lr_schedule)
    _check_graph_and_dropout(net, algorithm, batch_size)
    max_fail = ALGORITHMS[algorithm].max_fail if max_fail is _DEFAULT else max_fail
    max_fail = max_fail if patience is None else patience
    loss = _losses.check_loss(loss or _default_loss(net, T, algorithm), net)
    if ALGORITHMS[algorithm].squared_errors and loss not in ("mse", "sse"):
        raise ValueError(f"{algorithm!r} minimises squared errors: use loss 'mse' or 'sse', not {loss!r}")
    rng = _rng(seed)
    schedule = dict(algorithm=algorithm, epochs=epochs, max_fail=max_fail, goal=goal, min_grad=min_grad,
                    max_time=max_time, callbacks=callbacks, progress=progress, record_weights=record_weights,
                    options={**options, "rng": rng})
    classification = _is_classification(net, T, loss)
    kinds = _scaling_plan(scaling, loss, net)
    state = (backend.copy(net.theta), dict(net.input_scaling), dict(net.output_scaling), net.classes)
    chunked = is_dask(X) or is_dask(T) or (isinstance(X, dict) and any(map(is_dask, X.values())))
    try:
        if chunked:                 # Dask arrays: the engine runs where their chunks live (Dask is optional)
            from .chunked import chunked_splits
            splits, rows = chunked_splits(net, X, T, loss, classification, sample_weight,
                                          (0.7, 0.15, 0.15) if division is _DEFAULT else division, division_mode,
                                          validation, initial, kinds, rng)
        else:
            splits, rows = _prepare(net, X, T, loss, classification, sample_weight, division, division_mode,
                                    validation, initial, kinds, rng)
    except BaseException:           # a rejected call leaves the network as it was
        net.theta[...] = state[0]
        net.input_scaling, net.output_scaling, net.classes = state[1:]
        raise
    # 4. run the algorithm; the Monitor restores the best weights
    kind = Problem
    if chunked:
        from .chunked import ChunkedProblem as kind
    problem = kind(net, splits, loss, l2, "accuracy" if classification else "R", dropout=rng)
    history = train(problem, **schedule)
    history.division = dict(zip(("train", "val", "test"), rows))
    return history


def _check_graph_and_dropout(net, algorithm, batch_size):
    """A graph network trains on its whole graph; dropout needs a minibatch method (the
    others need the same function at every step of an epoch)."""
    p = plan(net)
    if p.coupled and batch_size is not None:
        raise ValueError("a graph network trains on the whole graph at once (its nodes depend on each other); "
                         "batch_size does not apply")
    if p.dropout and ALGORITHMS[algorithm].lr is None:
        name = next(n for n in [*net.inputs, *net.layers] if net.dropout_of(n))
        raise ValueError(f"{name!r} has dropout, which needs a gradient method that takes random steps "
                         f"(sgd, adam, rmsprop); {algorithm!r} needs the same function at every step. "
                         f"Turn it off for this training with net.set_dropout({name!r}, 0)")


def _prepare(net, X, T, loss, classification, sample_weight, division, division_mode, validation, initial,
             kinds, rng):
    """Steps 1-3 of :func:`fit`: the data (class labels encoded), its division and the
    splits in network units, the scaling fitted on the training rows and stored in
    ``net``.  Returns ``(splits, (train, val, test) row indices)``."""
    # 1. data, with class labels encoded
    if net.is_dynamic:
        if sample_weight is not None or validation is not None:
            raise ValueError("sequence training takes its validation steps from division; "
                             "sample_weight and validation= do not apply")
        data = sequence_data(net, X, T, initial)
    else:
        if initial is not None:
            raise ValueError("initial= gives delay states; the network has no delays")
        T, validation = _setup_classes(net, T, classification, validation, sample_weight)
        data = static_data(net, X, T, sample_weight)
    # 2. division
    if division is _DEFAULT:
        division = None if validation is not None else (0.7, 0.15, 0.15)
    rows = _rows(data, division, division_mode, _stratify_labels(data, net, classification), rng, net.is_dynamic)
    # 3. the splits in network units, the scaling fitted on the training rows
    splits = _splits(net, data, rows, kinds)
    if validation is not None:
        splits["val"] = whole_split(net, static_data(net, *validation))
    return splits, rows

@contextmanager
def _stop_on_interrupt(monitor):
    """While training in the main thread, a first Ctrl-C (SIGINT) stops after the
    current epoch, which then ends as a finished run would (the best weights restored,
    ``stop_reason`` "stopped by the user"); a second one aborts (``KeyboardInterrupt``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if monitor.interrupted:
            raise KeyboardInterrupt
        monitor.interrupted = True
        print("matnet: stopping after this epoch (Ctrl-C again to abort)", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def train(problem, algorithm, epochs, max_fail, goal, min_grad, max_time, callbacks, progress,
          record_weights, options):
    """Run ``algorithm`` on a prepared problem under a :class:`Monitor`; the History."""
    runner = ALGORITHMS[algorithm].runner
    epochs = ALGORITHMS[algorithm].epochs if epochs is None else int(epochs)
    history = History(algorithm, problem.loss, problem.metric)
    monitor = Monitor(problem, history, epochs, max_fail, goal, min_grad, max_time, tuple(callbacks),
                      Progress(epochs, progress), record_weights)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _stop_on_interrupt(monitor):
        reason = runner(problem, monitor, dict(options))   # divergence is caught and reported
    monitor.finish(reason)
    return history
