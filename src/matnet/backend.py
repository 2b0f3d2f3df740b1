"""Arrays of any library: the namespace the engine computes in, and where arrays live.

The engine takes its array namespace from the arrays it is given (the Python array API
standard, through ``array_api_compat``): NumPy by default, CuPy on NVIDIA GPUs, and
``array_api_strict`` in the tests, which proves that no NumPy call slips through.
NumPy arrays get ``numpy`` itself (NumPy 2 implements the standard), so the default
path keeps NumPy's in-place kernels.

The few steps that are not in the standard go through this module, which names the
library that does them for each namespace:

=====================  ==========================  ===================================
step                   NumPy                        CuPy
=====================  ==========================  ===================================
triangular solve       ``scipy.linalg``             ``cupyx.scipy.linalg``
least squares          ``numpy.linalg.lstsq``       ``cupy.linalg.lstsq``
sparse matrices        ``scipy.sparse``             ``cupyx.scipy.sparse``
=====================  ==========================  ===================================

Other namespaces solve triangular systems by ``linalg.solve`` and least squares by the
pseudo-inverse, and multiply a ``Sparse`` weight as a dense matrix (they have no sparse
matrices); a ``LowRank`` weight needs only products.  MPO and quantised weights, graph
propagations and index inputs compute on NumPy only (``Network.to`` says so), and so do the uses of
a trained network above the engine (explanations, analyses, pictures, export, interop,
compression): :func:`on_host` runs them on a NumPy copy.  Dask arrays are not a
namespace of the engine: :mod:`matnet.train.chunked` maps the engine over their chunks.
"""
from __future__ import annotations

import functools
import sys

import numpy as np
import scipy.linalg

__all__ = ["LIBRARIES", "namespace", "library", "name_of", "is_numpy", "asarray", "to_numpy", "dtype_of",
           "numpy_dtype", "take", "concat", "copy", "astype", "permute", "dot", "into", "solve_triangular",
           "lstsq", "sparse_module", "is_dask", "check_same", "on_host"]

#: Libraries ``net.to`` moves a network to.
LIBRARIES = ("numpy", "cupy", "array_api_strict")

_SCALARS = (np.ndarray, np.generic, int, float, bool)


def namespace(*arrays):
    """The array namespace of ``arrays`` (``numpy`` for NumPy arrays and Python numbers;
    None entries are skipped).  Arrays of different libraries raise ``TypeError``."""
    if len(arrays) == 1 and type(arrays[0]) is np.ndarray:      # the common case, first
        return np
    others = [a for a in arrays if a is not None and not isinstance(a, _SCALARS)]
    if not others:
        return np
    from array_api_compat import array_namespace
    xp = array_namespace(*others)
    return np if is_numpy(xp) else xp


def is_numpy(xp):
    """Whether ``xp`` is NumPy (or array_api_compat's wrapper of it)."""
    return xp is np or getattr(xp, "__name__", "") == "array_api_compat.numpy"


def name_of(xp):
    """``"numpy"``, ``"cupy"``, ``"array_api_strict"``, ...: the library of a namespace."""
    if is_numpy(xp):
        return "numpy"
    name = getattr(xp, "__name__", str(xp))
    return name.rsplit(".", 1)[-1] if name.startswith("array_api_compat.") else name


def library(name):
    """The namespace of the library ``name`` (one of :data:`LIBRARIES`), with a clear
    error when it is not installed or, for CuPy, finds no GPU."""
    if name not in LIBRARIES:
        raise ValueError(f"unknown array library {name!r}; use one of {', '.join(LIBRARIES)}")
    if name == "numpy":
        return np
    try:
        if name == "cupy":
            import cupy
            from array_api_compat import cupy as xp
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("CuPy finds no GPU")
            return xp
        import array_api_strict
        return array_api_strict
    except ImportError as e:
        hint = "pip install cupy-cuda12x (a CUDA 12 GPU)" if name == "cupy" else f"pip install {name}"
        raise ImportError(f"{name} is not installed ({e}); {hint}") from None
    except Exception as e:          # CUDA errors: no driver, no device
        if name != "cupy":
            raise
        raise RuntimeError(f"CuPy cannot use a GPU here: {e}") from None


def to_numpy(x):
    """``x`` as a NumPy array (copied from a GPU; NumPy arrays as they are)."""
    if x is None or isinstance(x, _SCALARS):
        return x if not isinstance(x, (int, float, bool)) else np.asarray(x)
    get = getattr(x, "get", None)               # CuPy
    if callable(get) and "cupy" in type(x).__module__:
        return get()
    try:
        return np.from_dlpack(x)
    except (TypeError, RuntimeError, BufferError, AttributeError):
        return np.asarray(x)


def asarray(x, xp, dtype=None):
    """``x`` (of any library) as an array of namespace ``xp``, of the NumPy ``dtype``
    when given (moved between devices through the host where needed)."""
    if is_numpy(xp):
        x = to_numpy(x)
        return x if dtype is None else x.astype(dtype, copy=False)
    if namespace(x) is not xp:
        x = xp.asarray(to_numpy(x))
    return x if dtype is None else xp.astype(x, dtype_of(xp, dtype), copy=False)


def dtype_of(xp, dtype):
    """The dtype of namespace ``xp`` that is NumPy's ``dtype``."""
    dtype = np.dtype(dtype)
    return dtype if is_numpy(xp) else getattr(xp, dtype.name)


def numpy_dtype(dtype):
    """NumPy's dtype of the same name as ``dtype`` (a dtype of any array library)."""
    return dtype if isinstance(dtype, np.dtype) else np.dtype(str(dtype).rsplit(".", 1)[-1])


def take(x, rows):
    """The rows ``rows`` (an integer array, of any library, or a slice) of ``x``."""
    if isinstance(rows, slice):                 # bounds within the axis, as the standard asks
        return x[slice(*rows.indices(x.shape[0])), ...]
    xp = namespace(x)
    if xp is np:
        return x[rows]
    return xp.take(x, asarray(rows, xp), axis=0)


def concat(arrays, axis=0):
    """``arrays`` joined along ``axis`` (``numpy.concatenate`` / ``xp.concat``)."""
    xp = namespace(arrays[0])
    return np.concatenate(arrays, axis=axis) if xp is np else xp.concat(arrays, axis=axis)


def copy(x):
    """A copy of ``x`` (C order)."""
    xp = namespace(x)
    return x.copy() if xp is np else xp.asarray(x, copy=True)


def astype(x, dtype, copy=False):
    """``x`` as NumPy ``dtype`` in its own library (no copy when it has it already)."""
    xp = namespace(x)
    if xp is np:
        return x.astype(dtype, copy=copy)
    return xp.astype(x, dtype_of(xp, dtype), copy=copy)


def permute(x, axes):
    """``x`` with its axes in the order ``axes`` (a view where the library gives one)."""
    xp = namespace(x)
    return x.transpose(axes) if xp is np else xp.permute_dims(x, axes)


def dot(a, b):
    """``a · b`` of two vectors, as a Python float (NumPy's BLAS ``dot`` for NumPy)."""
    xp = namespace(a, b)
    return float(np.dot(a, b) if xp is np else xp.sum(a * b))


def into(out, function, *args):
    """``out[...] = function(*args)``: NumPy writes the result in place (``out=``),
    without a temporary array; other libraries copy it in."""
    if namespace(out) is np:
        return function(*args, out=out)
    out[...] = function(*args)
    return out


def solve_triangular(A, b, lower):
    """``A⁻¹ b`` for a triangular ``A``, in ``A``'s library (see the module docstring)."""
    xp = namespace(A, b)
    if xp is np:
        return scipy.linalg.solve_triangular(A, b, lower=lower, check_finite=False)
    if name_of(xp) == "cupy":
        from cupyx.scipy.linalg import solve_triangular as solve
        return solve(A, b, lower=lower)
    return xp.linalg.solve(A, b)


def lstsq(A, b):
    """The least-squares solution of ``A x = b`` (``linalg.lstsq`` where the library has
    it, the pseudo-inverse otherwise)."""
    xp = namespace(A, b)
    solve = getattr(xp.linalg, "lstsq", None)
    return solve(A, b, rcond=None)[0] if solve is not None else xp.linalg.pinv(A) @ b


def sparse_module(xp):
    """The sparse matrices of namespace ``xp``: ``scipy.sparse`` for NumPy,
    ``cupyx.scipy.sparse`` for CuPy, None for a library without them."""
    if is_numpy(xp):
        import scipy.sparse
        return scipy.sparse
    if name_of(xp) == "cupy":
        import cupyx.scipy.sparse
        return cupyx.scipy.sparse
    return None


def is_dask(x):
    """Whether ``x`` is a Dask array (without importing Dask)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def check_same(xp, x, what, where="the network"):
    """A clear error when ``x`` is an array of another library than ``xp``."""
    if x is None or isinstance(x, (list, tuple, int, float, bool)):
        return
    if not isinstance(x, _SCALARS) and is_dask(x):
        return
    mine, theirs = name_of(xp), name_of(namespace(x)) if not isinstance(x, _SCALARS) else "numpy"
    if mine != theirs:
        move = "net.to('numpy')" if theirs == "numpy" else f"net.to({theirs!r})"
        raise ValueError(f"{what} is a {theirs} array but {where} computes on {mine}: move the network with "
                         f"{move}, or the data to {mine}")


def _host_value(value):
    """``value`` with arrays of other libraries (also in dicts, lists and tuples) on the host."""
    if isinstance(value, dict):
        return {k: _host_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_host_value(v) for v in value)
    if hasattr(value, "__array_namespace__") and not isinstance(value, np.ndarray) and not is_dask(value):
        return to_numpy(value)
    return value


def on_host(function):
    """Decorate ``function(net, ...)``, a use of a trained network that computes on NumPy:
    a network of another library (``net.to``) is copied to NumPy for the call, and array
    arguments of other libraries are brought to the host.  Results are NumPy's."""
    @functools.wraps(function)
    def wrapper(net, *args, **kwargs):
        if getattr(net, "xp", np) is not np:
            net = net.copy().to("numpy")
            args, kwargs = _host_value(args), _host_value(kwargs)
        return function(net, *args, **kwargs)
    return wrapper
