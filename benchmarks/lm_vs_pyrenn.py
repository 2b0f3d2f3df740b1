"""Levenberg–Marquardt: matnet vs pyrenn's ``train_LM`` vs matnet Adam, in one run.

Same network, data and initial weights for all three (pyrenn's internal scaling,
``x / max(|x|, 1)`` per row, is given to matnet as its input/output scaling so the
two optimise the same function).  Two problems:

* ``sin``: ``y = sin(x)`` on [-π, π], 200 points, 1-10-1 tanh;
* ``2d``:  ``y = sin(x1) cos(x2) + 0.3 x1 x2`` on [-2, 2]², 1000 points, 2-15-1 tanh.

Prints epochs and seconds to reach MSE 1e-5 (or the best reached within the budget; a
run that stopped within 5% of the target counts as reaching it, since each method checks
its own loss record), side by side, and the ratios.  Each side's time is its whole
training call — matnet's ``fit`` with its data preparation and first Jacobian, pyrenn's
``train_LM`` with its own — after one warm-up of each, the median of interleaved runs.

    .venv/bin/python benchmarks/lm_vs_pyrenn.py [--budget 30] [--pyrenn-epochs 400] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np

import matnet as mn
from matnet.data.scaling import Scaling

TARGET = 1e-5


def problems():
    x = np.linspace(-np.pi, np.pi, 200)[:, None]
    yield "sin 1-10-1", x, np.sin(x), [1, 10, 1]
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(1000, 2))
    yield "2d 2-15-1", X, (np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.3 * X[:, 0] * X[:, 1])[:, None], [2, 15, 1]


def pyrenn_module():
    import pyrenn
    if not hasattr(np, "int"):   # pyrenn 0.1 predates NumPy 2; only its loader uses np.int
        np.int = int
    return pyrenn


def matched_network(sizes, X, T, seed=0):
    """A matnet MLP with pyrenn's scaling; the same weights go into pyrenn."""
    net = mn.mlp(sizes, seed=seed)
    norm_x = np.maximum(np.abs(X).max(axis=0), 1.0)
    norm_y = np.maximum(np.abs(T).max(axis=0), 1.0)
    zeros = lambda n: np.zeros(n)  # noqa: E731
    net.input_scaling = {"x": Scaling("minmax", 1 / norm_x, zeros(len(norm_x)), zeros(len(norm_x)))}
    net.output_scaling = {"y": Scaling("minmax", 1 / norm_y, zeros(len(norm_y)), zeros(len(norm_y)))}
    return net


def pyrenn_weights(net):
    """matnet's matrices in pyrenn's weight vector (column-major blocks, layer by layer)."""
    return np.concatenate([net.weights["x", "h1"].ravel("F"), net.biases["h1"],
                           net.weights["h1", "y"].ravel("F"), net.biases["y"]])


def run_pyrenn(sizes, X, T, net, k_max):
    """pyrenn's ``train_LM`` from ``net``'s weights, the whole call timed."""
    pyrenn = pyrenn_module()
    pnet = pyrenn.CreateNN(sizes)
    pnet["w"] = pyrenn_weights(net)
    P, Y = X.T.copy(), T.T.copy()
    norm_y = np.maximum(np.abs(T).max(axis=0), 1.0)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        # pyrenn's error is the sum of squares in its scaled units (y / max(|y|, 1))
        trained = pyrenn.train_LM(P, Y, pnet, k_max=k_max, E_stop=TARGET * T.size / float(np.max(norm_y)) ** 2)
    seconds = time.perf_counter() - t
    mse = np.mean((pyrenn.NNOut(P, trained).reshape(T.T.shape).T - T) ** 2)
    return len(trained["ErrorHistory"]) - 1, seconds, mse


def run_matnet(net, X, T, algorithm, budget, **options):
    """matnet's ``fit`` from ``net``'s weights, the whole call timed (set-up included)."""
    t = time.perf_counter()
    h = net.fit(X, T, algorithm=algorithm, division=None, scaling=("keep", "keep"), goal=TARGET,
                max_time=budget, min_grad=0, progress=False, **options)
    seconds = time.perf_counter() - t
    return h.epochs, seconds, float(np.mean((net(X) - T) ** 2))


def median_run(runs):
    """The run of median time among ``runs`` (epochs, seconds, mse)."""
    return sorted(runs, key=lambda r: r[1])[len(runs) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds allowed per matnet run")
    parser.add_argument("--pyrenn-epochs", type=int, default=400, help="epochs allowed to pyrenn")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per method (median)")
    args = parser.parse_args()
    print(f"time to MSE {TARGET:g}, the whole fit call (set-up included) after one warm-up, median of "
          f"{args.repeats} interleaved runs; same initial weights")
    print(f"{'problem':12s} {'method':12s} {'epochs':>7s} {'seconds':>9s} {'ms/epoch':>9s} {'final MSE':>10s}")
    for name, X, T, sizes in problems():
        base = matched_network(sizes, X, T)
        methods = {
            "matnet lm": lambda: run_matnet(base.copy(), X, T, "lm", args.budget, epochs=100_000),
            "pyrenn LM": lambda: run_pyrenn(sizes, X, T, base, k_max=args.pyrenn_epochs),
            "matnet adam": lambda: run_matnet(base.copy(), X, T, "adam", args.budget, lr=0.01, batch_size=len(X),
                                              epochs=1_000_000, max_fail=None),
        }
        run_matnet(base.copy(), X, T, "lm", args.budget, epochs=1)          # warm-up of both sides
        run_pyrenn(sizes, X, T, base, k_max=1)
        runs = {method: [] for method in methods}
        for _ in range(args.repeats):                                       # interleaved
            for method, run in methods.items():
                runs[method].append(run())
        rows = {method: median_run(r) for method, r in runs.items()}
        for method, (epochs, seconds, mse) in rows.items():
            reached = "" if mse <= TARGET * 1.05 else "  (not reached)"
            print(f"{name:12s} {method:12s} {epochs:7d} {seconds:9.3f} {1e3 * seconds / max(epochs, 1):9.3f} "
                  f"{mse:10.2e}{reached}")
        lm, py, adam = rows["matnet lm"], rows["pyrenn LM"], rows["matnet adam"]
        print(f"{'':12s} matnet lm vs pyrenn: {py[1] / lm[1]:.0f}x less wall time"
              f"{'' if py[2] <= TARGET * 1.05 else ' (pyrenn did not reach the target: a lower bound)'}; "
              f"{adam[0] / max(lm[0], 1):.0f}x fewer epochs than adam"
              f"{'' if adam[2] <= TARGET * 1.05 else ' (adam did not reach the target: a lower bound)'}")


if __name__ == "__main__":
    main()
