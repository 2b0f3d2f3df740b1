"""Readers of public benchmark data (Cora, MovieLens-100K) on small generated files, the
generated benchmarks (karate club, ratings) and the Planetoid-style node split."""
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from matnet import datasets as ds
from matnet.data import DataError, GraphData, MovieLens, Ratings, per_class_split, read_cora, read_movielens

CORA = Path("/work/shared/data/cora")


# ---------------------------------------------------------------------------------------
# Cora layout
# ---------------------------------------------------------------------------------------

CONTENT = ["p10\t1\t0\t1\tTheory", "p20\t0\t0\t0\tAI", "p30\t1\t1\t0\tTheory", "p40\t0\t1\t0\tDB"]
CITES = ["p20\tp10",    # p10 cites p20
         "p10\tp20",    # reciprocal: the same undirected edge
         "p20\tp10",    # listed twice
         "p30\tp10",
         "p30\tp30",    # self-citation: dropped
         "", ]          # blank lines are skipped


def write(directory, name, lines):
    path = directory / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cora_dir(tmp_path):
    write(tmp_path, "cora.content", CONTENT)
    write(tmp_path, "cora.cites", CITES)
    return tmp_path


def test_read_cora_fields(cora_dir):
    g = read_cora(str(cora_dir))
    assert isinstance(g, GraphData)
    assert g.n_nodes == 4 and g.n_classes == 3 and g.n_edges == 2
    assert g.classes == ["AI", "DB", "Theory"]
    np.testing.assert_array_equal(g.labels, [2, 0, 2, 1])
    assert g.labels.dtype == np.int64
    np.testing.assert_array_equal(g.label_names, ["Theory", "AI", "Theory", "DB"])
    np.testing.assert_array_equal(g.node_ids, ["p10", "p20", "p30", "p40"])
    assert g.features.dtype == np.float64 and g.features.shape == (4, 3)
    np.testing.assert_array_equal(g.features, [[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 0]])
    assert "4 nodes" in repr(g) and "2 edges" in repr(g)


def test_read_cora_adjacency_undirected_merged(cora_dir):
    a = read_cora(cora_dir).adjacency
    assert sp.isspmatrix_csr(a) and a.dtype == np.float64 and a.shape == (4, 4)
    dense = a.toarray()
    np.testing.assert_array_equal(dense, [[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert a.nnz == 4 and (a != a.T).nnz == 0 and not a.diagonal().any()


def test_read_cora_any_whitespace_and_no_cites(tmp_path):
    write(tmp_path, "cora.content", ["a 1 x", "b  0  y"])
    write(tmp_path, "cora.cites", [])
    g = read_cora(tmp_path)
    assert g.n_edges == 0 and g.adjacency.shape == (2, 2) and g.features.shape == (2, 1)


@pytest.mark.parametrize("name", ["cora.content", "cora.cites"])
def test_read_cora_missing_file(cora_dir, name):
    (cora_dir / name).unlink()
    with pytest.raises(DataError, match=rf"{name}: no such file.*{re.escape(str(cora_dir))}"):
        read_cora(cora_dir)


@pytest.mark.parametrize("content, message", [
    (CONTENT[:2] + ["p30\t1\t1\tTheory"], r"cora\.content: line 3: found 4 fields, expected 5 \(paper id, 3 features"),
    (CONTENT[:1] + ["p20\t0\t2\t0\tAI"], r"cora\.content: line 2: feature 2 \(field 3\) is '2', not 0 or 1"),
    (CONTENT[:2] + ["p10\t0\t0\t0\tAI"], r"cora\.content: line 3: paper id 'p10' is already on line 1"),
    (["p10"], r"cora\.content: line 1: found 1 field, expected at least 2"),
    ([], r"cora\.content: the file has no papers"),
])
def test_read_cora_content_errors(cora_dir, content, message):
    write(cora_dir, "cora.content", content)
    write(cora_dir, "cora.cites", [])
    with pytest.raises(DataError, match=message):
        read_cora(cora_dir)


@pytest.mark.parametrize("cites, message", [
    (["p10\tp20", "p10\tp20\tp30"], r"cora\.cites: line 2: found 3 fields, expected 2"),
    (["p10\tp20", "", "p10\tp99"], r"cora\.cites: line 3: paper id 'p99' is not in cora\.content"),
])
def test_read_cora_cites_errors(cora_dir, cites, message):
    write(cora_dir, "cora.cites", cites)
    with pytest.raises(DataError, match=message):
        read_cora(cora_dir)


@pytest.mark.skipif(not CORA.is_dir(), reason="the real Cora files are not at /work/shared/data/cora")
def test_real_cora():
    g = read_cora(CORA)
    assert g.n_nodes == 2708 and g.features.shape == (2708, 1433) and g.n_classes == 7
    assert g.adjacency.nnz == 10556 and g.n_edges == 5278
    assert (g.adjacency != g.adjacency.T).nnz == 0 and not g.adjacency.diagonal().any()
    assert np.sum(g.label_names == "Neural_Networks") == 818
    assert set(np.unique(g.features)) == {0.0, 1.0}


# ---------------------------------------------------------------------------------------
# MovieLens layout
# ---------------------------------------------------------------------------------------

DATA = ["1\t1\t5\t881250949", "1\t3\t3\t881250950", "2\t2\t4\t881250951", "3\t1\t1\t881250952", "2\t4\t2\t881250953"]


@pytest.fixture
def ml_dir(tmp_path):
    write(tmp_path, "u.data", DATA)
    write(tmp_path, "u.info", ["4 users", "5 items", "5 ratings"])
    for k, test in ((1, [0, 2]), (2, [1, 3, 4])):
        write(tmp_path, f"u{k}.base", [line for i, line in enumerate(DATA) if i not in test])
        write(tmp_path, f"u{k}.test", [DATA[i] for i in test])
    return tmp_path


def test_read_movielens_fields(ml_dir):
    ml = read_movielens(str(ml_dir))
    assert isinstance(ml, MovieLens) and isinstance(ml.ratings, Ratings)
    r = ml.ratings
    assert (r.n_users, r.n_items) == (4, 5) and r.n == len(r) == 5
    np.testing.assert_array_equal(r.user, [0, 0, 1, 2, 1])
    np.testing.assert_array_equal(r.item, [0, 2, 1, 0, 3])
    np.testing.assert_array_equal(r.rating, [5, 3, 4, 1, 2])
    assert r.user.dtype == np.int64 and r.item.dtype == np.int64 and r.rating.dtype == np.float64
    dense = r.dense()
    assert dense.shape == (4, 5) and dense[0, 0] == 5 and dense[1, 3] == 2 and np.isnan(dense[3]).all()
    assert r.dense(fill=0.0).sum() == 15


def test_read_movielens_folds(ml_dir):
    folds = read_movielens(ml_dir).folds
    assert len(folds) == 2
    (train1, test1), (train2, test2) = folds
    assert (len(train1), len(test1), len(train2), len(test2)) == (3, 2, 2, 3)
    np.testing.assert_array_equal(test1.user, [0, 1])
    np.testing.assert_array_equal(test1.item, [0, 1])
    np.testing.assert_array_equal(train2.rating, [5, 4])
    for part in (train1, test1, train2, test2):
        assert (part.n_users, part.n_items) == (4, 5)


def test_read_movielens_without_info_or_folds(tmp_path):
    write(tmp_path, "u.data", DATA)
    ml = read_movielens(tmp_path)
    assert (ml.ratings.n_users, ml.ratings.n_items) == (3, 4) and ml.folds == []


def test_read_movielens_missing_data(tmp_path):
    with pytest.raises(DataError, match=rf"u\.data: no such file.*{re.escape(str(tmp_path))}"):
        read_movielens(tmp_path)


def test_read_movielens_half_fold(ml_dir):
    (ml_dir / "u2.test").unlink()
    with pytest.raises(DataError, match=r"u2\.test: no such file; u2\.base is there"):
        read_movielens(ml_dir)


@pytest.mark.parametrize("line, message", [
    ("3\t2\t4", r"u\.data: line 3: found 3 fields, expected 4"),
    ("x\t2\t4\t0", r"u\.data: line 3: user id 'x' is not an integer"),
    ("3\t2.5\t4\t0", r"u\.data: line 3: item id '2\.5' is not an integer"),
    ("0\t2\t4\t0", r"u\.data: line 3: user id 0 is below 1"),
    ("3\t2\tfive\t0", r"u\.data: line 3: rating 'five' is not a number"),
    ("3\t2\tnan\t0", r"u\.data: line 3: rating 'nan' is not a finite number"),
    ("5\t2\t4\t0", r"u\.data: line 3: user id 5 is above n_users = 4 \(line 1 of u\.info\)"),
    ("3\t6\t4\t0", r"u\.data: line 3: item id 6 is above n_items = 5 \(line 2 of u\.info\)"),
])
def test_read_movielens_data_errors(ml_dir, line, message):
    write(ml_dir, "u.data", DATA[:2] + [line] + DATA[3:])
    with pytest.raises(DataError, match=message):
        read_movielens(ml_dir)


def test_read_movielens_fold_and_info_errors(ml_dir):
    write(ml_dir, "u1.test", ["1\t9\t5\t0"])
    with pytest.raises(DataError, match=r"u1\.test: line 1: item id 9 is above n_items = 5"):
        read_movielens(ml_dir)
    write(ml_dir, "u.info", ["4 users", "lots items"])
    with pytest.raises(DataError, match=r"u\.info: line 2: expected '<count> users'"):
        read_movielens(ml_dir)
    write(ml_dir, "u.info", ["4 users", "5 items", "6 ratings"])
    with pytest.raises(DataError, match=r"u\.info: line 3: says 6 ratings, .*u\.data has 5"):
        read_movielens(ml_dir)
    (ml_dir / "u.info").unlink()
    with pytest.raises(DataError, match=r"u1\.test: line 1: item id 9 is above n_items = 4 \(the largest item id"):
        read_movielens(ml_dir)


# ---------------------------------------------------------------------------------------
# Generated benchmarks
# ---------------------------------------------------------------------------------------

def test_karate():
    pytest.importorskip("networkx")
    g = ds.karate()
    assert g.n_nodes == 34 and g.n_edges == 78 and g.adjacency.nnz == 156
    a = g.adjacency
    assert sp.isspmatrix_csr(a) and (a != a.T).nnz == 0 and not a.diagonal().any() and set(a.data) == {1.0}
    np.testing.assert_array_equal(g.features, np.eye(34))
    assert g.classes == ["Mr. Hi", "Officer"] and g.labels[0] == 0 and g.labels[33] == 1
    assert np.bincount(g.labels).tolist() == [17, 17]
    assert g.node_ids[0] == "0" and g.node_ids[33] == "33"


@pytest.fixture(scope="module")
def generated():
    return ds.ratings()


def test_ratings_default_size_and_values(generated):
    r = generated.ratings
    assert (r.n, r.n_users, r.n_items) == (100_000, 943, 1682)
    assert r.user.dtype == np.int64 and r.item.dtype == np.int64 and r.rating.dtype == np.float64
    assert set(np.unique(r.rating)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.unique(r.user * r.n_items + r.item).size == r.n
    assert np.bincount(r.user, minlength=943).min() >= 1 and np.bincount(r.item, minlength=1682).min() >= 1
    assert 3.3 < r.rating.mean() < 3.7


def test_ratings_folds_partition(generated):
    n = generated.ratings.n
    assert len(generated.folds) == 5
    keys = generated.ratings.user * generated.ratings.n_items + generated.ratings.item
    tests = []
    for train, test in generated.folds:
        assert (len(train), len(test)) == (80_000, 20_000)
        train_keys, test_keys = (p.user * p.n_items + p.item for p in (train, test))
        assert np.intersect1d(train_keys, test_keys).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train_keys, test_keys])), np.sort(keys))
        tests.append(test_keys)
    np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.sort(keys))
    assert len(np.concatenate(tests)) == n


def test_ratings_deterministic_and_small():
    a, b = ds.ratings(30, 20, 200, seed=3), ds.ratings(30, 20, 200, seed=np.random.default_rng(3))
    for x, y in [(a.ratings, b.ratings)] + [p for pair in zip(a.folds, b.folds) for p in zip(*pair)]:
        for field in ("user", "item", "rating"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
    assert not np.array_equal(ds.ratings(30, 20, 200, seed=4).ratings.rating, a.ratings.rating)
    full = ds.ratings(5, 4, 20, n_folds=0)
    assert full.folds == [] and not np.isnan(full.ratings.dense()).any()
    few = ds.ratings(10, 6, 7, n_folds=0).ratings      # too few to cover: distinct users and items
    assert np.unique(few.user).size == 7 and np.unique(few.item).size == 6


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_users=2, n_items=2, n_ratings=5), "more than the 4"),
    (dict(n_folds=1), "n_folds"),
    (dict(rank=0), "rank"),
    (dict(noise=-1.0), "noise"),
])
def test_ratings_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ds.ratings(**{"n_users": 10, "n_items": 10, "n_ratings": 50, **kwargs})


# ---------------------------------------------------------------------------------------
# Planetoid-style split
# ---------------------------------------------------------------------------------------

LABELS = np.repeat([0, 1, 2], [30, 50, 40])


def test_per_class_split_counts_and_disjoint():
    train, val, test = per_class_split(LABELS, per_class=5, n_val=20, n_test=40, seed=0)
    assert (train.size, val.size, test.size) == (15, 20, 40)
    assert np.bincount(LABELS[train]).tolist() == [5, 5, 5]
    joined = np.concatenate([train, val, test])
    assert np.unique(joined).size == joined.size and joined.max() < LABELS.size
    for part in (train, val, test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)


def test_per_class_split_deterministic():
    first = per_class_split(LABELS, 5, 20, 40, seed=7)
    again = per_class_split(LABELS, 5, 20, 40, seed=np.random.default_rng(7))
    other = per_class_split(LABELS, 5, 20, 40, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_per_class_split_errors():
    with pytest.raises(ValueError, match="class 0 has 30 nodes, fewer than per_class = 31"):
        per_class_split(LABELS, per_class=31, n_val=0, n_test=0)
    with pytest.raises(ValueError, match="105 nodes are left.*n_val \\+ n_test = 106"):
        per_class_split(LABELS, per_class=5, n_val=100, n_test=6)
