"""matnet: neural networks written and read as matrices.

Conventions: a connection's weight matrix is ``(n_out, n_in)``; data has samples as
rows, ``Z = X @ W.T + b``; the adjacency matrix has rows receiving and columns
sending.  See the README and ``docs/architecture.md`` for the rest.

The package is built in layers (``docs/architecture.md``): weight operators,
activations and data at the bottom, the network's structure above them, then the
engine (:mod:`matnet.simulate`, :mod:`matnet.backprop`), the operations on a network
(training, files, matrix views, explanations) and, on top, what uses a trained
network (pictures, compression, interop, sweeps, the command line).  The
conveniences a user expects of a network (``net(X)``, ``net.fit``, ``net.simulate``,
...) are bound to :class:`Network` here, at the top, so that no module imports upward.
"""
import importlib

from . import (activations, analysis, compress, data, datasets, export, factorization, graph, graphs, init, losses,
               plot, train, unrolled)
from .graphs import gcn
from .derivatives import check_gradient, gradient, jacobian, loss_value
from . import explain as _explain, simulate as _engine
from .io import ModelFileError, load, save
from .network import Connection, CycleError, Layer, Network, layer_recurrent, mlp, nar, narx, timedelay
from .plot import report
from .plot.summary import html_summary
from .simulate import forward, predict, predict_ahead, predict_classes
from .sweeps import sweep
from .train import History, TrainingWarning, fit

__version__ = "0.1.0"

# -- the conveniences of a network, bound from the layers that compute them ----------
Network.__call__ = predict
Network.predict = predict
Network.forward = forward
Network.simulate = _engine.simulate
Network.predict_ahead = predict_ahead
Network.predict_classes = predict_classes
Network.gradient = gradient
Network.jacobian = jacobian
Network.input_jacobian = analysis.input_jacobian
Network.fit = fit
Network.explain = _explain.explain
Network.augmented = graph.augmented
Network.adjacency = graph.adjacency
Network.to_networkx = graph.to_networkx
Network.from_augmented = staticmethod(graph.from_augmented)
Network.from_adjacency = staticmethod(graph.from_adjacency)
Network.save = save
Network.unroll = unrolled.unroll
Network._repr_html_ = html_summary


def __getattr__(name):
    """``mn.interop`` and the scikit-learn estimators load on first use (they import
    optional libraries)."""
    if name == "interop":
        return importlib.import_module(".interop", __name__)
    if name in ("MatnetRegressor", "MatnetClassifier"):
        return getattr(importlib.import_module(".interop.sklearn", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Network", "Layer", "Connection", "mlp", "timedelay", "layer_recurrent", "narx", "nar", "load", "save",
           "ModelFileError", "CycleError", "check_gradient", "gradient", "jacobian", "loss_value", "History",
           "TrainingWarning", "fit", "predict_ahead", "activations", "data", "datasets",
           "graph", "graphs", "gcn", "factorization", "unrolled", "init", "losses", "train", "analysis", "plot",
           "report", "compress", "export", "sweep",
           "__version__"]
