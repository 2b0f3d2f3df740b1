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

Equivalents in other libraries
------------------------------
Each built-in activation declares how ONNX, PyTorch and scikit-learn write the same
function, as an :class:`Equivalent` (a name and the constants that fix the function)
in its fields ``onnx``, ``torch`` and ``sklearn`` (None where that library has no
such function).  The converters in :mod:`matnet.interop` read these declarations
both ways, so this module is the one place that says which function is which:

* ``onnx`` — an operator of the default domain applied to the net input ``z`` (its
  first input); ``params`` are its attributes, or its constant inputs named as in
  the operator's specification.  ``satlin`` is ``Equivalent("Clip", {"min": 0.0,
  "max": 1.0})``; ``hardlim`` is ``GreaterOrEqual`` with ``B = 0`` (the converter
  casts the comparison to the data type).
* ``torch`` — a module class of ``torch.nn`` (or :class:`matnet.interop.torch.Hardlim`,
  which torch lacks) and its constructor arguments: ``leaky_relu`` is
  ``Equivalent("LeakyReLU", {"negative_slope": 0.01})``.
* ``sklearn`` — a value of the ``activation`` (hidden layers) or ``out_activation_``
  of scikit-learn's MLP: ``sigmoid`` is ``Equivalent("logistic")``.

:func:`from_equivalent` goes the other way: from a library's name and constants to
the activation, e.g. ``from_equivalent("onnx", "LeakyRelu", {"alpha": 0.01})``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import numpy as np

from .backend import namespace

__all__ = ["Activation", "Equivalent", "LIBRARIES", "get", "names", "with_equivalent", "from_equivalent"]

LIBRARIES = ("onnx", "torch", "sklearn")


@dataclass(frozen=True)
class Equivalent:
    """An activation as another library writes it (see the module docstring).

    Parameters
    ----------
    name : str
        ONNX operator, ``torch.nn`` module class, or scikit-learn activation name.
    params : mapping
        The constants that fix the function: ONNX attributes or constant inputs,
        torch constructor arguments (numbers; the feature axis is -1).
    """

    name: str
    params: Mapping = field(default_factory=dict, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))   # read-only, as the rest

    def __repr__(self):
        return f"Equivalent({self.name!r}, {dict(self.params)!r})" if self.params else f"Equivalent({self.name!r})"


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
    onnx, torch, sklearn : Equivalent or None
        The same function in ONNX, PyTorch and scikit-learn (see the module
        docstring); None where the library has none.
    ufunc : numpy.ufunc or None
        The same function as one NumPy ufunc, which the time steps of a recurrent run
        on NumPy call to write a layer's values in place (:meth:`function_in`).
    """

    name: str
    function: Callable = field(repr=False)
    derivative_function: Callable | None = field(repr=False, default=None)
    elementwise: bool = True
    active_range: tuple = (-np.inf, np.inf)
    output_range: tuple = (-np.inf, np.inf)
    builtin: bool = field(default=False, repr=False)
    onnx: Equivalent | None = field(default=None, repr=False)
    torch: Equivalent | None = field(default=None, repr=False)
    sklearn: Equivalent | None = field(default=None, repr=False)
    ufunc: Callable | None = field(default=None, repr=False)

    def function_in(self, xp):
        """``f`` for arrays of the namespace ``xp`` (NumPy's ufunc where there is one)."""
        return self.ufunc if self.ufunc is not None and xp is np else self.function

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
        d = self.derivative_function(Z, A)
        xp = namespace(Z)
        return np.asarray(d, dtype=Z.dtype) if xp is np else xp.astype(xp.asarray(d), Z.dtype)

    def backward(self, Z, A, G):
        """Gradient with respect to ``Z`` given ``G``, the gradient with respect to ``A``.

        For softmax this is ``A * (G - sum(G * A, axis=1))``; for elementwise
        activations ``G * f'(Z)``.  ``G`` may carry extra leading axes (several
        gradients at once, as the Jacobian needs), broadcast against ``Z``.
        """
        if self.elementwise:
            return G * self.derivative_function(Z, A)
        return A * (G - namespace(A).sum(G * A, axis=-1, keepdims=True))


# -- the functions -----------------------------------------------------------------

def _identity(z):
    return z


def _ones(z, a):
    return namespace(z).ones_like(z)


def _sigmoid(z):
    # exp of a non-positive number never overflows.
    xp = namespace(z)
    e = xp.exp(-xp.abs(z))
    y = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return y.astype(z.dtype, copy=False) if xp is np else y


def _sigmoid_d(z, a):
    return a * (1 - a)


def _tanh_d(z, a):
    return 1 - a * a


def _tanh(z):
    return namespace(z).tanh(z)


def _relu(z):
    xp = namespace(z)
    return np.maximum(z, 0) if xp is np else xp.where(z > 0, z, xp.zeros_like(z))


def _relu_d(z, a):
    d = z > 0                # NumPy multiplies a bool array without changing the float dtype
    return d if namespace(z) is np else _float(d, z)


LEAKY_SLOPE = 0.01


def _leaky_relu(z):
    return namespace(z).where(z > 0, z, z * LEAKY_SLOPE)


def _leaky_relu_d(z, a):
    xp = namespace(z)
    return xp.where(z > 0, xp.ones_like(z), xp.full_like(z, LEAKY_SLOPE))


def _elu(z):
    xp = namespace(z)
    return xp.where(z > 0, z, xp.expm1(xp.minimum(z, xp.zeros_like(z))))


def _elu_d(z, a):
    xp = namespace(z)
    return xp.where(z > 0, xp.ones_like(z), a + 1)


def _softplus(z):
    xp = namespace(z)
    return xp.logaddexp(xp.zeros_like(z), z)


def _softplus_d(z, a):
    return _sigmoid(z)


def _softmax(z):
    xp = namespace(z)
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def _float(condition, z):
    """A boolean array as ``z``'s dtype."""
    xp = namespace(z)
    return condition.astype(z.dtype) if xp is np else xp.astype(condition, z.dtype)


def _hardlim(z):
    return _float(z >= 0, z)


def _zeros(z, a):
    return namespace(z).zeros_like(z)


def _satlin(z):
    return namespace(z).clip(z, 0, 1)


def _satlin_d(z, a):
    return _float((z > 0) & (z < 1), z)


def _satlins(z):
    return namespace(z).clip(z, -1, 1)


def _satlins_d(z, a):
    return _float((z > -1) & (z < 1), z)


_INF = np.inf
_E = Equivalent
_BUILTIN = {
    a.name: a
    for a in [
        Activation("linear", _identity, _ones,
                   onnx=_E("Identity"), torch=_E("Identity"), sklearn=_E("identity")),
        Activation("sigmoid", _sigmoid, _sigmoid_d, active_range=(-4, 4), output_range=(0, 1),
                   onnx=_E("Sigmoid"), torch=_E("Sigmoid"), sklearn=_E("logistic")),
        Activation("tanh", _tanh, _tanh_d, active_range=(-2, 2), output_range=(-1, 1), ufunc=np.tanh,
                   onnx=_E("Tanh"), torch=_E("Tanh"), sklearn=_E("tanh")),
        Activation("relu", _relu, _relu_d, active_range=(0, _INF), output_range=(0, _INF),
                   onnx=_E("Relu"), torch=_E("ReLU"), sklearn=_E("relu")),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_d,
                   onnx=_E("LeakyRelu", {"alpha": LEAKY_SLOPE}),
                   torch=_E("LeakyReLU", {"negative_slope": LEAKY_SLOPE})),
        Activation("elu", _elu, _elu_d, output_range=(-1, _INF),
                   onnx=_E("Elu", {"alpha": 1.0}), torch=_E("ELU", {"alpha": 1.0})),
        Activation("softplus", _softplus, _softplus_d, output_range=(0, _INF),
                   onnx=_E("Softplus"), torch=_E("Softplus", {"beta": 1.0})),
        Activation("softmax", _softmax, None, elementwise=False, output_range=(0, 1),
                   onnx=_E("Softmax", {"axis": -1}), torch=_E("Softmax", {"dim": -1}), sklearn=_E("softmax")),
        Activation("hardlim", _hardlim, _zeros, active_range=(0, 0), output_range=(0, 1),
                   onnx=_E("GreaterOrEqual", {"B": 0.0}), torch=_E("Hardlim")),
        Activation("satlin", _satlin, _satlin_d, active_range=(0, 1), output_range=(0, 1),
                   onnx=_E("Clip", {"min": 0.0, "max": 1.0}),
                   torch=_E("Hardtanh", {"min_val": 0.0, "max_val": 1.0})),
        Activation("satlins", _satlins, _satlins_d, active_range=(-1, 1), output_range=(-1, 1),
                   onnx=_E("Clip", {"min": -1.0, "max": 1.0}),
                   torch=_E("Hardtanh", {"min_val": -1.0, "max_val": 1.0})),
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


def with_equivalent(library, name):
    """The built-in activations whose ``library`` equivalent is called ``name``.

    Parameters
    ----------
    library : {"onnx", "torch", "sklearn"}
    name : str
        E.g. ``"Clip"`` (ONNX), which gives satlin and satlins.

    Returns
    -------
    list of Activation
        In the order of :func:`names`; empty when no activation has that equivalent.
    """
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {', '.join(LIBRARIES)}, got {library!r}")
    return [a for a in _BUILTIN.values() if getattr(a, library) is not None and getattr(a, library).name == name]


def from_equivalent(library, name, params=None, rtol=0.0):
    """The built-in activation that ``library`` writes as ``name`` with constants ``params``.

    Parameters
    ----------
    library : {"onnx", "torch", "sklearn"}
    name : str
        ONNX operator, ``torch.nn`` class name or scikit-learn activation name.
    params : mapping, optional
        The library's constants (attributes, constructor arguments, ...).  Only those
        an equivalent declares are compared; a declared one that is missing does not
        match, and other entries are ignored.
    rtol : float
        Relative tolerance for numbers (ONNX stores float attributes as float32).

    Returns
    -------
    Activation or None
        None when no built-in activation is ``name`` with these constants.
    """
    params = {} if params is None else params
    return next((a for a in with_equivalent(library, name)
                 if _same_params(getattr(a, library).params, params, rtol)), None)


def _same_params(declared, given, rtol):
    """Whether ``given`` has every key of ``declared`` with the same value (numbers up to ``rtol``)."""
    def same(a, b):
        numbers = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in (a, b))
        return math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) if numbers else a == b
    return all(key in given and same(given[key], value) for key, value in declared.items())
