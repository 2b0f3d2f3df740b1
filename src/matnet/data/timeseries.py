"""Time series for dynamic networks: shifting for the delays (MATLAB ``preparets``) and
converting between series and lists of time steps (``con2seq`` / ``seq2con``).

A series is ``(n_steps, n_features)``; several series of equal length are
``(n_series, n_steps, n_features)``.
"""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["prepare_timeseries", "to_sequence", "from_sequence", "sequence_inputs"]


def sequence_inputs(net, U, T):
    """The network's input series: ``U`` for the exogenous inputs, and for an open-loop
    NARX the measured output series ``T`` as its feedback inputs."""
    exogenous = [name for name in net.inputs if name not in net.feedback]
    if isinstance(U, dict):
        inputs = dict(U)
    elif U is None:
        inputs = {}
    elif len(exogenous) == 1:
        inputs = {exogenous[0]: U}
    else:
        raise ValueError(f"the network has exogenous inputs {', '.join(exogenous) or 'none'}; pass a dict")
    targets = T if isinstance(T, dict) else {net.outputs[0]: T}
    for fb, output in net.feedback.items():
        if fb in net.inputs and fb not in inputs:
            inputs[fb] = targets[output]
    return inputs


def _shift(series, d, d_total):
    """Values from step ``d_total`` on, and the ``d`` values before that (oldest first)."""
    x = series if hasattr(series, "__array_namespace__") else np.asarray(series)   # arrays of any library
    return backend.copy(x[..., d_total:, :]), backend.copy(x[..., d_total - d:d_total, :])


def prepare_timeseries(net, U, T):
    """Shift input and target series for the network's delays (MATLAB ``preparets``).

    The first ``d`` steps (``d`` the largest delay of any input, or of a fed-back
    output in closed loop) become the initial delay states; inputs and targets start
    after them.  For an open-loop NARX the feedback inputs are the target series.

    Returns
    -------
    inputs : dict ``name -> series`` from step ``d`` on
    targets : array or dict, from step ``d`` on
    initial : dict ``name -> (d_name, n)`` (or ``(n_series, d_name, n)``) initial states,
        in data units, for ``net.simulate(inputs, initial)``
    """
    inputs = sequence_inputs(net, U, T)
    delays = net.max_delays()
    fed_back = {name: delays[name] for name in net.outputs if delays[name]}
    d_total = max([delays[name] for name in inputs] + list(fed_back.values()) + [0])
    out, initial = {}, {}
    for name, series in inputs.items():
        out[name], state = _shift(series, delays[name], d_total)
        if delays[name]:
            initial[name] = state
    targets = T if isinstance(T, dict) else {net.outputs[0]: T}
    shifted = {}
    for name, series in targets.items():
        shifted[name], state = _shift(series, fed_back.get(name, 0), d_total)
        if name in fed_back:
            initial[name] = state
    steps = {np.shape(v)[-2] if not hasattr(v, "shape") else v.shape[-2] for v in [*inputs.values(), *targets.values()]}
    if len(steps) > 1:
        raise ValueError(f"input and target series have different numbers of steps: {sorted(steps)}")
    if steps and d_total >= steps.pop():
        raise ValueError(f"the series are too short for the network's delays (largest {d_total})")
    return out, (shifted if isinstance(T, dict) else shifted[net.outputs[0]]), initial


def to_sequence(X):
    """A series as a list of time steps (MATLAB ``con2seq``): ``(n_steps, n)`` gives
    ``n_steps`` arrays ``(n,)``; ``(n_series, n_steps, n)`` gives arrays ``(n_series, n)``."""
    X = np.asarray(X)
    if X.ndim not in (2, 3):
        raise ValueError(f"a series is (n_steps, n) or (n_series, n_steps, n), got shape {X.shape}")
    return [X[t] for t in range(X.shape[0])] if X.ndim == 2 else [X[:, t] for t in range(X.shape[1])]


def from_sequence(steps):
    """The inverse of :func:`to_sequence` (MATLAB ``seq2con``)."""
    steps = [np.asarray(s) for s in steps]
    if not steps:
        raise ValueError("from_sequence needs at least one time step")
    return np.stack(steps, axis=0 if steps[0].ndim == 1 else 1)
