"""ONNX export and import.

:func:`to_onnx` writes any static matnet network (any DAG, several inputs and outputs)
as an ONNX graph; :func:`from_onnx` reads MLP-like graphs back, recovering layers,
skip connections, several inputs and outputs and the input/output scaling.

The exported graph
------------------
* one graph input per network input (named as the input), one graph output per
  output layer (named as the layer), each ``(batch, n)`` with a dynamic batch
  dimension, of the network's dtype (``float`` or ``double``);
* input scaling ``u = x * scale + shift`` as ``Mul`` + ``Add``;
* each connection as ``Gemm(a, W, transB=1)`` with ``W`` the matnet matrix
  ``(n_out, n_in)`` as the initializer ``W/<source>/<target>`` (a compressed weight
  representation is written as its dense matrix); the first one of a
  layer carries the bias ``b/<layer>`` as ``C``; the terms are summed with ``Add``;
* one activation node per layer, named as the layer: the operator the activation
  declares as its ONNX equivalent (:mod:`matnet.activations`) with its attributes,
  its constant inputs as initializers ``const/<value>`` (``Clip``'s bounds), and a
  comparison cast to the data type (hardlim's ``GreaterOrEqual`` + ``Cast``):
  ``Identity`` (linear), ``Sigmoid``, ``Tanh``, ``Relu``, ``Softmax(axis=-1)``,
  ``Clip`` (satlin, satlins), and ``LeakyRelu(0.01)``, ``Elu(1)``, ``Softplus`` for
  float32.  For float64 these three operators become model-local functions
  ``matnet.leaky_relu``, ``matnet.elu``, ``matnet.softplus`` built from primitive
  ops, because onnxruntime has no double kernels for ``Elu``/``Softplus`` and the
  ``alpha`` attribute of ``LeakyRelu`` is a float32 (0.01 would be off by 2e-8);
* output scaling ``x = u * inverse_scale + offset`` as ``Mul`` + ``Add`` (constant
  features have ``inverse_scale = 0`` and ``offset`` their constant value, as
  :meth:`~matnet.data.scaling.Scaling.invert`);
* metadata ``matnet`` (JSON): scaling kinds, the values of input scalings and the
  class labels, so that :func:`from_onnx` restores them.

Intermediate tensors are named ``/<name>/...`` (``/`` cannot occur in matnet names),
so they never collide with inputs, outputs or initializers.

Importing this module imports onnx (``pip install matnet[onnx]``).
"""
from __future__ import annotations

import json
import os
from importlib import metadata

import numpy as np

from ..backend import on_host
from .. import activations
from .._files import write_atomically
from ..data.scaling import KINDS, Scaling
from ..network import Network
from ._common import check_static, missing_package, scaling_from_inverse

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError as e:
    raise missing_package(__name__, "the package 'onnx'", "onnx", e) from e

__all__ = ["to_onnx", "onnx_model", "from_onnx", "MIN_OPSET"]

MIN_OPSET = 13          # Softmax over one axis, Clip with tensor bounds, GreaterOrEqual
FUNCTION_DOMAIN = "matnet"
METADATA_KEY = "matnet"
_COMPARISONS = ("GreaterOrEqual",)   # operators with a boolean result, cast to the data type


# -- export ------------------------------------------------------------------------

@on_host
def to_onnx(net, path, opset=17, dtype=None):
    """Write ``net`` to ``path`` as an ONNX model (atomically).

    Parameters
    ----------
    net : Network
        A static network (no delays) with built-in activations.
    path : str or os.PathLike
    opset : int
        ONNX opset of the default domain, at least 13.
    dtype : {"float32", "float64"}, optional
        Default: the network's dtype.

    Returns
    -------
    onnx.ModelProto
        The model written (checked with ``onnx.checker.check_model(full_check=True)``).

    Examples
    --------
    >>> mn.interop.to_onnx(net, "net.onnx")                       # doctest: +SKIP
    >>> onnxruntime.InferenceSession("net.onnx").run(None, {"x": X})   # doctest: +SKIP
    """
    model = onnx_model(net, opset=opset, dtype=dtype)
    data = model.SerializeToString()
    write_atomically(path, lambda f: f.write(data))
    return model


@on_host
def onnx_model(net, opset=17, dtype=None):
    """The ONNX ``ModelProto`` of ``net`` (see :func:`to_onnx`), checked, not written."""
    check_static(net, "ONNX export")
    latest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= latest:
        raise ValueError(f"opset must be an integer from {MIN_OPSET} to {latest} (this onnx), got {opset!r}")
    if dtype is not None:
        net = net.astype(dtype)
    model = _Exporter(net, int(opset)).model()
    onnx.checker.check_model(model, full_check=True)
    return model


class _Exporter:
    """Builds the nodes, initializers and functions of one network's graph."""

    def __init__(self, net, opset):
        self.net, self.opset = net, opset
        self.float64 = net.dtype == np.float64
        self.elem = onnx.TensorProto.DOUBLE if self.float64 else onnx.TensorProto.FLOAT
        self.nodes, self.initializers, self.functions = [], [], {}

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(
            np.ascontiguousarray(np.asarray(array, self.net.dtype)), name))
        return name

    def scalar(self, value):
        """The initializer ``const/<value>``, written once for the whole graph."""
        name = f"const/{value:g}"
        if all(t.name != name for t in self.initializers):
            self.constant(name, np.array(value))
        return name

    def node(self, op, inputs, output, name, domain="", **attributes):
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, domain=domain, **attributes))
        return output

    def model(self):
        net = self.net
        values = {name: self.input(name) for name in net.inputs}
        for name in net.topological_order():
            values[name] = self.layer(name, values)
        for name in net.outputs:
            self.output(name, values[name])
        io = lambda name, size: helper.make_tensor_value_info(name, self.elem, ["batch", size])  # noqa: E731
        graph = helper.make_graph(
            self.nodes, "matnet", [io(k, s) for k, s in net.inputs.items()],
            [io(k, net.layers[k].size) for k in net.outputs], self.initializers,
            doc_string=net.summary())
        opsets = [helper.make_opsetid("", self.opset)]
        if self.functions:
            opsets.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))
        model = helper.make_model(graph, opset_imports=opsets, functions=list(self.functions.values()),
                                  producer_name="matnet", producer_version=_version())
        model.ir_version = max(8, helper.find_min_ir_version_for(opsets, True))
        helper.set_model_props(model, {METADATA_KEY: json.dumps(_metadata(net))})
        return model

    def input(self, name):
        scaling = self.net.input_scaling.get(name)
        if scaling is None:
            return name
        mul = self.node("Mul", [name, self.constant(f"scaling/inputs/{name}/scale", scaling.scale)],
                        f"/{name}/scaled_mul", f"/{name}/scale")
        return self.node("Add", [mul, self.constant(f"scaling/inputs/{name}/shift", scaling.shift)],
                         f"/{name}/scaled", f"/{name}/shift")

    def layer(self, name, values):
        net, layer = self.net, self.net.layers[name]
        bias = [self.constant(f"b/{name}", net.biases[name])] if layer.bias else []
        terms = [(values[c.source], self.constant(f"W/{c.source}/{name}", net.weights[c.key]))
                 for c in net.incoming(name)]
        if not terms:  # no incoming connection: Z = 0 (+ b), as a zero weight from the first input
            first = next(iter(net.inputs))
            zero = np.zeros((layer.size, net.inputs[first]))
            terms = [(values[first], self.constant(f"W/{first}/{name}", zero))]
        z = None
        for k, (source, weight) in enumerate(terms):
            part = self.node("Gemm", [source, weight, *(bias if k == 0 else [])], f"/{name}/z{k}",
                             f"/{name}/gemm{k}", transB=1)
            z = part if z is None else self.node("Add", [z, part], f"/{name}/sum{k}", f"/{name}/add{k}")
        scaled = name in net.outputs and name in net.output_scaling
        return self.activation(name, layer.activation, z, f"/{name}/a" if scaled else name)

    def activation(self, name, activation, z, out):
        """The nodes of layer ``name``, ``out = activation(z)``, as the activation declares its
        ONNX equivalent (a float64 function for the operators of ``_DOUBLE_BODIES``)."""
        op = activation.onnx.name
        if self.float64 and op in _DOUBLE_BODIES:
            if activation.name not in self.functions:
                self.functions[activation.name] = function_proto(activation.name, self.opset)
            return self.node(activation.name, [z], out, name, domain=FUNCTION_DOMAIN)
        constants, attributes = _operands(op, activation.onnx.params, self.opset)
        inputs = [z, *("" if value is None else self.scalar(value) for value in constants)]
        if op in _COMPARISONS:
            test = self.node(op, inputs, f"/{name}/test", f"/{name}/{op}", **attributes)
            return self.node("Cast", [test], out, name, to=self.elem)
        return self.node(op, inputs, out, name, **attributes)

    def output(self, name, value):
        scaling = self.net.output_scaling.get(name)
        if scaling is None:
            return
        inverse, offset = scaling.inverse_scale, scaling.offset
        mul = self.node("Mul", [value, self.constant(f"scaling/outputs/{name}/inverse_scale", inverse)],
                        f"/{name}/unscaled_mul", f"/{name}/unscale")
        self.node("Add", [mul, self.constant(f"scaling/outputs/{name}/offset", offset)], name,
                  f"/{name}/unshift")


def _operands(op, params, opset):
    """``(constant inputs after z, attributes)`` of operator ``op`` with ``params``: those named as
    its inputs in the operator's specification (None for a skipped optional one), then the rest."""
    names = [i.name for i in onnx.defs.get_schema(op, opset).inputs][1:]
    given = [k for k, name in enumerate(names) if name in params]
    constants = [params.get(name) for name in names[:given[-1] + 1]] if given else []
    return constants, {key: value for key, value in params.items() if key not in names}


def function_proto(kind, opset):
    """The float64 function ``matnet.<kind>``: the ONNX operator of activation ``kind``
    (LeakyRelu, Elu or Softplus) as primitive ops, equal to matnet's activation up to rounding."""
    if kind not in _function_kinds():
        raise ValueError(f"no ONNX function for {kind!r}; there are functions for {', '.join(_function_kinds())}")
    equivalent = activations.get(kind).onnx
    body = _DOUBLE_BODIES[equivalent.name](**equivalent.params)
    return helper.make_function(FUNCTION_DOMAIN, kind, ["z"], ["a"], body, [helper.make_opsetid("", opset)],
                                doc_string=f"matnet's {kind} in float64")


def _function_kinds():
    """The activations written as float64 functions: those whose ONNX operator has a body below."""
    return [name for name in activations.names() if activations.get(name).onnx.name in _DOUBLE_BODIES]


def _scalar_node(name, value):
    """A ``Constant`` node of a float64 scalar."""
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, np.float64)))


def _leaky_relu_body(alpha):
    """ONNX's ``LeakyRelu``: where(z > 0, z, z * alpha)."""
    n = helper.make_node
    return [_scalar_node("zero", 0.0), _scalar_node("slope", alpha), n("Greater", ["z", "zero"], ["positive"]),
            n("Mul", ["z", "slope"], ["leak"]), n("Where", ["positive", "z", "leak"], ["a"])]


def _elu_body(alpha):
    """ONNX's ``Elu`` with alpha 1: where(z > 0, z, exp(min(z, 0)) - 1)."""
    if alpha != 1:
        raise ValueError(f"the float64 Elu function is written for alpha 1, got {alpha}")
    n = helper.make_node
    return [_scalar_node("zero", 0.0), _scalar_node("one", 1.0), n("Min", ["z", "zero"], ["negative"]),
            n("Exp", ["negative"], ["e"]), n("Sub", ["e", "one"], ["em1"]),
            n("Greater", ["z", "zero"], ["positive"]), n("Where", ["positive", "z", "em1"], ["a"])]


def _softplus_body():
    """ONNX's ``Softplus``: max(z, 0) + log(1 + exp(-|z|)), stable for any z."""
    n = helper.make_node
    return [_scalar_node("one", 1.0), n("Relu", ["z"], ["r"]), n("Abs", ["z"], ["m"]), n("Neg", ["m"], ["nm"]),
            n("Exp", ["nm"], ["e"]), n("Add", ["e", "one"], ["e1"]), n("Log", ["e1"], ["l"]),
            n("Add", ["r", "l"], ["a"])]


# ONNX operators that onnxruntime cannot run exactly in float64, as bodies of primitive ops
_DOUBLE_BODIES = {"LeakyRelu": _leaky_relu_body, "Elu": _elu_body, "Softplus": _softplus_body}


def _metadata(net):
    def jsonable(v):
        return v is None or isinstance(v, (str, bool, int, float))
    classes = net.classes if net.classes is not None and all(map(jsonable, net.classes)) else None
    return {"format": "matnet-onnx", "version": 1, "classes": classes,
            "input_scaling": {k: {"kind": s.kind, "value": s.value.tolist()} for k, s in net.input_scaling.items()},
            "output_scaling": {k: {"kind": s.kind, "value": s.value.tolist()} for k, s in net.output_scaling.items()
                               if k in net.outputs}}


def _version():
    """matnet's installed version, or "" when it runs from a source tree."""
    try:
        return metadata.version("matnet")
    except metadata.PackageNotFoundError:
        return ""


# -- import ------------------------------------------------------------------------

def from_onnx(path):
    """Read an MLP-like ONNX model as a matnet network.

    Supported nodes: ``Gemm`` (any ``alpha``/``beta``/``transB``, ``transA=0``),
    ``MatMul`` and ``Add`` with constant weights and biases (also the sum of several
    products: skip connections, several inputs), ``Relu``, ``LeakyRelu`` (alpha
    0.01), ``Tanh``, ``Sigmoid``, ``Softmax`` (last axis), ``Elu`` (alpha 1),
    ``Softplus``, ``Clip`` to [0, 1] or [-1, 1], ``GreaterOrEqual(z, 0)`` + ``Cast``,
    ``Identity``, ``Flatten`` on 2-D data, ``Constant``, ``Mul``/``Add``/``Sub``/``Div``
    by constants (input and output scaling; elsewhere folded into the weights) and
    the ``matnet.*`` functions :func:`to_onnx` writes.  Anything else is refused.

    The file is only read (never run); nothing outside it is loaded.

    Parameters
    ----------
    path : str, os.PathLike, bytes or onnx.ModelProto
        A file name, the serialized model, or a loaded model.

    Returns
    -------
    Network
        Inputs named as the graph inputs, output layers as the graph outputs (when
        those are valid matnet names), dtype float32 or float64 as the graph inputs.

    Raises
    ------
    ValueError
        For an unsupported node (naming its op type and node name), or a file that
        is not ONNX, truncated, or inconsistent (missing initializers, wrong shapes);
        the message starts with the file name.
    """
    model, label = _load(path)
    return _Importer(model, label).network()


def _load(path):
    if isinstance(path, onnx.ModelProto):
        return path, "<ModelProto>"
    if isinstance(path, (bytes, bytearray)):
        data, label = bytes(path), "<bytes>"
    else:
        label = os.fspath(path)
        if not os.path.isfile(label):
            raise FileNotFoundError(f"{label}: no such file")
        with open(label, "rb") as f:
            data = f.read()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf raises DecodeError (and others) on damaged input
        raise ValueError(f"{label}: not a valid ONNX model (truncated, damaged or another format: "
                         f"{type(e).__name__}: {e})") from None
    if model.ir_version < 1 or not model.HasField("graph") or not model.graph.output:
        raise ValueError(f"{label}: not a valid ONNX model (no graph with outputs; truncated, "
                         "damaged or another format)")
    return model, label


class _Src:
    """The values an input or a layer sends (``width`` may be unknown for an input)."""

    def __init__(self, kind, key, width):
        self.kind, self.key, self.width = kind, key, width


class _Affine:
    """``src * scale + shift`` feature by feature (scaling, or folded into weights)."""

    def __init__(self, src, scale, shift):
        self.src, self.scale, self.shift = src, scale, shift


class _Sum:
    """A net input: ``sum_k v_k @ W_k.T + bias``; ``terms`` is ``[(src, affine, W)]``."""

    def __init__(self, terms, bias, width):
        self.terms, self.bias, self.width = terms, bias, width


class _Step:
    """A comparison of a net input before its ``Cast``: the layer of activation ``kind``
    (``z >= 0``: hardlim)."""

    def __init__(self, z, kind):
        self.z, self.kind = z, kind


class _Importer:
    """Symbolic execution of a graph into layer specifications, then a Network."""

    def __init__(self, model, label):
        self.model, self.label, self.graph = model, label, model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.layers = []       # dicts: size, activation, terms, bias, hints
        self.values = {}
        self.dtype = None

    def fail(self, message):
        return ValueError(f"{self.label}: {message}")

    def where(self, node):
        name = f"'{node.name}'" if node.name else f"producing {list(node.output)[:1]}"
        return f"node {name} ({node.op_type})"

    # -- reading -------------------------------------------------------------------
    def network(self):
        self.read_constants()
        self.read_inputs()
        for node in self.graph.node:
            self.run(node)
        outputs = [self.output(o.name) for o in self.graph.output]
        return self.build(outputs)

    def read_constants(self):
        for tensor in self.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                raise self.fail(f"initializer {tensor.name!r} is stored in an external file; "
                                "matnet reads single-file models only")
            self.values[tensor.name] = self.array(tensor, f"initializer {tensor.name!r}")

    def array(self, tensor, what):
        try:
            array = numpy_helper.to_array(tensor)
        except Exception as e:
            raise self.fail(f"{what} is damaged ({type(e).__name__}: {e})") from None
        if array.dtype.kind not in "fiub":
            raise self.fail(f"{what} has dtype {array.dtype}; numbers expected")
        return array

    def read_inputs(self):
        types = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64}
        names = [i for i in self.graph.input if i.name not in self.values]   # old files list initializers
        if not names:
            raise self.fail("the graph has no inputs")
        for info in names:
            tensor = info.type.tensor_type
            if not info.type.HasField("tensor_type") or tensor.elem_type not in types:
                raise self.fail(f"graph input {info.name!r} must be a float or double tensor")
            dtype = types[tensor.elem_type]
            if self.dtype not in (None, dtype):
                raise self.fail("graph inputs must all be float or all be double")
            self.dtype = dtype
            width = None
            if tensor.HasField("shape"):
                dims = tensor.shape.dim
                if len(dims) != 2:
                    raise self.fail(f"graph input {info.name!r} has {len(dims)} dimensions; matnet takes "
                                    "2-D data (batch, features)")
                width = dims[1].dim_value if dims[1].HasField("dim_value") else None
            self.values[info.name] = _Src("input", info.name, width)

    def get(self, name, node):
        if name not in self.values:
            raise self.fail(f"{self.where(node)} reads {name!r}, which no initializer, graph input or earlier "
                            "node provides (missing initializer, or nodes out of order)")
        return self.values[name]

    # -- nodes ---------------------------------------------------------------------
    def run(self, node):
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute):
            raise self.unsupported(node)
        inputs = [self.get(name, node) if name else None for name in node.input]
        if node.domain == FUNCTION_DOMAIN:
            result = self.function(node, inputs)
        elif node.domain not in ("", "ai.onnx"):
            raise self.unsupported(node)
        else:
            handler = getattr(self, f"op_{node.op_type}", None)
            if handler is None and activations.with_equivalent("onnx", node.op_type):
                handler = self.activation
            if handler is None:
                raise self.unsupported(node)
            result = handler(node, inputs, self.attributes(node))
        if len(node.output) != 1:
            raise self.fail(f"{self.where(node)} must have exactly one output")
        self.values[node.output[0]] = result

    def unsupported(self, node):
        domain = f"{node.domain}." if node.domain not in ("", "ai.onnx") else ""
        ops = dict.fromkeys(activations.get(name).onnx.name for name in activations.names())
        return self.fail(f"{self.where(node)}: op type {domain}{node.op_type!r} is not supported; matnet "
                         f"imports MLP-like graphs (Gemm, MatMul, Add, Flatten, Mul/Sub/Div by constants, "
                         f"and the activations {', '.join(ops)})")

    def attributes(self, node):
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def const(self, value, node, what):
        if not isinstance(value, np.ndarray):
            raise self.fail(f"{self.where(node)}: its {what} must be a constant (an initializer)")
        return value

    def vector(self, value, width, node, what):
        """A constant broadcast over the last axis of ``(batch, width)`` data, as ``(width,)``."""
        value = self.const(value, node, what)
        if value.ndim > 2 or (value.ndim == 2 and value.shape[0] != 1) or value.size not in (1, width or value.size):
            raise self.fail(f"{self.where(node)}: its {what} has shape {value.shape}; expected a scalar "
                            f"or ({width},) per feature")
        if width is None:
            if value.size == 1:
                raise self.fail(f"{self.where(node)}: the number of features of its data is unknown here")
            width = value.size
        return np.broadcast_to(value.reshape(-1).astype(np.float64), (width,)).copy()

    def op_Constant(self, node, inputs, attrs):
        if "value" in attrs:
            return self.array(attrs["value"], f"{self.where(node)} value")
        for key in ("value_float", "value_floats", "value_int", "value_ints"):
            if key in attrs:
                return np.asarray(attrs[key])
        raise self.unsupported(node)

    def op_Identity(self, node, inputs, attrs):
        value = inputs[0]
        return self.layer(value, "linear", node) if isinstance(value, _Sum) else value

    def op_Flatten(self, node, inputs, attrs):
        if attrs.get("axis", 1) not in (1, -1) or isinstance(inputs[0], (np.ndarray, _Step)):
            raise self.fail(f"{self.where(node)}: only Flatten(axis=1) of 2-D data is supported")
        return inputs[0]

    def op_Cast(self, node, inputs, attrs):
        target = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64}.get(attrs.get("to"))
        if target is None:
            raise self.fail(f"{self.where(node)}: only casts to float or double are supported")
        if isinstance(inputs[0], _Step):
            return self.layer(inputs[0].z, inputs[0].kind, node)
        if isinstance(inputs[0], np.ndarray):
            return inputs[0].astype(target)
        return inputs[0]

    def op_GreaterOrEqual(self, node, inputs, attrs):
        z, threshold = inputs
        kind = None
        if isinstance(threshold, np.ndarray) and threshold.size == 1:
            kind = activations.from_equivalent("onnx", "GreaterOrEqual", {"B": float(threshold.reshape(-1)[0])})
        if kind is None:
            options = " or ".join(f"GreaterOrEqual(z, {a.onnx.params['B']:g}) followed by Cast ({a.name})"
                                  for a in activations.with_equivalent("onnx", "GreaterOrEqual"))
            raise self.fail(f"{self.where(node)}: only {options} is supported")
        return _Step(self.as_sum(z, node), kind.name)

    def op_Clip(self, node, inputs, attrs):
        low = inputs[1] if len(inputs) > 1 else attrs.get("min")
        high = inputs[2] if len(inputs) > 2 else attrs.get("max")
        try:
            bounds = (float(np.asarray(low).reshape(-1)[0]), float(np.asarray(high).reshape(-1)[0]))
        except (TypeError, ValueError, IndexError):
            bounds = None
        kind = None
        if bounds is not None and all(isinstance(v, (np.ndarray, float)) and np.size(v) == 1 for v in (low, high)):
            kind = activations.from_equivalent("onnx", "Clip", {"min": bounds[0], "max": bounds[1]})
        if kind is None:
            options = " or ".join(f"[{a.onnx.params['min']:g}, {a.onnx.params['max']:g}] ({a.name})"
                                  for a in activations.with_equivalent("onnx", "Clip"))
            raise self.fail(f"{self.where(node)}: only Clip to {options} is supported, got bounds {bounds}")
        return self.layer(inputs[0], kind.name, node)

    def activation(self, node, inputs, attrs):
        """The layer of the activation that declares this node's operator and attributes
        as its ONNX equivalent (Relu, LeakyRelu, Softmax, ...)."""
        params = {**self.defaults(node), **attrs}
        if "axis" in params:    # the data is (batch, features): only the features' axis, 1 or -1
            if params["axis"] not in (-1, 1):
                raise self.fail(f"{self.where(node)}: {node.op_type} over axis {params['axis']}; only the last "
                                "axis (features) is supported")
            params["axis"] = -1
        kind = activations.from_equivalent("onnx", node.op_type, params, rtol=1e-6)   # float attributes are float32
        if kind is None:
            raise self.fail(f"{self.where(node)}: {_mismatch(node.op_type, params)}")
        return self.layer(inputs[0], kind.name, node)

    def defaults(self, node):
        """The default values of the attributes of ``node``'s operator in the model's opset."""
        try:
            schema = onnx.defs.get_schema(node.op_type, self.opset)
        except onnx.defs.SchemaError:
            raise self.unsupported(node) from None
        return {name: helper.get_attribute_value(a.default_value) for name, a in schema.attributes.items()
                if a.default_value.type != onnx.AttributeProto.UNDEFINED}

    def function(self, node, inputs):
        defined = {(f.domain, f.name): f for f in self.model.functions}
        function = defined.get((node.domain, node.op_type))
        kinds = _function_kinds()
        if node.op_type not in kinds or function is None or not _same_body(
                function, function_proto(node.op_type, self.opset)):
            raise self.fail(f"{self.where(node)}: op type {node.domain}.{node.op_type!r} is not one of "
                            f"matnet's functions ({', '.join(kinds)}) as to_onnx writes them")
        return self.layer(inputs[0], node.op_type, node)

    def op_Gemm(self, node, inputs, attrs):
        if attrs.get("transA", 0):
            raise self.fail(f"{self.where(node)}: Gemm with transA=1 (samples as columns) is not supported")
        a = self.source(inputs[0], node)
        B = self.const(inputs[1], node, "weight (B)")
        if B.ndim != 2:
            raise self.fail(f"{self.where(node)}: its weight {node.input[1]!r} has shape {B.shape}; a matrix expected")
        W = float(attrs.get("alpha", 1.0)) * (B if attrs.get("transB", 0) else B.T).astype(np.float64)
        total = self.linear(a, W, node, node.input[1])
        if len(inputs) > 2 and inputs[2] is not None:
            total.bias = float(attrs.get("beta", 1.0)) * self.vector(inputs[2], total.width, node, "bias (C)")
        return total

    def op_MatMul(self, node, inputs, attrs):
        a = self.source(inputs[0], node)
        B = self.const(inputs[1], node, "weight (second operand)")
        if B.ndim != 2:
            raise self.fail(f"{self.where(node)}: its weight {node.input[1]!r} has shape {B.shape}; a matrix expected")
        return self.linear(a, B.T.astype(np.float64), node, node.input[1])

    def op_Add(self, node, inputs, attrs):
        p, q = inputs
        if isinstance(p, np.ndarray) and isinstance(q, np.ndarray):
            return p + q
        if isinstance(p, np.ndarray):
            p, q = q, p
        if isinstance(q, np.ndarray):
            return self.shift(p, q, node)
        return self.add(self.as_sum(p, node), self.as_sum(q, node), node)

    def op_Sub(self, node, inputs, attrs):
        p, q = inputs
        if isinstance(p, np.ndarray) and isinstance(q, np.ndarray):
            return p - q
        if not isinstance(q, np.ndarray):
            raise self.fail(f"{self.where(node)}: only subtracting a constant is supported")
        return self.shift(p, -np.asarray(q, np.float64), node)

    def op_Mul(self, node, inputs, attrs):
        p, q = inputs
        if isinstance(p, np.ndarray) and isinstance(q, np.ndarray):
            return p * q
        if isinstance(p, np.ndarray):
            p, q = q, p
        if not isinstance(q, np.ndarray):
            raise self.fail(f"{self.where(node)}: only multiplying by a constant is supported")
        return self.scale(p, q, node)

    def op_Div(self, node, inputs, attrs):
        p, q = inputs
        if isinstance(p, np.ndarray) and isinstance(q, np.ndarray):
            return p / q
        if not isinstance(q, np.ndarray) or np.any(q == 0):
            raise self.fail(f"{self.where(node)}: only dividing by a non-zero constant is supported")
        return self.scale(p, 1.0 / np.asarray(q, np.float64), node)

    # -- algebra on symbolic values -------------------------------------------------
    def width(self, value):
        return value.src.width if isinstance(value, _Affine) else value.width

    def source(self, value, node):
        """What a Gemm/MatMul multiplies: a source (a net input becomes a linear layer)."""
        if isinstance(value, _Sum):
            return self.layer(value, "linear", node, hint=node.input[0])
        if isinstance(value, (_Src, _Affine)):
            return value
        raise self.fail(f"{self.where(node)}: its first operand must be data, not a constant or a comparison")

    def linear(self, a, W, node, weight_name):
        src = a.src if isinstance(a, _Affine) else a
        if src.width is None:
            src.width = W.shape[1]
        if W.shape[1] != src.width:
            raise self.fail(f"{self.where(node)}: weight {weight_name!r} takes {W.shape[1]} features but its "
                            f"input has {src.width}")
        return self.term(a, W)

    def term(self, a, W):
        if isinstance(a, _Affine) and a.src.kind == "layer":   # fold: W (x*s + t) = (W*s) x + W t
            return _Sum([(a.src, None, W * a.scale[None, :])], W @ a.shift, W.shape[0])
        if isinstance(a, _Affine):
            return _Sum([(a.src, a, W)], None, W.shape[0])
        return _Sum([(a, None, W)], None, W.shape[0])

    def as_sum(self, value, node):
        if isinstance(value, _Sum):
            return value
        if isinstance(value, (_Src, _Affine)):
            width = self.width(value)
            if width is None:
                raise self.fail(f"{self.where(node)}: the number of features of input "
                                f"{(value.src if isinstance(value, _Affine) else value).key!r} is unknown here")
            return self.term(value, np.eye(width))
        raise self.fail(f"{self.where(node)}: its operand must be data, not a constant or a comparison")

    def add(self, p, q, node):
        if p.width != q.width:
            raise self.fail(f"{self.where(node)}: adds {p.width} values to {q.width} values")
        terms = list(p.terms)
        for src, affine, W in q.terms:
            match = next((k for k, (s, f, _) in enumerate(terms) if s is src and f is affine), None)
            if match is None:
                terms.append((src, affine, W))
            else:
                terms[match] = (src, affine, terms[match][2] + W)
        bias = p.bias if q.bias is None else (q.bias if p.bias is None else p.bias + q.bias)
        return _Sum(terms, bias, p.width)

    def shift(self, value, c, node):
        if isinstance(value, _Sum):
            c = self.vector(c, value.width, node, "added constant")
            return _Sum(value.terms, c if value.bias is None else value.bias + c, value.width)
        if isinstance(value, _Src):
            value = _Affine(value, None, None)
        if isinstance(value, _Affine):
            c = self.vector(c, value.src.width, node, "added constant")
            return self.affine(value, np.ones_like(c) if value.scale is None else value.scale,
                               c if value.shift is None else value.shift + c)
        raise self.fail(f"{self.where(node)}: its operand must be data, not a comparison")

    def scale(self, value, c, node):
        if isinstance(value, _Sum):
            c = self.vector(c, value.width, node, "factor")
            return _Sum([(s, f, W * c[:, None]) for s, f, W in value.terms],
                        None if value.bias is None else value.bias * c, value.width)
        if isinstance(value, _Src):
            value = _Affine(value, None, None)
        if isinstance(value, _Affine):
            c = self.vector(c, value.src.width, node, "factor")
            return self.affine(value, c if value.scale is None else value.scale * c,
                               np.zeros_like(c) if value.shift is None else value.shift * c)
        raise self.fail(f"{self.where(node)}: its operand must be data, not a comparison")

    def affine(self, value, scale, shift):
        if value.src.width is None:
            value.src.width = scale.size
        return _Affine(value.src, scale, shift)

    def layer(self, value, activation, node, hint=None):
        z = self.as_sum(value, node)
        hints = [node.name, node.output[0]] if hint is None else [hint]
        self.layers.append({"size": z.width, "activation": activation, "sum": z, "hints": hints})
        return _Src("layer", len(self.layers) - 1, z.width)

    def output(self, name):
        if name not in self.values:
            raise self.fail(f"graph output {name!r} is not computed by any node")
        value = self.values[name]
        if isinstance(value, _Sum):
            fake = helper.make_node("Identity", [name], [name], name=name)
            value = self.layer(value, "linear", fake)
        scaling = None
        if isinstance(value, _Affine):
            scaling, value = value, value.src
        if not isinstance(value, _Src) or value.kind != "layer":
            raise self.fail(f"graph output {name!r} is not computed by a layer (it passes an input or a "
                            "constant through)")
        declared = next(o for o in self.graph.output if o.name == name).type.tensor_type.shape.dim
        if len(declared) == 2 and declared[1].HasField("dim_value") and declared[1].dim_value != value.width:
            raise self.fail(f"graph output {name!r} is declared with {declared[1].dim_value} features but its "
                            f"layer computes {value.width}")
        self.layers[value.key]["hints"].insert(0, name)
        return value.key, scaling

    # -- the network ---------------------------------------------------------------
    def build(self, outputs):
        keys = [key for key, _ in outputs]
        if len(set(keys)) != len(keys):
            raise self.fail("two graph outputs are the same layer; matnet outputs are distinct layers")
        meta = self.metadata()
        inputs = {v.key: v for v in self.values.values() if isinstance(v, _Src) and v.kind == "input"}
        input_names, taken = {}, set(inputs)
        for k, key in enumerate(inputs):
            input_names[key] = key if _is_valid_name(key) else _valid_name(None, taken, f"x{k}")
            taken.add(input_names[key])
        names = self.layer_names(set(input_names.values()), keys)
        scalings = self.input_scalings()
        net = Network(dtype=self.dtype)
        for key, src in inputs.items():
            if src.width is None:
                raise self.fail(f"the number of features of graph input {key!r} is unknown (not declared "
                                "and not used by any weight)")
            net.add_input(input_names[key], src.width)
        layers = [self.fold(spec["sum"], scalings, input_names, names) for spec in self.layers]
        for k, (spec, (_, bias)) in enumerate(zip(self.layers, layers)):
            net.add_layer(names[k], spec["size"], spec["activation"], bias=bias is not None)
        for k, (terms, bias) in enumerate(layers):
            for source, W in terms.items():
                net.connect(source, names[k], W.astype(self.dtype))
            if bias is not None:
                net.biases[names[k]] = bias.astype(self.dtype)
        net.outputs = [names[key] for key in keys]
        self.set_scaling(net, input_names, scalings, names, outputs, meta)
        classes = meta.get("classes")
        if isinstance(classes, list) and len(classes) >= 2 and len(outputs) == 1:
            net.classes = classes
        return net

    def fold(self, z, scalings, input_names, names):
        """``({source name: W}, bias or None)`` of a net input, folding every affine map
        that is not an input scaling into the weights and bias."""
        bias = None if z.bias is None else z.bias.astype(np.float64)
        terms = {}
        for src, affine, W in z.terms:
            if affine is not None and scalings.get(src.key) is not affine:   # W (x*s + t) = (W*s) x + W t
                bias = (0 if bias is None else bias) + W @ affine.shift
                W = W * affine.scale[None, :]
            source = input_names[src.key] if src.kind == "input" else names[src.key]
            terms[source] = terms[source] + W if source in terms else W
        return terms, bias

    def layer_names(self, taken, output_keys):
        """Output layers first take their graph outputs' names; then every layer its
        first valid hint (node name, tensor name) or ``h<k>``."""
        names = {}
        order = [*output_keys, *(k for k in range(len(self.layers)) if k not in output_keys)]
        for k in order:
            names[k] = next((h for h in self.layers[k]["hints"] if _is_valid_name(h) and h not in taken), None) \
                or _valid_name(f"h{k + 1}", taken, f"layer{k + 1}")
            taken.add(names[k])
        return names

    def input_scalings(self):
        """``input key -> _Affine`` when every use of the input goes through one and the same map."""
        uses = {}
        for spec in self.layers:
            for src, affine, _ in spec["sum"].terms:
                if src.kind == "input":
                    uses.setdefault(src.key, []).append(affine)
        out = {}
        for key, affines in uses.items():
            first = affines[0]
            if first is not None and all(a is not None and np.array_equal(a.scale, first.scale)
                                         and np.array_equal(a.shift, first.shift) for a in affines):
                for spec in self.layers:   # one object for all uses
                    spec["sum"].terms = [(s, first if (a is not None and s.key == key and s.kind == "input") else a, W)
                                         for s, a, W in spec["sum"].terms]
                out[key] = first
        return out

    def set_scaling(self, net, input_names, scalings, names, outputs, meta):
        declared_in, declared_out = meta.get("input_scaling") or {}, meta.get("output_scaling") or {}
        for key, affine in scalings.items():
            name = input_names[key]
            info = declared_in.get(name) if isinstance(declared_in.get(name), dict) else {}
            kind = info.get("kind") if info.get("kind") in KINDS else "minmax"
            value = np.asarray(info.get("value", []), dtype=np.float64)
            if value.shape != affine.scale.shape:
                value = np.zeros_like(affine.scale)
            net.input_scaling[name] = Scaling(kind, *(a.astype(net.dtype) for a in (affine.scale, affine.shift, value)))
        for key, affine in outputs:
            if affine is None:
                continue
            name = names[key]
            info = declared_out.get(name) if isinstance(declared_out.get(name), dict) else {}
            kind = info.get("kind") if info.get("kind") in KINDS else "minmax"
            value = np.asarray(info.get("value", []), dtype=np.float64)
            value = value if value.shape == affine.scale.shape else None
            net.output_scaling[name] = scaling_from_inverse(affine.scale, affine.shift, kind, value, net.dtype)

    def metadata(self):
        text = next((p.value for p in self.model.metadata_props if p.key == METADATA_KEY), None)
        if text is None:
            return {}
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as e:
            raise self.fail(f"metadata {METADATA_KEY!r} is not valid JSON ({e})") from None
        if not isinstance(meta, dict):
            raise self.fail(f"metadata {METADATA_KEY!r} must be a JSON object")
        return meta


def _mismatch(op, params):
    """Why ``op`` with ``params`` is none of matnet's activations, e.g.
    ``"LeakyRelu with alpha 0.2; matnet's leaky_relu has alpha 0.01"``."""
    options = activations.with_equivalent("onnx", op)
    given = {key: params.get(key) for a in options for key in a.onnx.params}
    has = " or ".join(f"{a.name} has {_show(a.onnx.params)}" for a in options)
    return f"{op} with {_show(given)}; matnet's {has}"


def _show(params):
    """``"alpha 0.01, axis -1"``."""
    return ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in params.items())


def _same_body(function, expected):
    strip = lambda f: [n.SerializeToString(deterministic=True) for n in f.node]  # noqa: E731
    return (list(function.input) == list(expected.input) and list(function.output) == list(expected.output)
            and strip(function) == strip(expected))


def _is_valid_name(name):
    return isinstance(name, str) and bool(name) and "/" not in name and "→" not in name


def _valid_name(name, taken, fallback):
    """``name`` if it is a valid, unused matnet name, else ``fallback`` (``_1``, ``_2``, ... if taken)."""
    if _is_valid_name(name) and name not in taken:
        return name
    candidate, k = fallback, 0
    while candidate in taken:
        k += 1
        candidate = f"{fallback}_{k}"
    return candidate
