"""Training on a busy machine: Levenberg–Marquardt, Bayesian regularisation, minibatches.

Seconds per epoch on six problems, alone and while a busy-loop process started by
this script holds one core, interleaved (alone, busy, alone, ...), median of
``--repeats`` runs each, with the slowdown busy / alone:

* ``demo``: the bundled maglev NARX demo (open loop, 1-10-1, delays 1:2; 4001 steps), lm and br;
* ``closed``: the same NARX with its loop closed (a Python step per time step, the damping
  trials side by side), lm;
* ``2-20-1``: ``y = sin(x1) cos(x2)`` plus noise, 100,000 samples, lm and br;
* ``10-45-1``: the same function of 10 inputs, 100,000 samples, 541 parameters, lm (its
  normal equations on one worker thread per BLAS thread);
* ``NNMF``: Dziugaite & Roy's network on generated ratings (80,000), Adam, batch 200;
* ``20-64-64-1``: a small MLP on 50,000 samples, Adam, batch 200.

Each run trains a fixed number of epochs (no early stop), data preparation included,
as ``net.fit`` is called.  Small factorisations and solves, and minibatches of small
products, run on one BLAS thread (:mod:`matnet.threads`); large products keep every thread.

    .venv/bin/python benchmarks/busy_machine.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import matnet as mn


def demo_problem():
    data = mn.datasets.maglev(n_steps=4001, seed=0)
    return lambda: mn.narx([1, 2], [1, 2], [10], seed=0), data.u, data.y, 40


def closed_problem():
    data = mn.datasets.maglev(n_steps=4001, seed=0)
    return lambda: mn.narx([1, 2], [1, 2], [10], loop="closed", seed=0), data.u, data.y, 10


def wide_problem():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(100_000, 2))
    T = (np.sin(X[:, 0]) * np.cos(X[:, 1]))[:, None] + 0.01 * rng.normal(size=(100_000, 1))
    return lambda: mn.mlp([2, 20, 1], seed=0), X, T, 8


def large_problem():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(100_000, 10))
    T = (np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * X[:, 2:].sum(axis=1))[:, None]
    return lambda: mn.mlp([10, 45, 1], seed=0), X, T, 3


def ratings_problem():
    data = mn.datasets.ratings()
    train, _ = data.folds[0]
    return (lambda: mn.factorization.nnmf(943, 1682, 10, 60, [50, 50, 50], seed=0),
            {"user": train.user, "item": train.item}, train.rating, 1)


def mlp_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 20))
    T = np.tanh(X[:, :3].sum(1, keepdims=True))
    return lambda: mn.mlp([20, 64, 64, 1], seed=0), X, T, 2


def seconds_per_epoch(make, X, T, epochs, algorithm):
    net = make()
    start = time.perf_counter()
    history = net.fit(X, T, algorithm=algorithm, epochs=epochs, max_fail=None, goal=0.0, min_grad=0.0,
                      seed=0, progress=False)
    return (time.perf_counter() - start) / max(history.epochs, 1)


class BusyCore:
    """Another process that keeps one core busy (a busy loop; the OS schedules it)."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; median of {args.repeats} interleaved runs; seconds per epoch")
    print(f"{'problem':<10} {'algorithm':<9} {'alone':>9} {'busy':>9} {'slowdown':>9}")
    problems = (("demo", demo_problem, ("lm", "br")), ("closed", closed_problem, ("lm",)),
                ("2-20-1", wide_problem, ("lm", "br")),
                ("10-45-1", large_problem, ("lm",)),
                ("NNMF", ratings_problem, ("adam",)), ("20-64-64-1", mlp_problem, ("adam",)))
    for name, problem, algorithms in problems:
        make, X, T, epochs = problem()
        for algorithm in algorithms:
            seconds_per_epoch(make, X, T, 2, algorithm)               # warm-up
            alone, busy = [], []
            for _ in range(args.repeats):
                alone.append(seconds_per_epoch(make, X, T, epochs, algorithm))
                with BusyCore():
                    busy.append(seconds_per_epoch(make, X, T, epochs, algorithm))
            a, b = statistics.median(alone), statistics.median(busy)
            print(f"{name:<10} {algorithm:<9} {a:9.4f} {b:9.4f} {b / a:8.2f}x")


if __name__ == "__main__":
    main()
