"""PyTorch conversion: to_torch / from_torch, state dicts, and torch → matnet → ONNX."""
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matnet as mn
from conftest import random_dag, random_inputs
from matnet.data.scaling import minmax, standard

torch = pytest.importorskip("torch")
nn = torch.nn
from matnet.interop._common import is_chain  # noqa: E402
from matnet.interop.torch import from_torch, to_torch  # noqa: E402

ALL = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "satlin", "satlins", "hardlim",
       "softmax"]
TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=1e-6, atol=1e-6)}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def as_dict(net, Y):
    return Y if isinstance(Y, dict) else {net.outputs[0]: Y}


def torch_outputs(module, net, X):
    X = X if isinstance(X, dict) else {next(iter(net.inputs)): X}
    tensors = {k: torch.from_numpy(np.asarray(v, net.dtype)) for k, v in X.items()}
    with torch.no_grad():
        out = module(**tensors) if len(tensors) > 1 else module(next(iter(tensors.values())))
    out = out if isinstance(out, dict) else {net.outputs[0]: out}
    return {k: v.numpy() for k, v in out.items()}


def scale_randomly(net, rng):
    for name, size in net.inputs.items():
        net.input_scaling[name] = (minmax if rng.random() < 0.5 else standard)(rng.normal(size=(20, size)) * 3, net.dtype)
    for name in net.outputs:
        data = rng.normal(size=(20, net.layers[name].size))
        data[:, 0] = -1.5
        net.output_scaling[name] = minmax(data, net.dtype)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["float64", "float32"]), st.booleans(), st.booleans())
def test_random_networks_round_trip(seed, dtype, chain, scaled):
    rng = np.random.default_rng(seed)
    if chain:
        sizes = [int(s) for s in rng.integers(1, 5, size=rng.integers(2, 5))]
        net = mn.mlp(sizes, activation=ALL[seed % len(ALL)], output_activation=ALL[(seed // 11) % len(ALL)]
                     if sizes[-1] > 1 else "sigmoid", seed=seed, dtype=dtype)
    else:
        net = random_dag(seed, dtype=dtype, activations=ALL)
    if scaled:
        scale_randomly(net, rng)
    module = to_torch(net)
    assert isinstance(module, nn.Sequential) == is_chain(net)
    assert all(p.dtype == TORCH_DTYPE[dtype] for p in module.parameters())
    X = random_inputs(net, 5, seed)
    expected = as_dict(net, net(X))
    got = torch_outputs(module, net, X)
    for name in net.outputs:
        assert got[name].dtype == net.dtype
        np.testing.assert_allclose(got[name], expected[name], **TOL[dtype])
    back = from_torch(module)
    assert back.dtype == net.dtype and back.get_flat().tobytes() == net.get_flat().tobytes()
    if isinstance(module, nn.Sequential):    # a chain comes back named x, h1, ..., y
        assert len(back.input_scaling) == len(net.input_scaling) and len(back.output_scaling) == len(net.output_scaling)
    else:
        assert set(back.input_scaling) == set(net.input_scaling) and set(back.output_scaling) == set(net.output_scaling)
        assert back.outputs == net.outputs
    again = as_dict(back, back(X))
    for a, b in zip(back.outputs, net.outputs):
        np.testing.assert_allclose(again[a], expected[b], **TOL[dtype])


def test_chain_is_sequential_of_standard_modules():
    net = mn.mlp([3, 4, 4, 4, 2], activation="relu", output_activation="softmax", seed=0)
    net.input_scaling["x"] = minmax(np.random.default_rng(0).normal(size=(9, 3)))
    module = to_torch(net)
    kinds = [type(m).__name__ for m in module]
    assert kinds == ["Affine", "Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear", "Softmax"]
    assert torch.equal(module[1].weight, torch.from_numpy(net.weights["x", "h1"]))   # same (n_out, n_in) matrix
    assert not module.training


def test_from_torch_modules():
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Flatten(), nn.Linear(3, 5), nn.Tanh(),
        nn.Sequential(nn.Linear(5, 4), nn.LeakyReLU(0.01), nn.Dropout(0.5)),
        nn.Linear(4, 4), nn.ELU(), nn.Linear(4, 4, bias=False), nn.Softplus(), nn.Linear(4, 4), nn.Hardtanh(-1, 1),
        nn.Linear(4, 4), nn.Identity(), nn.Sigmoid(), nn.Linear(4, 3), nn.Softmax(dim=1)).double().eval()
    net = from_torch(module)
    assert [l.activation.name for l in net.layers.values()] == [
        "tanh", "leaky_relu", "elu", "softplus", "satlins", "sigmoid", "softmax"]
    assert not net.layers["h4"].bias and net.dtype == np.float64
    X = np.random.default_rng(0).normal(size=(8, 3))
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net(X), expected, rtol=1e-10, atol=1e-12)


def test_from_torch_float32_keeps_dtype():
    module = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    net = from_torch(module)
    assert net.dtype == np.float32
    X = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(net(X), module(torch.from_numpy(X)).numpy(), rtol=1e-6, atol=1e-6)
    assert from_torch(module, dtype="float64").dtype == np.float64


def test_state_dict_with_architecture():
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(-1)).double()
    net = from_torch(module.state_dict(), architecture=[8, "relu", 3, "softmax"])
    X = np.random.default_rng(2).normal(size=(6, 4))
    with torch.no_grad():
        np.testing.assert_allclose(net(X), module(torch.from_numpy(X)).numpy(), rtol=1e-10, atol=1e-12)
    arrays = {f"model.{k}": v.numpy() for k, v in module.state_dict().items()}   # NumPy values work too
    same = from_torch(arrays, architecture=[8, "relu", 3, "softmax"], prefix="model.")
    assert same.get_flat().tobytes() == net.get_flat().tobytes()


@pytest.mark.parametrize("architecture, message", [
    ([8, "relu", 4, "softmax"], r"2.weight has shape \(3, 8\); architecture entry 2 needs \(4, 8\)"),
    ([8, "relu"], r"state dict entries not described by the architecture: 2.bias, 2.weight"),
    ([8, "relu", "tanh", 3, "softmax"], r"architecture entry 2 \('tanh'\) must follow a Linear size"),
    (["relu", 8], r"architecture entry 0 \('relu'\) must follow"),
    ([8, "gelu"], r"unknown activation 'gelu'"),
])
def test_state_dict_errors(architecture, message):
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(-1))
    state = module.state_dict()
    with pytest.raises(ValueError, match=message):
        from_torch(state, architecture=architecture)
    with pytest.raises(ValueError, match="needs architecture"):
        from_torch(state)


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Linear(2, 2), nn.GELU()), r"module 1 \(GELU\): not a supported module"),
    (nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(0.2)), r"module 1 \(LeakyReLU\): negative_slope must be 0.01"),
    (nn.Sequential(nn.Linear(2, 2), nn.ELU(alpha=0.5)), r"alpha must be 1"),
    (nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=0)), r"dim must be -1 or 1"),
    (nn.Sequential(nn.ReLU(), nn.Linear(2, 2)), r"module 0 \(ReLU\) must follow an nn.Linear"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh()), r"module 2 \(Tanh\) must follow an nn.Linear"),
    (nn.Conv1d(1, 1, 1), r"from_torch takes an nn.Sequential"),
])
def test_unsupported_modules(module, message):
    with pytest.raises((ValueError, TypeError), match=message):
        from_torch(module)


def test_dag_module_call_styles_and_pickle():
    net = random_dag(5, n_inputs=2, n_outputs=2, activations=ALL)
    module = to_torch(net)
    assert type(module).__name__ == "MatnetModule"
    X = random_inputs(net, 4, 0)
    t = {k: torch.from_numpy(v) for k, v in X.items()}
    with torch.no_grad():
        by_kwargs, by_dict, by_position = module(**t), module(t), module(*t.values())
    expected = net(X)
    for name in net.outputs:
        for out in (by_kwargs, by_dict, by_position):
            np.testing.assert_allclose(out[name].numpy(), expected[name], rtol=1e-12, atol=1e-12)
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(t)[net.outputs[0]].numpy(), by_dict[net.outputs[0]].numpy())
    with pytest.raises(ValueError, match="inputs must be exactly"):
        module(u0=t["u0"])


def test_refuses_delays():
    with pytest.raises(ValueError, match="delayed connections"):
        to_torch(mn.timedelay(2, [3], seed=0))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_to_matnet_to_onnxruntime(tmp_path, dtype):
    """torch → matnet → ONNX → onnxruntime: the same outputs as torch."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from matnet.interop.onnx import to_onnx
    torch.manual_seed(3)
    for k, activation in enumerate([nn.Tanh(), nn.ReLU(), nn.Sigmoid(), nn.LeakyReLU(0.01), nn.ELU(), nn.Softplus()]):
        module = nn.Sequential(nn.Linear(3, 6), activation, nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2),
                               nn.Softmax(-1)).to(TORCH_DTYPE[dtype])
        path = tmp_path / f"m{k}.onnx"
        to_onnx(from_torch(module), path)
        X = np.random.default_rng(k).normal(size=(7, 3)).astype(dtype)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"x": X})[0]
        with torch.no_grad():
            expected = module(torch.from_numpy(X)).numpy()
        tol = 1e-10 if dtype == "float64" else 1e-6
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
