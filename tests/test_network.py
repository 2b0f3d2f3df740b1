import numpy as np
import pytest

import matnet as mn


def test_mlp_names_shapes_and_flat_order():
    net = mn.mlp([4, 5, 3, 2], seed=0)
    assert list(net.inputs) == ["x"] and list(net.layers) == ["h1", "h2", "y"]
    assert net.outputs == ["y"]
    assert {k: v.shape for k, v in net.weights.items()} == {
        ("x", "h1"): (5, 4), ("h1", "h2"): (3, 5), ("h2", "y"): (2, 3)}
    assert net.n_params == 5 * 4 + 5 + 3 * 5 + 3 + 2 * 3 + 2
    flat = net.get_flat()
    expected = np.concatenate([net.weights["x", "h1"].ravel(), net.biases["h1"],
                               net.weights["h1", "h2"].ravel(), net.biases["h2"],
                               net.weights["h2", "y"].ravel(), net.biases["y"]])
    assert np.array_equal(flat, expected)
    assert net.layers["h1"].activation.name == "tanh" and net.layers["y"].activation.name == "linear"


def test_weights_and_biases_are_live_views():
    net = mn.mlp([2, 3, 1], seed=0)
    W = net.weights["x", "h1"]
    W[0, 0] = 5.0
    assert net.get_flat()[0] == 5.0
    net.weights["x", "h1"] = np.ones((3, 2))
    assert np.all(W == 1)  # same array, new values
    net.biases["h1"][:] = 2
    y1 = net([0.0, 0.0])
    np.testing.assert_allclose(y1, net.weights["h1", "y"] @ np.tanh([2, 2, 2]) + net.biases["y"])
    v = np.arange(net.n_params, dtype=float)
    net.set_flat(v)
    assert np.array_equal(net.get_flat(), v) and W[0, 0] == 0 and W[0, 1] == 1


def test_get_flat_is_a_copy_and_set_flat_checks_length():
    net = mn.mlp([2, 3, 1], seed=0)
    flat = net.get_flat()
    flat[:] = 0
    assert np.any(net.get_flat() != 0)
    with pytest.raises(ValueError, match=r"must have shape \(13,\), got \(12,\)"):
        net.set_flat(np.zeros(12))


def test_assigning_wrong_shape_names_the_weight_and_both_shapes():
    net = mn.mlp([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"W\[x→h1\] must have shape \(3, 2\), got \(2, 3\)"):
        net.weights["x", "h1"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"b\[h1\] must have shape \(3,\), got \(4,\)"):
        net.biases["h1"] = np.zeros(4)
    with pytest.raises(KeyError, match=r"no W\[x→y\] in this network"):
        net.weights["x", "y"]


def test_connect_with_wrong_weight_shape():
    net = mn.Network()
    net.add_input("x", 2)
    net.add_layer("h", 3)
    with pytest.raises(ValueError, match=r"W\[x→h\] must have shape \(3, 2\) .*got \(2, 3\)"):
        net.connect("x", "h", np.zeros((2, 3)))


def test_from_matrices_requires_chaining_shapes():
    W1, W2 = np.ones((3, 2)), np.ones((1, 4))
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(1, 4\) but weights\[0\] has shape \(3, 2\)"):
        mn.Network.from_matrices([W1, W2])
    with pytest.raises(ValueError, match=r"biases\[0\] must have shape \(3,\)"):
        mn.Network.from_matrices([W1], [np.ones(2)])


def test_from_matrices_dtype_and_biases():
    W1 = np.ones((3, 2), np.float32)
    net = mn.Network.from_matrices([W1, np.ones((1, 3), np.float32)])
    assert net.dtype == np.float32 and len(net.biases) == 0
    net = mn.Network.from_matrices([W1, np.ones((1, 3))], [None, [1.0]], activations="relu")
    assert net.dtype == np.float64 and list(net.biases) == ["y"]
    assert all(l.activation.name == "relu" for l in net.layers.values())


def test_zero_delay_cycle_is_rejected_with_the_cycle_named():
    net = mn.Network()
    net.add_input("x", 1)
    for name in "abc":
        net.add_layer(name, 2)
    net.connect("x", "a")
    net.connect("a", "b")
    net.connect("b", "c")
    with pytest.raises(mn.CycleError, match="W\\[c→a\\] with delay 0 would close the cycle c → a → b → c"):
        net.connect("c", "a")
    with pytest.raises(mn.CycleError, match="cycle b → b"):
        net.connect("b", "b")
    assert ("c", "a") not in net.connections


def test_structure_errors():
    net = mn.Network()
    net.add_input("x", 2)
    with pytest.raises(ValueError, match="name 'x' is already used by an input"):
        net.add_layer("x", 3)
    with pytest.raises(ValueError, match="layer 'h' size must be a positive integer, got 0"):
        net.add_layer("h", 0)
    with pytest.raises(ValueError, match="unknown activation 'tanhh'"):
        net.add_layer("h", 2, activation="tanhh")
    net.add_layer("h", 2)
    with pytest.raises(ValueError, match="unknown source 'z'"):
        net.connect("z", "h")
    with pytest.raises(ValueError, match="an input receives no connections 'x'"):
        net.connect("h", "x")
    net.connect("x", "h")
    with pytest.raises(ValueError, match=r"W\[x→h\] already exists"):
        net.connect("x", "h")
    with pytest.raises(ValueError, match="name must be a non-empty string without '/'"):
        net.add_layer("a/b", 1)
    with pytest.raises(ValueError, match="output 'q' is not a layer"):
        net.outputs = ["q"]
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        mn.Network(dtype="int32")


def test_dag_with_several_inputs_and_outputs():
    net = mn.Network(seed=0)
    net.add_input("u", 2)
    net.add_input("v", 1)
    net.add_layer("h", 3)
    net.add_layer("y1", 1, "linear")
    net.add_layer("y2", 2, "softmax")
    net.connect("u", "h")
    net.connect("v", "h")
    net.connect("h", "y1")
    net.connect("u", "y1")          # skip connection
    net.connect("h", "y2")
    assert net.outputs == ["y1", "y2"]
    net.outputs = ["y2", "y1"]
    out = net({"u": np.ones((4, 2)), "v": np.zeros((4, 1))})
    assert list(out) == ["y2", "y1"] and out["y2"].shape == (4, 2) and out["y1"].shape == (4, 1)


def test_copy_and_astype():
    net = mn.mlp([2, 3, 1], seed=0)
    c = net.copy()
    c.weights["x", "h1"][:] = 0
    assert np.any(net.weights["x", "h1"] != 0)
    f = net.astype("float32")
    assert f.dtype == np.float32 and f.get_flat().dtype == np.float32
    np.testing.assert_allclose(f.get_flat(), net.get_flat(), rtol=1e-7)


def test_repr_and_summary():
    net = mn.mlp([2, 3, 1], seed=0)
    assert "n_params=13" in repr(net)
    assert "W[x→h1]              (3, 2)" in net.summary()


from hypothesis import given, settings, strategies as st  # noqa: E402

from conftest import random_dag  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["float32", "float64"]))
def test_flat_vector_round_trip(seed, dtype):
    net = random_dag(seed, dtype=dtype)
    theta = net.get_flat()
    assert theta.dtype == np.dtype(dtype) and theta.shape == (net.n_params,)
    v = np.random.default_rng(seed).normal(size=net.n_params).astype(dtype)
    net.set_flat(v)
    assert net.get_flat().tobytes() == v.tobytes()
    # the views see the new values, laid out as documented: per layer its weights, then its bias
    start = 0
    for name in net.topological_order():
        for c in net.incoming(name):
            W = net.weights[c.key]
            assert np.array_equal(W.ravel(), v[start:start + W.size])
            start += W.size
        if name in net.biases:
            assert np.array_equal(net.biases[name], v[start:start + net.layers[name].size])
            start += net.layers[name].size
    assert start == net.n_params
    net.set_flat(theta)
    assert net.get_flat().tobytes() == theta.tobytes()


def test_a_seeded_network_draws_the_same_weights_after_building_copying_and_closing_the_loop():
    def grown(seed):
        net = mn.narx([0], [1, 2], [2, 2], loop="closed", seed=seed)   # closing the loop rebuilds it
        net.connect("h1", "h1", delays=[1])                            # drawn after building
        return net.copy()
    a, b = grown(3), grown(3)
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())
    assert not np.array_equal(a.get_flat(), grown(4).get_flat())
    same = mn.mlp([2, 3, 1], seed=5)
    same.add_layer("extra", 2)
    same.connect("y", "extra")
    other = mn.mlp([2, 3, 1], seed=5)
    other.add_layer("extra", 2)
    other.connect("y", "extra")
    np.testing.assert_array_equal(same.weights["y", "extra"], other.weights["y", "extra"])
