"""A network as one Python file that needs only NumPy.

The file holds every matrix as an exact literal and the functions a user calls:

* ``predict(X)`` — a static network's outputs for a batch ``(n_samples, n)`` (a dict by
  input name for several inputs; one 1-D sample gives a 1-D output), as ``net(X)``;
  ``predict_classes(X)`` for a classifier;
* for a network with delays, ``simulate(U, initial=None, n_steps=None) -> (Y, final)``
  as ``net.simulate`` (``n_steps`` for a network without inputs), and the step it
  repeats: ``state = initial_state(initial, n_series)``, then ``y, state = step(state, x)``
  per time step, the delay state explicit (a dict
  ``name -> (n_series, d, n)``, network units, oldest value first).

The activations are matnet's own functions (their source is copied), and the products
and sums come in the engine's order, so the file reproduces matnet to float64 round-off.
"""
from __future__ import annotations

import inspect
import textwrap

import numpy as np

from .. import activations
from ._text import numbers, wrap
from .program import layer_lines

__all__ = ["python_source"]

_HELPERS = {
    "sparse": '''
def _csr(X, indptr, indices, data, n_out):
    """X @ W.T for W in CSR form (n_out rows): row i sums data[p] * X[:, indices[p]]."""
    Z = np.zeros((X.shape[0], n_out), X.dtype)
    for i in range(n_out):
        lo, hi = indptr[i], indptr[i + 1]
        if hi > lo:
            Z[:, i] = X[:, indices[lo:hi]] @ data[lo:hi]
    return Z
''',
    "mpo": '''
def _mpo(X, cores, in_factors):
    """X @ W.T for W a matrix product operator: the input contracted with one core after
    another (bond and one input factor at a time), never forming W."""
    B = X.shape[0]
    T = X.reshape(B, 1, 1, -1)                      # (batch, outputs done, bond, inputs left)
    for G, m in zip(cores, in_factors):
        P, r, J = T.shape[1:]
        T = np.einsum("bprjq,rijs->bpisq", T.reshape(B, P, r, m, J // m), G, optimize=True)
        T = T.reshape(B, P * G.shape[1], G.shape[3], J // m)
    return T.reshape(B, -1)
''',
    "quantized": '''
def _quantized(X, qT, row_scale, inverse, qmax):
    """Integer hardware's product: X rounded onto its grid (integers in [-qmax, qmax]),
    integer products summed exactly (float64 holds every partial sum), then scaled."""
    Xq = np.clip(np.floor(X * inverse + X.dtype.type(0.5)), -qmax, qmax)
    return (Xq.astype(np.float64) @ qT).astype(X.dtype) * row_scale
''',
}

_INTERFACE = '''

def _as_dict(X, what):
    if not isinstance(X, dict):
        if len(INPUTS) != 1:
            raise ValueError(f"the network has inputs {', '.join(INPUTS)}; pass a dict name -> array")
        X = {next(iter(INPUTS)): X}
    if set(X) != set(INPUTS):
        raise ValueError(f"{what} must be given for exactly the inputs {', '.join(INPUTS)}")
    return X


def _scaled(name, x):
    scaling = INPUT_SCALING.get(name)
    return x if scaling is None else x * scaling[0] + scaling[1]


def _inputs(X, ndim, what="inputs"):
    """Inputs as arrays with ndim axes (a leading one added to a single sample), scaled."""
    u, single = {}, set()
    for name, x in _as_dict(X, what).items():
        x = np.asarray(x, dtype=DTYPE)
        if x.ndim not in (ndim - 1, ndim) or x.shape[-1] != INPUTS[name]:
            raise ValueError(f"input {name!r} expects {INPUTS[name]} values per sample, got shape {x.shape}")
        single.add(x.ndim == ndim - 1)
        u[INPUT_IDENT[name]] = _scaled(name, x[None] if x.ndim == ndim - 1 else x)
    if len(single) > 1:
        raise ValueError("give every input with the same number of axes")
    return u, single == {True}


def _n_rows(u, state):
    """Samples (or series) of one step: from the inputs, or the states without inputs."""
    return next(iter(u.values())).shape[0] if u else next(iter(state.values())).shape[0]


def _outputs(a, single):
    out = {}
    for name, ident in OUTPUT_IDENT.items():
        y = a[ident]
        scaling = OUTPUT_SCALING.get(name)
        y = y if scaling is None else y * scaling[0] + scaling[1]
        out[name] = y[0] if single else y
    return next(iter(out.values())) if len(out) == 1 else out
'''

_STATIC = '''

def predict(X):
    """Outputs for a batch X (n_samples, n_features), or one sample (n_features,).

    Several inputs: a dict name -> array.  Several output layers: a dict of outputs.
    Inputs and outputs are in data units (the scaling is inside).
    """
    u, single = _inputs(X, 2)
    return _outputs(_layers(u, None), single)
'''

_CLASSES = '''

def predict_classes(X):
    """The most probable class of each sample (CLASSES; one output column: >= 0.5)."""
    Y = np.atleast_2d(predict(X))
    index = (Y[:, 0] >= 0.5).astype(int) if Y.shape[1] == 1 else np.argmax(Y, axis=1)
    labels = np.asarray(CLASSES)[index]
    return labels[0] if np.ndim(X) == 1 else labels
'''

_DYNAMIC = '''

def initial_state(initial=None, n_series=1):
    """The delay state before the first step: dict name -> (n_series, d, n), network units.

    initial maps a source to its last d values (oldest first), (d, n) or (n_series, d, n),
    in data units for inputs and scaled outputs (as matnet's simulate takes them);
    missing ones are zeros.
    """
    initial = dict(initial or {})
    unknown = [k for k in initial if k not in STATES]
    if unknown:
        raise ValueError(f"no delay state {unknown[0]!r}; states: {', '.join(STATES)}")
    state = {}
    for name, (ident, size, depth, scaling, _) in STATES.items():
        if name not in initial:
            state[ident] = np.zeros((n_series, depth, size), DTYPE)
            continue
        v = np.asarray(initial[name], dtype=DTYPE)
        if v.shape not in ((depth, size), (n_series, depth, size)):
            raise ValueError(f"initial state of {name!r} must have shape ({depth}, {size}), got {v.shape}")
        v = np.broadcast_to(v, (n_series, depth, size))
        state[ident] = (v * scaling[0] + scaling[1] if scaling is not None else v).astype(DTYPE)
    return state


def _advance(state, u, a):
    """The state after a step: each source's newest value appended, its oldest dropped."""
    new = {}
    for name, (ident, *_) in STATES.items():
        v = u[ident] if ident in u else a[ident]
        new[ident] = np.concatenate([state[ident][:, 1:], v[:, None]], axis=1)
    return new


def step(state, x=None):
    """One time step: x (n_series, n) or one series' (n,) (a dict for several inputs),
    data units; none for a network without inputs.  Returns (y, new_state)."""
    u, single = _inputs(x, 2, "x") if INPUTS else ({}, False)
    a = _layers(u, state)
    return _outputs(a, single), _advance(state, u, a)


def simulate(U=None, initial=None, n_steps=None):
    """Run over time: U (n_steps, n) or (n_series, n_steps, n) (a dict for several
    inputs), data units; a network without inputs runs n_steps from its initial states.
    Returns (Y, final) as matnet's simulate: the outputs over time and the final delay
    states (data units, usable as initial)."""
    if INPUTS:
        u, single = _inputs(U, 3, "input series")
        S, T = next(iter(u.values())).shape[:2]
    elif n_steps is None:
        raise ValueError("a network without inputs needs n_steps")
    else:
        given = [np.asarray(v) for v in (initial or {}).values()]
        u, S, T = {}, max([v.shape[0] for v in given if v.ndim == 3] or [1]), int(n_steps)
        single = all(v.ndim == 2 for v in given)
    state = initial_state(initial, S)
    steps = []
    for t in range(T):
        ut = {k: v[:, t] for k, v in u.items()}
        a = _layers(ut, state)
        steps.append(a)
        state = _advance(state, ut, a)
    Y = {}
    for name, ident in OUTPUT_IDENT.items():
        y = np.stack([a[ident] for a in steps], axis=1) if steps else np.zeros((S, 0, OUTPUTS[name]), DTYPE)
        scaling = OUTPUT_SCALING.get(name)
        y = y if scaling is None else y * scaling[0] + scaling[1]
        Y[name] = y[0] if single else y
    final = {}
    for name, (ident, size, depth, _, inverse) in STATES.items():
        v = state[ident] if inverse is None else state[ident] * inverse[0] + inverse[1]
        final[name] = v[0] if single else v
    return (next(iter(Y.values())) if len(Y) == 1 else Y), final
'''


def _array(name, a, dtype):
    """``name = np.array([...], dtype).reshape(shape)`` with exact literals."""
    a = np.asarray(a)
    kind = f"np.{a.dtype.name}" if a.dtype.kind in "iu" else dtype
    body = wrap(numbers(a)) if a.size else ""
    shape = "" if a.ndim == 1 else f".reshape{a.shape}"
    return f"{name} = np.array([\n{body}\n], dtype={kind}){shape}\n" if a.size else \
        f"{name} = np.zeros({a.shape}, dtype={kind})\n"


def _pair(name, affine, dtype):
    if affine is None:
        return ""
    return _array(f"{name}_scale", affine.scale, dtype) + _array(f"{name}_shift", affine.shift, dtype)


def _activation_source(name):
    """``(function name, its source)``: matnet's own function for ``name``."""
    f = activations.get(name).function_in(np)
    if isinstance(f, np.ufunc):
        return f"np.{f.__name__}", ""
    source = textwrap.dedent(inspect.getsource(f))
    return f.__name__, source


_NAMESPACE = '''def namespace(x):
    """The array namespace the activations compute in: this file computes with NumPy."""
    return np
'''


def _helpers_of(sources):
    """The module-level helpers the copied activations call: ``namespace`` (NumPy here)
    and matnet's own small helpers."""
    text = "".join(sources)
    helpers = [_NAMESPACE] if "namespace(" in text else []
    for helper in (activations._float,):
        if f"{helper.__name__}(" in text:
            helpers.append(textwrap.dedent(inspect.getsource(helper)))
    return helpers


def _value(program, source, d):
    """The expression for ``source``'s value ``d`` steps ago."""
    state = program.state(source)
    ident = state.ident if state else next(p.ident for p in (*program.inputs, *program.steps) if p.name == source)
    if d:
        return f"state[{ident!r}][:, -{d}]"
    return f"u[{ident!r}]" if any(p.name == source for p in program.inputs) else f"a[{ident!r}]"


def _reads(program, term):
    parts = [_value(program, term.source, d) for d in term.delays]
    return parts[0] if len(parts) == 1 else f"np.concatenate([{', '.join(parts)}], axis=1)"


#: ``X @ W.T`` per weight form (``t`` the term's name; the rest from its arrays).
_PRODUCTS = {
    "dense": "{X} @ {t}.T",
    "sparse": "_csr({X}, {t}_indptr, {t}_indices, {t}_data, {n_out})",
    "lowrank": "({X} @ {t}_V.T) @ {t}_U.T",
    "mpo": "_mpo({X}, {t}_cores, {in_factors})",
    "quantized": "_quantized({X}, {t}_qT, {t}_row_scale, {t}_inverse, {qmax})",
}


def _product(term, X):
    return _PRODUCTS[term.form].format(X=X, t=term.ident, n_out=term.shape[0], **term.arrays)


def _weights(term, dtype):
    t, a = term.ident, term.arrays
    head = f"# {term.label}: {term.form} {term.shape[0]}x{term.shape[1]}, delays {list(term.delays)}\n"
    if term.form == "sparse":
        return head + "".join(_array(f"{t}_{k}", a[k], dtype) for k in ("indptr", "indices", "data"))
    if term.form == "lowrank":
        return head + _array(f"{t}_U", a["U"], dtype) + _array(f"{t}_V", a["V"], dtype)
    if term.form == "mpo":
        cores = [k for k in a if k.startswith("core")]
        return head + "".join(_array(f"{t}_{k}", a[k], dtype) for k in cores) + \
            f"{t}_cores = [{', '.join(f'{t}_{k}' for k in cores)}]\n"
    if term.form == "quantized":
        return (head + _array(f"{t}_q", a["q"], dtype) + f"{t}_qT = {t}_q.T.astype(np.float64)\n"
                + _array(f"{t}_row_scale", a["row_scale"], dtype)
                + f"{t}_inverse = {dtype}({numbers(np.array([a['input_inverse']]))[0]})\n")
    return head + _array(f"{t}", a["W"], dtype)


def _layers(program, functions):
    def spell(what, step, term=None):
        if what in ("first", "term"):
            product = _product(term, _reads(program, term))
            return [f"    z = {product}" if what == "first" else f"    z = z + {product}"]
        return {"begin": [], "zeros": [f"    z = np.zeros((_n_rows(u, state), {step.size}), DTYPE)"],
                "bias": [f"    z += b_{step.ident}"],
                "activation": [f"    a[{step.ident!r}] = {functions[step.activation]}(z)"]}[what]
    lines = ["", "", "def _layers(u, state):",
             '    """One step of every layer (network units): u the scaled inputs, state the delay',
             '    states (None without delays).  Returns each layer\'s activation."""', "    a = {}",
             *layer_lines(program, spell), "    return a"]
    return "\n".join(lines) + "\n"


def python_source(program, header):
    """The Python module (text) of :class:`~matnet.export.program.Program` ``program``;
    ``header`` is its docstring."""
    dtype = f"np.{np.dtype(program.dtype).name}"
    parts = [f'"""{header}\n"""\n', "import numpy as np\n\n", f"DTYPE = {dtype}\n"]
    parts.append(f"INPUTS = {{{', '.join(f'{p.name!r}: {p.size}' for p in program.inputs)}}}\n")
    parts.append(f"OUTPUTS = {{{', '.join(f'{p.name!r}: {p.size}' for p in program.outputs)}}}\n")
    parts.append(f"INPUT_IDENT = {{{', '.join(f'{p.name!r}: {p.ident!r}' for p in program.inputs)}}}\n")
    parts.append(f"OUTPUT_IDENT = {{{', '.join(f'{p.name!r}: {p.ident!r}' for p in program.outputs)}}}\n")
    parts.append(f"CLASSES = {program.classes!r}\n\n")
    for port in program.inputs:
        parts.append(_pair(f"in_{port.ident}", port.affine, dtype))
    for port in program.outputs:
        parts.append(_pair(f"out_{port.ident}", port.affine, dtype))
    scaled = [p for p in program.inputs if p.affine is not None]
    parts.append("INPUT_SCALING = {" + ", ".join(f"{p.name!r}: (in_{p.ident}_scale, in_{p.ident}_shift)"
                                                 for p in scaled) + "}\n")
    scaled = [p for p in program.outputs if p.affine is not None]
    parts.append("OUTPUT_SCALING = {" + ", ".join(f"{p.name!r}: (out_{p.ident}_scale, out_{p.ident}_shift)"
                                                  for p in scaled) + "}\n\n")
    for state in program.states:
        parts.append(_pair(f"state_{state.ident}", state.scaling, dtype))
        parts.append(_pair(f"final_{state.ident}", state.inverse, dtype))
    if program.states:
        entries = []
        for s in program.states:
            scaling = "None" if s.scaling is None else f"(state_{s.ident}_scale, state_{s.ident}_shift)"
            inverse = "None" if s.inverse is None else f"(final_{s.ident}_scale, final_{s.ident}_shift)"
            entries.append(f"    {s.name!r}: ({s.ident!r}, {s.size}, {s.depth}, {scaling}, {inverse}),")
        parts.append("# delay states: name -> (key, size, depth, data->network scaling, network->data)\n")
        parts.append("STATES = {\n" + "\n".join(entries) + "\n}\n\n")
    for step in program.steps:
        for term in step.terms:
            parts.append(_weights(term, dtype))
        if step.bias is not None:
            parts.append(f"# b[{step.name}]\n" + _array(f"b_{step.ident}", step.bias, dtype))
    functions, sources = {}, []
    for name in dict.fromkeys(s.activation for s in program.steps):
        functions[name], source = _activation_source(name)
        if source:
            sources.append(source)
    sources = _helpers_of(sources) + sources
    if "leaky_relu" in functions:
        parts.append(f"\nLEAKY_SLOPE = {activations.LEAKY_SLOPE!r}\n")
    parts.extend("\n\n" + s for s in sources)
    forms = {t.form for t in program.terms}
    parts.extend("\n" + _HELPERS[f] for f in ("sparse", "mpo", "quantized") if f in forms)
    parts.append(_layers(program, functions))
    parts.append(_INTERFACE)
    parts.append(_DYNAMIC if program.dynamic else _STATIC)
    if program.classes is not None and not program.dynamic:
        parts.append(_CLASSES)
    return "".join(parts)
