"""Training data as the engine's rows: samples or series in data units
(:class:`Data`), and all of it as one :class:`~matnet.train.problem.Split` in the
network's units (:func:`whole_split`) — what :func:`~matnet.train.fit.fit`, the
derivatives of :mod:`matnet.derivatives` and the chunks of
:mod:`matnet.train.chunked` are made of."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..data import prepare_targets
from ..data.timeseries import prepare_timeseries, sequence_inputs
from ..prepare import as_rows, engine_rows, initial_states, prepare_inputs, prepare_sequences
from .problem import Split

__all__ = ["Data", "static_data", "sequence_data", "whole_split", "scaled"]


@dataclass
class Data:
    """Training data in data units, as series: ``inputs`` ``name -> (n_series, n_steps, n)``
    and ``targets`` ``layer -> (n_series, n_steps, size)`` (static samples are series of
    one step), ``initial`` delay states, ``weight`` ``(n_series * n_steps,)`` or None."""

    inputs: dict
    targets: dict
    initial: dict
    weight: np.ndarray | None

    @property
    def shape(self):
        return next(iter(self.targets.values())).shape[:2]


def _sample_weight(weight, n, net):
    if weight is None:
        return None
    weight = backend.to_numpy(weight).astype(net.dtype, copy=False)
    if weight.shape != (n,) or not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError(f"sample_weight must be {n} finite non-negative numbers, got shape {weight.shape}")
    return backend.asarray(weight, net.xp)


def static_data(net, X, T, sample_weight=None):
    """:class:`Data` of samples ``X`` ``(n_samples, n)`` and targets for a static network."""
    inputs, _ = prepare_inputs(net, X, scale=False)
    n = next(iter(inputs.values())).shape[0]
    targets = prepare_targets(net, T, n, scale=False)
    return Data({k: v[:, None, :] for k, v in inputs.items()}, {k: v[:, None, :] for k, v in targets.items()}, {},
                _sample_weight(sample_weight, n, net))


def sequence_data(net, U, T, initial=None, shift=True):
    """:class:`Data` of input and target series for a network with delays.

    With ``shift`` and no ``initial`` the first steps become the initial delay states
    (:func:`~matnet.data.prepare_timeseries`); otherwise the series are used whole from
    the ``initial`` states (zero when not given).  An open-loop NARX takes its feedback
    inputs from ``T``.
    """
    if initial is None and shift:
        U, T, initial = prepare_timeseries(net, U, T)
    inputs, _ = prepare_sequences(net, sequence_inputs(net, U, T), scale=False)
    T = T if isinstance(T, dict) else {net.outputs[0]: T}
    T = {k: v if hasattr(v, "shape") else np.asarray(v) for k, v in T.items()}
    first = next(iter(T.values()))
    S, n_steps = (1, first.shape[0]) if first.ndim <= 2 else first.shape[:2]
    flat = {k: backend.namespace(v).reshape(v, (S * n_steps, -1)) if v.ndim >= 2 else v for k, v in T.items()}
    targets = prepare_targets(net, flat, S * n_steps, scale=False)
    return Data(inputs, {k: net.xp.reshape(v, (S, n_steps, -1)) for k, v in targets.items()}, dict(initial or {}),
                None)


def scaled(scalings, arrays, dtype):
    """``arrays`` in network units, of ``dtype`` (one new array per scaled one)."""
    return {k: scalings[k].apply(backend.astype(v, dtype)) if k in scalings else backend.astype(v, dtype)
            for k, v in arrays.items()}


def whole_split(net, data):
    """All of ``data`` as one :class:`~matnet.train.problem.Split` in network units."""
    inputs = scaled(net.input_scaling, data.inputs, net.dtype)
    states = initial_states(net, data.initial, data.shape[0])
    x, shape, layer_states = engine_rows(net, inputs, states)
    targets_data = backend.concat([as_rows(data.targets[k]) for k in net.outputs], axis=1)
    targets = {k: as_rows(v) for k, v in scaled(net.output_scaling, data.targets, net.dtype).items()}
    return Split(x, shape, layer_states, targets, targets_data, data.weight)
