"""Closed-loop and layer-recurrent Levenberg–Marquardt over many seeds: how the
starting damping decides whether training collapses.

For each problem and starting damping μ₀, ``--seeds`` networks from matnet's default
initialisation train ``--epochs`` LM epochs on the whole series (no division); printed
are the median final training MSE over the output variance (a constant output gives
1), the share of runs below a tenth of it, the share above a half (collapsed) and the
runs that stopped at ``mu_max``.  ``RECURRENT_MU`` is matnet's default for networks with
feedback from layers; 0.001 is MATLAB's ``trainlm`` default.

    .venv/bin/python benchmarks/recurrent_seeds.py [--seeds 20] [--steps 400] [--epochs 100]
"""
from __future__ import annotations

import argparse

import numpy as np

import matnet as mn
from matnet.train.levenberg_marquardt import RECURRENT_MU


def pt2_net(seed):
    """pyrenn's PT2 topology [1, 2, 2, 1]: layer feedback with delay 1, output feedback 1-2."""
    net = mn.narx([0], [1, 2], [2, 2], loop="closed", seed=seed)
    for layer in ("h1", "h2"):
        net.connect(layer, layer, delays=[1])
    return net


PROBLEMS = {
    "pt2 [1,2,2,1]": (lambda n: mn.datasets.second_order(n, seed=1), pt2_net),
    "narendra NARX": (lambda n: mn.datasets.narendra(n, seed=1),
                      lambda seed: mn.narx([1, 2], [1, 2, 3], [3, 3], loop="closed", seed=seed)),
    "elman 8": (lambda n: mn.datasets.second_order(n, seed=1), lambda seed: mn.layer_recurrent([1, 2], [8], seed=seed)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    print(f"{args.seeds} seeds, {args.steps} steps, {args.epochs} LM epochs; final MSE / output variance")
    print(f"{'problem':<16} {'mu0':>6} {'median':>8} {'< 0.1':>7} {'> 0.5':>7} {'mu_max':>7}")
    for name, (make_data, make_net) in PROBLEMS.items():
        data = make_data(args.steps)
        variance = float(np.var(data.y))
        for mu in (0.001, RECURRENT_MU):
            finals, stalls = [], 0
            for seed in range(args.seeds):
                h = make_net(seed).fit(data.u, data.y, algorithm="lm", mu=mu, epochs=args.epochs, division=None,
                                       seed=0, progress=False)
                finals.append(h.train_loss[-1] / variance)
                stalls += h.stop_reason == "mu_max"
            finals = np.array(finals)
            print(f"{name:<16} {mu:>6g} {np.median(finals):8.3f} {np.mean(finals < 0.1):7.0%} "
                  f"{np.mean(finals > 0.5):7.0%} {stalls:7d}")


if __name__ == "__main__":
    main()
