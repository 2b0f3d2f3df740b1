"""Compressed weights inside whole networks, and the conversions of mn.compress."""
import tracemalloc

import numpy as np
import pytest

import matnet as mn
from matnet import compress
from matnet.weights import Sparse
from reference import numeric_jacobian, torch_forward


def _trained(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 8))
    T = np.tanh(X[:, :2] @ rng.normal(size=(2, 3)))
    net = mn.mlp([8, 12, 3], seed=seed)
    net.fit(X, T, algorithm="lm", epochs=20, seed=0, progress=False)
    return net, X, T


CONVERSIONS = {
    "sparse": lambda net: compress.prune(net, 0.6),
    "lowrank": lambda net: compress.to_low_rank(net, rank=2),
    "mpo": lambda net: compress.to_mpo(net, {("x", "h1"): (2, 4), ("h1", "y"): (3, 4)},
                                       {("x", "h1"): (3, 4), ("h1", "y"): (1, 3)}, bond_dim=3),
}


@pytest.mark.parametrize("kind", list(CONVERSIONS))
def test_network_with_compressed_weights_matches_its_dense_equivalent(kind):
    net, X, T = _trained()
    before = net.get_flat().copy()
    small = CONVERSIONS[kind](net)
    assert np.array_equal(net.get_flat(), before)                     # the argument is unchanged
    assert all(small.weights[k].kind == kind for k in small.weights)
    assert set(small.compression_errors) == set(net.weights) and not net.compression_errors
    dense = compress.to_dense(small)
    np.testing.assert_allclose(small(X), dense(X), rtol=1e-12, atol=1e-12)
    units = dense.input_scaling["x"].apply(X)                         # PyTorch parity through to_dense
    np.testing.assert_allclose(small.forward(X).a["y"], torch_forward(dense, units)["y"].numpy(), rtol=1e-12)
    report = mn.check_gradient(small, X[:10], T[:10])
    assert report["max_absolute_error"] / np.abs(report["gradient"]).max() < 1e-7
    J, e = small.jacobian(X[:5], T[:5])
    assert J.shape == (15, small.n_params)
    numeric = numeric_jacobian(small, lambda: small(X[:5]) - T[:5])
    assert np.abs(J - numeric).max() / max(np.abs(numeric).max(), np.abs(e).max()) < 1e-7


@pytest.mark.parametrize("kind", list(CONVERSIONS))
def test_compressed_networks_save_natively_and_train_keeping_their_form(kind, tmp_path):
    net, X, T = _trained(1)
    small = CONVERSIONS[kind](net)
    small.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert not any(name == "W/x/h1" for name in z.files)          # stored in its own form
    back = mn.load(tmp_path / "m.npz")
    assert back.get_flat().tobytes() == small.get_flat().tobytes()
    np.testing.assert_array_equal(back(X), small(X))
    structure = {k: {n: a.copy() for n, a in W.arrays().items() if a.dtype.kind != "f"}
                 for k, W in small.weights.items()}
    h = small.fit(X, T, algorithm="lm", epochs=10, division=None, progress=False)
    assert h.train_loss[2] < h.train_loss[1]          # epoch 0 of sgd is not evaluated
    for key, W in small.weights.items():                              # pattern / factors kept
        assert W.kind == kind
        for name, a in structure[key].items():
            np.testing.assert_array_equal(W.arrays()[name], a)


def test_prune_low_rank_and_mpo_errors_and_summary():
    net, X, T = _trained(2)
    W = net.weights["x", "h1"]
    sparse = compress.prune(net, 0.5, connections=[("x", "h1")])
    errors = sparse.compression_errors
    kept = np.where(np.asarray(sparse.weights["x", "h1"]) != 0, W, 0)
    assert errors[("x", "h1")] == pytest.approx(np.linalg.norm(W - kept) / np.linalg.norm(W))
    assert type(sparse.weights["h1", "y"]) is np.ndarray                # connections= limits it
    s = np.linalg.svd(W, compute_uv=False)
    errors = compress.to_low_rank(net, rank=3).compression_errors
    assert errors[("x", "h1")] == pytest.approx(np.sqrt(np.sum(s[3:] ** 2) / np.sum(s ** 2)), rel=1e-9)
    errors = compress.to_mpo(net, {("x", "h1"): (2, 4), ("h1", "y"): (3, 4)},
                             {("x", "h1"): (3, 4), ("h1", "y"): (1, 3)}, bond_dim=100).compression_errors
    assert max(errors.values()) < 1e-12                                  # full bond dimension: exact
    table = compress.summary(sparse)
    assert table["rows"][0]["form"] == "sparse" and table["rows"][0]["params"] == 48
    assert table["total"]["ratio"] > 1 and "total" in table["text"]
    with pytest.raises(ValueError, match="give either rank= or energy="):
        compress.to_low_rank(net)
    with pytest.raises(ValueError, match="sparsity must be in"):
        compress.prune(net, 1.0)


def test_adjacency_of_a_sparse_network_is_sparse():
    net, X, T = _trained(3)
    sparse = compress.prune(net, 0.75)
    A, nodes = sparse.adjacency()
    assert A.nnz == sparse.n_params
    back = mn.Network.from_adjacency(A, nodes)
    back.input_scaling, back.output_scaling = sparse.input_scaling, sparse.output_scaling
    np.testing.assert_allclose(back(X), sparse(X), rtol=1e-12)


def test_gradual_pruning_during_fit():
    net, X, T = _trained(4)
    schedule = compress.GradualPruning(0.7, start=0, end=5)
    assert schedule.level(0) == 0 and schedule.level(5) == pytest.approx(0.7)
    net.fit(X, T, algorithm="adam", epochs=8, callbacks=[schedule], max_fail=None, division=None, progress=False)
    W = net.weights["x", "h1"]
    assert np.mean(W == 0) == pytest.approx(0.7, abs=0.02)
    pruned = compress.prune(net, 0.7)
    np.testing.assert_allclose(pruned(X), net(X), rtol=1e-10, atol=1e-12)


def test_sparse_training_never_allocates_the_dense_matrix():
    n = 4096
    rng = np.random.default_rng(0)
    nnz = n * n // 100
    rows = np.sort(rng.integers(0, n, size=nnz))
    cols = rng.integers(0, n, size=nnz)
    key = np.unique(rows * n + cols)
    rows, cols = key // n, key % n
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    sparse = Sparse(indptr, cols.astype(np.int64), (0.01 * rng.normal(size=key.size)).astype(np.float32), (n, n))
    net = mn.Network(dtype="float32", seed=0)
    net.add_input("x", n)
    net.add_layer("y", n, "linear")
    net.connect("x", "y", sparse)
    X = rng.normal(size=(256, n)).astype(np.float32)
    T = rng.normal(size=(256, n)).astype(np.float32)
    tracemalloc.start()
    h = net.fit(X, T, algorithm="sgd", lr=0.1, batch_size=256, epochs=2, division=None, scaling=None,
                progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # a dense float32 4096x4096 (64 MiB) on top of the 8 MiB of data would pass 64 MiB
    assert peak < n * n * 4, f"peak {peak / 2**20:.0f} MiB: a dense {n}x{n} float32 is 64 MiB"
    assert h.train_loss[2] < h.train_loss[1]          # epoch 0 of sgd is not evaluated


@pytest.mark.parametrize("kind", list(CONVERSIONS))
def test_pictures_report_and_explain_of_compressed_networks(kind, tmp_path):
    pytest.importorskip("matplotlib")
    net, X, T = _trained(5)
    small = CONVERSIONS[kind](net)
    assert f"{kind}, {small.weights['x', 'h1'].n_params} parameters" in small.summary()
    for figure in (mn.plot.network(small), mn.plot.matrix(small.weights["x", "h1"]), mn.plot.adjacency(small)):
        figure.savefig(tmp_path / "f.png")
    mn.report(small, data=(X, T), path=tmp_path / "r.html")
    assert "data:image/png;base64" in (tmp_path / "r.html").read_text()
    assert "h1 = tanh(W[x→h1] · x̃ + b[h1])" in small.explain(X[0])      # trained: inputs scaled first


def test_conversions_return_networks_with_their_errors_and_mpo_takes_plain_factors():
    net, X, T = _trained(5)
    sparse = compress.prune(net, 0.9)
    assert isinstance(sparse, mn.Network) and sparse(X).shape == (60, 3)
    table = compress.summary(sparse)
    assert [row["error"] for row in table["rows"]] == [sparse.compression_errors[k] for k in sparse.weights]
    assert "error" in table["text"].splitlines()[0]
    assert compress.summary(net)["rows"][0]["error"] is None                     # never converted
    assert compress.to_dense(sparse).compression_errors == {}                    # back to the matrices it holds
    one = compress.to_mpo(net, (2, 4), (3, 4), bond_dim=12, connections=[("x", "h1")])
    assert one.weights["x", "h1"].kind == "mpo" and type(one.weights["h1", "y"]) is np.ndarray
    single = mn.Network.from_matrices([np.random.default_rng(0).normal(size=(6, 4))], [np.zeros(6)], ["linear"])
    assert compress.to_mpo(single, (2, 2), (2, 3), bond_dim=2).weights["x", "y"].kind == "mpo"
    with pytest.raises(ValueError, match="plain factor sequences apply to one connection; this converts 2"):
        compress.to_mpo(net, (2, 4), (3, 4), bond_dim=2)
    with pytest.raises(ValueError, match="both as sequences or both as dicts"):
        compress.to_mpo(net, (2, 4), {("x", "h1"): (3, 4)}, bond_dim=2)
