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
    """``mn.plot`` and ``mn.report`` load on first use (matplotlib is optional)."""
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    if name == "report":
        from .plot import report
        return report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Network", "Layer", "Connection", "mlp", "timedelay", "layer_recurrent", "narx", "nar", "load", "ModelFileError", "CycleError",
           "check_gradient", "History", "TrainingWarning", "activations", "data", "datasets", "graph", "init",
           "losses", "train", "plot", "report", "__version__"]
