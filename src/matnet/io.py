"""Saving and loading networks: one ``.npz`` file, never a pickle.

The file holds the arrays ``W/<source>/<target>``, ``b/<layer>`` and
``scaling/<inputs|outputs>/<name>/<scale|shift|value>`` (a graph connection also
``P/<source>/<target>/<part>``, its propagation's arrays, and ``theta/<source>/<target>``,
a learned filter's parameters), and one JSON document ``matnet.json``::

    {"format": "matnet", "version": 1, "dtype": "float64",
     "inputs": [{"name": "x", "size": 2}],
     "layers": [{"name": "h1", "size": 3, "activation": "tanh", "bias": true}, ...],
     "connections": [{"source": "x", "target": "h1", "delays": [0]}, ...],
     "outputs": ["y"],
     "scaling": {"inputs": {"x": "minmax"}, "outputs": {"y": "minmax"}},
     "classes": null, "training": {...summary of the last fit...},
     "feedback": {}, "feature_names": {"x": ["a", "b"], "y": ["target"]},
     "arrays": {"W/x/h1": {"shape": [3, 2], "sha256": "..."}, ...}}

Loading reads with ``allow_pickle=False``, validates the document, every array's
dtype, shape and SHA-256, and rebuilds the network through the public constructors,
so a truncated, corrupted or tampered file, or one from a newer format version, fails
with :class:`ModelFileError` naming the file and the problem.  Saving writes a
temporary file in the target folder and renames it over the target.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile

import numpy as np

from . import backend
from ._files import write_atomically
from .data.scaling import KINDS, Scaling
from ._format import shape_str
from .network import Network
from .weights import from_arrays as weights_from_arrays
from .weights import is_compressed
from .weights.propagation import from_arrays as propagation_from_arrays

__all__ = ["save", "load", "ModelFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "matnet"
FORMAT_VERSION = 1
DOCUMENT = "matnet.json"


class ModelFileError(ValueError):
    """A model file that cannot be read: not a matnet file, corrupt, tampered or too new."""


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _connection_entry(net, c):
    entry = {"source": c.source, "target": c.target, "delays": list(c.delays)}
    form = net.weights[c.key]
    if is_compressed(form) and ("W", c.key) not in net.shared:    # a shared weight is stored with its owner
        entry["form"] = form.kind
    if c.propagate is not None:
        entry["propagate"] = c.propagate.kind
    if not c.trainable:
        entry["trainable"] = False
    return entry


def _input_entry(net, name, size):
    entry = {"name": name, "size": size}
    if name in net.input_dropout:
        entry["dropout"] = net.input_dropout[name]
    if name in net.index_inputs:
        entry["index"] = True
    return entry


def _layer_entry(layer):
    entry = {"name": layer.name, "size": layer.size, "activation": layer.activation.name, "bias": layer.bias}
    if layer.dropout:
        entry["dropout"] = layer.dropout
    if layer.combine != "sum":
        entry["combine"] = layer.combine
    return entry


def _weight_arrays(net):
    """``W/<s>/<t>`` for dense weights; ``W/<s>/<t>/<part>`` for each stored array of a
    compressed one (its native form: pattern and values, factors, cores)."""
    arrays = {}
    for (s, t), W in net.weights.items():
        if is_compressed(W):
            arrays.update({f"W/{s}/{t}/{part}": a for part, a in W.arrays().items()})
        else:
            arrays[f"W/{s}/{t}"] = W
    for c in net.connections.values():
        if c.propagate is not None:
            arrays.update({f"P/{c.source}/{c.target}/{part}": a for part, a in c.propagate.arrays().items()})
            if c.propagate.n_params:
                arrays[f"theta/{c.source}/{c.target}"] = c.propagate.theta
    return arrays


def _document(net, arrays):
    for layer in net.layers.values():
        if not layer.activation.builtin:
            raise ValueError(f"layer {layer.name!r} uses the custom activation {layer.activation.name!r}, "
                             "which cannot be stored in a file; only built-in activations can be saved")
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "dtype": net.dtype.name,
        "inputs": [_input_entry(net, name, size) for name, size in net.inputs.items()],
        "layers": [_layer_entry(layer) for layer in net.layers.values()],
        "connections": [_connection_entry(net, c) for c in net.connections.values()],
        "outputs": net.outputs,
        "scaling": {side: {name: sc.kind for name, sc in getattr(net, f"{side[:-1]}_scaling").items()}
                    for side in ("inputs", "outputs")},
        "classes": net.classes,
        "training": net.training,
        "feedback": net.feedback,
        "feature_names": net.feature_names,
        "shared": [{"kind": kind, "key": key, "owner": owner} for (kind, key), (_, owner) in net.shared.items()],
        "arrays": {k: {"shape": list(a.shape), "sha256": _digest(a)} for k, a in arrays.items()},
    }


def _scaling_arrays(net):
    return {f"scaling/{side}/{name}/{field}": array
            for side in ("inputs", "outputs")
            for name, sc in getattr(net, f"{side[:-1]}_scaling").items()
            for field, array in sc.arrays().items()}


def save(net, path):
    """Write ``net`` to ``path`` (an ``.npz`` file), atomically.

    Raises
    ------
    ValueError
        If a layer uses a custom activation, which a file cannot hold.
    """
    path = os.fspath(path)
    arrays = _weight_arrays(net)
    arrays.update({f"b/{name}": b for name, b in net.biases.items()})
    arrays.update(_scaling_arrays(net))
    arrays = {k: backend.to_numpy(a) for k, a in arrays.items()}     # files hold NumPy arrays
    document = json.dumps(_document(net, arrays))
    write_atomically(path, lambda f: np.savez_compressed(f, **{DOCUMENT: np.array(document)}, **arrays))


def load(path):
    """Read a network written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ModelFileError
        If the file is not a valid matnet model (the message says what is wrong).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    fail = lambda what: ModelFileError(f"{path}: {what}")  # noqa: E731
    if not zipfile.is_zipfile(path):
        raise fail("not a matnet model file (not an .npz archive; truncated or another format)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if DOCUMENT not in archive.files:
                raise fail(f"not a matnet model file (no {DOCUMENT} document)")
            text = archive[DOCUMENT]
            arrays = {name: archive[name] for name in archive.files if name != DOCUMENT}
        damaged = [name for name, a in [(DOCUMENT, text), *arrays.items()] if not isinstance(a, np.ndarray)]
        if damaged:             # NumPy hands out a member without an array header as raw bytes
            raise fail(f"member {damaged[0]} is not an array (the file was changed or damaged)")
    except ModelFileError:
        raise
    except Exception as e:  # whatever the archive reader raises means a damaged file
        raise fail(f"corrupt or truncated archive ({type(e).__name__}: {e})") from None
    document = _parse(text, fail)
    try:
        return _build(document, arrays, fail)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise fail(f"invalid model description: {e}") from None


def _parse(text, fail):
    if text.dtype.kind != "U" or text.ndim != 0:
        raise fail(f"{DOCUMENT} is not a text document")
    try:
        document = json.loads(str(text))
    except json.JSONDecodeError as e:
        raise fail(f"{DOCUMENT} is not valid JSON ({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise fail(f"not a matnet model file (format is {found!r})")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail(f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise fail(f"written by a newer matnet (format version {version}); this matnet reads versions "
                   f"up to {FORMAT_VERSION}: upgrade matnet")
    schema = {"dtype": str, "inputs": list, "layers": list, "connections": list, "outputs": list, "arrays": dict}
    for key, kind in schema.items():
        if not isinstance(document.get(key), kind):
            raise fail(f"{DOCUMENT} field {key!r} must be a {kind.__name__}, got {type(document.get(key)).__name__}")
    return document


def _fields(entry, names, what):
    if not isinstance(entry, dict) or set(entry) != set(names):
        raise ValueError(f"each {what} entry must have exactly the fields {', '.join(names)}, got {entry!r}")
    return [entry[n] for n in names]


def _build(document, arrays, fail):
    if document["dtype"] not in ("float32", "float64"):
        raise fail(f"unsupported dtype {document['dtype']!r}")
    net = Network(dtype=document["dtype"])
    for entry in document["inputs"]:
        options = _options(entry, {"dropout": 0.0, "index": False})
        net.add_input(*_fields(entry, ("name", "size"), "input"), **options)
    for entry in document["layers"]:
        options = _options(entry, {"dropout": 0.0, "combine": "sum"})
        name, size, activation, bias = _fields(entry, ("name", "size", "activation", "bias"), "layer")
        if not isinstance(activation, str) or not isinstance(bias, bool):
            raise ValueError(f"layer {name!r}: activation must be a name and bias true or false")
        net.add_layer(name, size, activation, bias, **options)
    for entry in document["connections"]:
        options = _options(entry, {"form": None, "propagate": None, "trainable": True})
        form, kind, trainable = options["form"], options["propagate"], options["trainable"]
        if not isinstance(trainable, bool):
            raise ValueError(f"trainable must be true or false, got {trainable!r}")
        source, target, delays = _fields(entry, ("source", "target", "delays"), "connection")
        weight = propagate = None
        if form is not None:
            weight = weights_from_arrays(form, (net.layers[target].size, len(delays or [0]) * net.size_of(source)),
                                         _parts(arrays, document, f"W/{source}/{target}/", fail))
        if kind is not None:
            propagate = propagation_from_arrays(kind, _parts(arrays, document, f"P/{source}/{target}/", fail))
        net.connect(source, target, weight, delays=delays, propagate=propagate, trainable=trainable)
    for entry in document.get("shared") or []:
        kind, key, owner = _fields(entry, ("kind", "key", "owner"), "shared")
        net.share(*((key, owner) if kind == "b" else (tuple(key), tuple(owner))))
    expected = {k: v for k, v in _weight_arrays(net).items()}
    expected.update({f"b/{name}": b for name, b in net.biases.items()})
    scaling = _declared_scaling(document, net)
    expected.update(_scaling_arrays(net))
    declared = document["arrays"]
    if set(arrays) != set(expected) or set(declared) != set(expected):
        extra = sorted((set(arrays) | set(declared)) - set(expected))
        missing = sorted(set(expected) - set(arrays) or set(expected) - set(declared))
        raise fail(f"arrays do not match the model description (missing: {', '.join(missing) or 'none'}; "
                   f"unexpected: {', '.join(extra) or 'none'})")
    for name, target in expected.items():
        array = arrays[name]
        if array.dtype.kind != target.dtype.kind or (array.dtype.kind == "f" and array.dtype != net.dtype):
            raise fail(f"array {name} has dtype {array.dtype}, the model is {net.dtype}")
        if array.shape != target.shape or list(array.shape) != declared[name].get("shape"):
            raise fail(f"array {name} has shape {shape_str(array.shape)}, expected {shape_str(target.shape)}")
        _verify(arrays, declared, name, fail)
        target[...] = array
    net.outputs = document["outputs"]
    if scaling:  # rebuild with the loaded arrays (they were filled in place)
        for (side, name), kind in scaling.items():
            fields = {f: expected[f"scaling/{side}/{name}/{f}"] for f in ("scale", "shift", "value")}
            getattr(net, f"{side[:-1]}_scaling")[name] = Scaling(kind, **fields)
    classes = document.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) < 2
                                or not all(isinstance(c, (str, int, bool)) for c in classes)):
        raise fail(f"classes must be a list of at least two labels, got {classes!r}")
    net.classes = classes
    training = document.get("training")
    if training is not None and not isinstance(training, dict):
        raise fail(f"training must be a summary object, got {type(training).__name__}")
    net.training = training
    feedback = document.get("feedback") or {}
    if not isinstance(feedback, dict) or not all(
            isinstance(k, str) and v in net.layers for k, v in feedback.items()):
        raise fail(f"feedback must map input names to output layers, got {feedback!r}")
    net.feedback = feedback
    names = document.get("feature_names") or {}
    sizes = {**net.inputs, **{k: layer.size for k, layer in net.layers.items()}}
    if not isinstance(names, dict) or not all(
            k in sizes and isinstance(v, list) and len(v) == sizes[k] and all(isinstance(n, str) for n in v)
            for k, v in names.items()):
        raise fail("feature_names must map inputs and layers to one name per column")
    net.feature_names = names
    return net


def _options(entry, defaults):
    """The optional fields of an entry (taken out of it), with their defaults."""
    if not isinstance(entry, dict):
        return dict(defaults)
    return {name: entry.pop(name, value) for name, value in defaults.items()}


def _parts(arrays, document, prefix, fail):
    """``part -> array`` of the arrays named ``prefix<part>``, checked."""
    _verify(arrays, document["arrays"], prefix, fail)
    return {k[len(prefix):]: a for k, a in arrays.items() if k.startswith(prefix)}


def _verify(arrays, declared, prefix, fail):
    """Checksums and finiteness of the arrays whose names start with ``prefix``."""
    names = [k for k in arrays if k.startswith(prefix)]
    if not names:
        raise fail(f"arrays do not match the model description (missing: {prefix}...)")
    for name in names:
        if name not in declared or _digest(arrays[name]) != declared[name].get("sha256"):
            raise fail(f"array {name} does not match its checksum (the file was changed or damaged)")
        if arrays[name].dtype.kind == "f" and not np.isfinite(arrays[name]).all():
            raise fail(f"array {name} contains NaN or inf")


def _declared_scaling(document, net):
    """``{(side, name): kind}`` from the document, with placeholder scalings in ``net``
    so that their arrays are expected; validated."""
    declared = document.get("scaling") or {}
    if not isinstance(declared, dict) or set(declared) - {"inputs", "outputs"}:
        raise ValueError(f"scaling must map inputs/outputs to kinds, got {declared!r}")
    out = {}
    for side, names in declared.items():
        valid = net.inputs if side == "inputs" else net.outputs
        if not isinstance(names, dict):
            raise ValueError(f"scaling {side} must be a dict, got {names!r}")
        for name, kind in names.items():
            if name not in valid or kind not in KINDS:
                raise ValueError(f"invalid {side[:-1]} scaling {name!r}: {kind!r}")
            size = net.size_of(name)
            placeholder = np.zeros(size, net.dtype)
            getattr(net, f"{side[:-1]}_scaling")[name] = Scaling(kind, placeholder, placeholder.copy(),
                                                                  placeholder.copy())
            out[(side, name)] = kind
    return out
