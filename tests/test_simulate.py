import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matnet as mn
from conftest import random_dag, random_inputs
from reference import torch_forward


def test_textbook_1_2_1(textbook_net):
    # Hagan et al. ch. 11, p = 1: n1 = W1 p + b1 = [-0.75, -0.54], a1 = logsig(n1), a2 = W2 a1 + b2
    a1 = [1 / (1 + math.exp(0.75)), 1 / (1 + math.exp(0.54))]
    a2 = 0.09 * a1[0] - 0.17 * a1[1] + 0.48
    y = textbook_net(np.array([1.0]))
    assert y.shape == (1,)
    assert y[0] == pytest.approx(a2, abs=1e-15)
    assert round(y[0], 3) == 0.446


def test_textbook_3_3_3_by_hand():
    # relu hidden layer, sigmoid output; numbers worked out below by hand.
    W1 = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 2.0, 0.0]])
    b1 = np.array([0.0, -1.0, 0.5])
    W2 = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 0.0, -0.5]])
    b2 = np.array([0.0, 0.0, -1.0])
    net = mn.Network.from_matrices([W1, W2], [b1, b2], activations=["relu", "sigmoid"])
    x = np.array([1.0, 2.0, 3.0])
    # z1 = [1 - 3, 0.5+1+1.5 - 1, -1+4+0.5] = [-2, 2, 3.5]; a1 = relu = [0, 2, 3.5]
    # z2 = [0 - 2, 2 + 3.5, 0 - 1.75 - 1] = [-2, 5.5, -2.75]
    expected = [1 / (1 + math.exp(2)), 1 / (1 + math.exp(-5.5)), 1 / (1 + math.exp(2.75))]
    np.testing.assert_allclose(net(x), expected, rtol=1e-15)
    fw = net.forward(x)
    np.testing.assert_array_equal(fw.z["h1"][0], [-2, 2, 3.5])
    np.testing.assert_array_equal(fw.a["h1"][0], [0, 2, 3.5])
    np.testing.assert_array_equal(fw.z["y"][0], [-2, 5.5, -2.75])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_random_dags_match_torch_float64(seed):
    net = random_dag(seed)
    X = random_inputs(net, 7, seed)
    ours = net(X)
    ref = torch_forward(net, X)
    ours = ours if isinstance(ours, dict) else {net.outputs[0]: ours}
    for name in net.outputs:
        np.testing.assert_allclose(ours[name], ref[name].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sizes,act,out", [([5, 8, 4, 3], "tanh", "softmax"), ([3, 16, 1], "relu", "linear"),
                                           ([2, 4, 4, 2], "elu", "sigmoid")])
def test_mlps_match_torch_float32(sizes, act, out):
    net = mn.mlp(sizes, activation=act, output_activation=out, seed=1, dtype="float32")
    X = np.random.default_rng(2).normal(size=(50, sizes[0])).astype(np.float32)
    y = net(X)
    assert y.dtype == np.float32
    ref = torch_forward(net, X)["y"].numpy()
    assert ref.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_random_dags_match_torch_float32(seed):
    net = random_dag(seed, dtype="float32")
    X = random_inputs(net, 5, seed)
    ours = net(X)
    ours = ours if isinstance(ours, dict) else {net.outputs[0]: ours}
    ref = torch_forward(net, X)
    for name in net.outputs:
        assert ours[name].dtype == np.float32
        np.testing.assert_allclose(ours[name], ref[name].numpy(), rtol=1e-5, atol=1e-5)


def test_dtype_follows_the_network():
    net32 = mn.mlp([2, 3, 1], seed=0, dtype="float32")
    assert net32(np.ones((2, 2))).dtype == np.float32          # float64 input cast down
    assert net32(np.ones((2, 2), dtype=int)).dtype == np.float32
    net64 = mn.mlp([2, 3, 1], seed=0)
    assert net64(np.ones((2, 2), np.float32)).dtype == np.float64


def test_one_sample_gives_1d_and_batch_gives_2d():
    net = mn.mlp([2, 3, 4], seed=0)
    assert net([1.0, 2.0]).shape == (4,)
    assert net([[1.0, 2.0]]).shape == (1, 4)
    np.testing.assert_array_equal(net.predict([1.0, 2.0]), net([[1.0, 2.0]])[0])


def test_input_errors_name_the_input_and_shapes():
    net = mn.mlp([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"input 'x' expects 2 features per sample, got an array of shape \(5, 3\)"):
        net(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"input 'x' expects 2 features per sample, got an array of shape \(3,\)"):
        net(np.ones(3))
    with pytest.raises(ValueError, match=r"input 'x' contains NaN or inf \(first at sample 1, feature 0\)"):
        net(np.array([[1.0, 2.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="input 'x' contains NaN or inf"):
        net(np.array([[np.inf, 2.0]]))
    with pytest.raises(ValueError, match="input 'x' must be real numbers"):
        net(np.array([["a", "b"]]))


def test_several_inputs_need_a_dict():
    net = random_dag(3, n_inputs=2)
    with pytest.raises(ValueError, match="the network has inputs u0, u1; pass a dict"):
        net(np.ones((2, 2)))
    with pytest.raises(ValueError, match="missing u1"):
        net({"u0": np.ones((2, net.inputs["u0"]))})
    X = {"u0": np.ones((2, net.inputs["u0"])), "u1": np.ones((3, net.inputs["u1"]))}
    with pytest.raises(ValueError, match="different numbers of samples: u0 2, u1 3"):
        net(X)


def test_forward_keeps_every_layer():
    net = mn.mlp([2, 3, 2], seed=0)
    fw = net.forward(np.ones((4, 2)))
    assert set(fw.z) == set(fw.a) == {"h1", "y"}
    np.testing.assert_allclose(fw.a["h1"], np.tanh(fw.z["h1"]))
    np.testing.assert_allclose(fw.z["y"], fw.a["h1"] @ net.weights["h1", "y"].T + net.biases["y"])


def test_plan_is_recompiled_after_structure_change():
    net = mn.Network(seed=0)
    net.add_input("x", 2)
    net.add_layer("y", 1, "linear")
    net.connect("x", "y")
    before = net(np.ones(2))
    net.add_layer("h", 2)
    net.connect("x", "h")
    net.connect("h", "y")
    after = net(np.ones(2))
    expected = net.weights["x", "y"] @ np.ones(2) + net.weights["h", "y"] @ np.tanh(net.weights["x", "h"] @ np.ones(2)) + net.biases["y"]
    np.testing.assert_allclose(after, expected)
    assert not np.allclose(before, after)
