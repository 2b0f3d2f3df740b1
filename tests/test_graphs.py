"""Graph networks: propagation over the nodes, learned spectral filters, dropout, the GCN."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import matnet as mn
from matnet.simulate import run
from matnet.backprop import backward
from matnet.losses import evaluate as loss_evaluate


def ring(n=8, chords=((0, 4), (1, 6))):
    """A small undirected graph: a ring with chords."""
    A = np.zeros((n, n))
    for i in range(n):
        A[i, (i + 1) % n] = A[(i + 1) % n, i] = 1
    for i, j in chords:
        A[i, j] = A[j, i] = 1
    return A


def graph_net(A, kinds=("fixed", "spectral", "chebyshev"), seed=0, dtype="float64"):
    """x(3) → h(4, tanh) → y(2, linear), and x → y, with the given propagations."""
    L = mn.graphs.laplacian(A)
    make = {"fixed": lambda: mn.graphs.normalized_adjacency(A), "spectral": lambda: mn.graphs.SpectralFilter(L, 3),
            "chebyshev": lambda: mn.graphs.ChebyshevFilter(L, 2), "none": lambda: None}
    net = mn.Network(seed=seed, dtype=dtype)
    net.add_input("x", 3)
    net.add_layer("h", 4, "tanh")
    net.add_layer("y", 2, "linear")
    for (s, t), kind in zip([("x", "h"), ("h", "y"), ("x", "y")], kinds):
        net.connect(s, t, propagate=make[kind]())
    rng = np.random.default_rng(seed)
    net.theta[:] = rng.normal(scale=0.5, size=net.n_params)
    return net


def data(n=8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


# -- the matrices of a graph ---------------------------------------------------------

def test_normalized_adjacency_and_laplacian_are_their_formulas():
    A = ring()
    d = (A + np.eye(8)).sum(1)
    expected = (A + np.eye(8)) / np.sqrt(np.outer(d, d))
    np.testing.assert_allclose(mn.graphs.normalized_adjacency(A).toarray(), expected, atol=1e-15)
    d0 = A.sum(1)
    np.testing.assert_allclose(mn.graphs.laplacian(A).toarray(), np.eye(8) - A / np.sqrt(np.outer(d0, d0)),
                               atol=1e-15)
    np.testing.assert_allclose(mn.graphs.laplacian(A, normalized=False).toarray(), np.diag(d0) - A)
    lonely = np.zeros((3, 3))                  # a node without edges keeps itself only
    np.testing.assert_allclose(mn.graphs.normalized_adjacency(lonely).toarray(), np.eye(3))


def test_filters_are_the_matrices_they_name():
    A = ring()
    L = mn.graphs.laplacian(A).toarray()
    values, U = np.linalg.eigh(L)
    f = mn.graphs.SpectralFilter(L, 4)
    f.theta[:] = [0.5, -1.0, 2.0, 0.25]
    np.testing.assert_allclose(f.eigenvalues, values[:4], atol=1e-12)
    np.testing.assert_allclose(f.to_dense(), f.U @ np.diag(f.theta) @ f.U.T, atol=1e-14)
    np.testing.assert_allclose(f.U.T @ f.U, np.eye(4), atol=1e-12)
    c = mn.graphs.ChebyshevFilter(L, 3)
    c.theta[:] = [0.3, -0.2, 0.5, 0.1]
    S = 2 * L / values[-1] - np.eye(8)
    T = [np.eye(8), S, 2 * S @ S - np.eye(8), 4 * S @ S @ S - 3 * S]
    np.testing.assert_allclose(c.to_dense(), sum(t * M for t, M in zip(c.theta, T)), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10 ** 6), st.sampled_from(["fixed", "spectral", "chebyshev"]))
def test_propagation_transpose_is_the_adjoint_and_gradient_is_exact(seed, kind):
    """<P y, d> = <y, Pᵀ d> for 2-D and stacked arrays; the filter gradient is d<D, P(θ)Y>/dθ."""
    rng = np.random.default_rng(seed)
    A = ring()
    P = {"fixed": lambda: mn.graphs.Fixed(rng.normal(size=(8, 8))),
         "spectral": lambda: mn.graphs.SpectralFilter(mn.graphs.laplacian(A), 5),
         "chebyshev": lambda: mn.graphs.ChebyshevFilter(mn.graphs.laplacian(A), 3)}[kind]()
    P.theta[:] = rng.normal(size=P.n_params)
    Y, D = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    assert np.isclose(np.vdot(P.apply(Y), D), np.vdot(Y, P.transpose(D)))
    stack = rng.normal(size=(4, 8, 3))
    np.testing.assert_allclose(P.apply(stack), np.stack([P.apply(s) for s in stack]), atol=1e-12)
    np.testing.assert_allclose(P.transpose(stack), np.stack([P.transpose(s) for s in stack]), atol=1e-12)
    g = P.gradient(Y, D)
    for i in range(P.n_params):
        t = P.theta[i]
        P.theta[i] = t + 1e-6
        up = np.vdot(D, P.apply(Y))
        P.theta[i] = t - 1e-6
        down = np.vdot(D, P.apply(Y))
        P.theta[i] = t
        assert np.isclose(g[i], (up - down) / 2e-6, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(P.gradient(Y, stack), np.stack([P.gradient(Y, s) for s in stack]), atol=1e-12)


# -- one engine: forward, gradient, Jacobian -------------------------------------------

def test_graph_connection_is_P_times_X_W_transposed():
    A = ring()
    net = graph_net(A, ("fixed", "fixed", "none"))
    X, _ = data()
    P = mn.graphs.normalized_adjacency(A).toarray()
    W1, W2, W3 = (net.weights[k] for k in [("x", "h"), ("h", "y"), ("x", "y")])
    H = np.tanh(P @ X @ W1.T + net.biases["h"])
    np.testing.assert_allclose(net(X), P @ H @ W2.T + X @ W3.T + net.biases["y"], atol=1e-14)


def test_gcn_outputs_and_gradient_match_pytorch_autograd():
    A = ring()
    net = mn.gcn(A, [3, 5, 2], dropout=0.0, seed=3)
    X = np.random.default_rng(0).normal(size=(8, 3))
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    mask = np.array([1, 0, 1, 0, 0, 1, 0, 1.0])
    P = torch.tensor(mn.graphs.normalized_adjacency(A).toarray())
    Ws = [torch.tensor(net.weights[k], requires_grad=True) for k in [("x", "h1"), ("h1", "y")]]
    bs = [torch.tensor(net.biases[k], requires_grad=True) for k in ["h1", "y"]]
    H = torch.relu(P @ torch.tensor(X) @ Ws[0].T + bs[0])
    Z = P @ H @ Ws[1].T + bs[1]
    np.testing.assert_allclose(net(X), torch.softmax(Z, 1).detach().numpy(), atol=1e-14)
    m = torch.tensor(mask)
    loss = (torch.nn.functional.cross_entropy(Z, torch.tensor(labels), reduction="none") * m).sum() / m.sum()
    loss.backward()
    onehot = np.eye(2)[labels]
    g_w, g_b = mn.gradient(net, X, onehot, loss="cross_entropy", sample_weight=mask)
    for k, W in zip([("x", "h1"), ("h1", "y")], Ws):
        np.testing.assert_allclose(g_w[k], W.grad.numpy(), atol=1e-13)
    for k, b in zip(["h1", "y"], bs):
        np.testing.assert_allclose(g_b[k], b.grad.numpy(), atol=1e-13)
    assert np.isclose(mn.loss_value(net, X, onehot, loss="cross_entropy", sample_weight=mask), loss.item())


@pytest.mark.parametrize("kinds", [("fixed", "fixed", "none"), ("spectral", "chebyshev", "fixed"),
                                   ("chebyshev", "none", "spectral")])
def test_gradient_and_jacobian_match_finite_differences(kinds):
    net = graph_net(ring(), kinds)
    X, T = data()
    w = np.array([1, 0, 2, 0, 0.5, 1, 0, 1])
    # eps=1e-5: at the default 1e-6 the loss's last-bit differences between runs alone give
    # 3e-7..1.2e-6 on a gradient entry of 1e-4 (kinds[2]); at 1e-5, 4e-8 on every run
    assert mn.check_gradient(net, X, T, sample_weight=w, eps=1e-5)["max_relative_error"] < 1e-6
    J, e = mn.jacobian(net, X, T, sample_weight=w)
    nodes = np.flatnonzero(w)                 # unlabelled nodes (weight 0) have no rows
    assert J.shape == (len(nodes) * 2, net.n_params)

    def errors():
        return ((net(X) - T) * np.sqrt(w)[:, None])[nodes].ravel()
    np.testing.assert_allclose(e, errors(), atol=1e-14)
    theta, numeric = net.get_flat(), np.empty_like(J)
    for i in range(theta.size):
        net.theta[i] = theta[i] + 1e-6
        up = errors()
        net.theta[i] = theta[i] - 1e-6
        numeric[:, i] = (up - errors()) / 2e-6
        net.theta[i] = theta[i]
    np.testing.assert_allclose(J, numeric, atol=1e-8)
    # J in blocks of nodes gives the same normal equations as at once
    problem = mn.derivatives.problem_of(net, X, T, "mse", 0.0, w, None)
    whole = problem.normal_equations().compute()
    blocks = problem.normal_equations(block_size=1).compute()
    np.testing.assert_allclose(whole[0], blocks[0], atol=1e-12)
    np.testing.assert_allclose(whole[0], J.T @ J, atol=1e-12)


def test_filter_parameters_are_part_of_the_parameter_vector_and_train():
    A = ring()
    net = graph_net(A, ("spectral", "chebyshev", "none"))
    layout = [(kind, key) for kind, key, _ in net.layout()]
    assert ("P", ("x", "h")) in layout and ("P", ("h", "y")) in layout
    f = net.connections["x", "h"].propagate
    assert np.shares_memory(f.theta, net.theta)
    before = f.theta.copy()
    X, T = data()
    net.fit(X, T, algorithm="lm", division=None, scaling=None, epochs=5)
    assert not np.array_equal(before, f.theta)
    assert np.shares_memory(net.connections["x", "h"].propagate.theta, net.theta)


# -- training on the whole graph -------------------------------------------------------

@pytest.fixture(scope="module")
def karate():
    pytest.importorskip("networkx")
    return mn.datasets.karate()


def test_gcn_classifies_the_karate_club_from_four_labelled_members(karate):
    mask = np.zeros(34)
    mask[[0, 1, 32, 33]] = 1                 # the two leaders and one member of each club
    accuracies = []
    for seed in range(5):
        net = mn.gcn(karate.adjacency, [34, 4, 2], seed=seed)
        net.fit(karate.features, karate.labels, sample_weight=mask, division=None, scaling=None, epochs=200,
                seed=seed)
        accuracies.append(np.mean(net.predict_classes(karate.features) == karate.labels))
    assert np.median(accuracies) >= 0.9, accuracies


def test_unlabelled_nodes_count_for_nothing_whatever_label_they_carry(karate):
    mask = np.zeros(34)
    mask[[0, 1, 32, 33]] = 1
    other = karate.labels.copy()
    other[mask == 0] = 1 - other[mask == 0]
    unknown = np.where(mask > 0, karate.labels, -1)         # no class at all
    nets = [mn.gcn(karate.adjacency, [34, 4, 2], seed=0) for _ in range(3)]
    for net, labels in zip(nets, [karate.labels, other, unknown]):
        net.fit(karate.features, labels, sample_weight=mask, division=None, scaling=None, epochs=20, seed=0)
    np.testing.assert_array_equal(nets[0].get_flat(), nets[1].get_flat())
    np.testing.assert_array_equal(nets[0].get_flat(), nets[2].get_flat())
    assert nets[2].classes == [0, 1]


@pytest.mark.parametrize("algorithm", ["adam", "sgd", "rprop", "lbfgs", "cg", "scg", "lm", "br"])
def test_every_algorithm_trains_on_node_index_sets(karate, algorithm):
    train, val, test = np.array([0, 1, 2, 30, 32, 33]), np.array([3, 4, 28, 29]), np.arange(5, 28)
    net = mn.gcn(karate.adjacency, [34, 4, 2], dropout=0.0, seed=1)
    history = net.fit(karate.features, karate.labels, algorithm=algorithm, division=(train, val, test),
                      scaling=None, epochs=15, seed=0)
    assert history.division["train"].tolist() == train.tolist()
    losses = history.train_loss[1:]        # a minibatch method records no loss before its first epoch
    assert np.isfinite(losses).all()
    if algorithm != "br":                   # BR may trade squared errors for smaller weights (6 nodes here)
        assert losses[-1] < losses[0]


def test_a_graph_split_counts_its_own_nodes(karate):
    """Validation and test scores are the loss on their nodes of the whole graph's run."""
    train, val, test = np.arange(0, 10), np.arange(10, 20), np.arange(20, 34)
    net = mn.gcn(karate.adjacency, [34, 4, 2], dropout=0.0, seed=1)
    history = net.fit(karate.features, karate.labels, division=(train, val, test), scaling=None, epochs=3,
                      max_fail=None, seed=0)
    Y = net(karate.features)
    cross_entropy = -np.log(Y[np.arange(34), karate.labels])
    assert np.isclose(history.test_loss[-1], cross_entropy[test].mean())
    assert np.isclose(history.val_loss[-1], cross_entropy[val].mean())


def test_graph_networks_save_load_copy_and_adjacency(tmp_path):
    A = ring()
    for dtype in ("float64", "float32"):
        net = graph_net(A, ("spectral", "chebyshev", "fixed"), dtype=dtype)
        net.set_dropout("h", 0.25)
        X, _ = data()
        net.save(tmp_path / "g.npz")
        back = mn.load(tmp_path / "g.npz")
        np.testing.assert_array_equal(back(X), net(X))
        assert back.layers["h"].dropout == 0.25 and back.summary() == net.summary()
        np.testing.assert_array_equal(net.copy()(X), net(X))
        M, nodes = net.adjacency()
        assert set(nodes.propagation) == {("x", "h"), ("h", "y"), ("x", "y")}
        np.testing.assert_allclose(mn.Network.from_adjacency(M, nodes)(X), net(X), rtol=1e-6)


def test_explain_shows_each_node_reading_its_neighbours():
    A = ring()
    net = graph_net(A, ("fixed", "none", "none"))
    X, _ = data()
    text = net.explain(X, max_samples=1)
    assert "Node 1 of 8" in text and "(P[x→h] x)" in text
    P = mn.graphs.normalized_adjacency(A).toarray()
    assert np.array2string(np.round(P[0] @ X, 4), precision=4)[1:8] in text.replace("\n", " ")


def test_compressed_weights_keep_their_propagation():
    net = graph_net(ring(), ("fixed", "spectral", "none"))
    X, _ = data()
    low = mn.compress.to_low_rank(net, rank=2)
    assert low.connections["x", "h"].propagate is not None
    W = net.weights["x", "h"]
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    check = net.copy()
    check.weights["x", "h"] = (U[:, :2] * s[:2]) @ Vt[:2]
    check.weights["h", "y"] = low.weights["h", "y"].to_dense()
    np.testing.assert_allclose(low(X), check(X), atol=1e-12)


# -- dropout -------------------------------------------------------------------------

def test_dropout_drops_in_training_only_and_its_gradient_is_exact():
    net = mn.Network(seed=0)
    net.add_input("x", 5, dropout=0.2)
    net.add_layer("h", 400, "tanh", dropout=0.3)
    net.add_layer("y", 2, "linear")
    net.connect("x", "h")
    net.connect("h", "y")
    X, T = np.random.default_rng(0).normal(size=(50, 5)), np.random.default_rng(1).normal(size=(50, 2))
    trace = run(net, {("x", "h"): X}, (50, 1), dropout=np.random.default_rng(7))
    mask, kept = trace.dropped["h"]
    assert abs(np.mean(mask == 0) - 0.3) < 0.01 and set(np.unique(mask)) == {0.0, 1 / 0.7}
    np.testing.assert_allclose(trace.a["h"], kept * mask)
    np.testing.assert_array_equal(net(X), net(X))          # prediction never drops
    Xd = trace.x["x", "h"]                                 # the input dropped too
    assert abs(np.mean(Xd == 0) - 0.2) < 0.03
    np.testing.assert_allclose(kept, np.tanh(Xd @ net.weights["x", "h"].T + net.biases["h"]))

    def loss(theta, need=False):
        net.theta[:] = theta
        tr = run(net, {("x", "h"): X}, (50, 1), dropout=np.random.default_rng(7))     # the same masks
        value, deltas = loss_evaluate("mse", net, {"y": tr.z["y"]}, {"y": tr.a["y"]}, {"y": T}, None, None, need)
        return value, (backward(net, tr, deltas) if need else None)
    theta = net.get_flat()
    _, g = loss(theta, True)
    for i in np.random.default_rng(0).choice(theta.size, 40, replace=False):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        assert np.isclose(g[i], (loss(theta + e)[0] - loss(theta - e)[0]) / 2e-6, rtol=1e-5, atol=1e-9)


def test_dropout_training_is_seeded():
    X, T = np.random.default_rng(0).normal(size=(60, 3)), np.random.default_rng(1).normal(size=(60, 1))
    nets = []
    for _ in range(2):
        net = mn.mlp([3, 8, 1], seed=0)
        net.set_dropout("h1", 0.5)
        net.fit(X, T, epochs=5, seed=4)
        nets.append(net.get_flat())
    np.testing.assert_array_equal(*nets)


# -- clear errors ----------------------------------------------------------------------

def test_errors_name_what_is_wrong(karate):
    A = ring()
    net = mn.gcn(A, [3, 4, 2], seed=0)
    X = np.zeros((8, 3))
    labels = np.zeros(8, int)
    with pytest.raises(ValueError, match="batch_size does not apply"):
        net.fit(X, labels, batch_size=4)
    with pytest.raises(ValueError, match=r"W\[x→h1\] propagates over a graph of 8 nodes; the data has 5 rows"):
        net(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"'x' has dropout.*'lm'.*set_dropout\('x', 0\)"):
        net.fit(X, labels, algorithm="lm")
    with pytest.raises(ValueError, match="takes no delays"):
        net.connect("x", "y", delays=[1], propagate=mn.graphs.normalized_adjacency(A))
    with pytest.raises(ValueError, match="graph has 8"):
        net.connect("x", "y", propagate=np.eye(5))
    with pytest.raises(ValueError, match="must be square"):
        net.connect("x", "y", propagate=np.ones((8, 5)))
    with pytest.raises(ValueError, match=r"k must be an integer in 1\.\.8"):
        mn.graphs.SpectralFilter(mn.graphs.laplacian(A), 9)
    with pytest.raises(ValueError, match="symmetric"):
        mn.graphs.ChebyshevFilter(np.triu(np.ones((4, 4))), 2)
    with pytest.raises(ValueError, match="probability in"):
        mn.Network().add_layer("h", 2, dropout=1.0)
    out = mn.mlp([2, 3, 1])
    out.set_dropout("y", 0.5)
    with pytest.raises(ValueError, match="output layer 'y' has dropout"):
        out(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="graph network"):
        mn.export.to_python(net, "/tmp/never.py")
    with pytest.raises(ValueError, match="graph network"):
        mn.interop.to_torch(net)
    with pytest.raises(ValueError, match="input sensitivities"):
        mn.analysis.input_jacobian(net, X)


def test_graph_networks_with_restarts_quantisation_and_pruning(karate):
    mask = np.zeros(34)
    mask[[0, 1, 32, 33]] = 1
    net = mn.gcn(karate.adjacency, [34, 4, 2], seed=0)
    history = net.fit(karate.features, karate.labels, sample_weight=mask, division=None, scaling=None, epochs=100,
                      seed=0, restarts=3)
    assert len(history.restart_scores) == 3 and net.connections["x", "h1"].propagate is not None
    accuracy = np.mean(net.predict_classes(karate.features) == karate.labels)
    q = mn.compress.quantize(net, bits=8, calibration=karate.features)
    assert np.mean(q.predict_classes(karate.features) == karate.labels) >= accuracy - 0.03
    pruned = mn.compress.prune(net, 0.5)
    assert pruned.connections["h1", "y"].propagate is not None
