"""ONNX export (checked by onnx's checker, run by onnxruntime) and import."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import matnet as mn
from conftest import random_dag, random_inputs
from matnet.data.scaling import minmax, standard

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from matnet.interop.onnx import from_onnx, onnx_model, to_onnx  # noqa: E402

ALL = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "satlin", "satlins", "hardlim",
       "softmax"]
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-5)}


def as_dict(net, Y):
    return Y if isinstance(Y, dict) else {net.outputs[0]: Y}


def feeds(net, X):
    X = X if isinstance(X, dict) else {next(iter(net.inputs)): X}
    return {k: np.asarray(v, net.dtype) for k, v in X.items()}


def run_ort(path_or_model, inputs):
    data = path_or_model if isinstance(path_or_model, (str, os.PathLike)) else path_or_model.SerializeToString()
    session = ort.InferenceSession(os.fspath(data) if isinstance(data, os.PathLike) else data,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, inputs)))


def scale_randomly(net, rng, constant_feature=True):
    """Input and output scaling of either kind, one constant output feature."""
    for name, size in net.inputs.items():
        data = rng.normal(size=(20, size)) * 3 + 1
        net.input_scaling[name] = (minmax if rng.random() < 0.5 else standard)(data, net.dtype)
    for name in net.outputs:
        data = rng.normal(size=(20, net.layers[name].size)) * 2
        if constant_feature:
            data[:, 0] = 2.5
        net.output_scaling[name] = minmax(data, net.dtype)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10_000), st.sampled_from(["float64", "float32"]), st.booleans())
def test_random_dags_run_in_onnxruntime_and_come_back(tmp_path, seed, dtype, scaled):
    net = random_dag(seed, dtype=dtype, activations=ALL)
    if scaled:
        scale_randomly(net, np.random.default_rng(seed))
    X = random_inputs(net, 6, seed)
    path = tmp_path / f"m{seed}.onnx"
    to_onnx(net, path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == list(net.inputs)
    assert [o.name for o in model.graph.output] == net.outputs
    expected = as_dict(net, net(X))
    got = run_ort(path, feeds(net, X))
    for name in net.outputs:
        assert got[name].dtype == net.dtype
        np.testing.assert_allclose(got[name], expected[name], **TOL[dtype])
    back = from_onnx(path)
    assert back.dtype == net.dtype and back.outputs == net.outputs and list(back.inputs) == list(net.inputs)
    assert back.get_flat().tobytes() == net.get_flat().tobytes()
    assert {k: l.activation.name for k, l in back.layers.items()} == {k: l.activation.name for k, l in net.layers.items()}
    for side in ("input_scaling", "output_scaling"):
        assert set(getattr(back, side)) == set(getattr(net, side))
        for name, s in getattr(net, side).items():
            assert getattr(back, side)[name].kind == s.kind
            np.testing.assert_array_equal(getattr(back, side)[name].value, s.value)
    again = as_dict(back, back(X))
    for name in net.outputs:
        np.testing.assert_allclose(again[name], expected[name], **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dynamic_batch_and_layout(tmp_path, dtype):
    net = mn.mlp([3, 4, 4, 2], activation="leaky_relu", output_activation="softmax", seed=0, dtype=dtype)
    model = to_onnx(net, tmp_path / "m.onnx")
    graph = model.graph
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    dims = graph.input[0].type.tensor_type.shape.dim
    assert graph.input[0].type.tensor_type.elem_type == elem
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    assert {t.name for t in graph.initializer} == {"W/x/h1", "b/h1", "W/h1/h2", "b/h2", "W/h2/y", "b/y"}
    np.testing.assert_array_equal(numpy_helper.to_array(next(t for t in graph.initializer if t.name == "W/x/h1")),
                                  net.weights["x", "h1"])   # matnet's (n_out, n_in), used with transB=1
    ops = [n.op_type for n in graph.node]
    assert ops.count("Gemm") == 3 and ops[-1] == "Softmax"
    assert next(n for n in graph.node if n.op_type == "Softmax").attribute[0].i == -1
    leaky = "LeakyRelu" if dtype == "float32" else "leaky_relu"   # float64: the exact matnet function
    assert ops.count(leaky) == 2
    for n in (1, 7):
        X = np.random.default_rng(n).normal(size=(n, 3))
        np.testing.assert_allclose(run_ort(tmp_path / "m.onnx", {"x": X.astype(dtype)})["y"], net(X), **TOL[dtype])


def test_activation_nodes():
    net = mn.Network(seed=0)
    net.add_input("x", 2)
    for name in ("hardlim", "satlin", "satlins", "elu", "softplus"):
        net.add_layer(name, 2, name)
        net.connect("x", name)
    ops64 = {n.name: (n.domain, n.op_type) for n in onnx_model(net).graph.node}
    assert ops64["hardlim"] == ("", "Cast") and ops64["satlin"] == ("", "Clip")
    assert ops64["elu"] == ("matnet", "elu") and ops64["softplus"] == ("matnet", "softplus")
    ops32 = {n.name: n.op_type for n in onnx_model(net, dtype="float32").graph.node}
    assert ops32["elu"] == "Elu" and ops32["softplus"] == "Softplus"
    X = np.array([[0.0, -0.0], [1e-3, -1e-3], [40.0, -40.0], [800.0, -800.0]])
    got = run_ort(onnx_model(net), {"x": X})
    for name, value in as_dict(net, net(X)).items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=1e-15)


def test_dtype_argument_and_classes(tmp_path):
    net = mn.mlp([2, 3, 3], output_activation="softmax", seed=1)
    net.classes = ["a", "b", "c"]
    model = to_onnx(net, tmp_path / "m.onnx", dtype="float32")
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    back = from_onnx(tmp_path / "m.onnx")
    assert back.dtype == np.float32 and back.classes == ["a", "b", "c"]
    assert list(back.predict_classes(np.eye(2))) == list(net.predict_classes(np.eye(2)))


def test_refuses_delays_and_custom_activations(tmp_path):
    with pytest.raises(ValueError, match="delayed connections"):
        to_onnx(mn.narx(2, 2, [3], seed=0), tmp_path / "n.onnx")
    net = mn.Network.from_matrices([np.ones((1, 1))], activations=[(np.sin, np.cos)])
    with pytest.raises(ValueError, match="custom activation 'sin'"):
        to_onnx(net, tmp_path / "c.onnx")
    with pytest.raises(ValueError, match="opset"):
        to_onnx(mn.mlp([1, 1], seed=0), tmp_path / "o.onnx", opset=9)
    assert not os.listdir(tmp_path)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def broken(self):
        raise RuntimeError("disk full")
    monkeypatch.setattr(onnx.ModelProto, "SerializeToString", broken)
    with pytest.raises(RuntimeError):
        to_onnx(mn.mlp([2, 2], seed=0), path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]


# -- importing graphs matnet did not write -------------------------------------------

def make_model(nodes, initializers, inputs=(("x", 3),), outputs=(("y", None),), elem=TensorProto.DOUBLE,
               opset=17):
    ins = [helper.make_tensor_value_info(n, elem, ["N", s]) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, elem, ["N", s]) for n, s in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()]
    graph = helper.make_graph(nodes, "g", ins, outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def check_same(model, n_inputs=None):
    onnx.checker.check_model(model, full_check=True)
    net = from_onnx(model.SerializeToString())
    rng = np.random.default_rng(0)
    X = {i.name: rng.normal(size=(5, i.type.tensor_type.shape.dim[1].dim_value)) for i in model.graph.input}
    expected = run_ort(model, X)
    got = as_dict(net, net(X if len(X) > 1 else next(iter(X.values()))))
    for (name, value), layer in zip(expected.items(), net.outputs):
        np.testing.assert_allclose(got[layer], value, rtol=1e-12, atol=1e-12)
    return net


def test_import_exporter_style_mlp():
    """Flatten, MatMul + Add with (n_in, n_out) weights, Gemm with alpha/beta/transB=0, Softmax."""
    rng = np.random.default_rng(1)
    W1, b1, W2, b2 = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 4)), rng.normal(size=(1, 4))
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "W1"], ["m"], name="/0/MatMul"),
             helper.make_node("Add", ["m", "b1"], ["z"], name="/0/Add"),
             helper.make_node("Tanh", ["z"], ["h"], name="/1/Tanh"),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["z2"], name="fc2", alpha=0.5, beta=2.0),
             helper.make_node("Softmax", ["z2"], ["y"], name="prob", axis=1)]
    net = check_same(make_model(nodes, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}))
    assert [l.activation.name for l in net.layers.values()] == ["tanh", "softmax"]
    np.testing.assert_array_equal(net.weights[("x", net.topological_order()[0])], W1.T)
    assert net.outputs == ["y"]


def test_import_skip_connection_two_inputs_and_scaling():
    """y = W_h tanh(W_x u + b) + W_s (v * s + t) + c, and an output scaled by Mul/Add."""
    rng = np.random.default_rng(2)
    arrays = dict(Wx=rng.normal(size=(4, 3)), b=rng.normal(size=4), Wh=rng.normal(size=(4, 2)),
                  Ws=rng.normal(size=(2, 2)), c=rng.normal(size=2), s=np.array([2.0, 0.5]),
                  t=np.array([-1.0, 0.3]), k=np.array([3.0, 0.0]), o=np.array([1.0, 7.0]))
    nodes = [helper.make_node("Gemm", ["u", "Wx", "b"], ["z"], name="g1", transB=1),
             helper.make_node("Tanh", ["z"], ["h"], name="hidden"),
             helper.make_node("MatMul", ["h", "Wh"], ["p"], name="m1"),
             helper.make_node("Mul", ["v", "s"], ["vs"], name="scale"),
             helper.make_node("Add", ["vs", "t"], ["vt"], name="shift"),
             helper.make_node("MatMul", ["vt", "Ws"], ["q"], name="m2"),
             helper.make_node("Add", ["p", "q"], ["pq"], name="skip"),
             helper.make_node("Add", ["pq", "c"], ["zo"], name="bias"),
             helper.make_node("Sigmoid", ["zo"], ["a"], name="out"),
             helper.make_node("Mul", ["a", "k"], ["ak"], name="unscale"),
             helper.make_node("Add", ["ak", "o"], ["y"], name="unshift")]
    model = make_model(nodes, arrays, inputs=(("u", 3), ("v", 2)), outputs=(("y", 2),))
    net = check_same(model)
    assert set(net.connections) == {("u", "hidden"), ("hidden", "y"), ("v", "y")}
    assert set(net.input_scaling) == {"v"} and set(net.output_scaling) == {"y"}
    np.testing.assert_array_equal(net.input_scaling["v"].scale, arrays["s"])
    assert net.output_scaling["y"].scale[1] == 0 and net.output_scaling["y"].value[1] == 7.0


def test_import_linear_layers_and_identity():
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "A"], ["z"], name="a", transB=1),
             helper.make_node("Gemm", ["z", "B"], ["y"], name="b", transB=1)]
    net = check_same(make_model(nodes, {"A": rng.normal(size=(4, 3)), "B": rng.normal(size=(2, 4))}))
    assert [l.activation.name for l in net.layers.values()] == ["linear", "linear"]
    assert not any(l.bias for l in net.layers.values())


def test_import_float32_leaky_relu():
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="fc", transB=1),
             helper.make_node("LeakyRelu", ["z"], ["y"], name="act", alpha=0.01)]
    arrays = {"W": rng.normal(size=(2, 3)).astype(np.float32), "b": rng.normal(size=2).astype(np.float32)}
    model = make_model(nodes, arrays, elem=TensorProto.FLOAT)
    net = from_onnx(model)
    assert net.dtype == np.float32 and net.layers["y"].activation.name == "leaky_relu"
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(net(X), run_ort(model, {"x": X})["y"], rtol=1e-6, atol=1e-6)


W23 = np.ones((2, 3))


def gemm_then(op, **attributes):
    return [helper.make_node("Gemm", ["x", "W"], ["z"], name="fc", transB=1),
            helper.make_node(op, ["z"], ["y"], name="act", **attributes)]


BAD_GRAPHS = {
    "conv": (lambda: make_model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv1")], {"W": W23}),
             r"node 'conv1' \(Conv\): op type 'Conv' is not supported"),
    "missing initializer": (lambda: make_model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1)], {}),
                            r"node 'fc' \(Gemm\) reads 'W', which no initializer"),
    "wrong weight shape": (lambda: make_model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")], {"W": W23}),
                           r"node 'fc' \(Gemm\): weight 'W' takes 2 features but its input has 3"),
    "wrong bias shape": (lambda: make_model([helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc", transB=1)],
                                            {"W": W23, "b": np.ones(3)}),
                         r"node 'fc' \(Gemm\): its bias \(C\) has shape \(3,\)"),
    "leaky alpha": (lambda: make_model(gemm_then("LeakyRelu", alpha=0.2), {"W": W23}),
                    r"node 'act' \(LeakyRelu\): LeakyRelu with alpha 0.2"),
    "softmax axis": (lambda: make_model(gemm_then("Softmax", axis=0), {"W": W23}),
                     r"node 'act' \(Softmax\): Softmax over axis 0"),
    "clip bounds": (lambda: make_model([helper.make_node("Gemm", ["x", "W"], ["z"], name="fc", transB=1),
                                        helper.make_node("Clip", ["z", "lo", "hi"], ["y"], name="clip")],
                                       {"W": W23, "lo": np.array(0.0), "hi": np.array(6.0)}),
                    r"node 'clip' \(Clip\): only Clip to \[0, 1\]"),
    "pass-through output": (lambda: make_model([helper.make_node("Identity", ["x"], ["y"], name="id")], {}),
                            r"graph output 'y' is not computed by a layer"),
    "declared output width": (lambda: make_model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1)],
                                                 {"W": W23}, outputs=(("y", 5),)),
                              r"graph output 'y' is declared with 5 features but its layer computes 2"),
    "3-D input": (lambda: helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="r")], "g",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 2, 3])])),
        r"graph input 'x' has 3 dimensions"),
    "integer input": (lambda: make_model([helper.make_node("Relu", ["x"], ["y"], name="r")], {},
                                         elem=TensorProto.INT64),
                      r"graph input 'x' must be a float or double tensor"),
}


@pytest.mark.parametrize("case", list(BAD_GRAPHS))
def test_unsupported_and_inconsistent_graphs(tmp_path, case):
    build, message = BAD_GRAPHS[case]
    path = tmp_path / "bad.onnx"
    path.write_bytes(build().SerializeToString())
    with pytest.raises(ValueError, match=message) as info:
        from_onnx(path)
    assert str(info.value).startswith(f"{path}: ")


def test_external_data_is_refused(tmp_path):
    model = make_model(gemm_then("Relu"), {"W": np.ones((2, 3))})
    onnx.save_model(model, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    with pytest.raises(ValueError, match="initializer 'W' is stored in an external file"):
        from_onnx(tmp_path / "ext.onnx")


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all\n" * 10, "truncated"])
def test_damaged_files(tmp_path, content):
    path = tmp_path / "bad.onnx"
    if content == "truncated":
        data = to_onnx(mn.mlp([3, 8, 2], seed=0), tmp_path / "good.onnx").SerializeToString()
        content = data[: len(data) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path}: "):
        from_onnx(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        from_onnx(tmp_path / "missing.onnx")
