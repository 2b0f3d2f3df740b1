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

from .simulate import forward, plan

__all__ = ["explain"]

FORMATS = ("text", "markdown", "latex")


def explain(net, X, format="text", max_samples=3, precision=4):
    """Explain how ``net`` computes its outputs for (the first few samples of) ``X``.

    Parameters
    ----------
    X : array_like or dict
        Inputs as for ``net(X)``.
    format : {"text", "markdown", "latex"}
    max_samples : int
        At most this many samples are explained.
    precision : int
        Digits after the decimal point.

    Returns
    -------
    str
    """
    if format not in FORMATS:
        raise ValueError(f"unknown explain format {format!r}; use one of {', '.join(FORMATS)}")
    result = forward(net, X)
    writer = {"text": _Text, "markdown": _Markdown, "latex": _Latex}[format](precision)
    n = next(iter(result.inputs.values())).shape[0]
    shown = min(n, max_samples)
    parts = [writer.title(_architecture(net))]
    for i in range(shown):
        inputs = ", ".join(f"{name} = {writer.inline(x[i])}" for name, x in result.inputs.items())
        parts.append(writer.heading(f"Sample {i + 1} of {n}: {inputs}" if n > 1 else f"Sample: {inputs}"))
        for step in plan(net).steps:
            parts.append(_layer(net, step, result, i, writer))
        outputs = ", ".join(f"{name} = {writer.inline(result.a[name][i])}" for name in plan(net).outputs)
        parts.append(writer.paragraph(f"Output: {outputs}"))
    if shown < n:
        parts.append(writer.paragraph(f"({n - shown} more samples not shown; max_samples={max_samples})"))
    return writer.join(parts)


def _architecture(net):
    inputs = ", ".join(f"{name} ({size})" for name, size in net.inputs.items())
    layers = ", ".join(f"{name} ({net.layers[name].size}, {net.layers[name].activation.name})"
                       for name in net.topological_order())
    return f"Network: inputs {inputs}; layers {layers}; outputs {', '.join(net.outputs)}"


def _layer(net, step, result, i, writer):
    size = net.layers[step.layer].size
    terms, shapes, blocks = [], [], []
    for source, key in step.sources:
        W = np.asarray(net.weights[key])
        label = writer.weight(key)
        terms.append(f"{label} · {writer.name(source)}")
        shapes.append(f"({W.shape[0]}×{W.shape[1]})·({W.shape[1]}×1)")
        blocks.append(writer.matrix(label, W))
        blocks.append(writer.matrix(writer.name(source), result.values(source)[i][:, None]))
    if step.bias:
        terms.append(writer.bias(step.layer))
        shapes.append(f"({size}×1)")
        blocks.append(writer.matrix(writer.bias(step.layer), net.biases[step.layer][:, None]))
    act = step.activation.name
    equation = writer.equation(step.layer, act, terms, " + ".join(shapes) + f" → ({size}×1)")
    z, a = result.z[step.layer][i], result.a[step.layer][i]
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
