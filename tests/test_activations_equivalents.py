"""The equivalents each built-in activation declares (ONNX, PyTorch, scikit-learn) and
the way back, from_equivalent.  The converters' tests check the declarations end to end."""
import numpy as np
import pytest

import matnet.interop
from matnet import activations as act

BUILTIN = [act.get(name) for name in act.names()]


def test_every_builtin_declares_onnx_and_torch_and_sklearn_where_it_has_one():
    assert all(a.onnx is not None and a.torch is not None for a in BUILTIN)
    assert {a.name: a.sklearn.name for a in BUILTIN if a.sklearn} == {
        "linear": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu", "softmax": "softmax"}
    custom = act.get((np.sin, np.cos))
    assert (custom.onnx, custom.torch, custom.sklearn) == (None, None, None)


@pytest.mark.parametrize("activation, library", [(a, library) for a in BUILTIN for library in act.LIBRARIES
                                                  if getattr(a, library) is not None],
                         ids=lambda value: getattr(value, "name", value))
def test_declared_equivalent_leads_back_to_the_activation(activation, library):
    equivalent = getattr(activation, library)
    assert act.from_equivalent(library, equivalent.name, equivalent.params) is activation
    assert act.from_equivalent(library, equivalent.name, {**equivalent.params, "inplace": False}) is activation


def test_constants_must_match():
    assert act.from_equivalent("torch", "LeakyReLU", {"negative_slope": 0.2}) is None
    assert act.from_equivalent("torch", "LeakyReLU") is None                      # a declared constant is missing
    assert act.from_equivalent("onnx", "Clip", {"min": -1.0, "max": 1}).name == "satlins"
    assert act.from_equivalent("onnx", "Clip", {"min": 0.0, "max": 6.0}) is None
    slope32 = float(np.float32(0.01))                                              # as ONNX stores attributes
    assert act.from_equivalent("onnx", "LeakyRelu", {"alpha": slope32}) is None
    assert act.from_equivalent("onnx", "LeakyRelu", {"alpha": slope32}, rtol=1e-6).name == "leaky_relu"


def test_with_equivalent_and_unknown_names():
    assert [a.name for a in act.with_equivalent("onnx", "Clip")] == ["satlin", "satlins"]
    assert act.with_equivalent("torch", "GELU") == [] and act.from_equivalent("torch", "GELU") is None
    with pytest.raises(ValueError, match="library must be one of onnx, torch, sklearn, got 'keras'"):
        act.with_equivalent("keras", "relu")


def test_declarations_are_read_only():
    with pytest.raises(TypeError):
        act.get("elu").onnx.params["alpha"] = 2.0
    assert hash(act.get("satlin")) == hash(act.get("satlin"))


@pytest.mark.parametrize("activation", BUILTIN, ids=lambda a: a.name)
def test_declared_torch_module_computes_the_activation(activation):
    torch = pytest.importorskip("torch")
    name = activation.torch.name
    module = getattr(torch.nn, name, None) or getattr(matnet.interop.torch, name)   # Hardlim is matnet's
    z = np.array([[-40.0, -3.1, -1.0, -0.2, 0.0, 0.3, 1.0, 2.5, 40.0]])
    with torch.no_grad():
        got = module(**activation.torch.params)(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(got, activation(z), rtol=1e-12, atol=1e-15)
