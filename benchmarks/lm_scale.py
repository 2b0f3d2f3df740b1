"""Levenberg–Marquardt at scale: seconds per epoch, the rate of ``JᵀJ`` and peak memory.

For networks of 500 to 3,000 parameters and 10⁴ to 10⁶ samples (``y = sin(x1) cos(x2)``
and more inputs, tanh hidden layer): the second LM epoch of ``net.fit`` (its μ trials
and its normal equations; median of ``--repeats`` runs after a warm-up), the normal equations alone (the Jacobian in blocks
and ``JᵀJ``, ``Jᵀe`` accumulated; ``JᵀJ`` is NumPy's symmetric rank-k update for
``J.T @ J``), their rate in GFLOP/s counting ``n P²`` for ``JᵀJ``, that rate as a
fraction of the machine's ``dgemm`` rate measured in the same run, and the normal
equations' peak memory (tracemalloc).  The normal equations are timed with the threads
LM gives them: below ``LM_SMALL`` parameters BLAS on one thread and the blocks on one
worker per BLAS thread.

    .venv/bin/python benchmarks/lm_scale.py [--repeats 3] [--largest 1000000]
"""
from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

import matnet as mn
from matnet.derivatives import problem_of
from matnet.threads import few_threads
from matnet.train.levenberg_marquardt import LM_SMALL

CASES = [((10, 45, 1), 10_000), ((10, 45, 1), 100_000), ((10, 45, 1), 1_000_000),
         ((20, 100, 1), 10_000), ((20, 100, 1), 100_000), ((30, 90, 1), 10_000), ((30, 90, 1), 100_000)]


def dgemm_rate(n=2000, repeats=3):
    A = np.random.default_rng(0).standard_normal((n, n))
    A @ A
    best = min(_seconds(lambda: A @ A) for _ in range(repeats))
    return 2 * n ** 3 / best


def _seconds(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def data(n_inputs, n):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(n, n_inputs))
    T = (np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * X[:, 2:].sum(axis=1))[:, None]
    return X, T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--largest", type=int, default=1_000_000, help="skip cases with more samples")
    args = parser.parse_args()
    peak = dgemm_rate()
    print(f"dgemm (2000x2000, float64, all BLAS threads): {peak / 1e9:.1f} GFLOP/s")
    print(f"{'network':<10} {'params':>6} {'samples':>9} {'s/epoch':>8} {'JtJ s':>7} {'GFLOP/s':>8} "
          f"{'of dgemm':>8} {'peak MiB':>9}")
    for sizes, n in CASES:
        if n > args.largest:
            continue
        X, T = data(sizes[0], n)
        net = mn.mlp(sizes, seed=0)
        net.fit(X[:1000], T[:1000], algorithm="lm", epochs=1, division=None, progress=False)   # warm-up
        epochs = []
        for _ in range(args.repeats):
            h = mn.mlp(sizes, seed=0).fit(X, T, algorithm="lm", epochs=2, division=None, max_fail=None,
                                          progress=False)
            epochs.append((h.time[-1] - h.time[1]) / (h.epochs - 1))      # epoch 2: one whole LM epoch
        equations = problem_of(net, X, T).normal_equations()
        with few_threads(net.n_params, LM_SMALL):       # the threads LM's epochs run with
            tracemalloc.start()
            equations.compute()
            memory = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            normal = statistics.median(_seconds(equations.compute) for _ in range(args.repeats))
        rate = n * net.n_params ** 2 / normal
        print(f"{'-'.join(map(str, sizes)):<10} {net.n_params:6d} {n:9d} {statistics.median(epochs):8.2f} "
              f"{normal:7.2f} {rate / 1e9:8.1f} {rate / peak:8.0%} {memory / 2**20:9.1f}")


if __name__ == "__main__":
    main()
