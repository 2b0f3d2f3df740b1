"""A network as a C99 header and source: ``static const`` weights, no allocation, only
``<math.h>``.

The header declares, for a network ``NAME``::

    void NAME_predict(const T *x, T *y);                  a static network, one sample
    typedef struct { T v[NAME_N_STATE]; } NAME_state;    a network with delays:
    void NAME_init(NAME_state *s, const T *initial);      its delay states (NULL: zeros)
    void NAME_step(NAME_state *s, const T *x, T *y);      one time step

``x`` holds every input's features side by side (``NAME_N_INPUTS``, inputs in the
network's order; unused by a network without inputs, which runs free from its states),
``y`` every output layer's (``NAME_N_OUTPUTS``), both in data units.
The state holds, for each source read with delay (inputs, then layers in topological
order), its last ``d`` values oldest first, in network units; ``initial`` has the same
layout in data units, as ``net.simulate(U, initial)`` takes them.

Sparse weights are CSR arrays and loops, low-rank ones ``U (V x)``, matrix product
operators their cores contracted one after another in two buffers on the stack.
``T`` is ``double`` or ``float``.  A quantised network (``dtype="int8"``/``"int16"``)
keeps ``T`` for its interface, biases and activations, and computes every matrix product
in integers: the input rounded onto its grid (``signed char``/``short``), products summed
in a ``long`` (at least 32 bits; ``long long`` where a row could overflow 32 bits), then
scaled — the same numbers as :class:`~matnet.weights.Quantized`, bit for bit.  The outputs
are then bit for bit too where the activations are exact arithmetic (linear, relu,
satlin, ...); ``tanh``, ``exp`` and ``log1p`` come from the C library, which may differ
from NumPy's in the last bit.
"""
from __future__ import annotations

import math

import numpy as np

from ._text import numbers, wrap
from .program import layer_lines

__all__ = ["c_sources", "C_TYPES"]

#: The floating type of each export dtype.
C_TYPES = {"double": "double", "float": "float"}
_INTEGER = {8: "signed char", 16: "short"}
_ACCUMULATOR = {"int32": "long", "int64": "long long"}


class _Writer:
    """C text for one program in one floating type ``T``."""

    def __init__(self, program, T):
        self.p, self.T = program, T
        self.f = "f" if T == "float" else ""          # suffix of <math.h> functions and literals
        self.layer_offset, n = {}, 0
        for step in program.steps:
            self.layer_offset[step.name] = n
            n += step.size
        self.n_layers = max(n, 1)

    # -- literals --------------------------------------------------------------------
    def real(self, v):
        return numbers(np.array([v], np.float64))[0] + self.f

    def array(self, name, a, ctype=None):
        """``ctype name[n] = {...};``: ``a`` flattened row-major (a matrix is read as
        ``name[n_in * i + j]``)."""
        a = np.asarray(a)
        ctype = ctype or f"static const {self.T}"
        values = numbers(a) if a.dtype.kind in "iu" else [v + self.f for v in numbers(a.astype(np.float64))]
        return f"{ctype} {name}[{max(a.size, 1)}] = {{\n{wrap(values or ['0'])}\n}};\n"

    def call(self, name):
        return f"{name}{self.f}"

    # -- reading a source ------------------------------------------------------------
    def pointer(self, source, d):
        """A C expression pointing at ``source``'s value ``d`` steps ago."""
        state = self.p.state(source)
        if d:
            return f"(s + {state.offset + (state.depth - d) * state.size})"
        port = next((q for q in self.p.inputs if q.name == source), None)
        return f"(u + {port.offset})" if port else f"(a + {self.layer_offset[source]})"

    def reads(self, term, lines):
        """The pointer ``term`` reads from; a stacked copy ``xin`` for several delays."""
        if len(term.delays) == 1:
            return self.pointer(term.source, term.delays[0])
        n = term.shape[1] // len(term.delays)
        lines.append(f"        {self.T} xin[{term.shape[1]}];")
        for k, d in enumerate(term.delays):
            lines.append(f"        for (int j = 0; j < {n}; j++) xin[{k * n} + j] = {self.pointer(term.source, d)}[j];")
        return "xin"

    # -- one term ----------------------------------------------------------------------
    def product(self, term, first, lines):
        """Lines adding (or, for the first term, assigning) ``W x`` to ``z``."""
        t, (n_out, n_in), T = term.ident, term.shape, self.T
        op = "=" if first else "+="
        lines.append("    {")
        x = self.reads(term, lines)
        if term.form == "dense":
            lines += [f"        for (int i = 0; i < {n_out}; i++) {{",
                      f"            {T} acc = 0;",
                      f"            for (int j = 0; j < {n_in}; j++) acc += {t}[{n_in} * i + j] * {x}[j];",
                      f"            z[i] {op} acc;", "        }"]
        elif term.form == "sparse":
            lines += [f"        for (int i = 0; i < {n_out}; i++) {{",
                      f"            {T} acc = 0;",
                      f"            for (int p = {t}_indptr[i]; p < {t}_indptr[i + 1]; p++) "
                      f"acc += {t}_data[p] * {x}[{t}_indices[p]];",
                      f"            z[i] {op} acc;", "        }"]
        elif term.form == "lowrank":
            r = term.arrays["U"].shape[1]
            lines += [f"        {T} h[{r}];",
                      f"        for (int k = 0; k < {r}; k++) {{",
                      f"            {T} acc = 0;",
                      f"            for (int j = 0; j < {n_in}; j++) acc += {t}_V[{n_in} * k + j] * {x}[j];",
                      "            h[k] = acc;", "        }",
                      f"        for (int i = 0; i < {n_out}; i++) {{",
                      f"            {T} acc = 0;",
                      f"            for (int k = 0; k < {r}; k++) acc += {t}_U[{r} * i + k] * h[k];",
                      f"            z[i] {op} acc;", "        }"]
        elif term.form == "mpo":
            self.mpo(term, x, op, lines)
        else:
            self.quantized(term, x, op, lines)
        lines.append("    }")

    def mpo(self, term, x, op, lines):
        """A matrix product operator: ``x`` contracted with one core after another in two
        buffers; after core ``k`` a buffer holds ``(outputs done, bond, inputs left)``."""
        t, T, a = term.ident, self.T, term.arrays
        ins, outs, ranks = a["in_factors"], a["out_factors"], a["ranks"]
        sizes = [math.prod(outs[:k]) * ranks[k] * math.prod(ins[k:]) for k in range(len(ins) + 1)]
        lines += [f"        {T} buf[2][{max(sizes)}];",
                  f"        for (int j = 0; j < {term.shape[1]}; j++) buf[0][j] = {x}[j];"]
        for k, (m, n) in enumerate(zip(ins, outs)):
            P, R, S, Q = math.prod(outs[:k]), ranks[k], ranks[k + 1], math.prod(ins[k + 1:])
            src, dst = f"buf[{k % 2}]", f"buf[{(k + 1) % 2}]"
            lines += [f"        for (int p = 0; p < {P}; p++) for (int i = 0; i < {n}; i++)",
                      f"            for (int s = 0; s < {S}; s++) for (int q = 0; q < {Q}; q++) {{",
                      f"                {T} acc = 0;",
                      f"                for (int r = 0; r < {R}; r++) for (int j = 0; j < {m}; j++)",
                      f"                    acc += {src}[(p * {R} + r) * {m * Q} + j * {Q} + q] * "
                      f"{t}_core{k}[((r * {n} + i) * {m} + j) * {S} + s];",
                      f"                {dst}[((p * {n} + i) * {S} + s) * {Q} + q] = acc;", "            }"]
        lines.append(f"        for (int i = 0; i < {term.shape[0]}; i++) z[i] {op} buf[{len(ins) % 2}][i];")

    def quantized(self, term, x, op, lines):
        t, (n_out, n_in), T, a = term.ident, term.shape, self.T, term.arrays
        Q, acc = _INTEGER[8 if a["q"].dtype == np.int8 else 16], _ACCUMULATOR[a["accumulator"]]
        qmax = self.real(float(a["qmax"]))
        lines += [f"        {Q} xq[{n_in}];",
                  f"        for (int j = 0; j < {n_in}; j++) {{",
                  f"            {T} v = {self.call('floor')}({x}[j] * {t}_inverse + {self.real(0.5)});",
                  f"            xq[j] = ({Q})(v > {qmax} ? {qmax} : v < -{qmax} ? -{qmax} : v);", "        }",
                  f"        for (int i = 0; i < {n_out}; i++) {{",
                  f"            {acc} acc = 0;",
                  f"            for (int j = 0; j < {n_in}; j++) acc += ({acc}){t}_q[{n_in} * i + j] * xq[j];",
                  f"            z[i] {op} ({T})acc * {t}_row_scale[i];", "        }"]

    # -- weights ---------------------------------------------------------------------
    def weights(self, term):
        t, a = term.ident, term.arrays
        out = [f"/* {term.label}: {term.form} {term.shape[0]}x{term.shape[1]}, delays {list(term.delays)} */\n"]
        if term.form == "dense":
            out.append(self.array(f"{t}", a["W"]))
        elif term.form == "sparse":
            out += [self.array(f"{t}_indptr", a["indptr"], "static const int"),
                    self.array(f"{t}_indices", a["indices"], "static const int"), self.array(f"{t}_data", a["data"])]
        elif term.form == "lowrank":
            out += [self.array(f"{t}_U", a["U"]), self.array(f"{t}_V", a["V"])]
        elif term.form == "mpo":
            out += [self.array(f"{t}_{k}", G) for k, G in a.items() if k.startswith("core")]
        else:
            Q = _INTEGER[8 if a["q"].dtype == np.int8 else 16]
            out += [self.array(f"{t}_q", a["q"], f"static const {Q}"), self.array(f"{t}_row_scale", a["row_scale"]),
                    f"static const {self.T} {t}_inverse = {self.real(a['input_inverse'])};\n"]
        return "".join(out)

    # -- activations -----------------------------------------------------------------
    def activation(self, name, n):
        T, f, real = self.T, self.f, self.real
        if name == "linear":
            return []
        if name == "softmax":
            return [f"    {{ {T} m = z[0], sum = 0;",
                    f"      for (int i = 1; i < {n}; i++) if (z[i] > m) m = z[i];",
                    f"      for (int i = 0; i < {n}; i++) {{ z[i] = exp{f}(z[i] - m); sum += z[i]; }}",
                    f"      for (int i = 0; i < {n}; i++) z[i] /= sum; }}"]
        zero, one = real(0.0), real(1.0)
        body = {
            "sigmoid": f"{{ {T} e = exp{f}(-fabs{f}(z[i])); "
                       f"z[i] = z[i] >= 0 ? {one} / ({one} + e) : e / ({one} + e); }}",
            "tanh": f"z[i] = tanh{f}(z[i]);",
            "relu": f"z[i] = z[i] > 0 ? z[i] : {zero};",
            "leaky_relu": f"z[i] = z[i] > 0 ? z[i] : z[i] * {real(0.01)};",
            "elu": f"z[i] = z[i] > 0 ? z[i] : expm1{f}(z[i]);",
            "softplus": f"z[i] = z[i] > 0 ? z[i] + log1p{f}(exp{f}(-z[i])) : log1p{f}(exp{f}(z[i]));",
            "hardlim": f"z[i] = z[i] >= 0 ? {one} : {zero};",
            "satlin": f"z[i] = z[i] < 0 ? {zero} : z[i] > 1 ? {one} : z[i];",
            "satlins": f"z[i] = z[i] < -1 ? -{one} : z[i] > 1 ? {one} : z[i];",
        }[name]
        return [f"    for (int i = 0; i < {n}; i++) {body}"]

    # -- the functions ---------------------------------------------------------------
    def layers(self):
        T = self.T

        def spell(what, step, term=None):
            if what in ("first", "term"):
                lines = []
                self.product(term, what == "first", lines)
                return lines
            n = step.size
            return {"begin": [f"    /* {step.name}: {step.activation}, {n} neurons */",
                              f"    z = a + {self.layer_offset[step.name]};"],
                    "zeros": [f"    for (int i = 0; i < {n}; i++) z[i] = 0;"],
                    "bias": [f"    for (int i = 0; i < {n}; i++) z[i] += b_{step.ident}[i];"],
                    "activation": self.activation(step.activation, n)}[what]
        state = f", const {T} *s" if self.p.dynamic else ""
        lines = [f"static void layers(const {T} *u{state}, {T} *a)", "{", f"    {T} *z;",
                 "    (void)u;" + (" (void)s;" if state else "") + "    /* a network may read them only with delay */",
                 *layer_lines(self.p, spell), "}"]
        return "\n".join(lines) + "\n"

    def scale(self, ports, prefix, src, dst):
        """Lines writing each port's values ``src(port)`` into ``dst``, through its affine map."""
        lines = []
        for port in ports:
            o, n = port.offset, port.size
            if port.affine is None:
                lines.append(f"    for (int j = 0; j < {n}; j++) {dst}[{o} + j] = {src(port)}[j];")
            else:
                lines.append(f"    for (int j = 0; j < {n}; j++) {dst}[{o} + j] = {src(port)}[j] * "
                             f"{prefix}_{port.ident}_scale[j] + {prefix}_{port.ident}_shift[j];")
        return lines


def c_sources(program, header, T="double", header_file=None):
    """``(header text, source text)`` of :class:`~matnet.export.program.Program` ``program``
    in floating type ``T`` (``"double"`` or ``"float"``); ``header`` is the comment on top,
    ``header_file`` the header's file name (default ``NAME.h``)."""
    w, name, NAME = _Writer(program, T), program.name, program.name.upper()
    comment = "/*\n" + "\n".join(f" * {line}".rstrip() for line in header.splitlines()) + "\n */\n"
    h = [comment, f"#ifndef {NAME}_H\n#define {NAME}_H\n\n",
         f"#define {NAME}_N_INPUTS {program.n_inputs}    /* "
         + ", ".join(f"{p.name}: x[{p.offset}..{p.offset + p.size - 1}]" for p in program.inputs) + " */\n",
         f"#define {NAME}_N_OUTPUTS {program.n_outputs}    /* "
         + ", ".join(f"{p.name}: y[{p.offset}..{p.offset + p.size - 1}]" for p in program.outputs) + " */\n\n"]
    if program.dynamic:
        h += [f"#define {NAME}_N_STATE {program.n_state}    /* "
              + "; ".join(f"{s.name}: v[{s.offset}..{s.offset + s.size * s.depth - 1}], last {s.depth} of "
                          f"{s.size}, oldest first" for s in program.states) + " */\n",
              f"typedef struct {{ {T} v[{NAME}_N_STATE]; }} {name}_state;\n\n",
              f"/* Delay states from initial ({NAME}_N_STATE values, data units, the layout of v), or zeros "
              "when initial is NULL. */\n",
              f"void {name}_init({name}_state *s, const {T} *initial);\n",
              f"/* One time step: x ({NAME}_N_INPUTS values) -> y ({NAME}_N_OUTPUTS values), data units. */\n",
              f"void {name}_step({name}_state *s, const {T} *x, {T} *y);\n"]
    else:
        h += [f"/* The outputs y ({NAME}_N_OUTPUTS values) for one sample x ({NAME}_N_INPUTS values), "
              "data units. */\n", f"void {name}_predict(const {T} *x, {T} *y);\n"]
    h.append(f"\n#endif /* {NAME}_H */\n")

    c = [comment, "#include <math.h>\n", f'#include "{header_file or name + ".h"}"\n\n']
    for port in program.inputs:
        if port.affine is not None:
            c += [w.array(f"in_{port.ident}_scale", port.affine.scale),
                  w.array(f"in_{port.ident}_shift", port.affine.shift)]
    for port in program.outputs:
        if port.affine is not None:
            c += [w.array(f"out_{port.ident}_scale", port.affine.scale),
                  w.array(f"out_{port.ident}_shift", port.affine.shift)]
    for s in program.states:
        if s.scaling is not None:
            c += [w.array(f"state_{s.ident}_scale", s.scaling.scale),
                  w.array(f"state_{s.ident}_shift", s.scaling.shift)]
    for step in program.steps:
        c += [w.weights(term) for term in step.terms]
        if step.bias is not None:
            c += [f"/* b[{step.name}] */\n", w.array(f"b_{step.ident}", step.bias)]
    c += ["\n", w.layers(), "\n"]
    inputs = w.scale(program.inputs, "in", lambda p: f"(x + {p.offset})", "u") or \
        ["    u[0] = 0; (void)x;    /* the network has no inputs */"]
    outputs = w.scale(program.outputs, "out", lambda p: f"(a + {w.layer_offset[p.name]})", "y")
    if program.dynamic:
        c += [_init(program, w, T), "\n", f"void {name}_step({name}_state *s, const {T} *x, {T} *y)\n{{\n",
              f"    {T} u[{max(program.n_inputs, 1)}], a[{w.n_layers}];\n",
              *(line + "\n" for line in inputs), "    layers(u, s->v, a);\n",
              *(line + "\n" for line in _push(program, w)), *(line + "\n" for line in outputs), "}\n"]
    else:
        c += [f"void {name}_predict(const {T} *x, {T} *y)\n{{\n",
              f"    {T} u[{max(program.n_inputs, 1)}], a[{w.n_layers}];\n",
              *(line + "\n" for line in inputs), "    layers(u, a);\n", *(line + "\n" for line in outputs), "}\n"]
    return "".join(h), "".join(c)


def _init(program, w, T):
    name = program.name
    lines = [f"void {name}_init({name}_state *s, const {T} *initial)", "{",
             f"    for (int k = 0; k < {program.n_state}; k++) s->v[k] = initial ? initial[k] : 0;",
             "    if (!initial) return;"]
    for s in program.states:
        if s.scaling is not None:
            lines += [f"    for (int t = 0; t < {s.depth}; t++)",
                      f"        for (int j = 0; j < {s.size}; j++)",
                      f"            s->v[{s.offset} + {s.size} * t + j] = initial[{s.offset} + {s.size} * t + j] * "
                      f"state_{s.ident}_scale[j] + state_{s.ident}_shift[j];"]
    return "\n".join(lines) + "\n}\n"


def _push(program, w):
    """Lines moving every delay state one step on: drop the oldest, append the newest."""
    lines = []
    for s in program.states:
        port = next((q for q in program.inputs if q.name == s.name), None)
        newest = f"u + {port.offset}" if port else f"a + {w.layer_offset[s.name]}"
        if s.depth > 1:
            lines.append(f"    for (int k = 0; k < {s.size * (s.depth - 1)}; k++) "
                         f"s->v[{s.offset} + k] = s->v[{s.offset + s.size} + k];")
        lines.append(f"    for (int j = 0; j < {s.size}; j++) s->v[{s.offset + s.size * (s.depth - 1)} + j] = "
                     f"({newest})[j];")
    return lines
