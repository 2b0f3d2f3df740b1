"""matnet: neural networks written and read as matrices.

Conventions: a connection's weight matrix is ``(n_out, n_in)``; data has samples as
rows, ``Z = X @ W.T + b``; the adjacency matrix has rows receiving and columns
sending.  See the README and ``matnet.network`` for the rest.
"""
from . import activations, data, datasets, graph, init, losses, train
from .backprop import check_gradient
from .io import ModelFileError, load
from .network import Connection, CycleError, Layer, Network, layer_recurrent, mlp, nar, narx, timedelay
from .train import History, TrainingWarning

__version__ = "0.1.0"


def __getattr__(name):
    """Parts with optional dependencies load on first use: ``mn.plot``, ``mn.report``
    (matplotlib), ``mn.interop``, ``mn.MatnetRegressor``/``MatnetClassifier``
    (scikit-learn), ``mn.sweep`` (joblib), ``mn.compress``."""
    import importlib
    if name in ("plot", "interop", "compress"):
        return importlib.import_module(f".{name}", __name__)
    if name == "report":
        return importlib.import_module(".plot", __name__).report
    if name == "sweep":
        return importlib.import_module(".sweeps", __name__).sweep
    if name in ("MatnetRegressor", "MatnetClassifier"):
        return getattr(importlib.import_module(".interop.sklearn", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Network", "Layer", "Connection", "mlp", "timedelay", "layer_recurrent", "narx", "nar", "load", "ModelFileError", "CycleError",
           "check_gradient", "History", "TrainingWarning", "activations", "data", "datasets", "graph", "init",
           "losses", "train", "plot", "report", "interop", "compress", "sweep", "MatnetRegressor",
           "MatnetClassifier", "__version__"]
