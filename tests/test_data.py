import numpy as np
import pytest

from matnet.data import divide, encode_labels, minmax, standard


def test_random_division_sizes_and_disjoint():
    tr, va, te = divide(100, (0.7, 0.15, 0.15), seed=0)
    assert (len(tr), len(va), len(te)) == (70, 15, 15)
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(100))
    assert not np.array_equal(tr, np.arange(70))


def test_block_and_interleaved():
    tr, va, te = divide(20, (0.6, 0.2, 0.2), mode="block")
    assert list(tr) == list(range(12)) and list(va) == list(range(12, 16)) and list(te) == list(range(16, 20))
    tr, va, te = divide(10, (0.6, 0.2, 0.2), mode="interleaved")
    assert len(tr) == 6 and len(va) == 2 and len(te) == 2
    assert 0 in tr and max(np.diff(tr)) <= 3   # spread over the whole range


def test_stratified_division_keeps_class_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    tr, va, te = divide(100, (0.5, 0.25, 0.25), labels=labels, seed=1)
    assert np.sum(labels[tr] == 1) == 10 and np.sum(labels[va] == 1) == 5 and np.sum(labels[te] == 1) == 5
    rare = np.array([0] * 30 + [1])
    tr, _, _ = divide(31, (0.7, 0.15, 0.15), labels=rare, seed=0)
    assert 30 in tr                     # a class of one sample is trained on


def test_explicit_and_none():
    tr, va, te = divide(10, {"train": [0, 1, 2], "val": [3], "test": [9]})
    assert list(tr) == [0, 1, 2] and list(va) == [3] and list(te) == [9]
    tr, va, te = divide(10, ([5, 6], [7], [8, 9]))
    assert list(tr) == [5, 6] and list(te) == [8, 9]
    tr, va, te = divide(4, None)
    assert list(tr) == [0, 1, 2, 3] and va.size == te.size == 0


def test_division_errors():
    with pytest.raises(ValueError, match="fractions summing to 1"):
        divide(10, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="overlap"):
        divide(10, ([0, 1], [1], []))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 10\)"):
        divide(10, ([0, 12], [], []))
    with pytest.raises(ValueError, match="unknown division mode 'shuffle'"):
        divide(10, (0.7, 0.15, 0.15), mode="shuffle")
    with pytest.raises(ValueError, match=r"needs at least 3 samples \(one in each set\), got 2"):
        divide(2, (0.2, 0.8, 0.0))
    for mode in ("random", "block", "interleaved"):       # one row cannot be divided three ways
        with pytest.raises(ValueError, match=r"division \(0.7, 0.15, 0.15\) needs at least 4 samples"):
            divide(1, (0.7, 0.15, 0.15), mode=mode)
    with pytest.raises(ValueError, match="needs at least 4 samples"):
        divide(3, (0.7, 0.15, 0.15), labels=[0, 1, 0])
    assert [len(s) for s in divide(4, (0.7, 0.15, 0.15))] == [2, 1, 1]


def test_minmax_maps_to_minus_one_one_and_back():
    X = np.array([[0.0, 5.0, 3.0], [10.0, 7.0, 3.0], [5.0, 6.0, 3.0]])
    s = minmax(X)
    U = s.apply(X)
    np.testing.assert_allclose(U[:, :2], [[-1, -1], [1, 1], [0, 0]])
    assert np.all(U[:, 2] == 0)                         # constant row: removed (mapped to 0)
    np.testing.assert_allclose(s.invert(U), X)          # constant comes back as its value
    np.testing.assert_allclose(s.invert(np.full((1, 3), 0.7))[0, 2], 3.0)


def test_scaled_copy_equals_the_affine_map_for_every_layout(monkeypatch):
    """The blocked copy (scale and shift repeated to a block's shape) is ``X * scale +
    shift`` exactly: rows not a multiple of the block, strided and series inputs, a wider
    dtype than the scaling's, no rows."""
    from matnet.data import scaling
    monkeypatch.setattr(scaling, "_BLOCK_BYTES", 1)          # blocks of 16 rows
    rng = np.random.default_rng(3)
    s = minmax(rng.normal(size=(50, 5)), np.float32)
    wide = rng.normal(size=(37, 10))
    for X in (wide[:, :5].astype(np.float32), wide[:, ::2].astype(np.float32), wide[:, 1:6],
              rng.normal(size=(3, 21, 5)).astype(np.float32), np.zeros((0, 5), np.float32)):
        U = s.apply(X)
        assert U.dtype == np.result_type(X, s.scale) and U.shape == X.shape
        np.testing.assert_array_equal(U, X * s.scale + s.shift)


def test_standard_scaling():
    X = np.random.default_rng(0).normal(4, 2, size=(500, 2))
    s = standard(X)
    U = s.apply(X)
    np.testing.assert_allclose(U.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(U.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(s.invert(U), X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("subset", [False, True])
def test_passes_in_parts_on_threads_equal_one_pass(dtype, subset, monkeypatch):
    """Large passes share their rows out to threads: ranges, means, variances, the
    scaled copy and the finiteness check equal those of one pass (and NumPy's)."""
    from matnet import threads
    from matnet.prepare import _finite
    rng = np.random.default_rng(1)
    X = (rng.normal(3, 2, size=(1001, 7)) * [1, 10, 100, 1e3, 1e-3, 1, 5]).astype(dtype)
    rows = np.sort(rng.choice(1001, 600, replace=False)) if subset else None
    single = minmax(X, dtype, rows), standard(X, dtype, rows)
    parts = []
    monkeypatch.setattr(threads, "PASS_BYTES", 1)
    monkeypatch.setattr(threads, "worker_threads", lambda: 3)
    real = threads.over_rows

    def counted(f, n_rows, nbytes):
        out = real(f, n_rows, nbytes)
        parts.append(len(out))
        return out
    from matnet.data import scaling
    monkeypatch.setattr(scaling, "over_rows", counted)
    both = minmax(X, dtype, rows), standard(X, dtype, rows)
    assert parts == [3, 3]
    for name, array in single[0].arrays().items():          # minima and maxima are exact
        np.testing.assert_array_equal(both[0].arrays()[name], array)
    for name, array in single[1].arrays().items():
        np.testing.assert_allclose(both[1].arrays()[name], array, rtol=1e-12 if dtype == np.float64 else 1e-6)
    picked = X if rows is None else X[rows]
    np.testing.assert_array_equal(both[0].value, picked.min(axis=0))
    np.testing.assert_allclose(both[1].value, picked.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(1 / both[1].scale, picked.astype(np.float64).std(axis=0), rtol=1e-5)
    monkeypatch.setattr(threads, "PASS_BYTES", 8 * 2 ** 20)
    one = both[1].apply(X)
    monkeypatch.setattr(threads, "PASS_BYTES", 1)
    np.testing.assert_array_equal(both[1].apply(X), one)
    monkeypatch.setattr("matnet.prepare.over_rows", counted)
    bad = X.copy()
    bad[700, 5] = np.inf
    with pytest.raises(ValueError, match="first at sample 700, feature 5"):
        _finite(bad, "input 'x'", ("sample", "feature"))
    _finite(X, "input 'x'", ("sample", "feature"))
    huge = np.full((4, 2), np.finfo(dtype).max, dtype)        # finite, but its sums overflow
    _finite(huge, "input 'x'", ("sample", "feature"))
    huge[3, 1] = np.nan
    with pytest.raises(ValueError, match="first at sample 3, feature 1"):
        _finite(huge, "input 'x'", ("sample", "feature"))
    assert parts[-3:] == [3, 3, 3]


def test_encode_labels():
    E, classes = encode_labels(np.array(["b", "a", "b"]))
    assert classes == ["a", "b"] and E.tolist() == [[0, 1], [1, 0], [0, 1]]
    E, _ = encode_labels(np.array([1, 0, 1]), n_columns=1)
    assert E.tolist() == [[1], [0], [1]]


@pytest.mark.parametrize("labels, classes", [
    (np.array([7, 3, 7, 9, 3]), [9, 3, 7]),                      # given order, not sorted: binary search
    (np.array(["b", "a", "c", "a"]), ["c", "a", "b"]),
    (np.array([True, False, True]), [True, False]),
    (np.array([2, 1, 2], dtype=np.uint8), [1, 2]),                 # other kinds: one lookup per label
    (np.array(["x", 1, "x"], dtype=object), [1, "x"])])
def test_encode_labels_with_given_classes(labels, classes):
    E, kept = encode_labels(labels, classes)
    assert kept == classes
    np.testing.assert_array_equal(E, [[float(label == c) for c in classes] for label in labels.tolist()])
    unseen = np.concatenate([labels, labels[:1]]).astype(object)
    unseen[-1] = "new"
    with pytest.raises(ValueError, match=r"labels \['new'\] were not seen in training"):
        encode_labels(unseen, classes)
    with pytest.raises(ValueError, match=r"labels \[5\] were not seen"):
        encode_labels(np.array([5]), [])
