"""Moving networks to and from ONNX, PyTorch and scikit-learn.

* :mod:`matnet.interop.onnx` — :func:`to_onnx`, :func:`from_onnx` (needs ``onnx``;
  ``onnxruntime`` to run the files);
* :mod:`matnet.interop.torch` — :func:`to_torch`, :func:`from_torch` (needs ``torch``);
* :mod:`matnet.interop.sklearn` — :func:`to_sklearn`, :func:`from_sklearn`,
  :class:`MatnetRegressor`, :class:`MatnetClassifier` (needs ``scikit-learn``).

Importing this package imports none of them: each submodule, and each of its names
above, is loaded on first attribute access (``matnet.interop.torch``,
``matnet.interop.to_onnx``), and it imports its optional package then.
Conversions are exact up to rounding: the same matrices, the same activations (as
:mod:`matnet.activations` declares their equivalents), and input/output scaling
carried over.
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("onnx", "torch", "sklearn")
_EXPORTS = {
    "to_onnx": "onnx", "from_onnx": "onnx", "onnx_model": "onnx",
    "to_torch": "torch", "from_torch": "torch",
    "to_sklearn": "sklearn", "from_sklearn": "sklearn",
    "MatnetRegressor": "sklearn", "MatnetClassifier": "sklearn",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    """Import a submodule (``onnx``, ``torch``, ``sklearn``), or one of its names, on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBMODULES, *_EXPORTS})
