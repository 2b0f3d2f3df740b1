"""Names of neurons, rows and columns, shared by the pictures and the HTML report.

A row of ``W[s→t]`` belongs to the receiving neuron ``t[i]``, a column to the sending
neuron ``s[j]``; with delays ``[d1, ..., dk]`` the columns are blocks in delay order,
named ``s[j](t-d)``.  Matrix names follow :mod:`matnet.network`: ``W[x→h1]``, ``b[h1]``.
"""
from __future__ import annotations

from ..network import weight_label
from .layout import depths

__all__ = ["unit_names", "row_names", "column_names", "weight_title", "shape_text", "network_name"]


def unit_names(name, size):
    """``["x[0]", "x[1]", ...]``: the neurons of an input or layer."""
    return [f"{name}[{j}]" for j in range(size)]


def row_names(net, key):
    """Receiving neurons: one name per row of ``W[key]``."""
    return unit_names(key[1], net.size_of(key[1]))


def column_names(net, key):
    """Sending neurons: one name per column of ``W[key]`` (with ``(t-d)`` for delays)."""
    delays = net.connections[key].delays
    names = unit_names(key[0], net.size_of(key[0]))
    if tuple(delays) == (0,):
        return names
    return [f"{n}(t-{d})" if d else n for d in delays for n in names]


def shape_text(shape):
    """``3×2``: a shape as written in titles."""
    return "×".join(str(int(s)) for s in shape)


def weight_title(key, shape):
    """``W[x→h1]  (3×2)``; ``W  (3×2)`` without a key."""
    name = weight_label(key) if key is not None else "W"
    return f"{name}  ({shape_text(shape)})"



def network_name(net):
    """``2-3-1 network`` when every input and layer has a column of its own (a chain),
    else ``network of 3 inputs and 6 neurons``."""
    depth = depths(net)
    if len(set(depth.values())) == len(depth):
        sizes = [net.size_of(name) for name in sorted(depth, key=depth.get)]
        return "-".join(map(str, sizes)) + " network"
    n_in = sum(net.inputs.values())
    n_neurons = sum(layer.size for layer in net.layers.values())
    return f"network of {n_in} input{'s' * (n_in != 1)} and {n_neurons} neuron{'s' * (n_neurons != 1)}"
