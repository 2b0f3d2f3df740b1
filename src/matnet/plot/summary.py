"""A network as an HTML fragment: its structure and its small matrices.

:func:`html_summary` is what a notebook shows for a network (``Network._repr_html_``);
it needs no matplotlib.
"""
from __future__ import annotations

import numpy as np

from ..backend import on_host
from . import _html, _labels
from ..network import weight_label

__all__ = ["html_summary", "structure", "matrices", "SMALL"]

#: Matrices with at most this many rows and columns are written out as tables.
SMALL = 12


def headline(net):
    """One line: sizes, parameters, dtype, whether it has delays."""
    dynamic = ", with delays" if net.is_dynamic else ""
    return f"{_labels.network_name(net)}: {net.n_params} parameters, {net.dtype}{dynamic}"


def structure(net):
    """Two tables: the inputs and layers, and the connections."""
    outputs = net.outputs
    rows = [("input", name, size, "", "", "") for name, size in net.inputs.items()]
    for name in net.topological_order():
        layer = net.layers[name]
        rows.append(("layer", name, layer.size, layer.activation.name, "yes" if layer.bias else "no",
                     "output" if name in outputs else ""))
    units = _html.table(["kind", "name", "size", "activation", "bias", ""], rows, caption="inputs and layers")
    links = []
    for c in net.connections.values():
        W = net.weights[c.key]
        delays = "" if c.delays == (0,) else ", ".join(map(str, c.delays))
        links.append((c.label, _labels.shape_text(W.shape), delays, int(np.prod(W.shape))))
    for name, b in net.biases.items():
        links.append((f"b[{name}]", str(b.size), "", b.size))
    connections = _html.table(["matrix", "shape", "delays", "parameters"], links, caption="weights and biases")
    return units + connections


def is_small(shape):
    return all(s <= SMALL for s in shape)


def weight_table(net, key):
    """``W[s→t]`` as a coloured table (rows: receiving neurons, columns: sending neurons)."""
    W = np.asarray(net.weights[key], dtype=np.float64)
    return _html.matrix_table(W, _labels.row_names(net, key), _labels.column_names(net, key),
                              caption=_labels.weight_title(key, W.shape))


def bias_table(net, name):
    """``b[layer]`` as a coloured one-row table."""
    b = np.asarray(net.biases[name], dtype=np.float64)
    return _html.matrix_table(b[None, :], [f"b[{name}]"], _labels.unit_names(name, b.size),
                              caption=f"b[{name}]  ({b.size})")


def matrices(net, large=None):
    """Every weight matrix and bias vector: small ones as tables; ``large(kind, key)``
    gives the HTML of a large one (default: a line saying its shape)."""
    parts = []
    for c in net.connections.values():
        shape = net.weights[c.key].shape
        if is_small(shape):
            parts.append(weight_table(net, c.key))
        else:
            parts.append(large("W", c.key) if large else
                         f"<p>{_html.esc(weight_label(c.key))} ({_labels.shape_text(shape)}): "
                         f"too large to list (matnet.plot.matrix draws it)</p>")
    for name, b in net.biases.items():
        if b.size <= 2 * SMALL:
            parts.append(bias_table(net, name))
        else:
            parts.append(large("b", name) if large else
                         f"<p>b[{_html.esc(name)}] ({b.size}): too large to list</p>")
    return "".join(parts)


@on_host
def html_summary(net):
    """The network as an HTML fragment: a headline, its structure, its small matrices.

    Styles are inline; nothing is fetched and there are no scripts, so it can be
    shown in a notebook (``Network._repr_html_``) or embedded in a page.

    Parameters
    ----------
    net : Network

    Returns
    -------
    str
    """
    extra = ""
    if net.classes is not None:
        extra += f"<p>classes: {_html.esc(', '.join(map(str, net.classes)))}</p>"
    if net.training:
        summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in net.training.items() if v is not None)
        extra += f"<p>training: {_html.esc(summary)}</p>"
    return (f'<div style="font-family:sans-serif;font-size:13px">'
            f"<p><b>{_html.esc(headline(net))}</b></p>{structure(net)}{extra}{matrices(net)}</div>")
