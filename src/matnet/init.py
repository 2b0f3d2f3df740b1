"""Weight initialisers.

Matrix initialisers take a weight shape ``(n_out, n_in)`` (for a tapped-delay
connection ``n_in`` counts every delayed copy), a ``numpy.random.Generator`` and a
dtype, and return a new matrix.  Nguyen–Widrow works on a whole layer (all of its
incoming weights and its bias together), as MATLAB's ``initnw`` does, and is applied by
:func:`initialize`.
"""
from __future__ import annotations

import numpy as np

from .weights import is_compressed

__all__ = [
    "rng", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "uniform",
    "nguyen_widrow", "initialize", "MATRIX_INITIALIZERS", "loop_gain", "stabilize", "STABLE_GAIN",
]

#: Spectral radius an initialised recurrence is scaled down to (when above it).
STABLE_GAIN = 0.9


def rng(seed=None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int, ``None`` or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState) or seed is np.random:
        raise TypeError("seed must be an int or a numpy.random.Generator (global random state is never used)")
    return np.random.default_rng(seed)


def glorot_uniform(shape, rng, dtype=np.float64):
    """Glorot & Bengio (2010): ``U(-s, s)``, ``s = sqrt(6 / (n_in + n_out))``."""
    n_out, n_in = shape
    s = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-s, s, size=shape).astype(dtype)


def glorot_normal(shape, rng, dtype=np.float64):
    """Glorot & Bengio (2010): ``N(0, 2 / (n_in + n_out))``."""
    n_out, n_in = shape
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (n_in + n_out))).astype(dtype)


def he_uniform(shape, rng, dtype=np.float64):
    """He et al. (2015): ``U(-s, s)``, ``s = sqrt(6 / n_in)``."""
    s = np.sqrt(6.0 / shape[1])
    return rng.uniform(-s, s, size=shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float64):
    """He et al. (2015): ``N(0, 2 / n_in)``."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / shape[1])).astype(dtype)


def uniform(shape, rng, dtype=np.float64):
    """``U(-1, 1)``, MATLAB's ``rands``."""
    return rng.uniform(-1, 1, size=shape).astype(dtype)


MATRIX_INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "he": he_normal,
    "uniform": uniform,
}


def matrix_initializer(name):
    """The matrix initialiser called ``name`` (a clear error for an unknown one)."""
    if callable(name):
        return name
    try:
        return MATRIX_INITIALIZERS[name]
    except KeyError:
        known = ", ".join([*MATRIX_INITIALIZERS, "nguyen_widrow"])
        raise ValueError(f"unknown initialiser {name!r}; known: {known}") from None


def nguyen_widrow(n_neurons, input_ranges, active_range, rng, dtype=np.float64):
    """Nguyen & Widrow (1990) weights and bias for one layer, as MATLAB's ``initnw``.

    Parameters
    ----------
    n_neurons : int
        The layer's size ``S``.
    input_ranges : array of shape (R, 2)
        ``[min, max]`` of each of the layer's ``R`` inputs (all incoming connections
        stacked).  Constant inputs (``min == max``) get zero weights.
    active_range : (float, float)
        Net-input interval where the layer's activation is not saturated.
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray (S, R)
    b : ndarray (S,)
    """
    ranges = np.asarray(input_ranges, dtype=np.float64).reshape(-1, 2)
    n_in = ranges.shape[0]
    W = np.zeros((n_neurons, n_in))
    b = np.zeros(n_neurons)
    varying = ranges[:, 0] != ranges[:, 1]
    r = int(varying.sum())
    if r and n_neurons:
        # Spread the neurons' active regions evenly over the input space [-1, 1]^r.
        # Random directions of length 0.7 S^(1/r).
        magnitude = 0.7 * n_neurons ** (1.0 / r)
        direction = rng.uniform(-1, 1, size=(n_neurons, r))
        w = magnitude * direction / np.linalg.norm(direction, axis=1, keepdims=True)
        bias = magnitude * np.linspace(-1, 1, n_neurons) * np.sign(w[:, 0]) if n_neurons > 1 else np.zeros(1)
        # Net inputs of [-1, 1] onto the active range.
        lo, hi = active_range
        w, bias = 0.5 * (hi - lo) * w, 0.5 * (hi - lo) * bias + 0.5 * (hi + lo)
        # Inputs from [min, max] onto [-1, 1].
        lo_in, hi_in = ranges[varying, 0], ranges[varying, 1]
        scale = 2.0 / (hi_in - lo_in)
        shift = 1.0 - hi_in * scale
        b = bias + w @ shift
        W[:, varying] = w * scale
    return W.astype(dtype), b.astype(dtype)


def _layer_input_ranges(net, layer):
    """``[min, max]`` per stacked input of ``layer``: ``[-1, 1]`` for network inputs
    (data scaled as ``mapminmax`` does), the activation's range for layers (or
    ``[-1, 1]`` where it is unbounded)."""
    rows = []
    for conn in net.incoming(layer):
        if conn.source in net.inputs:
            lo, hi = -1.0, 1.0
            size = net.inputs[conn.source]
        else:
            lo, hi = net.layers[conn.source].activation.output_range
            lo = -1.0 if not np.isfinite(lo) else lo
            hi = 1.0 if not np.isfinite(hi) else hi
            size = net.layers[conn.source].size
        rows += [(lo, hi)] * (size * len(conn.delays))
    return np.array(rows).reshape(-1, 2)


def initialize(net, method="glorot_uniform", seed=None):
    """Re-initialise every weight (of trainable connections) and bias of ``net`` in place.

    Parameters
    ----------
    method : str
        A matrix initialiser (``"glorot_uniform"``, ``"glorot_normal"``, ``"he"``,
        ``"he_uniform"``, ``"he_normal"``, ``"uniform"``; biases become zero) or
        ``"nguyen_widrow"`` (layers whose activation has a finite active range get
        Nguyen–Widrow weights and biases; the others ``U(-1, 1)``, as ``initnw``).
    seed : int or numpy.random.Generator, optional
    """
    g = rng(seed)
    dtype = net.dtype.type
    for name in net.topological_order():
        layer = net.layers[name]
        incoming = net.incoming(name)
        if method == "nguyen_widrow":
            lo, hi = layer.activation.active_range
            if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                W, b = nguyen_widrow(layer.size, _layer_input_ranges(net, name), (lo, hi), g, dtype)
            else:
                W = uniform((layer.size, sum(net.weights[c.key].shape[1] for c in incoming)), g, dtype)
                b = uniform((1, layer.size), g, dtype)[0]
            start = 0
            for c in incoming:
                width = net.weights[c.key].shape[1]
                if c.trainable:
                    net.weights[c.key] = W[:, start:start + width]
                start += width
            if layer.bias:
                net.biases[name] = b
        else:
            init = matrix_initializer(method)
            for c in incoming:
                if c.trainable:
                    net.weights[c.key] = init(net.weights[c.key].shape, g, dtype)
            if layer.bias:
                net.biases[name] = 0
    stabilize(net)


# -- recurrent networks: a stable loop to start from ---------------------------------

def _recurrence(net):
    """``(M, D)``: the linearised recurrence ``a(t) = sum_d M[d-1] a(t-d)`` of the layers at
    the origin (activation slopes ``f'(0)``; zero-delay paths folded in), ``D`` its order."""
    order = net.topological_order()
    offsets, N = {}, 0
    for name in order:
        offsets[name] = slice(N, N + net.layers[name].size)
        N += net.layers[name].size
    delayed = [c for c in net.connections.values() if c.source in net.layers]
    D = max([d for c in delayed for d in c.delays] + [0])
    L = np.zeros((D + 1, N, N))
    for c in delayed:
        W = np.asarray(net.weights[c.key], dtype=np.float64)
        C = net.layers[c.source].size
        for k, d in enumerate(c.delays):
            L[d, offsets[c.target], offsets[c.source]] += W[:, k * C:(k + 1) * C]
    slopes = np.concatenate([_slope_at_zero(net.layers[name]) for name in order])
    S = slopes[:, None]
    fold = np.linalg.inv(np.eye(N) - S * L[0])                  # zero-delay paths are acyclic
    return [fold @ (S * L[d]) for d in range(1, D + 1)], D


def _slope_at_zero(layer):
    if not layer.activation.elementwise:
        return np.ones(layer.size)
    return np.asarray(layer.activation.derivative(np.zeros((1, layer.size))), dtype=np.float64)[0]


def loop_gain(net):
    """Spectral radius of the network's recurrence linearised at the origin (0 without
    feedback from layers): below 1 a small disturbance of the layers dies out."""
    if not net.is_recurrent:
        return 0.0
    M, D = _recurrence(net)
    N = M[0].shape[0]
    companion = np.zeros((D * N, D * N))
    companion[:N] = np.hstack(M)
    companion[N:, :-N] = np.eye((D - 1) * N)
    return float(np.max(np.abs(np.linalg.eigvals(companion))))


def stabilize(net, gain=STABLE_GAIN, keys=None):
    """Scale the delayed layer-to-layer weights (of ``keys``, default all) down until
    :func:`loop_gain` is at most ``gain``, so that training starts from a stable loop.

    Glorot or Nguyen–Widrow weights on a recurrent block often give a loop gain above
    one: the run then grows (or oscillates) from the first step and Levenberg–Marquardt
    stalls or diverges at once.  Returns the factor applied (1.0 when none was needed).
    """
    if not net.is_recurrent:
        return 1.0
    keys = [c.key for c in net.connections.values()
            if c.source in net.layers and max(c.delays) > 0 and (keys is None or c.key in keys)
            and not is_compressed(net.weights[c.key])]
    total = 1.0
    for _ in range(50):
        current = loop_gain(net)
        if current <= gain or not keys:
            break
        factor = max(gain / current, 0.5) * 0.999
        for key in keys:
            c = net.connections[key]
            W = np.array(net.weights[key])
            C = net.size_of(c.source)
            for k, d in enumerate(c.delays):
                if d > 0:
                    W[:, k * C:(k + 1) * C] *= factor
            net.weights[key] = W
        total *= factor
    return total
