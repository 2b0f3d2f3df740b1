"""Transfer functions and their derivatives.

Every activation maps a net-input matrix ``Z`` of shape ``(n_samples, n)`` to an
activation matrix ``A`` of the same shape and dtype, and back-propagates a gradient
with respect to ``A`` into one with respect to ``Z`` (the vector-Jacobian product
``backward(Z, A, G)``).  Elementwise activations also give their derivative
``derivative(Z, A)`` (same shape as ``Z``).  All are numerically stable: inputs of
``±1e4`` give no overflow warnings and no NaN.

Names follow the textbooks, with MATLAB's names as aliases (``purelin``, ``tansig``,
``logsig``, ``poslin``).  A user-supplied pair ``(f, df)`` of elementwise functions,
``df(z)`` the derivative of ``f`` at ``z``, works wherever a name does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Activation", "get", "names"]


@dataclass(frozen=True)
class Activation:
    """A transfer function ``a = f(z)`` applied to a layer's net input.

    Parameters
    ----------
    name : str
        Name used in files, equations and error messages.
    function : callable
        ``f(Z) -> A``, arrays of shape ``(n_samples, n)``.
    derivative_function : callable
        ``df(Z, A) -> dA/dZ`` elementwise (same shape as ``Z``).  Not used for
        non-elementwise activations (softmax), which define ``backward`` instead.
    elementwise : bool
        Whether each output depends only on the same unit's net input.
    active_range : (float, float)
        The net-input interval where the function is not saturated (MATLAB's
        ``'active'`` range); used by Nguyen–Widrow initialisation.
    output_range : (float, float)
        The range of the function's values.
    """

    name: str
    function: Callable = field(repr=False)
    derivative_function: Callable | None = field(repr=False, default=None)
    elementwise: bool = True
    active_range: tuple = (-np.inf, np.inf)
    output_range: tuple = (-np.inf, np.inf)
    builtin: bool = field(default=False, repr=False)

    def __call__(self, Z):
        return self.function(Z)

    def __repr__(self):
        return f"Activation({self.name!r})"

    def derivative(self, Z, A=None):
        """Elementwise derivative ``f'(Z)``; ``A = f(Z)`` may be given to save work."""
        if not self.elementwise:
            raise ValueError(f"activation {self.name!r} is not elementwise; use backward()")
        if A is None:
            A = self.function(Z)
        return np.asarray(self.derivative_function(Z, A), dtype=Z.dtype)

    def backward(self, Z, A, G):
        """Gradient with respect to ``Z`` given ``G``, the gradient with respect to ``A``.

        For softmax this is ``A * (G - sum(G * A, axis=1))``; for elementwise
        activations ``G * f'(Z)``.  ``G`` may carry extra leading axes (several
        gradients at once, as the Jacobian needs), broadcast against ``Z``.
        """
        if self.elementwise:
            return G * self.derivative_function(Z, A)
        return A * (G - np.sum(G * A, axis=-1, keepdims=True))


# -- the functions -----------------------------------------------------------------

def _identity(z):
    return z


def _ones(z, a):
    return np.ones_like(z)


def _sigmoid(z):
    # exp of a non-positive number never overflows.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def _sigmoid_d(z, a):
    return a * (1 - a)


def _tanh_d(z, a):
    return 1 - a * a


def _relu(z):
    return np.maximum(z, 0)


def _relu_d(z, a):
    return z > 0  # bool: multiplies a float array without changing its dtype


LEAKY_SLOPE = 0.01


def _leaky_relu(z):
    return np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE))


def _leaky_relu_d(z, a):
    return np.where(z > 0, z.dtype.type(1), z.dtype.type(LEAKY_SLOPE))


def _elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def _elu_d(z, a):
    return np.where(z > 0, z.dtype.type(1), a + 1)


def _softplus(z):
    return np.logaddexp(z.dtype.type(0), z)


def _softplus_d(z, a):
    return _sigmoid(z)


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _hardlim(z):
    return (z >= 0).astype(z.dtype)


def _zeros(z, a):
    return np.zeros_like(z)


def _satlin(z):
    return np.clip(z, 0, 1)


def _satlin_d(z, a):
    return ((z > 0) & (z < 1)).astype(z.dtype)


def _satlins(z):
    return np.clip(z, -1, 1)


def _satlins_d(z, a):
    return ((z > -1) & (z < 1)).astype(z.dtype)


_INF = np.inf
_BUILTIN = {
    a.name: a
    for a in [
        Activation("linear", _identity, _ones),
        Activation("sigmoid", _sigmoid, _sigmoid_d, active_range=(-4, 4), output_range=(0, 1)),
        Activation("tanh", np.tanh, _tanh_d, active_range=(-2, 2), output_range=(-1, 1)),
        Activation("relu", _relu, _relu_d, active_range=(0, _INF), output_range=(0, _INF)),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_d),
        Activation("elu", _elu, _elu_d, output_range=(-1, _INF)),
        Activation("softplus", _softplus, _softplus_d, output_range=(0, _INF)),
        Activation("softmax", _softmax, None, elementwise=False, output_range=(0, 1)),
        Activation("hardlim", _hardlim, _zeros, active_range=(0, 0), output_range=(0, 1)),
        Activation("satlin", _satlin, _satlin_d, active_range=(0, 1), output_range=(0, 1)),
        Activation("satlins", _satlins, _satlins_d, active_range=(-1, 1), output_range=(-1, 1)),
    ]
}
_BUILTIN = {name: Activation(**{**act.__dict__, "builtin": True}) for name, act in _BUILTIN.items()}

_ALIASES = {
    "identity": "linear", "purelin": "linear",
    "logistic": "sigmoid", "logsig": "sigmoid",
    "tansig": "tanh",
    "poslin": "relu",
    "step": "hardlim",
}


def names():
    """The names of the built-in activations (aliases not included)."""
    return list(_BUILTIN)


def get(spec) -> Activation:
    """Return the :class:`Activation` for a name, an ``Activation`` or a pair ``(f, df)``.

    ``f(z)`` maps an array to an array of the same shape; ``df(z)`` is its
    elementwise derivative.  A pair gets the name of ``f``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in _BUILTIN:
            raise ValueError(f"unknown activation {spec!r}; known: {', '.join(names())}")
        return _BUILTIN[key]
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(map(callable, spec)):
        f, df = spec
        name = getattr(f, "__name__", "custom")
        return Activation(name, f, lambda z, a: df(z))
    raise TypeError(
        f"activation must be a name, an Activation or a pair (f, df) of functions, got {spec!r}"
    )
