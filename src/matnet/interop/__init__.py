"""Moving networks to and from ONNX, PyTorch and scikit-learn.

* :mod:`matnet.interop.onnx` — :func:`to_onnx`, :func:`from_onnx` (needs ``onnx``;
  ``onnxruntime`` to run the files);
* :mod:`matnet.interop.torch` — :func:`to_torch`, :func:`from_torch` (needs ``torch``
  except for :func:`from_torch` of a state dict of NumPy arrays);
* :mod:`matnet.interop.sklearn` — :func:`to_sklearn`, :func:`from_sklearn`,
  :class:`MatnetRegressor`, :class:`MatnetClassifier` (needs ``scikit-learn``).

Importing this package imports none of them; each name is loaded on first use.
Conversions are exact up to rounding: the same matrices, the same activations, and
input/output scaling carried over.
"""
from __future__ import annotations

import importlib

import numpy as np

_EXPORTS = {
    "to_onnx": "onnx", "from_onnx": "onnx", "onnx_model": "onnx",
    "to_torch": "torch", "from_torch": "torch",
    "to_sklearn": "sklearn", "from_sklearn": "sklearn",
    "MatnetRegressor": "sklearn", "MatnetClassifier": "sklearn",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])


# -- helpers shared by the converters (private) ------------------------------------

def _require(module, extra):
    """Import ``module`` or fail with the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"this needs the package {module.split('.')[0]!r}, which is not installed: "
                          f"pip install matnet[{extra}]") from e


def _check_static(net, what):
    """Refuse networks that cannot be written as one feed-forward graph."""
    if net.is_dynamic:
        delayed = [c.label for c in net.connections.values() if c.delays != (0,)]
        raise ValueError(f"{what} takes static networks only; this one has delayed connections "
                         f"({', '.join(delayed)}); run it over time in matnet instead")
    if not net.inputs:
        raise ValueError(f"{what} needs a network with at least one input")
    for layer in net.layers.values():
        if not layer.activation.builtin:
            raise ValueError(f"layer {layer.name!r} uses the custom activation {layer.activation.name!r}, "
                             f"which {what} cannot express; use a built-in activation")


def _is_chain(net):
    """Whether ``net`` is ``x → h1 → ... → y``: one input, each layer fed only by
    the one before, the last layer the only output."""
    order = net.topological_order()
    if len(net.inputs) != 1 or net.outputs != order[-1:]:
        return False
    previous = next(iter(net.inputs))
    for name in order:
        incoming = net.incoming(name)
        if len(incoming) != 1 or incoming[0].source != previous or incoming[0].delays != (0,):
            return False
        previous = name
    return True


def _inverse_form(scaling):
    """``(inverse_scale, offset)`` with ``scaling.invert(U) == U * inverse_scale + offset``."""
    nonzero = scaling.scale != 0
    offset = np.where(nonzero, -scaling.shift / np.where(nonzero, scaling.scale, 1), scaling.value)
    return scaling.inverse_scale, offset.astype(scaling.scale.dtype)


def _scaling_from_inverse(inverse_scale, offset, kind="minmax", value=None, dtype=np.float64):
    """The :class:`~matnet.data.scaling.Scaling` whose ``invert`` is ``U * inverse_scale + offset``.

    Features with ``inverse_scale == 0`` are constant: they map back to ``offset``.
    ``value`` (what constant features map back to) defaults to ``offset``.
    """
    from ..data.scaling import Scaling
    inv = np.asarray(inverse_scale, np.float64)
    offset = np.asarray(offset, np.float64)
    nonzero = inv != 0
    scale = np.where(nonzero, 1 / np.where(nonzero, inv, 1), 0.0)
    shift = np.where(nonzero, -offset * scale, 0.0)
    value = np.where(nonzero, offset if value is None else value, offset)
    return Scaling(kind, *(np.asarray(a).astype(dtype) for a in (scale, shift, value)))
