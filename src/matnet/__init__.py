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

__all__ = ["Network", "Layer", "Connection", "mlp", "timedelay", "layer_recurrent", "narx", "nar", "load", "ModelFileError", "CycleError",
           "check_gradient", "History", "TrainingWarning", "activations", "data", "datasets", "graph", "init",
           "losses", "train", "__version__"]
