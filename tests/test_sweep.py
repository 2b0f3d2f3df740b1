"""Hyper-parameter sweeps: folds, seeds, the table, and the same table serially, with
joblib processes and on a Dask cluster."""
import math

import numpy as np
import pytest

import matnet as mn
from matnet.sweeps import METRICS, folds, summarize, sweep

pytest.importorskip("joblib")

FIT = {"algorithm": "lm", "epochs": 15}


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    return X, np.sin(X[:, :1]) * X[:, 1:]


def tanh_net(hidden):
    """A build function without a seed: the sweep re-initialises the weights."""
    return mn.mlp([2, hidden, 1], activation="tanh")


def strip(table):
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_same(a, b):
    for x, y in zip(strip(a), strip(b), strict=True):
        assert x.keys() == y.keys()
        for key in x:
            same = (x[key] == y[key]) or (isinstance(x[key], float) and math.isnan(x[key]) and math.isnan(y[key]))
            assert same, (key, x[key], y[key])


def test_folds():
    parts = folds(23, 4, seed=1)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert [len(p) for p in parts] == [6, 6, 6, 5]
    assert all((np.diff(p) > 0).all() for p in parts)
    assert all((a == b).all() for a, b in zip(parts, folds(23, 4, seed=1)))
    with pytest.raises(ValueError, match="n_splits"):
        folds(10, 1)


def test_table_rows_metrics_and_summary():
    X, T = data()
    runs, summary = sweep(mn.mlp, {"sizes": [[2, 3, 1], [2, 5, 1]], "activation": ["tanh", "relu"]}, X, T,
                          n_splits=3, restarts=2, fit_options=FIT, summary=True, as_frame=False)
    assert len(runs) == 4 * 3 * 2
    first = runs[0]
    assert {"combination", "sizes", "activation", "split", "restart", "seed", *METRICS, "stop_reason"} == set(first)
    # ParameterGrid order: sorted names, the last one varying fastest
    assert [(r["activation"], r["sizes"]) for r in runs[::6]] == [
        ("tanh", [2, 3, 1]), ("tanh", [2, 5, 1]), ("relu", [2, 3, 1]), ("relu", [2, 5, 1])]
    assert all(not math.isnan(r[k]) for r in runs for k in ("train_loss", "val_loss", "test_loss", "test_metric"))
    assert len({r["seed"] for r in runs}) == len(runs)
    assert runs[0]["train_loss"] != runs[1]["train_loss"]          # restarts start elsewhere
    assert len(summary) == 4 and summary[0]["runs"] == 6
    losses = [r["test_loss"] for r in runs[:6]]
    assert summary[0]["test_loss_mean"] == pytest.approx(np.mean(losses))
    assert summary[0]["test_loss_std"] == pytest.approx(np.std(losses))


def test_two_splits_have_no_validation_set():
    X, T = data(30)
    runs = sweep(mn.mlp, {"sizes": [[2, 2, 1]]}, X, T, n_splits=2, fit_options=FIT, as_frame=False)
    assert len(runs) == 2 and all(math.isnan(r["val_loss"]) and not math.isnan(r["test_loss"]) for r in runs)


def test_dataframe_and_summarize():
    pd = pytest.importorskip("pandas")
    X, T = data()
    runs = sweep(tanh_net, {"hidden": [2, 4]}, X, T, n_splits=3, fit_options=FIT)
    assert isinstance(runs, pd.DataFrame) and list(runs["hidden"]) == [2, 2, 2, 4, 4, 4]
    table = summarize(runs)
    assert list(table["hidden"]) == [2, 4] and (table["runs"] == 3).all()


def test_same_table_serial_and_in_two_processes():
    X, T = data()
    grid = {"hidden": [2, 4]}
    serial = sweep(tanh_net, grid, X, T, n_splits=3, restarts=2, fit_options=FIT)
    parallel = sweep(tanh_net, grid, X, T, n_splits=3, restarts=2, fit_options=FIT, n_jobs=2)
    assert_same(serial, parallel)
    other = sweep(tanh_net, grid, X, T, n_splits=3, restarts=2, fit_options=FIT, seed=1)
    assert strip(other) != strip(serial)


def test_argument_errors():
    X, T = data(20)
    with pytest.raises(ValueError, match="must not set 'division'"):
        sweep(mn.mlp, {"sizes": [[2, 1]]}, X, T, fit_options={"division": None})
    with pytest.raises(ValueError, match=r"grid\['sizes'\] is empty"):
        sweep(mn.mlp, {"sizes": []}, X, T)
    with pytest.raises(TypeError, match="grid must be a dict"):
        sweep(mn.mlp, [[2, 1]], X, T)
    with pytest.raises(ValueError, match="restarts"):
        sweep(mn.mlp, {"sizes": [[2, 1]]}, X, T, restarts=0)


def test_dask_cluster_gives_the_same_table():
    """joblib's dask backend on a local two-process cluster (loopback only)."""
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")
    import joblib
    X, T = data()
    grid = {"sizes": [[2, 3, 1], [2, 5, 1]]}
    serial = sweep(mn.mlp, grid, X, T, n_splits=3, fit_options=FIT)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            on_cluster = sweep(mn.mlp, grid, X, T, n_splits=3, fit_options=FIT)
        assert len(client.scheduler_info()["workers"]) == 2
    assert_same(serial, on_cluster)
