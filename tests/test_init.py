import numpy as np
import pytest

import matnet as mn
from matnet import init


@pytest.mark.parametrize("method", ["glorot_uniform", "glorot_normal", "he", "he_uniform", "uniform",
                                    "nguyen_widrow"])
def test_seeded_initialisers_are_reproducible(method):
    a = mn.mlp([3, 5, 2], init=method, seed=7).get_flat()
    b = mn.mlp([3, 5, 2], init=method, seed=7).get_flat()
    c = mn.mlp([3, 5, 2], init=method, seed=8).get_flat()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generator_seed_is_used_and_global_state_untouched():
    state = np.random.get_state()[1].copy()
    mn.mlp([2, 3, 1], seed=np.random.default_rng(1))
    assert np.array_equal(state, np.random.get_state()[1])
    with pytest.raises(TypeError, match="global random state"):
        init.rng(np.random.RandomState(0))


def test_glorot_and_he_scales():
    g = np.random.default_rng(0)
    W = init.glorot_uniform((300, 200), g)
    limit = np.sqrt(6 / 500)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.95 * limit
    assert abs(init.glorot_normal((400, 400), g).std() - np.sqrt(2 / 800)) < 0.002
    assert abs(init.he_normal((400, 400), g).std() - np.sqrt(2 / 400)) < 0.003
    assert np.abs(init.he_uniform((10, 24), g)).max() <= 0.5


def test_nguyen_widrow_spreads_active_regions_over_input_range():
    S = 10
    W, b = init.nguyen_widrow(S, [[-1, 1]], (-2, 2), np.random.default_rng(0))
    magnitude = 0.7 * S  # 0.7 S^(1/R), R = 1, times the active half-width 2
    assert np.allclose(np.abs(b), 2 * magnitude * np.abs(np.linspace(-1, 1, S)))
    np.testing.assert_allclose(np.abs(W[:, 0]), 2 * magnitude)  # rows of length 0.7 S^(1/R)
    # The centres -b/w of the neurons lie inside the input range [-1, 1].
    assert np.all(np.abs(-b / W[:, 0]) <= 1 + 1e-12)


def test_nguyen_widrow_maps_input_range_and_skips_constant_inputs():
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    W, b = init.nguyen_widrow(4, [[0, 10], [5, 5]], (-2, 2), g1)
    W0, b0 = init.nguyen_widrow(4, [[-1, 1]], (-2, 2), g2)
    assert np.all(W[:, 1] == 0)
    # x in [0, 10] maps to u = x/5 - 1 in [-1, 1]: same net input as W0 u + b0.
    x = np.linspace(0, 10, 7)
    np.testing.assert_allclose(np.outer(x, W[:, 0]) + b, np.outer(x / 5 - 1, W0[:, 0]) + b0, atol=1e-12)


def test_unknown_initialiser():
    with pytest.raises(ValueError, match="unknown initialiser 'zeros'"):
        mn.mlp([2, 2], init="zeros")


def _pyrenn_like(seed):
    """[1, 2, 2, 1] with a recurrent hidden layer and output feedback, built by hand."""
    net = mn.Network(seed=seed)
    net.add_input("x", 1)
    net.add_layer("h1", 2)
    net.add_layer("h2", 2)
    net.add_layer("y", 1, "linear")
    net.connect("x", "h1", delays=[1])
    net.connect("h1", "h2")
    net.connect("h2", "y")
    net.connect("h2", "h2", delays=[1])
    net.connect("y", "h1", delays=[1, 2])
    return net


def test_loop_gain_is_the_spectral_radius_of_the_linearised_recurrence():
    net = mn.Network()
    net.add_input("x", 1)
    net.add_layer("y", 1, "linear")
    net.connect("x", "y")
    net.connect("y", "y", weight=[[1.2, -0.35]], delays=[1, 2])     # y(t) = 1.2 y(t-1) - 0.35 y(t-2)
    assert init.loop_gain(net) == pytest.approx(max(abs(np.roots([1, -1.2, 0.35]))), rel=1e-12)
    assert init.loop_gain(mn.mlp([2, 3, 1])) == 0.0


@pytest.mark.parametrize("seed", range(10))
def test_recurrent_networks_start_with_a_stable_loop(seed):
    """Drawn weights on a recurrent block often give a loop gain above one (the run grows
    from the first step); builders and connect() scale the recurrent weights down."""
    for net in [mn.layer_recurrent([1, 2], [8], seed=seed), mn.narx([1, 2], [1, 2], [10], loop="closed", seed=seed)]:
        assert init.loop_gain(net) <= init.STABLE_GAIN + 1e-9
    # connect() scales each drawn recurrent weight as it comes: the loops drawn before stay
    assert init.loop_gain(_pyrenn_like(seed)) < 0.95
    given = mn.Network()                                         # weights given by the user are kept
    given.add_input("x", 1)
    given.add_layer("y", 1, "linear")
    given.connect("x", "y")
    given.connect("y", "y", weight=[[1.5]], delays=[1])
    assert given.weights["y", "y"][0, 0] == 1.5


def test_stabilize_scales_only_the_delayed_blocks():
    net = mn.Network(seed=0)
    net.add_input("x", 1)
    net.add_layer("h", 3)
    net.connect("x", "h")
    net.add_layer("y", 1, "linear")
    net.connect("h", "y", weight=np.ones((1, 6)), delays=[0, 1])
    net.connect("y", "h", weight=np.full((3, 1), 3.0), delays=[1])
    before = np.array(net.weights["h", "y"])
    factor = init.stabilize(net)
    assert factor < 1 and init.loop_gain(net) <= init.STABLE_GAIN + 1e-9
    W = net.weights["h", "y"]
    np.testing.assert_array_equal(W[:, :3], before[:, :3])          # the delay-0 block is untouched
    np.testing.assert_allclose(W[:, 3:], before[:, 3:] * factor)


def test_loop_gain_reads_compressed_recurrent_weights():
    net = mn.Network()
    net.add_input("x", 1)
    net.add_layer("y", 2, "linear")
    net.connect("x", "y")
    W = np.array([[0.5, 0.2], [0.0, 0.3]])
    net.connect("y", "y", weight=W, delays=[1])
    dense_gain = init.loop_gain(net)
    net.weights["y", "y"] = mn.compress.Sparse.from_dense(W)
    assert init.loop_gain(net) == pytest.approx(dense_gain, rel=1e-12) == pytest.approx(0.5)
