"""Loss functions, their gradients with respect to the outputs, and metrics.

Definitions (for every trainer and test); ``y`` the outputs, ``t`` the targets, both
``(n_samples, n_out)`` with all output layers side by side:

* ``mse``: mean over all elements of ``(y - t)**2`` (MATLAB's ``mse``);
* ``sse``: the sum of the same;
* ``cross_entropy``: softmax output layers, mean over samples of ``-sum_k t_k log y_k``
  (summed over output layers), computed from the net input (log-softmax) and
  back-propagated fused with the softmax: ``dL/dz = (y - t) / n``;
* ``binary_cross_entropy``: sigmoid outputs, mean over elements of
  ``-(t log y + (1 - t) log(1 - y))``, computed as ``softplus(z) - t z``.

``sample_weight`` ``w`` (``(n_samples,)``) turns every mean over samples into the
weighted mean ``sum_i w_i l_i / sum_i w_i`` (``sse``: ``sum_i w_i l_i``).

Errors are measured in data units: where the network scales its outputs, ``y - t`` is
multiplied per output by ``error_scale`` (the inverse output scale), so losses and
the error vector ``e = (y - t)`` of the Jacobian methods do not depend on scaling.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend

__all__ = ["LOSSES", "evaluate", "normalizer", "accuracy", "Metric", "check_loss"]

LOSSES = ("mse", "sse", "cross_entropy", "binary_cross_entropy")
_FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def check_loss(loss, net):
    """Validate ``loss`` for ``net``'s output layers (clear errors)."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    needed = _FUSED.get(loss)
    for name in net.outputs:
        act = net.layers[name].activation.name
        if needed and act != needed:
            raise ValueError(f"loss {loss!r} needs {needed} output layers; output {name!r} is {act}")
    return loss


def evaluate(loss, net, Z, A, T, sample_weight=None, error_scale=None, need_delta=True):
    """Loss value and the gradient that starts back-propagation.

    Parameters
    ----------
    Z, A : dict ``layer -> (n_samples, n)``
        Net inputs and activations of the output layers.
    T : dict ``layer -> (n_samples, n)``
        Targets in the network's (scaled) units.
    sample_weight : array (n_samples,), optional
    error_scale : dict ``layer -> (n,)``, optional
        Factor turning network-unit errors into data-unit errors.

    Returns
    -------
    value : float
    deltas : dict ``layer -> (G, at_z)``
        ``G`` is ``dL/dA`` (``at_z`` False) or, fused with the activation, ``dL/dZ``.
    """
    outputs = list(T)
    n = T[outputs[0]].shape[0]
    xp = backend.namespace(A[outputs[0]])
    dtype = A[outputs[0]].dtype
    w = None if sample_weight is None else backend.asarray(sample_weight, xp, backend.numpy_dtype(dtype))[:, None]
    norm = normalizer(loss, float(n if w is None else xp.sum(w)), sum(T[name].shape[1] for name in outputs))
    value, deltas = 0.0, {}
    for name in outputs:
        z, a, t = Z[name], A[name], T[name]
        if loss in ("mse", "sse"):
            s = None if error_scale is None or name not in error_scale else \
                backend.asarray(error_scale[name], xp, backend.numpy_dtype(dtype))
            e = a - t if s is None else (a - t) * s
            we = e if w is None else e * w
            value += float(np.vdot(we, e)) if xp is np else backend.dot(we, e)
            if need_delta:
                g = we * (2 / norm)
                deltas[name] = (g if s is None else g * s, False)
            continue
        if loss == "cross_entropy":
            shifted = z - xp.max(z, axis=1, keepdims=True)
            log_y = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
            per_sample = -xp.sum(t * log_y, axis=1, keepdims=True)
            g = a * xp.sum(t, axis=1, keepdims=True) - t
        else:
            per_sample = xp.sum(xp.logaddexp(xp.zeros_like(z), z) - t * z, axis=1, keepdims=True)
            g = a - t
        value += float(xp.sum(per_sample if w is None else per_sample * w))
        if need_delta:
            deltas[name] = ((g if w is None else g * w) * (1 / norm), True)
    return value / norm, deltas


def normalizer(loss, total_weight, n_out):
    """What a loss divides its sum by: samples (weights summed) × outputs for ``mse`` and
    ``binary_cross_entropy``, samples for ``cross_entropy``, 1 for ``sse``."""
    return {"mse": total_weight * n_out, "sse": 1.0, "cross_entropy": total_weight,
            "binary_cross_entropy": total_weight * n_out}[loss]


def accuracy(Y, T):
    """Fraction of samples whose predicted class equals the target class.

    ``Y`` and ``T`` ``(n_samples, k)``: one column thresholds at 0.5, several take
    the argmax.
    """
    return float(_hits(Y, T)) / Y.shape[0] if Y.shape[0] else math.nan


def _hits(Y, T):
    """How many samples' predicted class is the target class (an array of ``Y``'s library)."""
    xp = backend.namespace(Y)
    if Y.shape[1] == 1:
        return xp.sum(xp.astype((Y[:, 0] >= 0.5) == (T[:, 0] >= 0.5), xp.int64))
    return xp.sum(xp.astype(xp.argmax(Y, axis=1) == xp.argmax(T, axis=1), xp.int64))


class Metric:
    """Accuracy (``"accuracy"``) or Pearson's R between all outputs and all targets
    (``"R"``, MATLAB's ``regression`` R), accumulated over batches; NaN when undefined
    (no samples, or constant outputs or targets)."""

    def __init__(self, kind):
        self.kind = kind
        self.sums = np.zeros(6)
        self.pending = []

    def add(self, Y, T):
        """Add the outputs ``Y`` and targets ``T`` ``(n_samples, k)`` of one batch (arrays
        of any library: the sums stay there until :meth:`value`)."""
        xp = backend.namespace(Y)
        if self.kind == "accuracy":
            sums = [_hits(Y, T), Y.shape[0]]
        elif xp is np:
            y, t = np.ravel(Y).astype(np.float64), np.ravel(T).astype(np.float64)
            sums = [y.size, y.sum(), t.sum(), y @ y, t @ t, y @ t]
        else:
            y, t = (xp.astype(xp.reshape(v, (-1,)), xp.float64) for v in (Y, T))
            sums = [y.shape[0], xp.sum(y), xp.sum(t), y @ y, t @ t, y @ t]
        if xp is np:
            self.sums[:len(sums)] += sums
        else:
            self.pending.append(sums)

    def merge(self, other):
        """Add the batches ``other`` (a Metric of the same kind) has accumulated."""
        other._settle()
        self.sums += other.sums

    def _settle(self):
        """Bring the sums of other libraries to the host (one transfer per value)."""
        for sums in self.pending:
            self.sums[:len(sums)] += [float(v) for v in sums]
        self.pending = []

    def value(self):
        self._settle()
        if self.kind == "accuracy":
            return self.sums[0] / self.sums[1] if self.sums[1] else math.nan
        n, sy, st, syy, stt, syt = self.sums
        if n < 2:
            return math.nan
        cov, vy, vt = syt - sy * st / n, syy - sy * sy / n, stt - st * st / n
        return float(cov / math.sqrt(vy * vt)) if vy > 0 and vt > 0 else math.nan
