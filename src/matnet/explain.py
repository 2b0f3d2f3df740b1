"""A step-by-step account of a computation, for teaching and checking by hand.

For each sample and each layer (in topological order) :func:`explain` writes the
layer's equation in column-vector notation with the shapes of every factor, the
matrices and vectors with their numbers, the net input and the activation::

    h1 = tanh(W[x→h1] · x + b[h1])   (3×2)·(2×1) + (3×1) → (3×1)

The numbers are those :func:`matnet.simulate.forward` computes (batch as rows); the
column-vector notation is the textbook's ``z = W a + b`` for one sample.
"""
from __future__ import annotations

import numpy as np

from .prepare import initial_states, prepare_sequences
from .simulate import forward, plan, run_sequences

__all__ = ["explain"]

FORMATS = ("text", "markdown", "latex")


def explain(net, X, format="text", max_samples=3, precision=4, initial=None):
    """Explain how ``net`` computes its outputs for (the first few samples of) ``X``.

    Parameters
    ----------
    X : array_like or dict
        Inputs as for ``net(X)``; for a network with delays, input series as for
        ``net.simulate`` (the first steps of the first series are explained, each
        delayed connection showing the stacked past values it reads).
    format : {"text", "markdown", "latex"}
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
    trace, n = _run(net, X, initial)
    writer = {"text": _Text, "markdown": _Markdown, "latex": _Latex}[format](precision)
    shown = min(n, max_samples)
    what = "Step" if net.is_dynamic else "Sample"
    parts = [writer.title(_architecture(net))]
    for i in range(shown):
        inputs = ", ".join(f"{name} = {writer.inline(x[i])}" for name, x in trace.inputs.items())
        parts.append(writer.heading(f"{what} {i + 1} of {n}: {inputs}" if n > 1 else f"{what}: {inputs}"))
        for step in plan(net).steps:
            parts.append(_layer(net, step, trace, i, writer))
        outputs = ", ".join(f"{name} = {writer.inline(trace.a[name][i])}" for name in plan(net).outputs)
        parts.append(writer.paragraph(f"Output: {outputs}"))
    if shown < n:
        parts.append(writer.paragraph(f"({n - shown} more {what.lower()}s not shown; max_samples={max_samples})"))
    return writer.join(parts)


def _run(net, X, initial):
    """The run to explain (a batch, or series; network units) and how many samples
    (steps of the first series) it has."""
    if not net.is_dynamic:
        trace = forward(net, X)
        return trace, next(iter(trace.z.values())).shape[0]
    inputs, _ = prepare_sequences(net, X)
    if not inputs:
        raise ValueError("explain needs input series; the network has no inputs")
    S, T = next(iter(inputs.values())).shape[:2]
    return run_sequences(net, inputs, initial_states(net, initial, S)), T


def _architecture(net):
    inputs = ", ".join(f"{name} ({size})" for name, size in net.inputs.items())
    layers = ", ".join(f"{name} ({net.layers[name].size}, {net.layers[name].activation.name})"
                       for name in net.topological_order())
    return f"Network: inputs {inputs}; layers {layers}; outputs {', '.join(net.outputs)}"


def _source_name(c, writer):
    """``x``, or for delays ``[x(t-1); x(t-2)]``: what the connection reads."""
    if c.delays == (0,):
        return writer.name(c.source)
    return "[" + "; ".join(writer.name(c.source) + ("(t)" if d == 0 else f"(t-{d})") for d in c.delays) + "]"


def _layer(net, step, trace, i, writer):
    size = step.size
    terms, shapes, blocks = [], [], []
    for c, op in step.connections:
        W = np.asarray(op.to_dense())
        label = writer.weight(c.key)
        source = _source_name(c, writer)
        terms.append(f"{label} · {source}")
        shapes.append(f"({W.shape[0]}×{W.shape[1]})·({W.shape[1]}×1)")
        blocks.append(writer.matrix(label, W))
        blocks.append(writer.matrix(source, trace.connection_input(c)[i][:, None]))
    if step.bias:
        terms.append(writer.bias(step.layer))
        shapes.append(f"({size}×1)")
        blocks.append(writer.matrix(writer.bias(step.layer), net.biases[step.layer][:, None]))
    act = step.activation.name
    equation = writer.equation(step.layer, act, terms, " + ".join(shapes) + f" → ({size}×1)")
    z, a = trace.z[step.layer][i], trace.a[step.layer][i]
    blocks.append(writer.matrix("z = " + " + ".join(terms) if terms else "z", z[:, None]))
    blocks.append(writer.matrix(f"{writer.name(step.layer)} = {act}(z)", a[:, None]))
    return writer.section(equation, blocks)


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

    def equation(self, layer, act, terms, shapes):
        body = " + ".join(t.replace(" · ", " \\, ") for t in terms) or "0"
        shapes = shapes.replace("×", "$\\times$").replace("→", "$\\to$").replace("·", "$\\cdot$")
        return (f"\\[ {self.name(layer)} = \\mathrm{{{self._escape(act)}}}\\left({body}\\right)"
                f" \\qquad \\text{{{shapes}}} \\]")

    def matrix(self, label, M):
        label = label.replace(" · ", " \\, ")
        return f"\\[ {label} = {self._bmatrix(M)} \\]"

    def section(self, equation, blocks):
        return "\n".join([equation, *blocks])
