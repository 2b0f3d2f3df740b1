"""A network as one MATLAB function file that runs unchanged in GNU Octave.

In the spirit of MATLAB's ``genFunction``: the matrices are inside the file, the input
and output scaling steps are written out (``mapminmax``/``mapstd`` as the affine maps
matnet stores: ``u = x .* gain + shift``, and back), and every function it needs is in
the file.  Samples are rows, as in matnet: ``x`` is ``Q x n``.

* a static network: ``[y1, y2, ...] = NAME(x1, x2, ...)``, one matrix per input and
  output layer (``Q x n``);
* a network with delays: ``[Y, Xf, Af] = NAME(X, Xi, Ai)``, cell arrays over time as
  ``genFunction`` writes them: ``X{i, ts}`` is input ``i`` at step ``ts`` (``Q x n``, ``Q``
  series; a network without inputs takes ``cell(0, TS)``), ``Y{k, ts}`` output ``k``;
  ``Xi{i, j}`` and ``Ai{l, j}`` the delay states of inputs and layers (``j = 1`` the
  oldest of the largest delay; data units for inputs and scaled outputs, as
  ``net.simulate``'s ``initial``; omitted ones are zeros), ``Xf`` and ``Af`` the final
  states in the same layout.

Sparse weights are MATLAB sparse matrices (``sparse(i, j, v, m, n)``), low-rank ones
``U * (V * x)``, matrix product operators their cores contracted one after another
(``mpo_apply``: a ``reshape``, ``permute`` and one product per core), quantised ones
integer matrices (``int8``/``int16``) whose products are summed exactly in double (every
partial sum is an integer below ``2^53``).
"""
from __future__ import annotations

import numpy as np

from ._text import numbers, wrap
from .program import layer_lines

__all__ = ["matlab_source"]

_ACTIVATIONS = {
    "linear": "a = z;",
    "sigmoid": "e = exp(-abs(z)); a = e ./ (1 + e); k = z >= 0; a(k) = 1 ./ (1 + e(k));",
    "tanh": "a = tanh(z);",
    "relu": "a = max(z, 0);",
    "leaky_relu": "a = z; k = z <= 0; a(k) = z(k) * 0.01;",
    "elu": "a = z; k = z <= 0; a(k) = expm1(z(k));",
    "softplus": "a = max(z, 0) + log1p(exp(-abs(z)));",
    "softmax": "e = exp(z - max(z, [], 1)); a = e ./ sum(e, 1);",
    "hardlim": "a = double(z >= 0);",
    "satlin": "a = min(max(z, 0), 1);",
    "satlins": "a = min(max(z, -1), 1);",
}


def _matrix(name, a, cast=None):
    """``name = [...];`` with exact literals, ``a`` as a column for 1-D arrays."""
    a = np.asarray(a)
    rows = a.reshape(-1, 1) if a.ndim == 1 else a
    body = ";\n".join(wrap(numbers(row), indent="  ", separator=" ").replace("\n", " ...\n") for row in rows)
    value = f"[\n{body}\n]"
    return f"{name} = {cast}({value});\n" if cast else f"{name} = {value};\n"


def _weights(term):
    t, a = term.ident, term.arrays
    label = term.label.replace("\u2192", "->")
    head = f"% {label}: {term.form} {term.shape[0]}x{term.shape[1]}, delays {list(term.delays)}\n"
    if term.form == "sparse":
        counts = np.diff(a["indptr"])
        rows = np.repeat(np.arange(1, term.shape[0] + 1), counts)
        return (head + _matrix(f"{t}_i", rows) + _matrix(f"{t}_j", a["indices"] + 1) + _matrix(f"{t}_v", a["data"])
                + f"{t} = sparse({t}_i, {t}_j, {t}_v, {term.shape[0]}, {term.shape[1]});\n")
    if term.form == "lowrank":
        return head + _matrix(f"{t}_U", a["U"]) + _matrix(f"{t}_V", a["V"])
    if term.form == "mpo":
        return head + _mpo_constants(term)
    if term.form == "quantized":
        cast = f"int{8 if a['q'].dtype == np.int8 else 16}"
        return (head + _matrix(f"{t}_q", a["q"], cast) + _matrix(f"{t}_row_scale", a["row_scale"])
                + f"{t}_inverse = {numbers(np.array([a['input_inverse']], np.float64))[0]};\n")
    return head + _matrix(t, a["W"])


def _mpo_constants(term):
    """Each core as the matrix one step multiplies by (rows: input factor and bond in,
    columns: bond and output factor out), and the sizes of every step."""
    t, a = term.ident, term.arrays
    ins, outs, ranks = a["in_factors"], a["out_factors"], a["ranks"]
    text, dims = [], []
    for k, (m, n) in enumerate(zip(ins, outs)):
        R, S, Q, P = ranks[k], ranks[k + 1], int(np.prod(ins[k + 1:])), int(np.prod(outs[:k]))
        text.append(_matrix(f"{t}_g{k}", a[f"core{k}"].ravel()))   # row-major (R, n, m, S)
        text.append(f"{t}_C{k} = reshape(permute(reshape({t}_g{k}, [{S}, {m}, {n}, {R}]), [2, 4, 1, 3]), "
                    f"{m * R}, {S * n});\n")
        dims.append(f"{Q} {m} {R} {P} {S} {n}")
    cores = ", ".join(f"{t}_C{k}" for k in range(len(ins)))
    return "".join(text) + f"{t}_C = {{{cores}}};\n{t}_dims = [{'; '.join(dims)}];  % Q M R P S n per core\n"


_MPO_APPLY = """
function T = mpo_apply(T, C, dims)
% W * T for W a matrix product operator: one core after another, never forming W.
% T is (n_in x B), rows the row-major input index; after core k its rows are
% (outputs done, bond, inputs left), row-major.
B = size(T, 2);
for k = 1:numel(C)
  d = num2cell(dims(k, :)); [Q, M, R, P, S, n] = d{:};
  A = reshape(permute(reshape(T, [Q, M, R, P, B]), [1, 4, 5, 2, 3]), Q * P * B, M * R);
  T = reshape(permute(reshape(A * C{k}, [Q, P, B, S, n]), [1, 4, 5, 2, 3]), Q * S * n * P, B);
end
end
"""


#: ``W * x`` per weight form (``t`` the term's name; a sparse ``W`` is a MATLAB sparse matrix).
_PRODUCTS = {
    "dense": "{t} * {x}",
    "sparse": "{t} * {x}",
    "lowrank": "{t}_U * ({t}_V * {x})",
    "mpo": "mpo_apply({x}, {t}_C, {t}_dims)",
    "quantized": "(double({t}_q) * min(max(floor({x} * {t}_inverse + 0.5), -{qmax}), {qmax})) .* {t}_row_scale",
}


def _product(term, x):
    return _PRODUCTS[term.form].format(x=x, t=term.ident, **term.arrays)


def _value(program, source, d):
    """``source``'s value ``d`` steps ago (an ``n x Q`` matrix)."""
    state = program.state(source)
    if d:
        return f"hist_{state.ident}{{{state.depth - d + 1}}}"
    port = next((p for p in program.inputs if p.name == source), None)
    return f"u_{port.ident}" if port else f"a_{next(s.ident for s in program.steps if s.name == source)}"


def _layers(program, indent):
    def spell(what, step, term=None):
        if what in ("first", "term"):
            parts = [_value(program, term.source, d) for d in term.delays]
            x = parts[0] if len(parts) == 1 else f"[{'; '.join(parts)}]"
            return [f"z = {_product(term, x)};" if what == "first" else f"z = z + {_product(term, x)};"]
        return [{"begin": f"% {step.name}: {step.activation}, {step.size} neurons",
                 "zeros": f"z = zeros({step.size}, Q);", "bias": f"z = z + b_{step.ident};",
                 "activation": f"a_{step.ident} = {step.activation}_apply(z);"}[what]]
    return "".join(f"{indent}{line}\n" for line in layer_lines(program, spell))


def _constants(program):
    parts = []
    for p in program.inputs:
        if p.affine is not None:
            parts += [f"% {p.name}: u = x .* gain + shift (matnet's scaling, mapminmax/mapstd written out)\n",
                      _matrix(f"in_{p.ident}_gain", p.affine.scale), _matrix(f"in_{p.ident}_shift", p.affine.shift)]
    for p in program.outputs:
        if p.affine is not None:
            parts += [f"% {p.name}: y = a .* gain + shift (the output scaling reversed)\n",
                      _matrix(f"out_{p.ident}_gain", p.affine.scale), _matrix(f"out_{p.ident}_shift", p.affine.shift)]
    for s in program.states:
        if s.scaling is not None:
            parts += [_matrix(f"state_{s.ident}_gain", s.scaling.scale),
                      _matrix(f"state_{s.ident}_shift", s.scaling.shift),
                      _matrix(f"final_{s.ident}_gain", s.inverse.scale),
                      _matrix(f"final_{s.ident}_shift", s.inverse.shift)]
    for step in program.steps:
        parts += [_weights(term) for term in step.terms]
        if step.bias is not None:
            parts.append(_matrix(f"b_{step.ident}", step.bias))
    return "".join(parts)


def _scaled(prefix, port, value):
    return value if port.affine is None else f"{value} .* {prefix}_{port.ident}_gain + {prefix}_{port.ident}_shift"


def _static(program, header):
    ins = ", ".join(f"x{k + 1}" for k in range(len(program.inputs)))
    outs = ", ".join(f"y{k + 1}" for k in range(len(program.outputs)))
    doc = [f"[{outs}] = {program.name}({ins})"]
    doc += [f"  x{k + 1}: Q x {p.size}, input {p.name}" for k, p in enumerate(program.inputs)]
    doc += [f"  y{k + 1}: Q x {p.size}, output {p.name}" for k, p in enumerate(program.outputs)]
    lines = [f"function [{outs}] = {program.name}({ins})\n", _comment(doc + [""] + header.splitlines()), "\n",
             _constants(program)]
    lines.append("Q = size(x1, 1);  % samples (rows)\n")
    for k, p in enumerate(program.inputs):
        lines.append(f"u_{p.ident} = {_scaled('in', p, f'x{k + 1}.' + chr(39))};\n")
    lines.append(_layers(program, ""))
    for k, p in enumerate(program.outputs):
        lines.append(f"y{k + 1} = ({_scaled('out', p, f'a_{p.ident}')})';\n")
    return "".join(lines) + "end\n"


def _dynamic(program, header):
    name = program.name
    inputs = program.inputs
    layers = list(program.steps)
    Di = max([s.depth for s in program.states if any(p.name == s.name for p in inputs)] or [0])
    Dl = max([s.depth for s in program.states if all(p.name != s.name for p in inputs)] or [0])
    doc = [f"[Y, Xf, Af] = {name}(X, Xi, Ai)",
           f"  X:  {len(inputs)} x TS cell, X{{i, ts}} = Q x n_i: " + ", ".join(
               f"{k + 1}: {p.name} ({p.size})" for k, p in enumerate(inputs)),
           f"  Xi: {len(inputs)} x {Di} cell of input delay states (oldest first), optional",
           f"  Ai: {len(layers)} x {Dl} cell of layer delay states (layers: "
           + ", ".join(s.name for s in layers) + "), optional",
           f"  Y:  {len(program.outputs)} x TS cell, Y{{k, ts}} = Q x n_k: "
           + ", ".join(f"{k + 1}: {p.name} ({p.size})" for k, p in enumerate(program.outputs)),
           "  Xf, Af: the final delay states, as Xi and Ai (data units for inputs and scaled outputs)"]
    lines = [f"function [Y, Xf, Af] = {name}(X, Xi, Ai)\n", _comment(doc + [""] + header.splitlines()), "\n",
             _constants(program),
             "TS = size(X, 2);  % steps (a network without inputs: X = cell(0, TS))\n",
             f"if nargin < 2, Xi = cell({len(inputs)}, {Di}); end\n",
             f"if nargin < 3, Ai = cell({len(layers)}, {Dl}); end\n",
             "Q = size(X{1, 1}, 1);  % series (rows)\n" if inputs else
             "Q = 1;  % series (rows), from the states\nk = find(~cellfun(@isempty, Ai), 1);\n"
             "if ~isempty(k), Q = size(Ai{k}, 1); end\n"]
    for s in program.states:
        k, D, cells = _slot(program, s.name), (Di if _is_input(program, s.name) else Dl), \
            ("Xi" if _is_input(program, s.name) else "Ai")
        lines.append(f"hist_{s.ident} = cell(1, {s.depth});\n")
        lines.append(f"for j = 1:{s.depth}\n")
        lines.append(f"  v = {cells}{{{k}, {D - s.depth} + j}};\n")
        lines.append(f"  if isempty(v), v = zeros(Q, {s.size}); end\n")
        value = "v'" if s.scaling is None else f"v' .* state_{s.ident}_gain + state_{s.ident}_shift"
        lines.append(f"  hist_{s.ident}{{j}} = {value};\nend\n")
    lines.append(f"Y = cell({len(program.outputs)}, TS);\n")
    lines.append("for ts = 1:TS\n")
    for k, p in enumerate(inputs):
        lines.append(f"  u_{p.ident} = {_scaled('in', p, f'X{{{k + 1}, ts}}' + chr(39))};\n")
    lines.append(_layers(program, "  "))
    for k, p in enumerate(program.outputs):
        lines.append(f"  Y{{{k + 1}, ts}} = ({_scaled('out', p, f'a_{p.ident}')})';\n")
    for s in program.states:
        newest = _value(program, s.name, 0)
        lines.append(f"  hist_{s.ident} = [hist_{s.ident}(2:end), {{{newest}}}];\n")
    lines.append("end\n")
    lines.append(f"Xf = cell({len(inputs)}, {Di});\nAf = cell({len(layers)}, {Dl});\n")
    for s in program.states:
        k, D, cells = _slot(program, s.name), (Di if _is_input(program, s.name) else Dl), \
            ("Xf" if _is_input(program, s.name) else "Af")
        value = f"hist_{s.ident}{{j}}" if s.inverse is None else \
            f"hist_{s.ident}{{j}} .* final_{s.ident}_gain + final_{s.ident}_shift"
        lines.append(f"for j = 1:{s.depth}\n  {cells}{{{k}, {D - s.depth} + j}} = ({value})';\nend\n")
    return "".join(lines) + "end\n"


def _is_input(program, name):
    return any(p.name == name for p in program.inputs)


def _slot(program, name):
    """1-based row of ``name`` in Xi (inputs) or Ai (layers)."""
    names = [p.name for p in program.inputs] if _is_input(program, name) else [s.name for s in program.steps]
    return names.index(name) + 1


def _comment(lines):
    """The help text: ``%`` lines, ASCII arrows (MATLAB reads files in the platform's encoding)."""
    return "".join(f"% {line}".rstrip().replace("\u2192", "->") + "\n" for line in lines)


def matlab_source(program, header):
    """The MATLAB/Octave function file (text) of ``program``; ``header`` goes in its help."""
    main = _dynamic(program, header) if program.dynamic else _static(program, header)
    used = dict.fromkeys(s.activation for s in program.steps)
    local = "".join(f"\nfunction a = {n}_apply(z)\n{_ACTIVATIONS[n]}\nend\n" for n in used)
    return main + local + (_MPO_APPLY if any(t.form == "mpo" for t in program.terms) else "")
