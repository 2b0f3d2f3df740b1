"""First-order update rules on the flat parameter vector, and learning-rate schedules.

Each optimiser updates ``theta`` in place from a gradient ``g`` of the same shape and
dtype; its state lives in arrays of that dtype and library, so float32 stays float32
(and a network on a GPU trains there).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import copy, into, namespace

__all__ = ["SGD", "Adam", "RMSprop", "Rprop", "StepLR", "ExponentialLR", "ReduceOnPlateau",
           "make_schedule"]


class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum, as
    ``torch.optim.SGD``: ``v = m v + g``; ``theta -= lr * (g + m v if nesterov else v)``."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum > 0")
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.velocity = self.scratch = None

    def step(self, theta, g):
        xp = namespace(theta)
        if self.momentum:
            if self.velocity is None:
                self.velocity = copy(g)
            else:
                self.velocity *= self.momentum
                self.velocity += g
            update = g + self.momentum * self.velocity if self.nesterov else self.velocity
        else:
            update = g
        if self.scratch is None:
            self.scratch = xp.empty_like(theta)
        # theta -= lr * update without a temporary (numpy only: a second BLAS library's
        # thread pool would compete with numpy's for the cores)
        theta -= into(self.scratch, xp.multiply, update, self.lr)


class Adam:
    """Kingma & Ba (2015), as ``torch.optim.Adam``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = self.v = None
        self.t = 0

    def step(self, theta, g):
        xp = namespace(theta)
        if self.m is None:
            self.m, self.v, self.work = xp.zeros_like(theta), xp.zeros_like(theta), xp.empty_like(theta)
        self.t += 1
        m, v, work = self.m, self.v, self.work      # one workspace: no temporaries per step (NumPy)
        m *= self.beta1
        m += into(work, xp.multiply, g, 1 - self.beta1)
        v *= self.beta2
        into(work, xp.multiply, g, g)
        work *= 1 - self.beta2
        v += work
        into(work, xp.sqrt, v)
        work /= math.sqrt(1 - self.beta2 ** self.t)
        work += self.eps
        into(work, xp.divide, m, work)
        work *= self.lr / (1 - self.beta1 ** self.t)
        theta -= work


class RMSprop:
    """Tieleman & Hinton (2012), as ``torch.optim.RMSprop``: ``v = a v + (1 - a) g²``,
    ``theta -= lr g / (sqrt(v) + eps)``."""

    def __init__(self, lr=0.001, alpha=0.99, eps=1e-8):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.v = None

    def step(self, theta, g):
        xp = namespace(theta)
        if self.v is None:
            self.v = xp.zeros_like(theta)
        self.v *= self.alpha
        self.v += (1 - self.alpha) * (g * g)
        theta -= self.lr * g / (xp.sqrt(self.v) + self.eps)


class Rprop:
    """Resilient backpropagation (Riedmiller & Braun 1993) on the full batch.

    Each weight has its own step ``delta``: it grows by ``increase`` while the
    gradient keeps its sign and shrinks by ``decrease`` when the sign flips.  With
    ``backtracking=True`` (Rprop+, R neuralnet's ``rprop+``) a sign flip also undoes
    the previous step; with ``False`` it is MATLAB's ``trainrp``.  Defaults are
    ``trainrp``'s: ``delta0=0.07``, ``increase=1.2``, ``decrease=0.5``,
    ``delta_max=50``.
    """

    def __init__(self, delta0=0.07, increase=1.2, decrease=0.5, delta_max=50.0, delta_min=1e-6,
                 backtracking=True):
        self.delta0, self.increase, self.decrease = delta0, increase, decrease
        self.delta_max, self.delta_min, self.backtracking = delta_max, delta_min, backtracking
        self.delta = self.previous = self.last_step = None
        self.lr = float("nan")

    def step(self, theta, g):
        xp = namespace(theta)
        if self.delta is None:
            self.delta = xp.full_like(theta, self.delta0)
            self.previous = xp.zeros_like(theta)
            self.last_step = xp.zeros_like(theta)
        product = g * self.previous
        grow, shrink = product > 0, product < 0
        self.delta = xp.where(grow, xp.clip(self.delta * self.increase, None, self.delta_max), self.delta)
        self.delta = xp.where(shrink, xp.clip(self.delta * self.decrease, self.delta_min, None), self.delta)
        step = -xp.sign(g) * self.delta
        g = copy(g)
        if self.backtracking:
            step[shrink] = -self.last_step[shrink]
            g[shrink] = 0
        theta += step
        self.last_step = step
        self.previous = g


# -- learning-rate schedules ---------------------------------------------------------

class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size=30, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma

    def __call__(self, epoch, lr, val_loss):
        return lr * self.gamma if epoch % self.step_size == 0 else lr


class ExponentialLR:
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, gamma=0.95):
        self.gamma = gamma

    def __call__(self, epoch, lr, val_loss):
        return lr * self.gamma


class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when the monitored loss (validation,
    else training) has not improved by ``threshold`` (relative) for ``patience``
    epochs; never below ``min_lr``."""

    def __init__(self, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
        self.factor, self.patience, self.threshold, self.min_lr = factor, patience, threshold, min_lr
        self.best, self.bad = np.inf, 0

    def __call__(self, epoch, lr, val_loss):
        if val_loss < self.best * (1 - self.threshold):
            self.best, self.bad = val_loss, 0
        else:
            self.bad += 1
        if self.bad > self.patience:
            self.bad = 0
            return max(lr * self.factor, self.min_lr)
        return lr


_SCHEDULES = {"step": StepLR, "exponential": ExponentialLR, "plateau": ReduceOnPlateau,
              "reduce_on_plateau": ReduceOnPlateau}


def make_schedule(spec):
    """A schedule from ``None``, a name (``"step"``, ``"exponential"``, ``"plateau"``),
    a pair ``(name, options)`` or a callable ``(epoch, lr, loss) -> lr``."""
    if spec is None or callable(spec):
        return spec
    name, options = (spec, {}) if isinstance(spec, str) else spec
    if name not in _SCHEDULES:
        raise ValueError(f"unknown lr_schedule {name!r}; use one of {', '.join(_SCHEDULES)} or a callable")
    return _SCHEDULES[name](**options)
