"""What the converters of :mod:`matnet.interop` share: checks, chains, scaling as an affine map."""
from __future__ import annotations

import numpy as np

from ..data.scaling import Scaling
from ..network import weight_label


def missing_package(module, requirement, extra, error):
    """The ImportError of ``module`` when its optional package is missing (``error``)."""
    return ImportError(f"{module} needs {requirement} ({error}): pip install matnet[{extra}]")


def check_static(net, what):
    """Refuse networks that cannot be written as one feed-forward graph."""
    if net.is_dynamic:
        delayed = [c.label for c in net.connections.values() if c.delays != (0,)]
        raise ValueError(f"{what} takes static networks only; this one has delayed connections "
                         f"({', '.join(delayed)}); run it over time in matnet instead")
    if not net.inputs:
        raise ValueError(f"{what} needs a network with at least one input")
    graph = [c.label for c in net.connections.values() if c.propagate is not None]
    if graph:
        raise ValueError(f"{what} converts per-sample networks; {graph[0]} propagates over a graph's nodes "
                         "(a graph network), which it does not convert")
    for key, W in net.weights.items():
        if getattr(W, "kind", None) == "quantized":
            raise ValueError(f"{weight_label(key)} is quantised: {what} would drop the rounding of its input; "
                             "write the network as code (matnet.export) or dequantise it (compress.to_dense)")
    for layer in net.layers.values():
        if not layer.activation.builtin:
            raise ValueError(f"layer {layer.name!r} uses the custom activation {layer.activation.name!r}, "
                             f"which {what} cannot express; use a built-in activation")


def is_chain(net):
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


def scaling_from_inverse(inverse_scale, offset, kind="minmax", value=None, dtype=np.float64):
    """The :class:`~matnet.data.scaling.Scaling` whose ``invert`` is ``U * inverse_scale + offset``.

    Features with ``inverse_scale == 0`` are constant: they map back to ``offset``.
    ``value`` (what constant features map back to) defaults to ``offset``.
    """
    inv = np.asarray(inverse_scale, np.float64)
    offset = np.asarray(offset, np.float64)
    nonzero = inv != 0
    scale = np.where(nonzero, 1 / np.where(nonzero, inv, 1), 0.0)
    shift = np.where(nonzero, -offset * scale, 0.0)
    value = np.where(nonzero, offset if value is None else value, offset)
    return Scaling(kind, *(np.asarray(a).astype(dtype) for a in (scale, shift, value)))
