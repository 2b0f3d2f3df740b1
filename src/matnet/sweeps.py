"""Hyper-parameter sweeps: every combination of a grid, on every fold, every restart.

:func:`sweep` trains ``build(**params)`` for each combination of ``grid`` (all
combinations, as scikit-learn's ``ParameterGrid``), on each of ``n_splits`` folds and
``restarts`` initialisations, in parallel through joblib, and returns one row per run
plus, on request, a summary per combination.

Folds
-----
The samples are shuffled once (from ``seed``) and dealt into ``n_splits`` folds.  Run
``k`` tests on fold ``k``, stops early on fold ``k + 1`` (mod ``n_splits``), the
validation fold, and trains on the rest; with ``n_splits=2`` there is no validation
fold (train on one, test on the other).  Every run reports its losses and metrics at
its best epoch (the one whose weights it keeps).

Seeds and parallelism
---------------------
Each run gets its own seed, derived from ``(seed, combination, split, restart)``, for
its initial weights and for its training; if ``build`` takes a ``seed`` keyword (as
:func:`matnet.mlp` does) the seed goes there, otherwise the built network is
re-initialised with :func:`matnet.init.initialize`.  Runs are independent and each
uses one BLAS thread (when threadpoolctl is installed), so the table is the same for
any ``n_jobs`` and any joblib backend; only ``seconds`` differ.

``n_jobs=-1`` uses every core.  To run on a Dask cluster, wrap the call in
``joblib.parallel_config(backend="dask")`` with a ``dask.distributed.Client``
connected: ``build`` and the work function are pickled and sent to the workers, so
``build`` must be picklable there — a module-level function the workers can import
(or :func:`matnet.mlp` itself), not a lambda or a local function.
"""
from __future__ import annotations

import inspect
import itertools
import math
import time

import numpy as np

from .init import initialize
from .threads import one_thread

__all__ = ["sweep", "summarize", "folds", "METRICS"]

METRICS = ("train_loss", "val_loss", "test_loss", "train_metric", "val_metric", "test_metric", "epochs",
           "best_epoch", "seconds")


def folds(n, n_splits, seed=0):
    """``n_splits`` disjoint, sorted index arrays covering ``range(n)`` (shuffled from ``seed``)."""
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    if n < n_splits:
        raise ValueError(f"cannot make {n_splits} folds of {n} samples")
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5eed])).permutation(n)
    return [np.sort(part) for part in np.array_split(order, n_splits)]


def _division(parts, k):
    """``{"train", "val", "test"}`` index sets of split ``k``."""
    n_splits = len(parts)
    val = (k + 1) % n_splits if n_splits > 2 else None
    train = [parts[j] for j in range(n_splits) if j not in (k, val)]
    return {"train": np.concatenate(train), "val": parts[val] if val is not None else np.zeros(0, np.int64),
            "test": parts[k]}


def _grid(grid):
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict name -> list of values, got {type(grid).__name__}")
    lists = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"grid[{name!r}] must be a list of values, got {values!r}")
        lists[name] = list(values)
        if not lists[name]:
            raise ValueError(f"grid[{name!r}] is empty")
    names = sorted(lists)   # ParameterGrid order: sorted names, the last one varying fastest
    return [dict(zip(names, combo)) for combo in itertools.product(*(lists[n] for n in names))]


def _run_seed(seed, combination, split, restart):
    return int(np.random.SeedSequence([int(seed), combination, split, restart]).generate_state(1, np.uint64)[0]
               % (2 ** 63))


def _takes_seed(build):
    try:
        parameters = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False
    return "seed" in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


def _fit_one(build, params, X, T, division, fit_options, run_seed, takes_seed, init):
    """Build, train and score one run (module level so that joblib and Dask can pickle it)."""
    with one_thread():
        start = time.perf_counter()
        init_seed, fit_seed = np.random.SeedSequence(run_seed).spawn(2)
        net = build(**params, seed=np.random.default_rng(init_seed)) if takes_seed else build(**params)
        if not takes_seed:
            initialize(net, init, seed=np.random.default_rng(init_seed))
        options = {"progress": False, **fit_options, "division": division,
                   "seed": np.random.default_rng(fit_seed)}
        history = net.fit(X, T, **options)
        best = history.best()
        row = {key: (math.nan if best.get(key) is None else best[key]) for key in METRICS[:-3]}
        row.update(epochs=history.epochs, best_epoch=history.best_epoch, stop_reason=history.stop_reason,
                   seconds=time.perf_counter() - start)
        return row


def sweep(build, grid, X, T, n_splits=5, restarts=1, n_jobs=None, seed=0, fit_options=None, summary=False,
          init="nguyen_widrow", as_frame=None):
    """Train every combination of ``grid`` on every fold and restart; one row per run.

    Parameters
    ----------
    build : callable
        ``build(**params) -> Network`` (e.g. :func:`matnet.mlp` with ``grid`` over
        ``sizes``, or ``lambda hidden: mn.mlp([2, hidden, 1])`` for serial runs).
        Called with ``seed=`` too when it takes one.  Must be picklable for
        ``n_jobs != 1`` with process backends (a module-level function for Dask).
    grid : dict
        ``name -> list of values``; every combination is tried.
    X, T : arrays or dicts
        Inputs ``(n_samples, n_features)`` and targets, as :meth:`Network.fit` takes.
    n_splits : int
        Number of folds (>= 2; see the module docstring).
    restarts : int
        Initialisations per combination and fold.
    n_jobs : int, optional
        joblib's ``n_jobs``: None or 1 serial, -1 all cores.
    seed : int
        Root of every run's seed and of the folds.
    fit_options : dict, optional
        Passed to :meth:`Network.fit` (``algorithm``, ``epochs``, ``max_fail``, ...);
        ``division`` and ``seed`` are set by the sweep.
    summary : bool
        Also return the summary table (see :func:`summarize`).
    init : str
        Initialiser for networks whose ``build`` takes no seed.
    as_frame : bool, optional
        Return pandas DataFrames (default: when pandas is installed) or lists of dicts.

    Returns
    -------
    runs : DataFrame or list of dict
        One row per run, in grid order, then split, then restart: ``combination``
        (index into the grid), the parameters, ``split``, ``restart``, ``seed``, and
        ``train_loss``, ``val_loss``, ``test_loss``, ``train_metric``,
        ``val_metric``, ``test_metric`` (at the best epoch; NaN for an empty set),
        ``epochs``, ``best_epoch``, ``stop_reason``, ``seconds``.
    (runs, summary) when ``summary=True``.
    """
    try:
        from joblib import Parallel, delayed
    except ImportError as e:
        raise ImportError("sweep needs the package 'joblib', which is not installed: "
                          "pip install matnet[sweep]") from e
    fit_options = dict(fit_options or {})
    for key in ("division", "seed"):
        if key in fit_options:
            raise ValueError(f"fit_options must not set {key!r}: the sweep sets it for every run")
    if not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    combinations = _grid(grid)
    first = X if not isinstance(X, dict) else next(iter(X.values()))
    parts = folds(len(first), n_splits, seed)
    takes_seed = _takes_seed(build)
    runs = [(c, k, r) for c in range(len(combinations)) for k in range(n_splits) for r in range(restarts)]
    jobs = (delayed(_fit_one)(build, combinations[c], X, T, _division(parts, k), fit_options,
                              _run_seed(seed, c, k, r), takes_seed, init) for c, k, r in runs)
    results = Parallel(n_jobs=n_jobs)(jobs)
    rows = [{"combination": c, **combinations[c], "split": k, "restart": r, "seed": _run_seed(seed, c, k, r),
             **result} for (c, k, r), result in zip(runs, results)]
    table = _table(rows, as_frame)
    return (table, summarize(table, as_frame=as_frame)) if summary else table


def summarize(runs, as_frame=None):
    """Mean and standard deviation of every metric per combination.

    Parameters
    ----------
    runs : DataFrame or list of dict
        What :func:`sweep` returned.

    Returns
    -------
    DataFrame or list of dict
        One row per combination: ``combination``, the parameters, ``runs`` (the
        number of runs) and ``<metric>_mean``, ``<metric>_std`` (population std,
        NaN-aware) for each of :data:`METRICS`.
    """
    rows = runs.to_dict("records") if hasattr(runs, "to_dict") else list(runs)
    params = [k for k in (rows[0] if rows else {}) if k not in
              ("combination", "split", "restart", "seed", "stop_reason", *METRICS)]
    out = []
    for c in sorted({row["combination"] for row in rows}):
        group = [row for row in rows if row["combination"] == c]
        entry = {"combination": c, **{p: group[0][p] for p in params}, "runs": len(group)}
        for metric in METRICS:
            values = np.array([row[metric] for row in group], dtype=float)
            finite = values[~np.isnan(values)]
            entry[f"{metric}_mean"] = float(finite.mean()) if finite.size else math.nan
            entry[f"{metric}_std"] = float(finite.std()) if finite.size else math.nan
        out.append(entry)
    return _table(out, as_frame)


def _table(rows, as_frame):
    if as_frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        return rows
    return pd.DataFrame(rows)
