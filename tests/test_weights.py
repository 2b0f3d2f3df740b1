"""Sparse, low-rank and MPO weight representations against their dense equivalents,
PyTorch autograd and the SVD error formulas."""
import contextlib
import itertools
import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from matnet import weights as mw
from matnet.weights import MPO, LowRank, Sparse, WeightRepresentation, truncated_svd
from matnet.weights import sparse as sparse_module

SETTINGS = settings(max_examples=25, deadline=None)


def close(a, b, rtol=1e-10):
    """``||a - b|| <= rtol * max(1, ||b||)`` with matching shapes."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.linalg.norm(a - b) <= rtol * max(1.0, np.linalg.norm(b)), np.abs(a - b).max()


@contextlib.contextmanager
def patched(module, **values):
    old = {k: getattr(module, k) for k in values}
    for k, v in values.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def random_sparse(shape, density, rng, dtype=np.float64):
    """A random CSR pattern of about ``density`` without a dense temporary."""
    total = shape[0] * shape[1]
    flat = np.sort(rng.choice(total, size=max(1, int(density * total)), replace=False))
    rows, cols = np.divmod(flat, shape[1])
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return Sparse(indptr, cols, rng.standard_normal(flat.size).astype(dtype), shape)


def random_mpo(rng, ins, outs, bond, dtype=np.float64):
    ranks = [1] + [bond] * (len(ins) - 1) + [1]
    cores = [rng.standard_normal((ranks[k], n, m, ranks[k + 1])).astype(dtype)
             for k, (n, m) in enumerate(zip(outs, ins))]
    return MPO(cores, ins, outs)


def batch(rng, rep, n=4, K=3):
    X = rng.standard_normal((n, rep.shape[1]))
    D = rng.standard_normal((n, rep.shape[0]))
    DK = rng.standard_normal((K, n, rep.shape[0]))
    return X, D, DK


def check_products(rep, rng):
    """dot and rdot against the dense matrix, also for one 1-D sample."""
    X, D, _ = batch(rng, rep)
    W = rep.to_dense()
    close(rep.dot(X), X @ W.T)
    close(rep.rdot(D), D @ W)
    close(rep.dot(X[0]), X[0] @ W.T)
    close(rep.rdot(D[0]), D[0] @ W)


def check_jacobian(rep, rng):
    """Every ``[b, k]`` slice of the Jacobian is the gradient of that one sample."""
    X, _, DK = batch(rng, rep)
    J = rep.jacobian(X, DK)
    assert J.shape == (X.shape[0], DK.shape[0], rep.n_params)
    for b, k in itertools.product(range(X.shape[0]), range(DK.shape[0])):
        close(J[b, k], rep.gradient(X[b:b + 1], DK[k, b:b + 1]))


# -- references with torch ------------------------------------------------------------------

def torch_grad(rep, X, D, dense_of):
    """Gradient of ``sum(D * (X @ W.T))`` by autograd, ``W = dense_of(params)`` in torch."""
    p = torch.tensor(np.array(rep.params), requires_grad=True)
    W = dense_of(p)
    (torch.tensor(D) * (torch.tensor(X) @ W.T)).sum().backward()
    return p.grad.numpy()


def torch_lowrank(rep):
    (n_out, n_in), r = rep.shape, rep.rank
    return lambda p: p[: n_out * r].reshape(n_out, r) @ p[n_out * r:].reshape(r, n_in)


def torch_mpo(rep):
    def dense(p):
        T, a = torch.ones((1, 1, 1), dtype=p.dtype), 0
        for s in rep.core_shapes:
            G = p[a:a + math.prod(s)].reshape(s)
            a += math.prod(s)
            T = torch.einsum("xya,anmc->xnymc", T, G).reshape(T.shape[0] * s[1], T.shape[1] * s[2], s[3])
        return T[:, :, 0]
    return dense


# -- Sparse ---------------------------------------------------------------------------------

@SETTINGS
@given(n_out=st.integers(1, 9), n_in=st.integers(1, 9), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_sparse_matches_dense(n_out, n_in, density, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_out, n_in))
    rep = Sparse.from_dense(W, mask=rng.random(W.shape) < density)
    close(rep.to_dense(), np.where(rep.to_dense() != 0, W, 0))
    check_products(rep, rng)
    X, D, _ = batch(rng, rep)
    close(rep.gradient(X, D), (D.T @ X)[rep.rows, rep.indices])
    check_jacobian(rep, rng)


@pytest.mark.parametrize("threshold, chunk", [(0.0, 8 * 2**20), (2.0, 8 * 2**20), (2.0, 64), (0.0, 64),
                                              (0.3, 256)])
def test_sparse_gradient_paths(threshold, chunk):
    """Dense-block and row-by-row sampled products, with tiny chunks, agree with D.T @ X."""
    rng = np.random.default_rng(1)
    mask = random_sparse((37, 23), 0.3, rng).to_dense() != 0
    mask[5:9] = False                               # some empty rows
    rep = Sparse.from_dense(rng.standard_normal(mask.shape), mask=mask)
    X, D, DK = batch(rng, rep, n=7)
    with patched(sparse_module, DENSE_BLOCK_DENSITY=threshold, CHUNK_BYTES=chunk):
        close(rep.gradient(X, D), (D.T @ X)[rep.rows, rep.indices])
        J = rep.jacobian(X, DK)
    close(J, DK.transpose(1, 0, 2)[:, :, rep.rows] * X[:, None, rep.indices])


@pytest.mark.parametrize("size", [mw.dense.EINSUM_SIZE - 1, mw.dense.EINSUM_SIZE])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_jacobian_into_columns(size, K, dtype):
    """Both kernels (einsum per seed below ``EINSUM_SIZE`` entries or for one seed, a
    broadcast multiply otherwise) write the outer products into a strided block of
    columns of a larger Jacobian and leave the other columns alone."""
    rng = np.random.default_rng(K)
    shape = (size // 8, 8) if size % 8 == 0 else (size // 7, 7)
    W = rng.standard_normal(shape).astype(dtype)
    rep = mw.Dense(W)
    X = rng.standard_normal((5, W.shape[1])).astype(dtype)
    DK = rng.standard_normal((K, 5, W.shape[0])).astype(dtype)
    E = np.full((5, K, W.size + 3), 7.0, dtype)
    assert rep.jacobian(X, DK, out=E[:, :, 2:2 + W.size]) is not None
    close(E[:, :, 2:2 + W.size], (DK.transpose(1, 0, 2)[:, :, :, None] * X[:, None, None, :]).reshape(5, K, -1),
          rtol=1e-6)
    assert (E[:, :, :2] == 7).all() and (E[:, :, -1] == 7).all()
    close(rep.jacobian(X, DK), E[:, :, 2:2 + W.size], rtol=1e-6)


def test_sparse_from_dense_pattern():
    W = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])
    rep = Sparse.from_dense(W)
    assert rep.indptr.tolist() == [0, 1, 3]
    assert rep.indices.tolist() == [1, 0, 2]
    assert rep.data.tolist() == [2.0, 1.0, 3.0]
    masked = Sparse.from_dense(W, mask=np.ones_like(W, dtype=bool))
    assert masked.nnz == 6 and masked.density == 1.0


def test_sparse_scipy_view_shares_data():
    rep = random_sparse((20, 30), 0.2, np.random.default_rng(0), np.float32)
    m = rep.csr()
    assert np.shares_memory(m.data, rep.data)
    assert np.shares_memory(m.indices, rep.indices) and np.shares_memory(m.indptr, rep.indptr)
    assert np.shares_memory(rep._csc_transpose().data, rep.data)


def test_sparse_gradient_large_never_dense():
    """4096 x 4096 at 1 % on a batch of 256, float32: temporaries far below one dense W."""
    rng = np.random.default_rng(0)
    n, B = 4096, 256
    rep = random_sparse((n, n), 0.01, rng, np.float32)
    X = rng.standard_normal((B, n), dtype=np.float32)
    D = rng.standard_normal((B, n), dtype=np.float32)
    tracemalloc.start()
    try:
        g = rep.gradient(X, D)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert g.dtype == np.float32
    assert peak < n * n * 4 / 4, peak                # well below the 64 MiB of a dense W
    p = rng.choice(rep.nnz, 500, replace=False)
    ref = np.einsum("bp,bp->p", D[:, rep.rows[p]].astype(np.float64), X[:, rep.indices[p]])
    np.testing.assert_allclose(g[p], ref, rtol=1e-4, atol=1e-3)


# -- LowRank --------------------------------------------------------------------------------

@SETTINGS
@given(n_out=st.integers(1, 8), n_in=st.integers(1, 8), rank=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_lowrank_matches_dense_and_torch(n_out, n_in, rank, seed):
    rng = np.random.default_rng(seed)
    rep = LowRank(rng.standard_normal((n_out, rank)), rng.standard_normal((rank, n_in)))
    assert rep.shape == (n_out, n_in) and rep.n_params == rank * (n_out + n_in)
    close(rep.to_dense(), rep.U @ rep.V)
    check_products(rep, rng)
    X, D, _ = batch(rng, rep)
    close(rep.gradient(X, D), torch_grad(rep, X, D, torch_lowrank(rep)))
    check_jacobian(rep, rng)


@SETTINGS
@given(n_out=st.integers(1, 9), n_in=st.integers(1, 9), seed=st.integers(0, 2**32 - 1),
       data=st.data())
def test_truncated_svd_error(n_out, n_in, seed, data):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_out, n_in))
    rank = data.draw(st.integers(1, min(n_out, n_in)))
    U, V, error, s = truncated_svd(W, rank=rank)
    assert U.shape == (n_out, rank) and V.shape == (rank, n_in)
    expected = np.sqrt(np.sum(s[rank:] ** 2)) / np.linalg.norm(W)
    assert error == pytest.approx(expected, rel=1e-10, abs=1e-14)
    assert np.linalg.norm(W - U @ V) / np.linalg.norm(W) == pytest.approx(expected, rel=1e-8, abs=1e-12)
    energy = data.draw(st.floats(0.01, 1.0))
    rep = LowRank.from_dense(W, energy=energy)
    kept = np.cumsum(s ** 2) / np.sum(s ** 2)
    assert kept[rep.rank - 1] >= energy * (1 - 1e-12)
    assert rep.rank == 1 or kept[rep.rank - 2] < energy


def test_lowrank_full_rank_exact():
    W = np.random.default_rng(3).standard_normal((6, 4))
    rep = LowRank.from_dense(W)
    assert rep.rank == 4 and rep.error < 1e-15
    close(rep.to_dense(), W, 1e-12)


# -- MPO ------------------------------------------------------------------------------------

FACTORS = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=3)


def mpo_dense_by_definition(rep):
    """``W[(i..), (j..)] = G_1[:, i_1, j_1, :] @ ... @ G_d[:, i_d, j_d, :]`` entry by entry."""
    W = np.empty(rep.shape)
    for i in np.ndindex(*rep.out_factors):
        for j in np.ndindex(*rep.in_factors):
            M = np.eye(1)
            for G, ik, jk in zip(rep.cores, i, j):
                M = M @ G[:, ik, jk, :]
            W[np.ravel_multi_index(i, rep.out_factors), np.ravel_multi_index(j, rep.in_factors)] = M[0, 0]
    return W


@SETTINGS
@given(factors=FACTORS, bond=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_mpo_matches_dense_and_torch(factors, bond, seed):
    rng = np.random.default_rng(seed)
    outs, ins = zip(*factors)
    rep = random_mpo(rng, ins, outs, bond)
    close(rep.to_dense(), mpo_dense_by_definition(rep))
    check_products(rep, rng)
    X, D, _ = batch(rng, rep)
    close(rep.gradient(X, D), torch_grad(rep, X, D, torch_mpo(rep)))
    check_jacobian(rep, rng)


@SETTINGS
@given(factors=FACTORS, seed=st.integers(0, 2**32 - 1))
def test_mpo_full_bond_reproduces_w(factors, seed):
    rng = np.random.default_rng(seed)
    outs, ins = zip(*factors)
    W = rng.standard_normal((math.prod(outs), math.prod(ins)))
    rep = MPO.from_dense(W, ins, outs)
    assert rep.error < 1e-12 and rep.error_bound < 1e-12
    close(rep.to_dense(), W, 1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), bond=st.integers(1, 6))
def test_tt_svd_error_within_bound(seed, bond):
    rng = np.random.default_rng(seed)
    ins, outs = (2, 3, 2), (3, 2, 2)
    W = rng.standard_normal((12, 12))
    rep = MPO.from_dense(W, ins, outs, bond_dim=bond)
    assert max(rep.ranks) <= bond
    assert rep.error <= rep.error_bound * (1 + 1e-10) + 1e-14
    close(rep.error, np.linalg.norm(W - rep.to_dense()) / np.linalg.norm(W))


def test_tt_svd_bound_two_cores_is_svd():
    """With two cores the TT-SVD is one SVD: error = bound = the discarded singular values."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((6, 6))
    rep = MPO.from_dense(W, (2, 3), (3, 2), bond_dim=2)
    T = W.reshape(3, 2, 2, 3).transpose(0, 2, 1, 3).reshape(6, 6)  # (n1 m1, n2 m2)
    s = np.linalg.svd(T, compute_uv=False)
    expected = np.sqrt(np.sum(s[2:] ** 2)) / np.linalg.norm(W)
    assert rep.error_bound == pytest.approx(expected, rel=1e-10)
    assert rep.error == pytest.approx(expected, rel=1e-8)


def test_mpo_per_bond_dims():
    W = np.random.default_rng(0).standard_normal((8, 8))
    rep = MPO.from_dense(W, (2, 2, 2), (2, 2, 2), bond_dim=[2, 3])
    assert rep.ranks == (1, 2, 3, 1)


# -- common: dtypes, live views, files, errors -----------------------------------------------

def examples(dtype=np.float64):
    rng = np.random.default_rng(7)
    return [random_sparse((6, 5), 0.4, rng, dtype),
            LowRank(rng.standard_normal((6, 2)).astype(dtype), rng.standard_normal((2, 5)).astype(dtype)),
            random_mpo(rng, (5, 1), (3, 2), 2, dtype)]


@pytest.mark.parametrize("rep", examples(np.float32), ids=lambda r: r.kind)
def test_float32_stays_float32(rep):
    rng = np.random.default_rng(0)
    assert rep.dtype == np.float32
    X, D, DK = batch(rng, rep)                      # float64 inputs are cast down
    for out in (rep.dot(X), rep.rdot(D), rep.gradient(X, D), rep.jacobian(X, DK), rep.to_dense(),
                rep.dot(X.astype(np.float32))):
        assert out.dtype == np.float32
    W = rep.to_dense().astype(np.float64)
    np.testing.assert_allclose(rep.dot(X), X @ W.T, rtol=1e-4, atol=1e-4)
    assert rep.astype(np.float64).dtype == np.float64


@pytest.mark.parametrize("rep", examples(), ids=lambda r: r.kind)
def test_bind_makes_params_live(rep):
    rng = np.random.default_rng(0)
    X, D, _ = batch(rng, rep)
    before = rep.dot(X)
    buffer = np.zeros(rep.n_params + 3)
    rep.bind(buffer[2:-1])
    close(rep.dot(X), before)
    buffer[2:-1] = rng.standard_normal(rep.n_params)
    W = rep.to_dense()
    close(rep.dot(X), X @ W.T)
    assert not np.allclose(rep.dot(X), before)
    other = rep.copy()
    assert rep.n_params == rep.params.size and not np.shares_memory(other.params, buffer)
    grad = rep.with_params(np.ones(rep.n_params))
    close(grad.params, np.ones(rep.n_params))


@pytest.mark.parametrize("rep", examples(), ids=lambda r: r.kind)
def test_arrays_round_trip(rep):
    arrays = {k: np.array(v) for k, v in rep.arrays().items()}
    back = mw.from_arrays(rep.kind, rep.shape, arrays)
    assert type(back) is type(rep) and back.shape == rep.shape
    close(back.to_dense(), rep.to_dense(), 0)
    close(rep.copy().params, rep.params, 0)
    assert isinstance(back, WeightRepresentation) and rep.nbytes > 0


def test_gradient_out_argument():
    rep = examples()[2]
    X, D, _ = batch(np.random.default_rng(0), rep)
    out = np.empty(rep.n_params)
    assert rep.gradient(X, D, out=out) is out
    close(out, rep.gradient(X, D))
    with pytest.raises(ValueError, match="out has shape"):
        rep.gradient(X, D, out=np.empty(3))


BAD_SPARSE = [
    (dict(indptr=[0, 1]), "indptr has shape"),
    (dict(indices=[0, 7, 1]), r"indices must lie in \[0, 3\)"),
    (dict(indices=[0, 2, 1]), "sorted within each row"),
    (dict(indices=[0, 1, 1]), "without duplicates"),
    (dict(data=[1.0, 2.0]), "data has 2 entries"),
    (dict(indptr=[0, 2, 1]), "never decrease"),
    (dict(indptr=[0, 1, 4]), "indices has 3 entries"),
]


@pytest.mark.parametrize("change, message", BAD_SPARSE)
def test_sparse_bad_arrays(change, message):
    arrays = dict(indptr=[0, 1, 3], indices=[0, 1, 2], data=[1.0, 2.0, 3.0])
    arrays.update(change)
    with pytest.raises(ValueError, match=message):
        mw.from_arrays("sparse", (2, 3), {k: np.array(v) for k, v in arrays.items()})


def test_sparse_row_boundary_may_restart_columns():
    rep = Sparse([0, 2, 4], [1, 2, 0, 2], [1.0, 2.0, 3.0, 4.0], (2, 3))
    close(rep.to_dense(), [[0, 1, 2], [3, 0, 4]], 0)


def test_bad_lowrank_and_mpo_arrays():
    with pytest.raises(ValueError, match=r"U has shape \(3, 2\) and V has shape \(3, 4\)"):
        LowRank(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"has shape \(3, 4\) but the weight has shape \(3, 5\)"):
        mw.from_arrays("lowrank", (3, 5), {"U": np.ones((3, 2)), "V": np.ones((2, 4))})
    with pytest.raises(ValueError, match="need 'U' and 'V'"):
        mw.from_arrays("lowrank", (3, 5), {"U": np.ones((3, 2))})
    good = examples()[2].arrays()
    with pytest.raises(ValueError, match="bond dimensions differ"):
        mw.from_arrays("mpo", (6, 5), {**good, "core1": np.ones((3, 2, 1, 1))})
    with pytest.raises(ValueError, match=r"core 0 has shape \(1, 2, 5, 2\)"):
        mw.from_arrays("mpo", (6, 5), {**good, "core0": np.ones((1, 2, 5, 2))})
    with pytest.raises(ValueError, match="core0..core1"):
        mw.from_arrays("mpo", (6, 5), {k: v for k, v in good.items() if k != "core1"})
    with pytest.raises(ValueError, match=r"give shape \(6, 5\) but the weight has shape \(5, 6\)"):
        mw.from_arrays("mpo", (5, 6), good)
    with pytest.raises(ValueError, match="start and the last end with bond 1"):
        MPO([np.ones((2, 2, 2, 1))], (2,), (2,))
    with pytest.raises(ValueError, match=r"W has shape \(5, 5\)"):
        MPO.from_dense(np.ones((5, 5)), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="unknown weight kind"):
        mw.from_arrays("dense", (2, 2), {})
    with pytest.raises(ValueError, match="rank or energy, not both"):
        truncated_svd(np.ones((3, 3)), rank=1, energy=0.5)
    with pytest.raises(ValueError, match=r"rank must be in \[1, 2\]"):
        truncated_svd(np.ones((3, 2)), rank=3)


@pytest.mark.parametrize("rep", examples(), ids=lambda r: r.kind)
def test_bad_input_shapes_name_both(rep):
    with pytest.raises(ValueError, match=r"X has shape \(4, 7\) but the weight has shape \(6, 5\)"):
        rep.dot(np.ones((4, 7)))
    with pytest.raises(ValueError, match=r"D has shape \(4, 5\) but the weight has shape \(6, 5\)"):
        rep.rdot(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"X has shape \(4, 5\) and D has shape \(3, 6\)"):
        rep.gradient(np.ones((4, 5)), np.ones((3, 6)))
    with pytest.raises(ValueError, match=r"D has shape \(4, 6\)"):
        rep.jacobian(np.ones((4, 5)), np.ones((4, 6)))


@pytest.mark.parametrize("dense_only", [True, False])
def test_combined_operator_equals_its_dense_matrix(dense_only):
    """weights.combine: several weights reading columns of one input (a recurrent step's
    window) act as one matrix with each weight at its columns."""
    from matnet.weights import combine, operator
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    second = operator(W2) if dense_only else LowRank.from_dense(W2, rank=2)
    parts = [(operator(W1), np.array([0, 2, 4, 6])), (second, np.array([7, 1]))]
    op = combine(parts, 8, np.float64)
    M = np.zeros((3, 8))
    M[:, [0, 2, 4, 6]] = W1
    M[:, [7, 1]] = W2
    X, D = rng.normal(size=(5, 8)), rng.normal(size=(5, 3))
    assert op.kind == ("dense" if dense_only else "sum")
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-12)
    np.testing.assert_allclose(op.dot(X), X @ M.T, atol=1e-12)
    np.testing.assert_allclose(op.rdot(D), D @ M, atol=1e-12)
