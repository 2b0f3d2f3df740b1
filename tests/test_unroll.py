"""A recurrent network unrolled in time: the static network on its acyclic graph, with shared weights."""
import numpy as np
import pytest

import matnet as mn


def recurrent_nets():
    closed = mn.narx([1, 2], [1, 2], [3], seed=0).closed_loop()
    closed.add_layer("z", 2, "tanh")
    closed.connect("h1", "z")
    closed.connect("z", "h1", delays=[1, 2])
    closed.outputs = ["y"]
    two = mn.layer_recurrent([1, 2], [3, 2], n_inputs=2, n_outputs=2, seed=1)
    return {"closed-loop NARX": closed, "layer recurrent": two,
            "time delay": mn.timedelay([0, 1, 3], [4], n_inputs=2, seed=2)}


def series(net, n_series=3, n_steps=6, seed=0):
    rng = np.random.default_rng(seed)
    net.theta[:] = rng.normal(scale=0.7, size=net.n_params)
    U = rng.normal(size=(n_series, n_steps, net.inputs["x"]))
    T = rng.normal(size=(n_series, n_steps, net.layers[net.outputs[0]].size))
    return U, T


def step_inputs(U):
    return {f"x@{t + 1}": U[:, t] for t in range(U.shape[1])}


@pytest.mark.parametrize("kind", list(recurrent_nets()))
def test_unrolled_outputs_equal_the_simulation(kind):
    """Equal to rounding: the recurrent run sums a layer's delayed terms in one product
    over its stacked past values, the unrolled network one product per connection."""
    net = recurrent_nets()[kind]
    U, _ = series(net)
    Y, _ = net.simulate(U)
    unrolled = net.unroll(U.shape[1])
    out = unrolled(step_inputs(U))
    for t in range(U.shape[1]):
        np.testing.assert_allclose(out[f"y@{t + 1}"], Y[:, t], rtol=1e-14, atol=1e-15)
    assert unrolled.n_params == net.n_params               # shared weights are held once
    assert not unrolled.is_dynamic


def _block_columns(net, unrolled):
    """Pairs (columns in net, columns in unrolled) of every weight block and bias."""
    p, q = mn.simulate.plan(net), mn.simulate.plan(unrolled)
    pairs = []
    for c in net.connections.values():
        size = net.size_of(c.source)
        W = p.columns[("W", c.key)]
        cols = np.arange(W.start, W.stop).reshape(net.layers[c.target].size, -1)
        for j, d in enumerate(c.delays):
            key = (f"{c.source}@1", f"{c.target}@{1 + d}")
            pairs.append((cols[:, j * size:(j + 1) * size].ravel(), np.arange(q.columns[("W", key)].start,
                                                                              q.columns[("W", key)].stop)))
    for name in net.biases:
        pairs.append((np.arange(p.columns[("b", name)].start, p.columns[("b", name)].stop),
                      np.arange(q.columns[("b", f"{name}@1")].start, q.columns[("b", f"{name}@1")].stop)))
    return pairs


@pytest.mark.parametrize("kind", list(recurrent_nets()))
def test_unrolled_gradient_and_jacobian_are_those_of_back_propagation_through_time(kind):
    net = recurrent_nets()[kind]
    U, T = series(net)
    n = U.shape[1]
    unrolled = net.unroll(n)
    zeros = {k: np.zeros((U.shape[0], d, net.size_of(k))) for k, d in net.max_delays().items() if d}
    targets = {f"y@{t + 1}": T[:, t] for t in range(n)}
    g = mn.derivatives.gradient(net, U, T, loss="sse", initial=zeros)
    h = mn.derivatives.gradient(unrolled, step_inputs(U), targets, loss="sse")
    J, e = mn.jacobian(net, U, T, initial=zeros)
    Ju, eu = mn.jacobian(unrolled, step_inputs(U), targets)
    np.testing.assert_allclose(eu, e, atol=1e-14)            # rows (series, step, output) in both
    for original, copies in _block_columns(net, unrolled):
        np.testing.assert_allclose(Ju[:, copies], J[:, original], atol=1e-12)
    for c in net.connections.values():
        size = net.size_of(c.source)
        for j, d in enumerate(c.delays):
            if d < n:
                np.testing.assert_allclose(h[0][f"{c.source}@1", f"{c.target}@{1 + d}"],
                                           g[0][c.key][:, j * size:(j + 1) * size], atol=1e-12)
    for name in net.biases:
        np.testing.assert_allclose(h[1][f"{name}@1"], g[1][name], atol=1e-12)


def test_unrolled_weights_show_each_shared_matrix_once_and_the_graph_is_acyclic_in_time():
    net = mn.layer_recurrent([1], [3], seed=0)
    unrolled = net.unroll(4)
    assert list(unrolled.weights) == [("x@1", "h1@1"), ("h1@1", "y@1"), ("h1@1", "h1@2")]
    assert unrolled.shared["W", ("h1@3", "h1@4")] == ("W", ("h1@1", "h1@2"))
    assert unrolled.weights["x@3", "h1@3"] is unrolled.weights["x@1", "h1@1"]
    assert "= W[h1@1→h1@2]" in unrolled.summary()
    A, nodes = unrolled.adjacency()
    A = A.tocoo()
    layer_nodes = [i for i, node in enumerate(nodes) if node.kind == "layer"]
    inner = np.isin(A.row, layer_nodes) & np.isin(A.col, layer_nodes)
    assert inner.any() and np.all(A.col[inner] < A.row[inner])  # block lower-triangular
    steps = [int(nodes[i].layer.split("@")[1]) for i in A.row[inner]]
    sources = [int(nodes[j].layer.split("@")[1]) for j in A.col[inner]]
    assert all(s <= t for s, t in zip(sources, steps))
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    fig = mn.plot.adjacency(unrolled)
    assert fig is not None


def test_unrolled_networks_train_save_and_load(tmp_path):
    net = mn.layer_recurrent([1], [3], seed=0)
    U, T = series(net, n_series=20, n_steps=5)
    unrolled = net.unroll(5)
    X, targets = step_inputs(U), {f"y@{t + 1}": T[:, t] for t in range(5)}
    unrolled.fit(X, targets, algorithm="lm", epochs=3, division=None, scaling=None)
    unrolled.save(tmp_path / "u.npz")
    back = mn.load(tmp_path / "u.npz")
    assert back.shared == unrolled.shared and back.n_params == unrolled.n_params
    for k, v in unrolled(X).items():
        np.testing.assert_array_equal(back(X)[k], v)
    copy = unrolled.copy()
    assert copy.shared == unrolled.shared


def test_share_errors_are_clear():
    net = mn.mlp([2, 3, 3, 1])
    with pytest.raises(ValueError, match="need the same shape"):
        net.share(("x", "h1"), ("h1", "h2"))
    with pytest.raises(ValueError, match="its own parameter"):
        net.share(("h1", "h2"), ("h1", "h2"))
    with pytest.raises(ValueError, match="a bias with a bias"):
        net.share("h1", ("h1", "h2"))
    with pytest.raises(KeyError, match="no b"):
        net.share("h1", "nope")
    with pytest.raises(ValueError, match="positive integer"):
        net.unroll(0)
    net.share("h2", "h1")
    assert net.n_params == 2 * 3 + 3 + 3 * 3 + 3 * 1 + 1
    np.testing.assert_array_equal(net.biases["h2"], net.biases["h1"])


def test_a_shared_weight_may_be_compressed_and_stays_shared(tmp_path):
    net = mn.layer_recurrent([1], [6], seed=0)
    U, T = series(net, n_steps=4)
    unrolled = net.unroll(4)
    low = mn.compress.to_low_rank(unrolled, rank=2, connections=[("h1@1", "h1@2")])
    assert low.weights["h1@3", "h1@4"] is low.weights["h1@1", "h1@2"]
    assert low.weights["h1@1", "h1@2"].kind == "lowrank"
    assert low.n_params == unrolled.n_params - 36 + 2 * (6 + 6)
    X, targets = step_inputs(U), {f"y@{t + 1}": T[:, t] for t in range(4)}
    assert mn.check_gradient(low, X, targets)["max_relative_error"] < 1e-6
    low.save(tmp_path / "low.npz")
    back = mn.load(tmp_path / "low.npz")
    for k, v in low(X).items():
        np.testing.assert_array_equal(back(X)[k], v)
