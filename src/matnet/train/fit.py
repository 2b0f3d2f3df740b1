"""The training loop: data preparation, division, scaling, stopping rules, History.

:func:`fit` prepares the data once (validation, label encoding, division, scaling into
network units), then hands a :class:`Problem` to the chosen algorithm.  Algorithms
report each epoch to a :class:`Monitor`, which evaluates the validation and test sets,
records the :class:`History`, applies the stopping rules and keeps the best weights.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import losses as _losses
from ..backprop import add_l2, backward, error_scale
from ..data import divide, encode_labels, fit_scaling, is_labels, prepare_targets
from ..init import initialize
from ..init import rng as _rng
from ..simulate import prepare_inputs, run
from .history import History
from .progress import Progress

__all__ = ["fit", "register", "Problem", "Monitor", "TrainingWarning", "ALGORITHMS"]

ALGORITHMS = {}


def register(name, runner, full_batch=True, epochs=1000, max_fail=6):
    """Make ``runner(problem, monitor, options)`` available as ``fit(algorithm=name)``,
    with its defaults for ``epochs`` and ``max_fail``."""
    ALGORITHMS[name] = (runner, full_batch, epochs, max_fail)


class TrainingWarning(UserWarning):
    """Training stopped because it diverged (NaN or inf)."""


@dataclass
class Split:
    """One data split in network units, with its targets in data units for metrics."""

    inputs: dict
    targets: dict
    targets_data: np.ndarray
    weight: np.ndarray | None
    n: int

    def take(self, idx):
        return Split({k: v[idx] for k, v in self.inputs.items()}, {k: v[idx] for k, v in self.targets.items()},
                     self.targets_data[idx], None if self.weight is None else self.weight[idx], len(idx))


class Metric:
    """Accuracy (classification) or Pearson R (regression), accumulated over batches."""

    def __init__(self, kind):
        self.kind = kind
        self.sums = np.zeros(6)

    def add(self, Y, T):
        if self.kind == "accuracy":
            self.sums[0] += _losses.accuracy(Y, T) * Y.shape[0]
            self.sums[1] += Y.shape[0]
        else:
            y, t = np.ravel(Y).astype(np.float64), np.ravel(T).astype(np.float64)
            self.sums += [y.size, y.sum(), t.sum(), y @ y, t @ t, y @ t]

    def value(self):
        if self.kind == "accuracy":
            return self.sums[0] / self.sums[1] if self.sums[1] else math.nan
        n, sy, st, syy, stt, syt = self.sums
        if n < 2:
            return math.nan
        cov, vy, vt = syt - sy * st / n, syy - sy * sy / n, stt - st * st / n
        return float(cov / math.sqrt(vy * vt)) if vy > 0 and vt > 0 else math.nan


class Problem:
    """What an algorithm optimises: the loss of ``net`` on the training split.

    ``theta`` is the network's live parameter vector; :meth:`evaluate` gives the loss
    (in data units, L2 penalty included) and its gradient on all training samples or a
    batch of them.
    """

    def __init__(self, net, splits, loss, l2, metric):
        self.net, self.splits, self.loss, self.l2, self.metric = net, splits, loss, l2, metric
        self.train = splits["train"]
        self.scale = error_scale(net)
        self.theta = net._theta
        self.grad = np.empty_like(self.theta)
        self.grad_views = net.views(self.grad)

    @property
    def n(self):
        return self.train.n

    def batches(self, batch_size, rng):
        """Shuffled index batches covering the training split once."""
        perm = rng.permutation(self.n)
        return [perm[i:i + batch_size] for i in range(0, self.n, batch_size)]

    def evaluate(self, idx=None, need_gradient=True, metric=None):
        """``(loss, gradient)`` on the training split (or the samples ``idx``).

        The gradient is written into one reused buffer.  ``metric`` (a :class:`Metric`)
        accumulates the batch's outputs when given.
        """
        split = self.train if idx is None else self.train.take(idx)
        fw = run(self.net, split.inputs)
        value, deltas = _losses.evaluate(self.loss, self.net, fw.z, fw.a, split.targets, split.weight,
                                         self.scale, need_gradient)
        grad = backward(self.net, fw, deltas, self.grad, self.grad_views) if need_gradient else None
        value, grad = add_l2(self.net, self.l2, value, grad)
        if metric is not None:
            metric.add(data_outputs(self.net, fw), split.targets_data)
        return value, grad

    def fresh_metric(self):
        return Metric(self.metric)

    def scores(self, name):
        """``(loss, metric)`` of the split ``name`` ("val" or "test"); NaN when empty."""
        split = self.splits.get(name)
        if split is None or split.n == 0:
            return math.nan, math.nan
        fw = run(self.net, split.inputs)
        value, _ = _losses.evaluate(self.loss, self.net, fw.z, fw.a, split.targets, split.weight,
                                    self.scale, need_delta=False)
        metric = Metric(self.metric)
        metric.add(data_outputs(self.net, fw), split.targets_data)
        return value, metric.value()

    def normal_equations(self, block_size=None, memory_reduction=None):
        """The accumulator of ``JᵀJ`` and ``Jᵀe`` the Jacobian methods use."""
        from .levenberg_marquardt import NormalEquations
        return NormalEquations(self, block_size, memory_reduction)


def data_outputs(net, fw):
    """The output layers' activations in data units, side by side."""
    blocks = []
    for name in net.outputs:
        Y = fw.a[name]
        blocks.append(net.output_scaling[name].invert(Y) if name in net.output_scaling else Y)
    return np.hstack(blocks)


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
        self.best_theta = self.last_good = problem.theta.copy()
        self.best_epoch = 0
        self.stop_reason = None

    def __call__(self, train_loss, grad_norm, train_metric=math.nan, lr=math.nan, **extra):
        """Record one epoch (``grad_norm`` None: not computed); return True when
        training must stop."""
        self.epoch += 1
        theta = self.problem.theta
        bad_gradient = grad_norm is not None and not np.isfinite(grad_norm)
        grad_norm = math.nan if grad_norm is None else grad_norm
        if not np.isfinite(train_loss) or bad_gradient:
            what = "loss" if not np.isfinite(train_loss) else "gradient"
            self.stop_reason = (f"diverged: the {what} became {train_loss if what == 'loss' else grad_norm} "
                                f"at epoch {self.epoch}; restored the weights of epoch {self.epoch - 1}")
            theta[...] = self.last_good
            self.epoch -= 1
            return True
        val_loss, val_metric = self.problem.scores("val")
        test_loss, test_metric = self.problem.scores("test")
        if not math.isnan(val_loss) and self.max_fail is not None:
            if val_loss < self.best_val:
                self.best_val, self.fails, self.best_epoch = val_loss, 0, self.epoch
                self.best_theta = theta.copy()
            elif val_loss > self.best_val:
                self.fails += 1
        else:
            self.best_epoch = self.epoch
        self.last_good = theta.copy()
        elapsed = time.perf_counter() - self.start
        self.history.record(train_loss=train_loss, val_loss=val_loss, test_loss=test_loss,
                            train_metric=train_metric, val_metric=val_metric, test_metric=test_metric,
                            lr=lr, grad_norm=grad_norm, time=elapsed, val_fail=self.fails, **extra)
        if self.record_weights:
            self.history.weights.append({k: v.copy() for k, v in self.problem.net.weights.items()})
        self.progress.update(self.epoch, train=train_loss, val=val_loss)
        self.stop_reason = self._stop(train_loss, grad_norm, elapsed)
        return self.stop_reason is not None

    def _stop(self, train_loss, grad_norm, elapsed):
        stops = [hook(self.epoch, self.history, self.problem.net)        # every callback, every epoch
                 for hook in (getattr(cb, "on_epoch_end", cb) for cb in self.callbacks)]
        if any(stops):
            return "callback"
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


def _default_loss(net, T):
    acts = {net.layers[name].activation.name for name in net.outputs}
    if acts == {"softmax"}:
        return "cross_entropy"
    if acts == {"sigmoid"} and not isinstance(T, dict) and is_labels(T):
        return "binary_cross_entropy"
    return "mse"


def _setup_classes(net, T, loss, validation):
    """Encode class labels (kept in ``net.classes``) for classification losses."""
    if loss not in ("cross_entropy", "binary_cross_entropy") or isinstance(T, dict) or not is_labels(T):
        return T, validation
    size = net.layers[net.outputs[0]].size
    encoded, net.classes = encode_labels(T, None, size)
    if validation is not None and is_labels(validation[1]):
        validation = (validation[0], encode_labels(validation[1], net.classes, size)[0])
    return encoded, validation


def _scaling_plan(scaling, loss, net):
    """``(input kind, output kind)``; ``"keep"`` keeps what the network has."""
    if isinstance(scaling, dict):
        return scaling.get("inputs"), scaling.get("outputs")
    if isinstance(scaling, tuple):
        return scaling
    linear_outputs = all(net.layers[n].activation.name == "linear" for n in net.outputs)
    regression = loss in ("mse", "sse") and linear_outputs
    if scaling == "auto":
        if net.input_scaling or net.output_scaling:
            return "keep", "keep"
        return "minmax", ("minmax" if regression else None)
    return scaling, (scaling if regression else None)


def _apply_scaling(net, plan, inputs, targets, idx):
    """Fit the planned scalings on the samples ``idx`` and store them in ``net``."""
    kind_in, kind_out = plan
    if kind_in != "keep":
        net.input_scaling = {} if kind_in is None else {
            k: fit_scaling(kind_in, v[idx], net.dtype) for k, v in inputs.items()}
    if kind_out != "keep":
        net.output_scaling = {} if kind_out is None else {
            k: fit_scaling(kind_out, v[idx], net.dtype) for k, v in targets.items()}


def _split(net, inputs, targets, weight, idx):
    """The samples ``idx`` in network units (no copy when they are all samples, in order)."""
    n = len(idx)
    everything = n == len(next(iter(inputs.values()))) and np.array_equal(idx, np.arange(n))
    take = (lambda v: v) if everything else (lambda v: v[idx])

    def scaled(arrays, scalings):
        return {k: (scalings[k].apply(take(v)) if k in scalings else take(v)).astype(net.dtype, copy=False)
                for k, v in arrays.items()}
    data_t = np.hstack([take(targets[k]) for k in net.outputs])
    return Split(scaled(inputs, net.input_scaling), scaled(targets, net.output_scaling), data_t,
                 None if weight is None else take(weight), n)


def _stratify_labels(targets, net):
    T = targets[net.outputs[0]]
    return (T[:, 0] >= 0.5).astype(int) if T.shape[1] == 1 else np.argmax(T, axis=1)


_DEFAULT = object()


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
        restart_init="nguyen_widrow", **options):
    """Train ``net`` in place.

    Parameters
    ----------
    X : array or dict
        Inputs ``(n_samples, n_features)`` (a dict for several inputs).
    T : array or dict
        Targets ``(n_samples, n_out)``; class labels ``(n_samples,)`` (ints or
        strings) for a softmax/sigmoid classifier, kept in ``net.classes``.
    algorithm : str
        ``"sgd"``, ``"adam"``, ``"rmsprop"`` (minibatch); ``"rprop"``, ``"lbfgs"``,
        ``"cg"`` (full batch) and the Jacobian methods once registered.
    loss : str, optional
        Default ``cross_entropy`` for softmax outputs, ``binary_cross_entropy`` for
        sigmoid outputs with label targets, else ``mse``.
    epochs : int, optional
        Maximum epochs (default 200 for minibatch methods, 1000 otherwise).
    batch_size : int, optional
        Minibatch size for sgd/adam/rmsprop (default ``min(200, n_train)``).
    lr : float, optional
        Learning rate (defaults: sgd 0.01, adam and rmsprop 0.001).
    l2 : float
        L2 penalty ``l2 / 2 * sum(W**2)`` on the weights.
    sample_weight : array (n_samples,), optional
    division : tuple, dict or None
        ``(train, val, test)`` fractions (default ``(0.7, 0.15, 0.15)``, or ``None``
        when ``validation`` is given), explicit index sets, or ``None``.
    division_mode : {"random", "block", "interleaved"}
        Default ``"random"`` (stratified for classification); ``"block"`` for time
        series (networks with delays).
    validation : (X_val, T_val), optional
        A separate validation set.
    scaling : "auto", "minmax", "standard", None, or (inputs, outputs)
        ``"auto"``: inputs ``minmax``; outputs ``minmax`` for regression with linear
        outputs; an already scaled network keeps its scaling.  Fitted on the
        training split, stored in the network, applied by ``net(X)``.
    max_fail, patience : int
        Stop after the validation loss rose this many times since its best
        (``patience`` is an alias; default 6, as MATLAB; ``None`` for ``"br"``); the
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
        stops training.
    progress : bool, optional
        Progress bar on standard error (default: when it is a terminal and not CI).
    record_weights : bool
        Keep a copy of the weight matrices of every epoch in ``history.weights``.
    restarts : int
        Train this many initialisations (the given weights, then ``restart_init``
        drawn from ``seed``) on the same division and keep the one with the lowest
        validation loss (training loss without a validation set).  The History is the
        winner's, with ``restart_scores`` and ``restart`` (its index) added.
    restart_init : str
        Initialiser of the restarts (see :func:`matnet.init.initialize`).
    **options
        Options of the algorithm (``momentum``, ``nesterov``, ``beta1``, ``mu``, ...).

    Returns
    -------
    History
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    if restarts != 1:
        arguments = dict(locals())
        for key in ("net", "X", "T", "restarts", "restart_init", "options"):
            arguments.pop(key)
        return _fit_restarts(net, X, T, int(restarts), restart_init, {**arguments, **options})
    runner, full_batch, default_epochs, default_max_fail = ALGORITHMS[algorithm]
    if max_fail is _DEFAULT:
        max_fail = default_max_fail
    if patience is not None:
        max_fail = patience
    if full_batch and batch_size is not None:
        raise ValueError(f"{algorithm!r} trains on the full batch; batch_size does not apply")
    loss = _losses.check_loss(loss or _default_loss(net, T), net)
    rng = _rng(seed)
    schedule = dict(algorithm=algorithm, epochs=epochs, max_fail=max_fail, goal=goal, min_grad=min_grad,
                    max_time=max_time, callbacks=callbacks, progress=progress, record_weights=record_weights,
                    options={**options, "lr": lr, "batch_size": batch_size, "lr_schedule": lr_schedule, "rng": rng})
    if net.is_dynamic:
        from .sequences import fit_sequences
        if sample_weight is not None or validation is not None:
            raise ValueError("sequence training takes its validation steps from division; "
                             "sample_weight and validation= do not apply")
        return fit_sequences(net, X, T, loss, l2, division, division_mode, scaling, schedule)
    T, validation = _setup_classes(net, T, loss, validation)
    inputs, _ = prepare_inputs(net, X, scale=False)
    n = next(iter(inputs.values())).shape[0]
    targets = prepare_targets(net, T, n, scale=False)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=net.dtype)
        if sample_weight.shape != (n,) or not np.isfinite(sample_weight).all() or (sample_weight < 0).any():
            raise ValueError(f"sample_weight must be {n} finite non-negative numbers, got shape {sample_weight.shape}")
    classification = loss in ("cross_entropy", "binary_cross_entropy")
    if division is _DEFAULT:
        division = None if validation is not None else (0.7, 0.15, 0.15)
    labels = _stratify_labels(targets, net) if classification and len(net.outputs) == 1 else None
    train_idx, val_idx, test_idx = divide(n, division, division_mode or "random", labels=labels, seed=rng)
    _apply_scaling(net, _scaling_plan(scaling, loss, net), inputs, targets, train_idx)
    splits = {name: _split(net, inputs, targets, sample_weight, idx)
              for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    if validation is not None:
        v_in, _ = prepare_inputs(net, validation[0], scale=False)
        v_n = next(iter(v_in.values())).shape[0]
        v_t = prepare_targets(net, validation[1], v_n, scale=False)
        splits["val"] = _split(net, v_in, v_t, None, np.arange(v_n))
    problem = Problem(net, splits, loss, l2, "accuracy" if classification else "R")
    return train(problem, **schedule)


def train(problem, algorithm, epochs, max_fail, goal, min_grad, max_time, callbacks, progress,
          record_weights, options):
    """Run ``algorithm`` on a prepared problem under a :class:`Monitor`; the History."""
    runner, _, default_epochs, _ = ALGORITHMS[algorithm]
    epochs = default_epochs if epochs is None else int(epochs)
    history = History(algorithm, problem.loss, problem.metric)
    monitor = Monitor(problem, history, epochs, max_fail, goal, min_grad, max_time, tuple(callbacks),
                      Progress(epochs, progress), record_weights)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught and reported
        reason = runner(problem, monitor, dict(options))
    monitor.finish(reason)
    return history
