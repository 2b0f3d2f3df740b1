"""Deployment as code: a trained network written out as standalone source.

* :func:`to_python` — one ``.py`` file that imports only NumPy;
* :func:`to_c` — a C99 header and source, ``static const`` weights, no allocation;
* :func:`to_matlab` — a MATLAB/Octave function file in the spirit of ``genFunction``.

Each writes the same :class:`~matnet.export.program.Program` (what the engine computes,
step by step, with every number it uses) and returns an :class:`Export`: the files
written and the manifest (each connection's form as held and as written, its size).
Every weight keeps its form: sparse weights as CSR arrays, low-rank ones as ``U (V x)``,
matrix product operators as their cores contracted one after another, quantised ones as
integer matrices with integer products.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..backend import on_host
from .._files import write_atomically
from .program import Program, check_name, program

__all__ = ["to_python", "to_c", "to_matlab", "Export", "program", "Program", "DTYPES"]

#: The arithmetic a C export may use.
DTYPES = ("double", "float", "int8", "int16")


@dataclass
class Export:
    """What an export wrote: ``files`` (paths) and ``manifest`` (a Table per connection)."""

    files: list
    manifest: object

    def __str__(self):
        return "\n".join([*(f"wrote {f}" for f in self.files), self.manifest.to_text()])


def _version():
    try:
        return metadata.version("matnet")
    except metadata.PackageNotFoundError:
        return "unknown"


def header(prog, language, float_bytes=8):
    """The text at the top of a written file: what it is, its conventions, the manifest."""
    lines = [f"{prog.name}: a matnet network written as {language} by matnet {_version()}.", ""]
    lines.append("Inputs (data units, scaling inside): " + ", ".join(f"{p.name} ({p.size})" for p in prog.inputs))
    lines.append("Outputs (data units): " + ", ".join(f"{p.name} ({p.size})" for p in prog.outputs))
    if prog.classes is not None:
        lines.append("Classes: " + ", ".join(map(str, prog.classes)))
    if prog.dynamic:
        lines.append("Delay states: " + ", ".join(f"{s.name} (last {s.depth} of {s.size})" for s in prog.states)
                     + ("; recurrent (outputs fed back)" if prog.recurrent else ""))
    lines += ["Weights W are (n_out, n_in): rows receive, columns send; z = W x + b, a = f(z).", ""]
    lines += prog.manifest(float_bytes).to_text().splitlines()
    return "\n".join(lines)


def _target(path, suffix):
    """``path`` with ``suffix`` added when it has none; another suffix is refused (never
    silently replaced: that could overwrite another file)."""
    path = Path(path)
    if path.suffix == suffix:
        return path
    if path.suffix:
        raise ValueError(f"{path}: the file must end with {suffix}")
    return path.with_name(path.name + suffix)


def _write(path, text):
    write_atomically(path, lambda f: f.write(text), binary=False)


def _stem(path):
    stem = re.sub(r"\W", "_", Path(path).stem, flags=re.ASCII)
    return stem if stem[:1].isalpha() else f"net_{stem}"


@on_host
def to_python(net, path, name=None):
    """Write ``net`` as one Python file that imports only NumPy.

    Parameters
    ----------
    net : Network
        Any network with inputs and built-in activations, static or with delays, in any
        weight form, with its scaling.
    path : str or os.PathLike
        The ``.py`` file (written atomically).
    name : str, optional
        The network's name in the file (default: the file's stem).

    Returns
    -------
    Export
        ``predict(X)`` (static) or ``simulate(U, initial=None)``, ``initial_state`` and
        ``step`` (with delays) in the file reproduce ``net(X)`` / ``net.simulate(U)``.
    """
    from .python import python_source
    path = _target(path, ".py")
    prog = program(net, check_name(name or _stem(path)))
    _write(path, python_source(prog, header(prog, "Python (NumPy)")))
    return Export([path], prog.manifest(prog.dtype.itemsize))




@on_host
def to_c(net, path, dtype="double", name=None):
    """Write ``net`` as a C99 header ``NAME.h`` and source ``NAME.c`` (see
    :mod:`matnet.export.c` for the functions they declare).

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        The ``.c`` file; the header goes beside it (``.h``).  Both written atomically.
    dtype : {"double", "float", "int8", "int16"}
        The arithmetic: ``double`` or ``float`` throughout, or the integer products of a
        network quantised to 8 or 16 bits (:func:`matnet.compress.quantize`), whose
        interface, biases and activations use the network's float type.
    name : str, optional
        Prefix of the C functions and types (default: the file's stem).

    Returns
    -------
    Export
    """
    from .c import c_sources
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    _check_integers(net, dtype)
    path = _target(path, ".c")
    prog = program(net, check_name(name or _stem(path)))
    T = dtype if dtype in ("double", "float") else ("float" if net.dtype.itemsize == 4 else "double")
    float_bytes = 8 if T == "double" else 4
    header_text, source = c_sources(prog, header(prog, f"C99 ({dtype})", float_bytes), T, path.with_suffix(".h").name)
    _write(path.with_suffix(".h"), header_text)
    _write(path, source)
    return Export([path.with_suffix(".h"), path], prog.manifest(float_bytes))


def _check_integers(net, dtype):
    """An integer dtype needs every weight quantised to that many bits; a float dtype
    writes a quantised network's integer products all the same."""
    bits = {getattr(W, "bits", None) for W in net.weights.values()}
    if dtype in ("int8", "int16"):
        wanted = int(dtype[3:])
        if bits != {wanted}:
            raise ValueError(f"dtype={dtype!r} writes integer products: quantise every weight to {wanted} bits "
                             f"first (matnet.compress.quantize(net, bits={wanted}, calibration=X))")
    elif bits - {None}:
        raise ValueError(f"the network is quantised ({', '.join(f'{b} bits' for b in sorted(bits - {None}))}): "
                         f"export it with dtype='int{max(bits - {None})}'")


@on_host
def to_matlab(net, path, name=None):
    """Write ``net`` as one MATLAB function file ``NAME.m`` that runs unchanged in GNU
    Octave (see :mod:`matnet.export.matlab` for its signature).

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        The ``.m`` file (written atomically); MATLAB calls the function by this name.
    name : str, optional
        The function's name (default and recommended: the file's stem).

    Returns
    -------
    Export
    """
    from .matlab import matlab_source
    path = _target(path, ".m")
    prog = program(net, check_name(name or _stem(path)))
    _write(path, matlab_source(prog, header(prog, "a MATLAB/Octave function")))
    return Export([path], prog.manifest(8))
