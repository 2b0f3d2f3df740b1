"""Training networks with delays on time series.

``fit(net, U, Y)`` on a dynamic network comes here.  The series are shifted for the
delays (:func:`~matnet.data.prepare_timeseries`: the first steps become initial
states; an open-loop NARX gets the measured outputs as its feedback input) and the
time steps are divided into training, validation and test blocks.

* A network whose only delays are on its inputs (an open-loop NARX, a time-delay
  network) is, step by step, a static network on lagged inputs: it is trained as
  that static network, fast, with any algorithm.
* A network with feedback from layers (closed loop, layer recurrence) is simulated
  over the whole series; the loss counts the steps of each split, gradients come
  from back-propagation through time and the Jacobian methods use the exact dynamic
  Jacobian.
"""
from __future__ import annotations

import math

import numpy as np

from .. import losses as _losses
from ..backprop import add_l2, backward_sequences, error_scale, sequence_jacobian
from ..data import divide, fit_scaling
from ..data.timeseries import prepare_timeseries
from ..network import Connection
from ..simulate import initial_history, is_recurrent, prepare_sequences, run_sequences
from .fit import _DEFAULT, Metric, _scaling_plan, train

__all__ = ["fit_sequences", "SequenceProblem", "static_equivalent"]


def _as_3d(series):
    x = np.asarray(series)
    return x[None] if x.ndim == 2 else x


def _scalings(net, kind, inputs, targets, mask):
    """Fit input/output scalings on the training steps; feedback inputs share their
    output's scaling so the loop can be closed exactly."""
    def fitted(x):
        return fit_scaling(kind, _as_3d(x)[:, mask].reshape(-1, _as_3d(x).shape[-1]), net.dtype)
    net.output_scaling = {name: fitted(t) for name, t in targets.items()}
    net.input_scaling = {name: fitted(x) for name, x in inputs.items() if name not in net.feedback}
    for fb, output in net.feedback.items():
        if fb in net.inputs:
            net.input_scaling[fb] = net.output_scaling[output]


def fit_sequences(net, U, T, loss, l2, division, division_mode, scaling, schedule):
    """:func:`~matnet.train.fit` for networks with delays (see the module docstring)."""
    if loss not in ("mse", "sse"):
        raise ValueError(f"sequence training supports the losses mse and sse, not {loss!r}")
    inputs, targets, initial = prepare_timeseries(net, U, T)
    targets = targets if isinstance(targets, dict) else {net.outputs[0]: targets}
    n_steps = _as_3d(next(iter(targets.values()))).shape[1]
    division = (0.7, 0.15, 0.15) if division is _DEFAULT else division
    parts = divide(n_steps, division, division_mode or "block",   # time is divided in blocks
                   seed=schedule["options"]["rng"])
    masks = {name: np.isin(np.arange(n_steps), idx) for name, idx in zip(("train", "val", "test"), parts)}
    kind_in, kind_out = _scaling_plan(scaling, loss, net)
    if kind_in != "keep" or kind_out != "keep":
        if kind_in is None and kind_out is None:
            net.input_scaling, net.output_scaling = {}, {}
        else:
            _scalings(net, kind_in or kind_out, inputs, targets, masks["train"])
    if not is_recurrent(net):
        return _fit_static_equivalent(net, inputs, initial, targets, parts, loss, l2, schedule)
    problem = SequenceProblem(net, inputs, initial, targets, masks, loss, l2)
    return train(problem, **schedule)


# -- networks with delays on their inputs only --------------------------------------

def static_equivalent(net):
    """The static network that computes one time step of ``net`` (delays on inputs
    only): each input connection becomes an input ``"<source>@<target>"`` carrying the
    stacked delayed values; weights, biases and the parameter order are the same."""
    if is_recurrent(net):
        raise ValueError("a network with feedback from layers has no static equivalent")
    inputs, connections = {}, []
    for c in net.connections.values():
        if c.source in net.inputs:
            name = f"{c.source}@{c.target}"
            inputs[name] = net.weights[c.key].shape[1]
            connections.append((Connection(name, c.target), net.weights[c.key]))
        else:
            connections.append((c, net.weights[c.key]))
    static = net._rebuild(inputs, connections)
    static.input_scaling = {}
    static.feedback = {}
    return static


def _lagged_samples(net, inputs, initial):
    """Per input connection, the stacked delayed inputs of every step, in network
    units, as static samples ``(n_series * n_steps, k * n)``."""
    prepared, _ = prepare_sequences(net, inputs)
    S = next(iter(prepared.values())).shape[0]
    fw = run_sequences(net, prepared, initial_history(net, initial, S))
    samples = {}
    for c in net.connections.values():
        if c.source in net.inputs:
            X = fw.lagged(c.source, c.delays)
            samples[f"{c.source}@{c.target}"] = X.reshape(-1, X.shape[-1])
    return samples, S


def _fit_static_equivalent(net, inputs, initial, targets, parts, loss, l2, schedule):
    from .fit import fit
    static = static_equivalent(net)
    X, S = _lagged_samples(net, inputs, initial)
    n_steps = _as_3d(next(iter(targets.values()))).shape[1]
    T = {name: _as_3d(t).reshape(-1, _as_3d(t).shape[-1]) for name, t in targets.items()}
    rows = {name: (np.arange(S)[:, None] * n_steps + idx[None, :]).ravel()
            for name, idx in zip(("train", "val", "test"), parts)}
    options = dict(schedule["options"])
    history = fit(static, X, T if len(T) > 1 else next(iter(T.values())), algorithm=schedule["algorithm"],
                  loss=loss, l2=l2, division=rows, scaling=("keep", "keep"), epochs=schedule["epochs"],
                  max_fail=schedule["max_fail"], goal=schedule["goal"], min_grad=schedule["min_grad"],
                  max_time=schedule["max_time"], callbacks=schedule["callbacks"], progress=schedule["progress"],
                  record_weights=schedule["record_weights"], seed=options.pop("rng"),
                  lr=options.pop("lr"), batch_size=options.pop("batch_size"),
                  lr_schedule=options.pop("lr_schedule"), **options)
    net.set_flat(static.get_flat())
    net.training = static.training
    return history


# -- networks with feedback ---------------------------------------------------------

class SequenceProblem:
    """The training problem of a recurrent network: the whole series is simulated
    and each split's loss counts its own time steps (full batch)."""

    def __init__(self, net, inputs, initial, targets, masks, loss, l2):
        self.net, self.loss, self.l2, self.metric = net, loss, l2, "R"
        self.inputs, S = self._inputs(net, inputs)
        self.history = initial_history(net, initial, S)
        self.targets = {name: self._scaled_target(name, t) for name, t in targets.items()}
        self.targets_data = np.concatenate([_as_3d(targets[o]).astype(net.dtype) for o in net.outputs], axis=-1)
        self.masks = {name: np.broadcast_to(m, (S, m.size)).astype(net.dtype) for name, m in masks.items()}
        self.scale = error_scale(net)
        self.theta = net._theta
        self.n = int(masks["train"].sum()) * S
        self._cache = (None, None)

    @staticmethod
    def _inputs(net, inputs):
        prepared, _ = prepare_sequences(net, inputs)
        S = next(iter(prepared.values())).shape[0] if prepared else 1
        return prepared, S

    def _scaled_target(self, name, t):
        t = _as_3d(t).astype(self.net.dtype)
        sc = self.net.output_scaling.get(name)
        return sc.apply(t) if sc is not None else t

    def forward(self):
        """The run at the current parameters (cached until they change)."""
        theta, fw = self._cache
        if theta is None or not np.array_equal(theta, self.theta):
            n_steps = next(iter(self.targets.values())).shape[1]
            fw = run_sequences(self.net, self.inputs, self.history, n_steps)
            self._cache = (self.theta.copy(), fw)
        return fw

    def _flat(self, arrays):
        return {k: v.reshape(-1, v.shape[-1]) for k, v in arrays.items()}

    def _loss(self, fw, split, need_delta):
        outputs = {o: fw.a[o] for o in self.net.outputs}
        z = {o: fw.z[o] for o in self.net.outputs}
        return _losses.evaluate(self.loss, self.net, self._flat(z), self._flat(outputs), self._flat(self.targets),
                                self.masks[split].reshape(-1), self.scale, need_delta)

    def _metric(self, fw, split):
        metric = Metric("R")
        mask = self.masks[split][0] > 0
        outputs = []
        for name in self.net.outputs:
            sc = self.net.output_scaling.get(name)
            outputs.append(sc.invert(fw.a[name]) if sc is not None else fw.a[name])
        metric.add(np.concatenate(outputs, axis=-1)[:, mask].reshape(-1, self.targets_data.shape[-1]),
                   self.targets_data[:, mask].reshape(-1, self.targets_data.shape[-1]))
        return metric

    def fresh_metric(self):
        return Metric("R")

    def batches(self, batch_size, rng):
        return [None]           # the whole series is one batch

    def evaluate(self, idx=None, need_gradient=True, metric=None):
        fw = self.forward()
        value, deltas = self._loss(fw, "train", need_gradient)
        grad = None
        if need_gradient:
            S, T = next(iter(fw.z.values())).shape[:2]
            deltas = {k: (g.reshape(S, T, -1), at_z) for k, (g, at_z) in deltas.items()}
            grad = backward_sequences(self.net, fw, deltas)
        value, grad = add_l2(self.net, self.l2, value, grad)
        if metric is not None:
            metric.sums = self._metric(fw, "train").sums
        return value, grad

    def scores(self, name):
        if not self.masks[name].any():
            return math.nan, math.nan
        fw = self.forward()
        return self._loss(fw, name, False)[0], self._metric(fw, name).value()

    def normal_equations(self, block_size=None, memory_reduction=None):
        return SequenceNormalEquations(self)


class SequenceNormalEquations:
    """``JᵀJ``, ``Jᵀe`` and the squared errors of a :class:`SequenceProblem`'s training
    steps from the dynamic Jacobian."""

    def __init__(self, problem):
        self.problem = problem
        K = sum(problem.net.layers[o].size for o in problem.net.outputs)
        self.n_errors = K * float(problem.masks["train"].sum())

    def compute(self, metric=None):
        p = self.problem
        fw = p.forward()
        J, e = sequence_jacobian(p.net, fw, p.targets, p.scale, p.masks["train"])
        J, e = J.astype(np.float64, copy=False), e.astype(np.float64, copy=False)
        if metric is not None:
            metric.sums = p._metric(fw, "train").sums
        return J.T @ J, J.T @ e, float(e @ e)

    def sse(self):
        p = self.problem
        value, _ = p._loss(p.forward(), "train", False)
        norm = 1.0 if p.loss == "sse" else self.n_errors
        return value * norm
