import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matnet as mn
from matnet.derivatives import loss_value
from conftest import random_dag, random_inputs
from reference import torch_loss

OUTPUT_ACT = {"mse": None, "sse": None, "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def _targets(net, n, loss, seed):
    rng = np.random.default_rng(seed + 1)
    T = {}
    for name in net.outputs:
        k = net.layers[name].size
        if loss == "cross_entropy":
            T[name] = np.eye(k)[rng.integers(k, size=n)]
        elif loss == "binary_cross_entropy":
            T[name] = rng.integers(0, 2, size=(n, k)).astype(float)
        else:
            T[name] = rng.normal(size=(n, k))
    return T if len(T) > 1 else next(iter(T.values()))


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 100_000), st.sampled_from(list(OUTPUT_ACT)), st.booleans(), st.booleans())
def test_gradients_equal_torch_autograd(seed, loss, with_l2, with_weights):
    net = random_dag(seed, output_activation=OUTPUT_ACT[loss],
                     activations=["tanh", "sigmoid", "relu", "elu", "softplus", "linear", "softmax"])
    n = 9
    X = random_inputs(net, n, seed)
    T = _targets(net, n, loss, seed)
    l2 = 0.3 if with_l2 else 0.0
    w = np.random.default_rng(seed).uniform(0.1, 2.0, size=n) if with_weights else None
    gW, gb = net.gradient(X, T, loss=loss, l2=l2, sample_weight=w)
    value, tW, tb = torch_loss(net, X, T, loss, l2, w)
    assert loss_value(net, X, T, loss, l2, w) == pytest.approx(value, rel=1e-12)
    for key in net.weights:
        assert _rel(gW[key], tW[key]) < 1e-8, key
    for key in net.biases:
        assert _rel(gb[key], tb[key]) < 1e-8, key


def test_check_gradient_reports_small_error():
    net = mn.mlp([3, 4, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(6, 3))
    T = np.random.default_rng(1).normal(size=(6, 2))
    report = mn.check_gradient(net, X, T, "mse")
    assert report["max_relative_error"] < 1e-6
    assert report["gradient"].shape == report["numeric"].shape == (net.n_params,)


def test_check_gradient_catches_a_wrong_derivative():
    bad = mn.activations.Activation("bad_tanh", np.tanh, lambda z, a: 1 - a)  # wrong derivative
    net = mn.Network.from_matrices([np.ones((2, 1)) * 0.3, np.ones((1, 2))], [np.zeros(2), np.zeros(1)],
                                   activations=[bad, "linear"])
    report = mn.check_gradient(net, np.array([[0.5], [1.0]]), np.array([[1.0], [0.0]]), "mse")
    assert report["max_relative_error"] > 1e-2


def test_gradient_is_zero_for_layers_that_reach_no_output():
    net = mn.Network(seed=0)
    net.add_input("x", 2)
    net.add_layer("dead", 3)
    net.add_layer("y", 1, "linear")
    net.connect("x", "dead")
    net.connect("x", "y")
    net.outputs = ["y"]
    gW, gb = net.gradient(np.ones((4, 2)), np.zeros((4, 1)))
    assert not gW["x", "dead"].any() and not gb["dead"].any() and gW["x", "y"].any()


def test_zero_sample_weight_equals_dropping_the_sample():
    net = mn.mlp([2, 3, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(5, 2))
    T = np.random.default_rng(1).normal(size=(5, 1))
    w = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    keep = w > 0
    a = np.concatenate([g.ravel() for g in _flat(net.gradient(X, T, sample_weight=w))])
    b = np.concatenate([g.ravel() for g in _flat(net.gradient(X[keep], T[keep]))])
    np.testing.assert_allclose(a, b, rtol=1e-12)


def _flat(grads):
    gW, gb = grads
    return [*gW.values(), *gb.values()]


def test_loss_errors():
    net = mn.mlp([2, 3, 2], seed=0)
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="loss 'cross_entropy' needs softmax output layers; output 'y' is linear"):
        net.gradient(X, np.ones((4, 2)), loss="cross_entropy")
    with pytest.raises(ValueError, match="unknown loss 'mae'"):
        net.gradient(X, np.ones((4, 2)), loss="mae")
    with pytest.raises(ValueError, match=r"targets for output 'y' must have shape \(4, 2\), got \(4, 3\)"):
        net.gradient(X, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"targets for output 'y' contain NaN or inf \(first at sample 1, output 0\)"):
        net.gradient(X, np.array([[0, 0], [np.nan, 0], [0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="sample_weight must be 4 finite non-negative"):
        net.gradient(X, np.ones((4, 2)), sample_weight=[1, -1, 1, 1])


def test_float32_gradient_stays_float32():
    net = mn.mlp([2, 3, 1], seed=0, dtype="float32")
    gW, gb = net.gradient(np.ones((4, 2)), np.ones((4, 1)))
    assert all(g.dtype == np.float32 for g in [*gW.values(), *gb.values()])
