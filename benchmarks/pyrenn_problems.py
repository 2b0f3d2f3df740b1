"""Levenberg–Marquardt on pyrenn's example problems: matnet vs pyrenn, in one run.

pyrenn's examples ship their data only in a binary spreadsheet that this project cannot
read, so each problem here keeps pyrenn's topology, training settings and data size with
a simulated stand-in for the data:

* friction: static ``[1, 3, 3, 1]`` on a Stribeck friction curve (200 samples);
* pt2: ``[1, 2, 2, 1]``, ``dIn=[0]``, ``dIntern=[1]``, ``dOut=[1, 2]`` on a second-order lag
  (``mn.datasets.second_order``, 500 steps);
* narendra4: ``[1, 3, 3, 1]``, ``dIn=[1, 2]``, ``dOut=[1, 2, 3]`` on Narendra's fourth plant
  (``mn.datasets.narendra``, 500 steps);
* compair: ``[3, 5, 5, 2]``, ``dIn=[0]``, ``dOut=[1]`` on a simulated compressed-air store
  (3 inputs, 2 outputs, 480 steps).

Both sides start from pyrenn's initial weights (``np.random.seed(k)`` before
``CreateNN``), pyrenn's scaling and starting damping (``mu=3``), zero initial states,
and run the same number of epochs (closed loop for the dynamic ones).  Printed: seconds
per epoch of the whole training call (median of ``--repeats`` interleaved runs after a
warm-up), the speed-up, whether both reach the same weights, and where matnet's epoch
goes (Jacobian with its forward pass, ``JᵀJ``, solves, trial evaluations).

    .venv/bin/python benchmarks/pyrenn_problems.py [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import matnet as mn
from matnet.train import levenberg_marquardt as lm_module
from matnet.train import problem as problem_module
from narx_vs_pyrenn import pyrenn_module, same_weights, train_both


def friction(n=200, seed=0):
    """Stribeck friction force (N) against velocity (m/s), with measurement noise."""
    rng = np.random.default_rng(seed)
    v = np.sort(rng.uniform(-3, 3, n))
    force = np.sign(v) * (1.0 + 0.8 * np.exp(-(v / 0.4) ** 2)) + 0.3 * v + 0.02 * rng.normal(size=n)
    return v[:, None], force[:, None]


def compressed_air(n=480, seed=0):
    """A compressed-air store: inputs compressor command (0..1), air demand (0..1) and
    ambient temperature (°C); outputs storage pressure (bar) and electric power (kW)."""
    rng = np.random.default_rng(seed)
    u = np.empty((n, 3))
    k = 0
    while k < n:
        hold = int(rng.integers(4, 24))
        u[k:k + hold, :2] = rng.uniform(0, 1, 2)
        k += hold
    u[:, 2] = 15 + 8 * np.sin(2 * np.pi * np.arange(n) / 96)
    y = np.zeros((n, 2))
    pressure = 20.0
    for k in range(n):
        y[k] = pressure, u[k, 0] * (60 + 1.5 * pressure) + 0.2 * u[k, 2]
        pressure = np.clip(pressure + 2.5 * u[k, 0] * (1 - pressure / 40) - 2.0 * u[k, 1], 0, 40)
    return u, y


def problems():
    pt2, narendra = mn.datasets.second_order(500, seed=0), mn.datasets.narendra(500, seed=0)
    return {
        "friction": (friction(), dict(nn=[1, 3, 3, 1], dIn=[0], dIntern=[], dOut=[]), 100),
        "pt2": ((pt2.u, pt2.y), dict(nn=[1, 2, 2, 1], dIn=[0], dIntern=[1], dOut=[1, 2]), 100),
        "narendra4": ((narendra.u, narendra.y), dict(nn=[1, 3, 3, 1], dIn=[1, 2], dIntern=[], dOut=[1, 2, 3]), 200),
        "compair": (compressed_air(), dict(nn=[3, 5, 5, 2], dIn=[0], dIntern=[], dOut=[1]), 100),
    }


class EpochProfile:
    """Seconds matnet's LM spends in the Jacobian (with its forward pass), in ``JᵀJ``
    and ``Jᵀe``, in the damped solves and in the trial runs (one by one, or side by
    side for a recurrent network: ``train/candidates.py``), timers wrapped around the
    library's functions for the duration."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def active(self):
        originals = (problem_module.jacobian_blocks, problem_module.NormalEquations.compute,
                     problem_module.NormalEquations.sse, lm_module.solve_damped,
                     problem_module.NormalEquations.candidate_sse)
        seconds = self.seconds

        def timed(name, f):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return f(*args, **kwargs)
                finally:
                    seconds[name] += time.perf_counter() - t
            return wrapper

        def jacobian_blocks(*args, **kwargs):
            blocks = originals[0](*args, **kwargs)
            while True:
                t = time.perf_counter()
                try:
                    block = next(blocks)
                except StopIteration:
                    return
                finally:
                    seconds["jacobian"] += time.perf_counter() - t
                yield block

        problem_module.jacobian_blocks = jacobian_blocks
        problem_module.NormalEquations.compute = timed("normal equations", originals[1])
        problem_module.NormalEquations.sse = timed("trials", originals[2])
        lm_module.solve_damped = timed("solves", originals[3])
        problem_module.NormalEquations.candidate_sse = timed("trials", originals[4])
        try:
            yield self
        finally:
            (problem_module.jacobian_blocks, problem_module.NormalEquations.compute,
             problem_module.NormalEquations.sse, lm_module.solve_damped,
             problem_module.NormalEquations.candidate_sse) = originals

    def shares(self, total):
        """``{part: fraction of total}``; the normal equations less their Jacobian is ``JᵀJ``."""
        s = self.seconds
        parts = {"Jacobian": s["jacobian"], "JᵀJ, Jᵀe": s["normal equations"] - s["jacobian"],
                 "solves": s["solves"], "trials": s["trials"]}
        parts["other"] = total - sum(parts.values())
        return {k: v / total for k, v in parts.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads of both sides (default 1)")
    args = parser.parse_args()
    pyrenn = pyrenn_module()
    print(f"LM on pyrenn's example problems (stand-in data), same initial weights and epochs; "
          f"{args.threads} BLAS thread(s); median of {args.repeats} interleaved runs after a warm-up")
    print(f"{'problem':<10} {'weights':>7} {'epochs':>6} {'pyrenn ms/ep':>12} {'matnet ms/ep':>12} "
          f"{'speed-up':>8} {'same weights':>13}   matnet's epoch: Jacobian / JᵀJ / solves / trials / other")
    with threadpool_limits(args.threads):
        for name, ((u, y), topology, epochs) in problems().items():
            np.random.seed(0)                # pyrenn draws its initial weights from NumPy's global state
            pnet = pyrenn.CreateNN(topology["nn"], dIn=topology["dIn"], dIntern=topology["dIntern"],
                                   dOut=topology["dOut"])
            train_both(pyrenn, pnet, u[:50], y[:50], 2)                            # warm-up
            runs = [train_both(pyrenn, pnet, u, y, epochs) for _ in range(args.repeats)]
            profile = EpochProfile()
            _, _, profiled, _, _ = train_both(pyrenn, pnet, u, y, epochs, profile.active)
            p_epochs = len(runs[0][1]["ErrorHistory"])
            p_rate = statistics.median(r[0] for r in runs) / p_epochs
            m_rate = statistics.median(r[2] for r in runs) / runs[0][4].epochs
            gap = same_weights(pyrenn, pnet, runs[0][1], runs[0][3])
            shares = " / ".join(f"{v:.0%}" for v in profile.shares(profiled).values())
            print(f"{name:<10} {pnet['N']:7d} {runs[0][4].epochs:6d} {1e3 * p_rate:12.2f} {1e3 * m_rate:12.2f} "
                  f"{p_rate / m_rate:7.1f}x {gap:13.1e}   {shares}")


if __name__ == "__main__":
    main()
