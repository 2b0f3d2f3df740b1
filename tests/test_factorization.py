"""Index inputs (embeddings), product layers, fixed connections and the factorisation builders."""
import numpy as np
import pytest
import torch

import matnet as mn


def indices(n=12, n_users=7, n_items=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_users, n), rng.integers(0, n_items, n), rng.normal(size=(n, 1))


def one_hot_twin(net):
    """The same network with float one-hot inputs in place of its index inputs."""
    twin = mn.Network()
    for name, size in net.inputs.items():
        twin.add_input(name, size)
    for layer in net.layers.values():
        twin.add_layer(layer.name, layer.size, layer.activation, layer.bias, combine=layer.combine)
    for c in net.connections.values():
        twin.connect(c.source, c.target, net.weights[c.key], trainable=c.trainable)
    for name, b in net.biases.items():
        twin.biases[name] = b
    twin.outputs = net.outputs
    return twin


def test_an_index_input_is_the_weight_times_a_one_hot_vector():
    net = mn.factorization.nnmf(7, 5, 3, 4, [6], seed=1)
    u, i, r = indices()
    twin = one_hot_twin(net)
    X, H = {"user": u, "item": i}, {"user": np.eye(7)[u], "item": np.eye(5)[i]}
    np.testing.assert_allclose(net(X), twin(H), atol=1e-14)
    gw, gb = mn.gradient(net, X, r)
    tw, tb = mn.gradient(twin, H, r)
    for key in gw:
        np.testing.assert_allclose(gw[key], tw[key], atol=1e-13)
    J, e = mn.jacobian(net, X, r)
    Jt, et = mn.jacobian(twin, H, r)
    np.testing.assert_allclose(J, Jt, atol=1e-13)
    np.testing.assert_allclose(e, et, atol=1e-14)


def test_product_layer_matches_pytorch_autograd():
    net = mn.Network(seed=0)
    for name, size in (("a", 3), ("b", 4), ("c", 2)):
        net.add_input(name, size)
    net.add_layer("p", 5, "tanh", combine="product")
    net.add_layer("y", 2, "linear")
    for source in "abc":
        net.connect(source, "p")
    net.connect("p", "y")
    net.biases["p"] = np.linspace(-1, 1, 5)
    rng = np.random.default_rng(0)
    X = {k: rng.normal(size=(6, net.inputs[k])) for k in "abc"}
    T = rng.normal(size=(6, 2))
    tw = {k: torch.tensor(net.weights[k, "p"], requires_grad=True) for k in "abc"}
    bp = torch.tensor(net.biases["p"], requires_grad=True)
    Wy, by = (torch.tensor(v, requires_grad=True) for v in (net.weights["p", "y"], net.biases["y"]))
    terms = [torch.tensor(X[k]) @ tw[k].T for k in "abc"]
    Z = bp + terms[0] * terms[1] * terms[2]
    Y = torch.tanh(Z) @ Wy.T + by
    np.testing.assert_allclose(net(X), Y.detach().numpy(), atol=1e-14)
    ((Y - torch.tensor(T)) ** 2).mean().backward()
    gw, gb = mn.gradient(net, X, T)
    for k in "abc":
        np.testing.assert_allclose(gw[k, "p"], tw[k].grad.numpy(), atol=1e-13)
    np.testing.assert_allclose(gb["p"], bp.grad.numpy(), atol=1e-13)
    np.testing.assert_allclose(gw["p", "y"], Wy.grad.numpy(), atol=1e-13)
    assert mn.check_gradient(net, X, T)["max_relative_error"] < 1e-6
    J, _ = mn.jacobian(net, X, T)
    theta, numeric = net.get_flat(), np.empty_like(J)
    for j in range(theta.size):
        net.theta[j] = theta[j] + 1e-6
        up = (net(X) - T).ravel()
        net.theta[j] = theta[j] - 1e-6
        numeric[:, j] = (up - (net(X) - T).ravel()) / 2e-6
        net.theta[j] = theta[j]
    np.testing.assert_allclose(J, numeric, atol=1e-8)


@pytest.mark.parametrize("algorithm", ["adam", "lbfgs", "lm", "br"])
def test_a_fixed_connection_keeps_its_weight(algorithm):
    u, i, r = indices(40)
    net = mn.factorization.biased_mf(7, 5, 3, seed=0)
    net.fit({"user": u, "item": i}, r, algorithm=algorithm, epochs=5, division=None, seed=0)
    np.testing.assert_array_equal(net.weights["uv", "r"], np.ones((1, 3)))
    mn.init.initialize(net, "nguyen_widrow", seed=1)
    np.testing.assert_array_equal(net.weights["uv", "r"], np.ones((1, 3)))
    g, _ = mn.gradient(net, {"user": u, "item": i}, r)       # still a derivative like any other
    assert np.abs(g["uv", "r"]).max() > 0


def test_pmf_is_the_dot_product_of_its_factors():
    net = mn.factorization.pmf(7, 5, 3, seed=2)
    u, i, _ = indices()
    P, Q = net.weights["user", "uv"].T, net.weights["item", "uv"].T
    np.testing.assert_allclose(net({"user": u, "item": i})[:, 0], np.sum(P[u] * Q[i], axis=1), atol=1e-14)
    b = mn.factorization.biased_mf(7, 5, 3, seed=2)
    b.weights["user", "r"] = np.arange(7)[None, :]
    b.weights["item", "r"] = 10 * np.arange(5)[None, :]
    b.biases["r"] = 100
    P, Q = b.weights["user", "uv"].T, b.weights["item", "uv"].T
    np.testing.assert_allclose(b({"user": u, "item": i})[:, 0], 100 + u + 10 * i + np.sum(P[u] * Q[i], axis=1),
                               atol=1e-12)


@pytest.fixture(scope="module")
def small_ratings():
    return mn.datasets.ratings(n_users=60, n_items=40, n_ratings=1500, rank=3, noise=0.3, seed=0, n_folds=5)


@pytest.mark.parametrize("build", [lambda: mn.factorization.biased_mf(60, 40, 3, seed=0),
                                   lambda: mn.factorization.nnmf(60, 40, 3, 6, [8], seed=0)])
def test_factorisations_predict_held_out_ratings_better_than_the_mean(small_ratings, build):
    train, test = small_ratings.folds[0]
    net = build()
    net.fit({"user": train.user, "item": train.item}, train.rating, epochs=60, lr=0.01, l2=1e-3,
            division=(0.9, 0.1, 0), seed=0)
    baseline = np.sqrt(np.mean((test.rating - train.rating.mean()) ** 2))
    assert mn.factorization.rmse(net, test) < 0.9 * baseline


def test_factorisations_save_load_and_summary(tmp_path):
    net = mn.factorization.nnmf(7, 5, 3, 4, [6], seed=3)
    u, i, _ = indices()
    net.save(tmp_path / "mf.npz")
    back = mn.load(tmp_path / "mf.npz")
    np.testing.assert_array_equal(back({"user": u, "item": i}), net({"user": u, "item": i}))
    assert back.summary() == net.summary() and "(indices)" in net.summary() and "product" in net.summary()
    b = mn.factorization.biased_mf(7, 5, 3)
    b.save(tmp_path / "b.npz")
    assert not mn.load(tmp_path / "b.npz").connections["uv", "r"].trainable


def test_index_input_errors_are_clear():
    net = mn.factorization.pmf(7, 5, 3)
    with pytest.raises(ValueError, match=r"index input 'user' takes indices 0 \.\. 6, got 7"):
        net({"user": np.array([7]), "item": np.array([0])})
    with pytest.raises(ValueError, match="takes one integer per sample"):
        net({"user": np.array([0.5]), "item": np.array([0])})
    with pytest.raises(ValueError, match="takes no delays"):
        net.connect("user", "r", delays=[1])
    with pytest.raises(ValueError, match="cannot have dropout"):
        mn.Network().add_input("u", 3, index=True, dropout=0.5)
    with pytest.raises(ValueError, match="combine of layer 'p' must be"):
        mn.Network().add_layer("p", 2, combine="max")
    low = mn.compress.to_low_rank(net, rank=1, connections=[("user", "uv")])
    with pytest.raises(ValueError, match=r"W\[user→uv\] reads the index input 'user': its weight must be dense"):
        low({"user": np.array([0]), "item": np.array([0])})
    rec = mn.layer_recurrent(1, [3])
    with pytest.raises(ValueError, match="product layer 'p'"):
        rec.add_layer("p", 2, combine="product")
        rec.connect("h1", "p")
        rec.simulate(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="no derivative"):
        mn.analysis.input_jacobian(net, {"user": np.array([0]), "item": np.array([0])})


def test_biased_mf_matches_pytorch_autograd():
    rng = np.random.default_rng(0)
    net = mn.factorization.biased_mf(7, 5, 3, seed=0)
    net.theta[:] = rng.normal(size=net.n_params)
    net.weights["uv", "r"] = 1
    u, i, r = indices(20)
    P, Q = (torch.tensor(net.weights[k, "uv"].T.copy(), requires_grad=True) for k in ("user", "item"))
    b, c = (torch.tensor(net.weights[k, "r"][0].copy(), requires_grad=True) for k in ("user", "item"))
    mu = torch.tensor(net.biases["r"].copy(), requires_grad=True)
    y = mu + b[u] + c[i] + (P[u] * Q[i]).sum(1)
    np.testing.assert_allclose(net({"user": u, "item": i})[:, 0], y.detach().numpy(), atol=1e-14)
    ((y - torch.tensor(r[:, 0])) ** 2).mean().backward()
    gw, gb = mn.gradient(net, {"user": u, "item": i}, r)
    np.testing.assert_allclose(gw["user", "uv"], P.grad.numpy().T, atol=1e-14)
    np.testing.assert_allclose(gw["item", "uv"], Q.grad.numpy().T, atol=1e-14)
    np.testing.assert_allclose(gw["user", "r"][0], b.grad.numpy(), atol=1e-14)
    np.testing.assert_allclose(gw["item", "r"][0], c.grad.numpy(), atol=1e-14)
    np.testing.assert_allclose(gb["r"], mu.grad.numpy(), atol=1e-14)
