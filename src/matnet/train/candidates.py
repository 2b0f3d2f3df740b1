"""Several parameter vectors of one recurrent network evaluated in one run over time.

A Levenberg–Marquardt epoch tries steps for growing damping ``μ, 10μ, 100μ, ...``
until one lowers the loss, and each trial of a closed loop is a run over every time
step.  A small network's run costs the Python overhead of its steps, not arithmetic,
so ``k`` candidates cost about one run when they run side by side: a *wide* network
holds ``k`` copies of every layer next to each other, every connection from a layer
block-diagonal (each copy reads only its own past) and every connection from an
input stacked (all copies read the same input).  Candidate ``j`` is copy ``j``; its
outputs, and its whole run, are read back exactly (the blocks off the diagonal are
zero).  Measured on Narendra's plant ([1, 3, 3, 1], 500 steps, one thread, 2026-11-30):
one run 1.05 ms, four candidates side by side 1.20 ms, eight 1.73 ms.
"""
from __future__ import annotations

import numpy as np

from ..network import Network
from ..simulate import Trace, run
from ..weights import is_compressed

__all__ = ["Candidates", "MAX_PARAMS", "MAX_BYTES"]

#: Networks with at most this many parameters (and dense weights) run their trials side by side,
MAX_PARAMS = 2000
#: when the wide run's net inputs, activations and window of past values fit in this many bytes.
MAX_BYTES = 8 * 2 ** 20


class Candidates:
    """``k`` copies of ``net`` side by side (see the module docstring).

    Parameters
    ----------
    net : Network
        A network with feedback from layers and dense weights.
    k : int
        How many parameter vectors one run evaluates.
    """

    def __init__(self, net, k):
        self.net, self.k = net, int(k)
        wide = Network(dtype=net.dtype)
        for name, size in net.inputs.items():
            wide.add_input(name, size)
        for name, layer in net.layers.items():
            wide.add_layer(name, layer.size * self.k, layer.activation, layer.bias)
        for c in net.connections.values():
            rows, cols = net.weights[c.key].shape
            width = cols * (1 if c.source in net.inputs else self.k)
            wide.connect(c.source, c.target, np.zeros((rows * self.k, width)),
                         delays=c.delays)
        wide.outputs = net.outputs
        self.wide = wide
        self._into, self._from = self._positions()

    def _positions(self):
        """``(into, from)``: the wide network's parameter ``into[i]`` is entry ``from[i]``
        of the copies' parameter vectors end to end (found once, by writing their indices
        1 ... k P, exact in float32 too: ``k P`` stays far below 2²⁴)."""
        P = self.net.n_params
        self._write(np.arange(1, self.k * P + 1, dtype=np.float64).reshape(self.k, P))
        into = np.flatnonzero(self.wide.theta)
        taken = self.wide.theta[into].astype(np.int64) - 1
        self.wide.theta[...] = 0
        return into, taken

    @staticmethod
    def applies(net, rows, k):
        """Whether ``k`` trials of ``net`` on ``rows`` rows (series × steps) can run side
        by side: feedback from layers, dense weights, at most :data:`MAX_PARAMS`
        parameters and a wide run within :data:`MAX_BYTES`, on NumPy."""
        neurons = sum(layer.size for layer in net.layers.values())
        return (net.is_recurrent and net.xp is np and net.n_params <= MAX_PARAMS
                and 3 * k * rows * neurons * net.dtype.itemsize <= MAX_BYTES
                and not any(is_compressed(W) for W in net.weights.values()))

    def load(self, thetas):
        """Write the parameter vectors ``thetas`` (at most ``k``; missing copies repeat
        the last) into the wide network's blocks."""
        thetas = list(thetas) + [thetas[-1]] * (self.k - len(thetas))
        self.wide.theta[self._into] = np.concatenate(thetas)[self._from]

    def _write(self, thetas):
        """Write ``k`` parameter vectors into the wide network's blocks, connection by connection."""
        net, wide = self.net, self.wide
        for j, theta in enumerate(thetas):
            weights, biases = net.views(np.asarray(theta, dtype=net.dtype))
            for c in net.connections.values():
                W, target = weights[c.key], wide.weights[c.key]
                R = W.shape[0]
                if c.source in net.inputs:
                    target[j * R:(j + 1) * R] = W
                    continue
                C, kC = net.layers[c.source].size, net.layers[c.source].size * self.k
                for d in range(len(c.delays)):
                    target[j * R:(j + 1) * R, d * kC + j * C:d * kC + (j + 1) * C] = W[:, d * C:(d + 1) * C]
            for name, b in biases.items():
                wide.biases[name][j * b.size:(j + 1) * b.size] = b

    def run(self, split):
        """The wide run of ``split`` (its layers' initial states repeated for each copy)."""
        states = {name: np.concatenate([s] * self.k, axis=-1) for name, s in split.states.items()}
        return run(self.wide, split.x, split.shape, states)

    def trace(self, wide_trace, j):
        """Copy ``j``'s part of a wide run: the run of its parameters alone."""
        def part(arrays):
            out = {}
            for name, v in arrays.items():
                size = self.net.layers[name].size
                out[name] = np.ascontiguousarray(v[..., j * size:(j + 1) * size])
            return out
        return Trace(wide_trace.shape, wide_trace.x, part(wide_trace.z), part(wide_trace.a), part(wide_trace.states),
                     wide_trace.single, wide_trace.inputs)

    def outputs(self, wide_trace, name):
        """The output layer ``name`` of every copy: ``(rows, k, size)``."""
        a = wide_trace.a[name]
        return a.reshape(a.shape[0], self.k, -1)
