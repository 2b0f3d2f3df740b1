"""One self-contained HTML report of a network: its structure, pictures, matrices,
training and evaluation, and a step-by-step account of one sample.

The file needs nothing else: pictures are PNGs embedded as base64 data URIs, the CSS
is inline, there are no scripts and no external references, so it can be mailed,
archived or opened offline.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._files import write_atomically
from . import _html
from .summary import headline, matrices, structure

__all__ = ["report", "is_classifier"]

CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 24px auto; padding: 0 16px; line-height: 1.4; background: #fff; }
h1 { font-size: 24px; margin-bottom: 4px; }
.explain-step { margin: 6px 0 14px; } .explain-step pre { margin: 2px 0 6px; } .explain-step p { margin: 4px 0; }
h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin-top: 28px; }
p.note { color: #555; font-size: 13px; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 10px; overflow-x: auto; font-size: 12px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
"""


def is_classifier(net):
    """Whether the network classifies: it was trained on class labels or has a softmax output."""
    return net.classes is not None or any(net.layers[n].activation.name == "softmax" for n in net.outputs)


def _picture(fig, alt, dpi=100, max_width="100%"):
    from ._mpl import png_bytes
    return _html.image(png_bytes(fig, dpi=dpi), alt, max_width)


def _section(title, body):
    return f"<section><h2>{_html.esc(title)}</h2>{body}</section>"


def _architecture(net):
    extra = ""
    if net.classes is not None:
        extra += f"<p>classes: {_html.esc(', '.join(map(str, net.classes)))}</p>"
    scaled = [f"input {k}" for k in net.input_scaling] + [f"output {k}" for k in net.output_scaling]
    if scaled:
        extra += (f'<p class="note">scaled inside the network (data units in and out): '
                  f"{_html.esc(', '.join(scaled))}</p>")
    return _section("Architecture", structure(net) + extra)


def _pictures(net):
    from .adjmatrix import adjacency
    from .netgraph import network
    body = _picture(network(net), "the network as a graph of neurons", dpi=110)
    body += _picture(adjacency(net), "the adjacency matrix", max_width="760px")
    return _section("Network", body)


def _weights(net):
    from .matrices import matrix

    def large(kind, key):
        if kind == "W":
            return _picture(matrix(net=net, key=key), f"heatmap of W[{key[0]}→{key[1]}]", max_width="900px")
        return _picture(_bias_strip(net, key), f"heatmap of b[{key}]", max_width="900px")
    note = ('<p class="note">W[s→t] is (n_out, n_in): row i is the receiving neuron t[i], column j the '
            "sending neuron s[j]. Red positive, blue negative.</p>")
    return _section("Weights and biases", note + matrices(net, large=large))


def _bias_strip(net, name):
    """A long bias vector as a one-row heatmap."""
    from .matrices import matrix
    b = np.asarray(net.biases[name], dtype=np.float64)[None, :]
    fig = matrix(b, title=f"b[{name}]  ({b.size})", values=False)
    ax = fig.axes[0]
    ax.set_yticks([])
    ax.set_ylabel("")
    ax.set_xlabel(f"neuron of {name}")
    return fig


def _training(history):
    from .training import has_state, performance, training_state
    body = f"<p>{_html.esc(history.summary() if hasattr(history, 'summary') else '')}</p>"
    body += '<div class="row">' + _picture(performance(history), "loss per epoch", max_width="540px")
    if has_state(history):
        body += _picture(training_state(history), "training state per epoch", max_width="540px")
    return _section("Training", body + "</div>")


def _series_pair(net, X, T, initial=None):
    """Simulated outputs and targets of a dynamic network, first series, as matrices."""
    def first_series(value):
        value = np.hstack([np.asarray(value[n], dtype=np.float64) for n in net.outputs]) \
            if isinstance(value, dict) else np.asarray(value, dtype=np.float64)
        return value[0] if value.ndim == 3 else value
    return first_series(T), first_series(net.simulate(X, initial)[0])


def _evaluation(net, data):
    from .evaluation import confusion, error_histogram, regression, roc
    from .series import response
    X, T = data[:2]
    if net.is_dynamic:
        truth, simulated = _series_pair(net, X, T, data[2] if len(data) > 2 else None)
        pictures = [(response(truth, simulated), "simulated response against the targets")]
        count = f"{len(truth)} time steps (first series)."
    elif is_classifier(net):
        pictures = [(confusion(net, X, T), "confusion matrix"), (roc(net, X, T), "ROC curves")]
        count = f"{_n_samples(X)} samples."
    else:
        pictures = [(regression(net, X, T), "outputs against targets"), (error_histogram(net, X, T), "errors")]
        count = f"{_n_samples(X)} samples."
    body = "".join(_picture(fig, alt, max_width="520px" if len(pictures) > 1 else "900px") for fig, alt in pictures)
    return _section("Evaluation", f"<p>{count}</p><div class=\"row\">{body}</div>")


def _n_samples(X):
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def _first(X):
    return {k: np.asarray(v)[:1] for k, v in X.items()} if isinstance(X, dict) else np.asarray(X)[:1]


def _explanation(net, X):
    if net.is_dynamic:
        return ""
    return _section("How the first sample is computed", net.explain(_first(X), format="html"))


def render(net, history=None, data=None, title="matnet report"):
    """The report as one HTML string (see :func:`report`)."""
    parts = [f"<h1>{_html.esc(title)}</h1><p>{_html.esc(headline(net))}</p>", _architecture(net),
             _pictures(net), _weights(net)]
    if history is not None:
        parts.append(_training(history))
    if data is not None:
        parts += [_evaluation(net, data), _explanation(net, data[0])]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_html.esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def report(net, history=None, data=None, path="report.html", title="matnet report"):
    """Write one self-contained HTML report of ``net``.

    The report holds the architecture (summary and tables), the network picture and
    its adjacency matrix, every weight matrix and bias vector (small ones as tables,
    large ones as heatmaps), the training curves when ``history`` is given, and for
    ``data``: outputs against targets and the error histogram (regression), the
    confusion matrix and ROC curves (a classifier: ``net.classes`` set or a softmax
    output), or the simulated response over time (a network with delays), then
    ``net.explain`` of the first sample (static networks).

    Parameters
    ----------
    net : Network
    history : History, optional
    data : (X, T) or (X, T, initial), optional
        Inputs and targets (class labels for a classifier; series for a network with
        delays, as ``net.simulate`` takes them, with its initial delay states).
    path : str or Path
        The ``.html`` file to write (atomically).
    title : str

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    text = render(net, history, data, title)
    write_atomically(path, lambda f: f.write(text), binary=False)
    return path
