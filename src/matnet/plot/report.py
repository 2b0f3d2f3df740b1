"""One self-contained HTML report of a network: its structure, pictures, matrices,
training, evaluation and analysis, and a step-by-step account of one sample.

The file needs nothing else: pictures are PNGs embedded as base64 data URIs, the CSS
is inline, there are no scripts and no external references, so it can be mailed,
archived or opened offline.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend import on_host
from .._files import write_atomically
from ..analysis import analyze
from . import _html
from .summary import headline, matrices, structure

__all__ = ["report", "is_classifier"]

CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 24px auto; padding: 0 16px; line-height: 1.4; background: #fff; }
h1 { font-size: 24px; margin-bottom: 4px; }
table.details th { text-align: left; padding-right: 12px; font-weight: normal; color: #555; }
.explain-step { margin: 6px 0 14px; } .explain-step pre { margin: 2px 0 6px; } .explain-step p { margin: 4px 0; }
h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin-top: 28px; }
p.note { color: #555; font-size: 13px; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 10px; overflow-x: auto; font-size: 12px; }
section > table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
section > table td, section > table th, details table td, details table th { padding: 1px 8px; text-align: right; }
details table { border-collapse: collapse; font-size: 12px; }
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
    if net.feature_names:
        columns = "; ".join(f"{k}: {', '.join(v)}" for k, v in net.feature_names.items())
        extra += f"<p>columns: {_html.esc(columns)}</p>"
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


SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test", "all": "all"}


def _take(v, idx):
    if idx is None:
        return v
    return {k: np.asarray(a)[idx] for k, a in v.items()} if isinstance(v, dict) else np.asarray(v)[idx]


def _per_split(plot, net, X, T, division):
    """One panel per split of ``division`` and one of all samples, as MATLAB's
    ``plotregression`` / ``plotconfusion`` draw them; each titled with its split."""
    from ._mpl import new_figure
    parts = [(name, idx) for name, idx in division.items() if len(idx)] + [("all", None)]
    fig = new_figure((4.3 * len(parts), 4.2))
    for k, (name, idx) in enumerate(parts):
        ax = fig.add_subplot(1, len(parts), k + 1)
        plot(net, _take(X, idx), _take(T, idx), ax=ax)
        n = _n_samples(X) if idx is None else len(idx)
        ax.set_title(f"{SPLIT_NAMES[name]} ({n}): {ax.get_title()}", fontsize=10)
    return fig


def _splits_of(history, X):
    """The division of the data the network was trained on, when ``X`` is that data."""
    division = getattr(history, "division", None) or {}
    n = _n_samples(X)
    if not division or sum(len(idx) for idx in division.values()) != n:
        return None
    return division


def _evaluation(net, data, history=None):
    from .evaluation import confusion, error_histogram, regression, roc
    from .series import response
    X, T = data[:2]
    if net.is_dynamic:
        truth, simulated = _series_pair(net, X, T, data[2] if len(data) > 2 else None)
        pictures = [(response(truth, simulated), "simulated response against the targets")]
        return _section("Evaluation", f"<p>{len(truth)} time steps (first series).</p>"
                        + "".join(_picture(fig, alt, max_width="900px") for fig, alt in pictures))
    division = _splits_of(history, X)
    count = f"{_n_samples(X)} samples" + (", by the division of training." if division else ".")
    if is_classifier(net):
        first = (_per_split(confusion, net, X, T, division), "confusion matrices per split") if division \
            else (confusion(net, X, T), "confusion matrix")
        pictures = [first, (roc(net, X, T), "ROC curves")]
    else:
        first = (_per_split(regression, net, X, T, division), "outputs against targets per split") if division \
            else (regression(net, X, T), "outputs against targets")
        pictures = [first, (error_histogram(net, X, T), "errors")]
    body = "".join(_picture(fig, alt, max_width="1100px" if division and i == 0 else "520px")
                   for i, (fig, alt) in enumerate(pictures))
    return _section("Evaluation", f"<p>{count}</p><div class=\"row\">{body}</div>")


def _analysis(net, data):
    from .analysis import analysis_figures
    X, T = data[:2]
    result = analyze(net, X, T, initial=data[2] if len(data) > 2 else None)
    figures = analysis_figures(net, result, None if net.is_dynamic else X)
    parts = []
    if result.importance is not None:
        parts.append(result.importance.to_html())
    parts.append('<div class="row">' + "".join(_picture(fig, alt, max_width="520px")
                                               for fig, alt in figures.values()) + "</div>")
    if result.intervals is not None:
        parts.append(f"<details><summary>{_html.esc(result.intervals_line())}</summary>"
                     f"{result.intervals.to_html()}</details>")
    parts.append(result.spectra.to_html())
    parts += [f'<p class="note">{_html.esc(note)}</p>' for note in result.notes]
    return _section("Analysis", "".join(parts))


def _n_samples(X):
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def _first(X):
    return {k: np.asarray(v)[:1] for k, v in X.items()} if isinstance(X, dict) else np.asarray(X)[:1]


def _explanation(net, X):
    if net.is_dynamic:
        return ""
    if net.is_graph:                            # a node is computed from the whole graph
        return _section("How the first node is computed", net.explain(X, format="html", max_samples=1))
    return _section("How the first sample is computed", net.explain(_first(X), format="html"))


def _details(details):
    """The header's facts (``name -> text``: data file, command line, date, ...)."""
    if not details:
        return ""
    rows = "".join(f"<tr><th>{_html.esc(k)}</th><td><code>{_html.esc(v)}</code></td></tr>" for k, v in details.items())
    return f'<table class="details">{rows}</table>'


@on_host
def render(net, history=None, data=None, title="matnet report", details=None):
    """The report as one HTML string (see :func:`report`)."""
    parts = [f"<h1>{_html.esc(title)}</h1>{_details(details)}<p>{_html.esc(headline(net))}</p>",
             _architecture(net), _pictures(net), _weights(net)]
    if history is not None:
        parts.append(_training(history))
    if data is not None:
        parts += [_evaluation(net, data, history), _analysis(net, data), _explanation(net, data[0])]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_html.esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


@on_host
def report(net, history=None, data=None, path="report.html", title="matnet report", details=None):
    """Write one self-contained HTML report of ``net``.

    The report holds the architecture (summary and tables), the network picture and
    its adjacency matrix, every weight matrix and bias vector (small ones as tables,
    large ones as heatmaps), the training curves when ``history`` is given, and for
    ``data``: outputs against targets and the error histogram (regression), the
    confusion matrix and ROC curves (a classifier: ``net.classes`` set or a softmax
    output), or the simulated response over time (a network with delays), then
    the analysis of :func:`matnet.analysis.analyze` (importance of the inputs, confidence
    intervals of the parameters with the NIC, spectra of the weight matrices, and
    their pictures), then ``net.explain`` of the first sample (static networks).
    When ``data`` is what
    ``history`` was trained on, the outputs against targets (or the confusion matrix)
    are drawn per split (training, validation, test) and for all samples, as MATLAB's
    ``plotregression`` / ``plotconfusion``.

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
    details : dict, optional
        Facts shown under the title, ``name -> text`` (the command line writes the
        data file, its command and the date).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    text = render(net, history, data, title, details)
    write_atomically(path, lambda f: f.write(text), binary=False)
    return path
