"""A step-by-step account of a computation, for teaching and checking by hand.

For each sample and each layer (in topological order) :func:`explain` writes the
layer's equation in column-vector notation with the shapes of every factor, the
matrices and vectors with their numbers, the net input and the activation::

    h1 = tanh(W[x→h1] · x + b[h1])   (3×2)·(2×1) + (3×1) → (3×1)

The numbers are those :func:`matnet.simulate.forward` computes (batch as rows); the
column-vector notation is the textbook's ``z = W a + b`` for one sample.  A network with
input or output scaling shows those steps too, as MATLAB's ``mapminmax`` writes them::

    x̃ = gain ⊙ (x − xmin) + ymin        (minmax)      x̃ = gain ⊙ (x − mean)   (standard)
    y = (ỹ − ymin) ⊘ gain + xmin                       y = ỹ ⊘ gain + mean

so the last number shown is what ``net(X)`` / ``net.simulate`` returns.
"""
from __future__ import annotations

import numpy as np

from .backend import on_host
from .network import ARROW
from .prepare import initial_states, prepare_inputs, prepare_sequences
from .simulate import data_units, forward, plan, run_sequences

__all__ = ["explain"]

FORMATS = ("text", "markdown", "latex", "html")


@on_host
def explain(net, X, format="text", max_samples=3, precision=4, initial=None):
    """Explain how ``net`` computes its outputs for (the first few samples of) ``X``.

    Parameters
    ----------
    X : array_like or dict
        Inputs as for ``net(X)``; for a network with delays, input series as for
        ``net.simulate`` (the first steps of the first series are explained, each
        delayed connection showing the stacked past values it reads).
    format : {"text", "markdown", "latex", "html"}
        ``"html"`` is compact: long vectors and large matrices are abbreviated, with
        the whole of them behind a ``<details>`` toggle.
    max_samples : int
        At most this many samples (time steps) are explained.
    precision : int
        Digits after the decimal point.
    initial : dict, optional
        Initial delay states of a network with delays.

    Returns
    -------
    str
    """
    if format not in FORMATS:
        raise ValueError(f"unknown explain format {format!r}; use one of {', '.join(FORMATS)}")
    trace, raw, n = _run(net, X, initial)
    writer = {"text": _Text, "markdown": _Markdown, "latex": _Latex, "html": _Html}[format](precision)
    shown = min(n, max_samples)
    what = "Step" if net.is_dynamic else "Node" if plan(net).coupled else "Sample"
    parts = [writer.title(_architecture(net))]
    for i in range(shown):
        inputs = ", ".join(f"{name} = {writer.inline(x[i])}" for name, x in raw.items())
        parts.append(writer.heading(f"{what} {i + 1} of {n}: {inputs}" if n > 1 else f"{what}: {inputs}"))
        for name, x in raw.items():
            if name in net.input_scaling:
                parts.append(_input_scaling(name, net.input_scaling[name], x[i], writer))
        for step in plan(net).steps:
            parts.append(_layer(net, step, trace, i, writer))
        for name in plan(net).outputs:
            if name in net.output_scaling:
                parts.append(_output_scaling(name, net.output_scaling[name], trace.a[name][i], writer))
        outputs = ", ".join(f"{name} = {writer.inline(data_units(net, name, trace.a[name][i:i + 1])[0])}"
                            for name in plan(net).outputs)
        parts.append(writer.paragraph(f"Output: {outputs}"))
    if shown < n:
        parts.append(writer.paragraph(f"({n - shown} more {what.lower()}s not shown; max_samples={max_samples})"))
    return writer.join(parts)


def _run(net, X, initial):
    """The run to explain (a batch, or series; network units), the inputs in data units
    ``name -> (samples, n)`` (steps of the first series) and how many samples there are."""
    if not net.is_dynamic:
        trace = forward(net, X)
        raw, _ = prepare_inputs(net, X, scale=False)
        return trace, raw, next(iter(trace.z.values())).shape[0]
    inputs, _ = prepare_sequences(net, X)
    if not inputs:
        raise ValueError("explain needs input series; the network has no inputs")
    raw, _ = prepare_sequences(net, X, scale=False)
    S, T = next(iter(inputs.values())).shape[:2]
    return run_sequences(net, inputs, initial_states(net, initial, S)), {k: v[0] for k, v in raw.items()}, T


def _scaling_vectors(scaling):
    """``(gain, centre, ymin)`` of ``u = gain ⊙ (x − centre) + ymin`` (``ymin`` 0 for
    standard scaling and for features constant in training)."""
    gain = np.asarray(scaling.scale, dtype=np.float64)
    centre = np.asarray(scaling.value, dtype=np.float64)
    return gain, centre, np.asarray(scaling.shift, dtype=np.float64) + gain * centre


def _scaling_blocks(scaling, writer):
    """The matrices of a scaling: gain, xmin (or mean) and, for minmax, ymin."""
    gain, centre, ymin = _scaling_vectors(scaling)
    symbols = ["gain", "xmin" if scaling.kind == "minmax" else "mean"] + (["ymin"] if scaling.kind == "minmax" else [])
    return [writer.matrix(writer.symbol(k), v[:, None]) for k, v in zip(symbols, (gain, centre, ymin))], gain


def _input_scaling(name, scaling, x, writer):
    g, centre, ymin = (writer.symbol(k) for k in ("gain", "xmin" if scaling.kind == "minmax" else "mean", "ymin"))
    scaled = np.asarray(scaling.apply(np.asarray(x)[None, :])[0], dtype=np.float64)
    tail = f" + {ymin}" if scaling.kind == "minmax" else ""
    blocks, _ = _scaling_blocks(scaling, writer)
    blocks = [writer.matrix(writer.name(name), np.asarray(x, dtype=np.float64)[:, None]), *blocks,
              writer.matrix(writer.scaled(name), scaled[:, None])]
    equation = writer.formula(f"input scaling ({scaling.kind})",
                              f"{writer.scaled(name)} = {g} ⊙ ({writer.name(name)} − {centre}){tail}")
    return writer.section(equation, blocks)


def _output_scaling(name, scaling, y, writer):
    g, centre, ymin = (writer.symbol(k) for k in ("gain", "xmin" if scaling.kind == "minmax" else "mean", "ymin"))
    back = np.asarray(scaling.invert(np.asarray(y)[None, :])[0], dtype=np.float64)
    inner = f"({writer.scaled(name)} − {ymin})" if scaling.kind == "minmax" else writer.scaled(name)
    blocks, gain = _scaling_blocks(scaling, writer)
    blocks = [writer.matrix(writer.scaled(name), np.asarray(y, dtype=np.float64)[:, None]), *blocks,
              writer.matrix(writer.name(name), back[:, None])]
    note = " (a feature with gain 0 was constant in training: it is that constant)" if (gain == 0).any() else ""
    equation = writer.formula(f"output scaling undone ({scaling.kind}){note}",
                              f"{writer.name(name)} = {inner} ⊘ {g} + {centre}")
    return writer.section(equation, blocks)


def _architecture(net):
    inputs = ", ".join(f"{name} ({size})" for name, size in net.inputs.items())
    layers = ", ".join(f"{name} ({net.layers[name].size}, {net.layers[name].activation.name})"
                       for name in net.topological_order())
    columns = "; ".join(f"{name} = {', '.join(names)}" for name, names in net.feature_names.items())
    return (f"Network: inputs {inputs}; layers {layers}; outputs {', '.join(net.outputs)}"
            + (f"\nColumns: {columns}" if columns else ""))


def _unit_name(net, name, writer):
    """``name``, or ``name``̃ where the network computes in scaled units."""
    scaled = name in net.input_scaling or name in net.output_scaling
    return writer.scaled(name) if scaled else writer.name(name)


def _source_name(net, c, writer):
    """``x``, or for delays ``[x(t-1); x(t-2)]``: what the connection reads."""
    name = _unit_name(net, c.source, writer)
    if c.delays == (0,):
        return name
    return "[" + "; ".join(name + ("(t)" if d == 0 else f"(t-{d})") for d in c.delays) + "]"


def _layer(net, step, trace, i, writer):
    size = step.size
    terms, shapes, blocks = [], [], []
    for c, op in step.connections:
        W = np.asarray(op.to_dense())
        label = writer.weight(c.key)
        source = _source_name(net, c, writer)
        terms.append(f"{label} · {source}")
        shapes.append(f"({W.shape[0]}×{W.shape[1]})·({W.shape[1]}×1)")
        blocks.append(writer.matrix(label, W))
        if c.source in net.index_inputs:           # an embedding: the column of the index
            i_col = int(trace.connection_input(c)[i, 0])
            terms[-1], shapes[-1] = f"{label}[:, {i_col}]", f"({W.shape[0]}×1)"
            blocks[-1] = writer.matrix(f"{label}[:, {i_col}] ({c.source} = {i_col})", W[:, i_col:i_col + 1])
            continue
        if c.propagate is not None:                # a graph connection reads its neighbours
            source, used = _neighbours(c, trace, i, source, writer, blocks)
            terms[-1] = f"{label} · {source}"
            blocks.append(writer.matrix(source, used.T))
            continue
        x = trace.connection_input(c)[i:i + 1]
        used = op.reads(x)
        if used is not x:                          # a quantised weight reads x on its grid
            blocks.append(writer.matrix(source, x.T))
            source = f"round({source})"
            terms[-1] = f"{label} · {source}"
        blocks.append(writer.matrix(source, used.T))
    if step.combine == "product" and len(terms) > 1:       # sigma-pi: the contributions multiply
        terms, shapes = ["(" + " ⊙ ".join(terms) + ")"], ["(" + " ⊙ ".join(shapes) + ")"]
    if step.bias:
        terms.append(writer.bias(step.layer))
        shapes.append(f"({size}×1)")
        blocks.append(writer.matrix(writer.bias(step.layer), net.biases[step.layer][:, None]))
    act = step.activation.name
    layer = _unit_name(net, step.layer, writer)
    equation = writer.equation(layer, act, terms, " + ".join(shapes) + f" → ({size}×1)")
    z, a = trace.z[step.layer][i], trace.a[step.layer][i]
    blocks.append(writer.matrix("z = " + " + ".join(terms) if terms else "z", z[:, None]))
    blocks.append(writer.matrix(f"{layer} = {act}(z)", a[:, None]))
    return writer.section(equation, blocks)


def _neighbours(c, trace, i, source, writer, blocks):
    """Node ``i`` of a graph connection reads ``Σ_j P[i, j] x_j``: the row of ``P`` (its
    non-zero entries, as columns ``[j; P[i, j]]``) and that sum."""
    X = trace.connection_input(c)
    unit = np.zeros((X.shape[0], 1), X.dtype)
    unit[i] = 1
    row = c.propagate.transpose(unit)[:, 0]            # row i of P
    j = np.flatnonzero(row)
    label = f"P[{c.source}{ARROW}{c.target}]"
    blocks.append(writer.matrix(f"{label} row {i + 1}: node j; P[i, j] ({c.propagate.describe()})",
                                np.vstack([j + 1, row[j]])))
    return f"({label} {source})", (row @ X)[None, :]


class _Text:
    def __init__(self, precision):
        self.precision = precision

    def _fmt(self, M):
        return np.array2string(np.asarray(M, dtype=np.float64), precision=self.precision,
                               suppress_small=True, max_line_width=100, threshold=200, edgeitems=4)

    def title(self, text):
        return text

    def heading(self, text):
        return f"{text}\n{'-' * min(len(text), 80)}"

    def paragraph(self, text):
        return text

    def inline(self, v):
        return self._fmt(v)

    def name(self, name):
        return name

    def weight(self, key):
        return f"W[{key[0]}→{key[1]}]"

    def bias(self, layer):
        return f"b[{layer}]"

    def equation(self, layer, act, terms, shapes):
        body = " + ".join(terms) or "0"
        return f"{layer} = {act}({body})   {shapes}"

    def formula(self, title, body):
        return f"{title}: {body}"

    def scaled(self, name):
        """The name of ``name`` in network units."""
        return f"{name}̃"

    def symbol(self, key):
        """``gain``, ``xmin``, ``ymin``, ``mean`` of a scaling."""
        return key

    def matrix(self, label, M):
        if M.shape[1] == 1:
            return f"  {label} = {self._fmt(M[:, 0])}ᵀ"
        body = self._fmt(M).replace("\n", "\n    ")
        return f"  {label} =\n    {body}"

    def section(self, equation, blocks):
        return "\n".join([equation, *blocks])

    def join(self, parts):
        return "\n\n".join(parts) + "\n"


class _Markdown(_Text):
    def title(self, text):
        return f"## {text}"

    def heading(self, text):
        return f"### {text}"

    def inline(self, v):
        return f"`{self._fmt(v)}`"

    def matrix(self, label, M):
        return f"`{label}` =\n```\n{self._fmt(M)}\n```"

    def equation(self, layer, act, terms, shapes):
        return f"**`{super().equation(layer, act, terms, shapes)}`**"

    def formula(self, title, body):
        return f"**`{super().formula(title, body)}`**"

    def section(self, equation, blocks):
        return "\n\n".join([equation, *blocks])


class _Latex(_Text):
    MAX = 8

    def _number(self, v):
        return f"{v:.{self.precision}f}"

    def _bmatrix(self, M):
        M = np.atleast_2d(np.asarray(M, dtype=np.float64))
        rows = [self._row(r) for r in (M if M.shape[0] <= self.MAX else [*M[:3], None, *M[-3:]])]
        return "\\begin{bmatrix}" + " \\\\ ".join(rows) + "\\end{bmatrix}"

    def _row(self, r):
        if r is None:
            return "\\vdots"
        cells = [self._number(v) for v in r] if r.size <= self.MAX else \
            [*map(self._number, r[:3]), "\\cdots", *map(self._number, r[-3:])]
        return " & ".join(cells)

    def title(self, text):
        return f"% {text}"

    def heading(self, text):
        return f"\\paragraph{{{self._escape(text)}}}"

    def paragraph(self, text):
        return self._escape(text)

    def inline(self, v):
        return f"${self._bmatrix(np.asarray(v)[:, None])}$"

    @staticmethod
    def _escape(text):
        return text.replace("_", "\\_")

    def name(self, name):
        return f"\\mathrm{{{self._escape(name)}}}"

    def weight(self, key):
        return f"W_{{\\mathrm{{{self._escape(key[0])}}} \\to \\mathrm{{{self._escape(key[1])}}}}}"

    def bias(self, layer):
        return f"b_{{\\mathrm{{{self._escape(layer)}}}}}"

    def scaled(self, name):
        return f"\\tilde{{{self.name(name)}}}"

    def symbol(self, key):
        return {"gain": "g", "xmin": "x_{\\min}", "ymin": "y_{\\min}", "mean": "\\mu"}[key]

    def formula(self, title, body):
        for plain, tex in (("⊙", "\\odot"), ("⊘", "\\oslash"), ("−", "-")):
            body = body.replace(plain, tex)
        return f"\\paragraph{{{self._escape(title)}}} \\[ {body} \\]"

    def equation(self, layer, act, terms, shapes):
        body = " + ".join(t.replace(" · ", " \\, ").replace(" ⊙ ", " \\odot ") for t in terms) or "0"
        shapes = shapes.replace("×", "$\\times$").replace("→", "$\\to$").replace("·", "$\\cdot$")
        return (f"\\[ {layer} = \\mathrm{{{self._escape(act)}}}\\left({body}\\right)"
                f" \\qquad \\text{{{shapes}}} \\]")

    def matrix(self, label, M):
        label = label.replace(" · ", " \\, ")
        return f"\\[ {label} = {self._bmatrix(M)} \\]"

    def section(self, equation, blocks):
        return "\n".join([equation, *blocks])


class _Html(_Text):
    """Compact HTML: equations in bold code, vectors on one line (abbreviated beyond
    :data:`SHORT` entries), matrices as small preformatted blocks; whatever is
    abbreviated can be expanded in full."""

    SHORT = 8
    SMALL = 64

    @staticmethod
    def _esc(text):
        import html
        return html.escape(str(text), quote=False)

    def _short(self, v):
        v = np.asarray(v, dtype=np.float64).ravel()
        if v.size <= self.SHORT:
            return self._fmt(v)
        head = np.array2string(v[:4], precision=self.precision, suppress_small=True)[:-1]
        tail = np.array2string(v[-2:], precision=self.precision, suppress_small=True)[1:]
        return f"{head} … {tail}"

    def _full(self, M, summary):
        full = np.array2string(np.asarray(M, dtype=np.float64), precision=self.precision, suppress_small=True,
                               max_line_width=120, threshold=np.inf)
        return f"<details><summary>{self._esc(summary)}</summary><pre>{self._esc(full)}</pre></details>"

    def title(self, text):
        return f"<p><b>{self._esc(text)}</b></p>"

    def heading(self, text):
        return f"<h3>{self._esc(text)}</h3>"

    def paragraph(self, text):
        return f"<p>{self._esc(text)}</p>"

    def inline(self, v):
        return self._short(v)

    def equation(self, layer, act, terms, shapes):
        return f"<p><code><b>{self._esc(super().equation(layer, act, terms, shapes))}</b></code></p>"

    def formula(self, title, body):
        return f"<p><code><b>{self._esc(super().formula(title, body))}</b></code></p>"

    def matrix(self, label, M):
        M = np.asarray(M)
        if M.shape[1] == 1:
            line = f"<div><code>{self._esc(label)} = {self._esc(self._short(M[:, 0]))}ᵀ</code>"
            more = self._full(M[:, 0], f"all {M.shape[0]} values") if M.shape[0] > self.SHORT else ""
            return line + more + "</div>"
        shape = f"{M.shape[0]}×{M.shape[1]}"
        if M.size > self.SMALL:
            return f"<div><code>{self._esc(label)}</code> ({shape}){self._full(M, 'show the matrix')}</div>"
        return f"<div><code>{self._esc(label)}</code> =<pre>{self._esc(self._fmt(M))}</pre></div>"

    def section(self, equation, blocks):
        return f'<div class="explain-step">{equation}{"".join(blocks)}</div>'

    def join(self, parts):
        return "\n".join(parts) + "\n"
