"""Training on Dask arrays chunked by rows (matnet.train.chunked): the same weights and
History as in memory, on a two-process local cluster, without the data on the client."""
import tracemalloc

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is not installed")
distributed = pytest.importorskip("distributed", reason="distributed is not installed")

import dask  # noqa: E402

import matnet as mn  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each on the loopback interface."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1")
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def regression(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    T = np.sin(X[:, :1]) * np.cos(X[:, 1:2]) + 0.1 * X[:, 2:] + 0.01 * rng.normal(size=(n, 1))
    return X, T


def chunked(a, rows=150, client=None):
    """``a`` as a Dask array of ``rows`` rows per chunk, kept on the cluster's workers
    when a client is given (otherwise every pass would send it from the client)."""
    a = da.from_array(a, chunks=(rows,) + a.shape[1:])
    return a if client is None else client.persist(a)


def assert_same_history(h1, h2):
    assert (h1.epochs, h1.stop_reason, h1.best_epoch) == (h2.epochs, h2.stop_reason, h2.best_epoch)
    for key in ("train_loss", "val_loss", "test_loss", "train_metric", "val_metric", "test_metric", "grad_norm"):
        np.testing.assert_allclose(getattr(h1, key), getattr(h2, key), **TOL, err_msg=key)


def fit_both(client, make, X, T, rows=150, **options):
    """``(dask net, its History, numpy net, its History)``, the NumPy fit on the rows
    of the Dask fit's division."""
    on_dask, in_memory = make(), make()
    h1 = on_dask.fit(chunked(X, rows, client), chunked(T, rows, client), progress=False, **options)
    division = options.pop("division", (0.7, 0.15, 0.15))
    rows_of = tuple(np.asarray(h1.division[k]) for k in ("train", "val", "test"))
    h2 = in_memory.fit(X, T, progress=False, division=None if division is None else rows_of, **options)
    return on_dask, h1, in_memory, h2


def with_fixed_skip():
    """3-6-1 tanh with a connection x -> y that training does not change."""
    net = mn.Network(seed=0)
    net.add_input("x", 3)
    net.add_layer("h1", 6, "tanh")
    net.add_layer("y", 1, "linear")
    net.connect("x", "h1")
    net.connect("h1", "y")
    net.connect("x", "y", np.array([[0.3, -0.2, 0.1]]), trainable=False)
    net.outputs = ["y"]
    return net


@pytest.mark.parametrize("algorithm", ["lm", "br"])
def test_jacobian_methods_give_the_weights_of_numpy(client, algorithm):
    X, T = regression()
    net1, h1, net2, h2 = fit_both(client, with_fixed_skip, X, T, algorithm=algorithm, division=None, epochs=12,
                                  seed=0)
    np.testing.assert_array_equal(net1.weights[("x", "y")], [[0.3, -0.2, 0.1]])
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)
    if algorithm == "br":
        np.testing.assert_allclose(h1.gamma, h2.gamma, **TOL)
    assert [len(h1.division[k]) for k in ("train", "val", "test")] == [1200, 0, 0]


def test_division_by_chunks_matches_numpy_on_the_same_rows(client):
    X, T = regression()
    net1, h1, net2, h2 = fit_both(client, lambda: mn.mlp([3, 6, 1], seed=0), X, T, algorithm="lm", epochs=12, seed=3)
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)                 # validation and test losses included
    rows = [np.asarray(h1.division[k]) for k in ("train", "val", "test")]
    assert [len(r) for r in rows] == [900, 150, 150]     # 8 chunks: 6, 1, 1
    for r in rows:                              # whole chunks of 150 rows
        whole = [np.arange(150 * c, 150 * c + 150) for c in np.unique(r // 150)]
        np.testing.assert_array_equal(r, np.concatenate(whole))
    assert np.array_equal(np.sort(np.concatenate(rows)), np.arange(1200))
    for name, key in (("x", "input_scaling"), ("y", "output_scaling")):
        a, b = getattr(net1, key)[name], getattr(net2, key)[name]
        assert a.kind == b.kind == "minmax" and all(np.array_equal(u, v) for u, v in zip(a.arrays().values(),
                                                                                          b.arrays().values()))


def test_softmax_classifier_on_labels_with_lm(client):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 2))
    labels = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    make = lambda: mn.mlp([2, 5, 3], output_activation="softmax", seed=0)  # noqa: E731
    net1, h1, net2, h2 = fit_both(client, make, X, labels, algorithm="lm", division=None, epochs=8, seed=0)
    assert net1.classes == net2.classes == ["a", "b", "c"]
    assert h1.metric == "accuracy" and h1.train_metric[-1] > 0.9
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)


def test_sample_weight_and_standard_scaling(client):
    X, T = regression(seed=2)
    w = np.random.default_rng(3).uniform(0, 2, size=len(X))
    net1, net2 = mn.mlp([3, 6, 1], seed=0), mn.mlp([3, 6, 1], seed=0)
    options = dict(algorithm="lm", division=None, epochs=10, seed=0, scaling="standard", progress=False)
    h1 = net1.fit(chunked(X, client=client), chunked(T, client=client), sample_weight=chunked(w, client=client),
                  **options)
    h2 = net2.fit(X, T, sample_weight=w, **options)
    for side in ("input_scaling", "output_scaling"):
        a, b = next(iter(getattr(net1, side).values())), next(iter(getattr(net2, side).values()))
        for u, v in zip(a.arrays().values(), b.arrays().values()):
            np.testing.assert_allclose(u, v, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)
    np.testing.assert_allclose(net1(X), net2(X), **TOL)      # the scaling in the network predicts alike


def test_rprop_full_batch_matches_numpy(client):
    X, T = regression()
    net1, h1, net2, h2 = fit_both(client, with_fixed_skip, X, T, algorithm="rprop", division=None, epochs=10, seed=0,
                                  l2=1e-3)
    np.testing.assert_array_equal(net1.weights[("x", "y")], [[0.3, -0.2, 0.1]])
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)


def test_adam_streams_chunks_and_lowers_the_loss(client):
    X, T = regression()
    net = mn.mlp([3, 6, 1], seed=0)
    before = float(np.mean((net(X) - T) ** 2))
    h = net.fit(chunked(X, client=client), chunked(T, client=client), algorithm="adam", lr=0.02, batch_size=64,
                epochs=15, seed=0, progress=False)
    assert np.isfinite(h.val_loss[1:]).all() and np.isfinite(h.train_loss[1:]).all()
    assert h.train_loss[-1] < 0.5 * h.train_loss[1]
    assert float(np.mean((net(X) - T) ** 2)) < 0.2 * before


def test_threads_scheduler_without_a_cluster():
    X, T = regression(600)
    with dask.config.set(scheduler="threads"):
        net1, h1, net2, h2 = fit_both(None, lambda: mn.mlp([3, 4, 1], seed=0), X, T, algorithm="lm", division=None,
                                      epochs=6, seed=0)
    np.testing.assert_allclose(net1.theta, net2.theta, **TOL)
    assert_same_history(h1, h2)


def test_the_data_never_reaches_the_client(client):
    """The data is made and kept on the workers; the client's peak Python memory
    during the fit stays a small fraction of it."""
    n, chunk = 800_000, 100_000
    X = da.random.default_rng(0).uniform(-2, 2, size=(n, 10), chunks=(chunk, 10))
    T = da.sin(X[:, :1]) * da.cos(X[:, 1:2])
    X, T = client.persist([X, T])
    distributed.wait([X, T])
    net = mn.mlp([10, 4, 1], seed=0)
    tracemalloc.start()
    try:
        h = net.fit(X, T, algorithm="lm", epochs=2, seed=0, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert h.epochs == 2 and h.train_loss[2] < h.train_loss[0]
    assert peak < 0.1 * (X.nbytes + T.nbytes), f"client peak {peak / 2**20:.1f} MiB"


def small(n=300, rows=100):
    X, T = regression(n)
    return chunked(X, rows), chunked(T, rows)


@pytest.mark.parametrize("options, message", [
    (dict(division=(np.arange(200), np.arange(200, 300), [])), "not index sets"),
    (dict(division=(0.7, 0.15, 0.15)), r"needs at least \d+ chunks .* the data has 3"),
    (dict(division_mode="block"), "division_mode='block' does not apply"),
    (dict(validation=(np.zeros((5, 3)), np.zeros((5, 1)))), "validation= does not apply"),
])
def test_what_chunked_division_refuses(options, message):
    X, T = small()
    net = mn.mlp([3, 2, 1], seed=0)
    theta = net.theta.copy()
    with pytest.raises(ValueError, match=message):
        net.fit(X, T, algorithm="lm", progress=False, **options)
    assert np.array_equal(net.theta, theta) and not net.input_scaling


def test_only_static_networks_train_on_dask():
    X, T = small()
    with pytest.raises(ValueError, match="static networks only; this network has tapped delays"):
        mn.timedelay([0, 1], [3], n_inputs=3, seed=0).fit(X, T, algorithm="lm", progress=False)
    with pytest.raises(ValueError, match="static networks only; this network has feedback from layers"):
        mn.layer_recurrent([1], [3], n_inputs=3, seed=0).fit(X, T, algorithm="lm", progress=False)
    net = mn.mlp([3, 2, 1], seed=0)
    net.set_dropout("h1", 0.2)
    with pytest.raises(ValueError, match="static networks only; this network has dropout"):
        net.fit(X, T, algorithm="adam", progress=False)
    net = mn.Network(seed=0)
    net.add_input("u", 4, index=True)
    net.add_layer("y", 1, "linear")
    net.connect("u", "y")
    with pytest.raises(ValueError, match="index inputs"):
        net.fit(da.zeros((300, 1), chunks=100), T, algorithm="lm", progress=False)
    net = mn.Network.from_matrices([np.ones((1, 3))], activations=[(np.sin, np.cos)])
    with pytest.raises(ValueError, match="model file, which cannot hold layer .* custom activation 'sin'"):
        net.fit(X, T, algorithm="lm", progress=False)


def test_bad_data_is_named():
    X, T = regression(300)
    X[150, 1] = np.nan
    with pytest.raises(ValueError, match="input 'x' contains NaN or inf"):
        mn.mlp([3, 2, 1], seed=0).fit(chunked(X, 100), chunked(T, 100), algorithm="lm", division=None, progress=False)
    with pytest.raises(ValueError, match="input 'x' expects 3 features"):
        mn.mlp([3, 2, 1], seed=0).fit(chunked(X[:, :2], 100), chunked(T, 100), algorithm="lm", division=None,
                                          progress=False)
