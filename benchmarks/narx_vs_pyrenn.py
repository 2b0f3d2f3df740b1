"""Dynamic networks: matnet vs pyrenn, in one run.

1. Jacobian time per time step of pyrenn's ``[1, 3, 3, 1]`` network with
   ``dIn=[1, 2]``, ``dIntern=[1]``, ``dOut=[1, 2, 3]`` (65 weights) on the same data
   and the same weights: pyrenn's ``RTRL`` against ``net.jacobian`` (matnet's
   forward-in-time dynamic Jacobian, forward pass included).  The two Jacobians are
   compared too.
2. NARX on the maglev data (4001 steps; the first 3200 train, the rest is held out),
   10 hidden neurons, delays 1:2: time to train and the closed-loop error on the
   held-out steps.  matnet trains open loop with LM (and BR), as MATLAB's workflow
   does, then closes the loop; pyrenn can only train the closed loop (RTRL LM), within
   a time budget.

    .venv/bin/python benchmarks/narx_vs_pyrenn.py [--steps 500] [--train-steps 3200] [--budget 120]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np

import matnet as mn
from matnet.data import prepare_timeseries


def pyrenn_module():
    import pyrenn
    if not hasattr(np, "int"):   # pyrenn 0.1 predates NumPy 2; only its loader uses np.int
        np.int = int
    return pyrenn


def matnet_like_pyrenn(pnet, pyrenn):
    """The matnet network with pyrenn's structure and weights (``layers`` L1..LM)."""
    IW, LW, b = pyrenn.w2Wb(pnet)
    sizes, M = pnet["nn"], pnet["M"]
    net = mn.Network()
    net.add_input("x", sizes[0])
    names = [f"L{m}" for m in range(1, M + 1)]
    for m, name in enumerate(names, start=1):
        net.add_layer(name, sizes[m], "linear" if m == M else "tanh")
    delays_in = pnet["dI"][1, 1]
    net.connect("x", "L1", np.hstack([IW[1, 1, d] for d in delays_in]), delays=delays_in)
    for m in range(1, M + 1):
        for l in pnet["L_f"][m]:
            delays = pnet["dL"][m, l]
            net.connect(f"L{l}", f"L{m}", np.hstack([LW[m, l, d] for d in delays]), delays=delays)
        net.biases[f"L{m}"] = b[m]
    return net


def pyrenn_order(pnet, pyrenn):
    """For each entry of matnet's parameter vector, the index of the same weight in
    pyrenn's weight vector."""
    numbered = {**pnet, "w": np.arange(pnet["N"], dtype=float)}
    return matnet_like_pyrenn(numbered, pyrenn).get_flat().astype(int)


def jacobian_benchmark(steps, repeats=3):
    pyrenn = pyrenn_module()
    rng = np.random.default_rng(0)
    P = rng.uniform(-1, 1, size=(1, steps))
    Y = np.sin(np.cumsum(P, axis=1) * 0.3)                  # |values| <= 1: pyrenn's scaling is 1
    pnet = pyrenn.CreateNN([1, 3, 3, 1], dIn=[1, 2], dIntern=[1], dOut=[1, 2, 3])
    data, pnet = pyrenn.prepare_data(P, Y, pnet)
    net = matnet_like_pyrenn(pnet, pyrenn)
    times_p, times_m = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        Jp, _, ep = pyrenn.RTRL(pnet, data)
        times_p.append(time.perf_counter() - t)
        t = time.perf_counter()
        Jm, em = net.jacobian(P.T, Y.T)
        times_m.append(time.perf_counter() - t)
    order = pyrenn_order(pnet, pyrenn)          # pyrenn's weight index at each matnet column
    agree = np.abs(Jm + Jp[:, order]).max() / np.abs(Jp).max()   # pyrenn's e is t - y: J has the other sign
    per_p, per_m = np.median(times_p) / steps * 1e6, np.median(times_m) / steps * 1e6
    print(f"Jacobian of [1,3,3,1] dIn=[1,2] dIntern=[1] dOut=[1,2,3] ({net.n_params} weights), {steps} steps")
    print(f"  pyrenn RTRL     {per_p:9.1f} µs/step")
    print(f"  matnet jacobian {per_m:9.1f} µs/step   -> {per_p / per_m:.0f}x faster; "
          f"max |J| difference {agree:.1e} (relative)")


def matnet_narx(u, y, steps, algorithm):
    """Open-loop training on the first ``steps``, closed-loop error on the rest."""
    train, held = slice(0, steps), slice(steps - 2, None)
    net = mn.narx([1, 2], [1, 2], [10], seed=0)
    t = time.perf_counter()
    h = net.fit(u[train], y[train], algorithm=algorithm, seed=0, progress=False)
    seconds = time.perf_counter() - t
    closed = net.closed_loop()
    inputs, targets, initial = prepare_timeseries(closed, u[held], y[held])
    prediction, _ = closed.simulate(inputs, initial)
    return h, seconds, float(np.mean((prediction - targets) ** 2))


def maglev_benchmark(steps, budget):
    pyrenn = pyrenn_module()
    data = mn.datasets.maglev(seed=0)
    u, y = data.u, data.y
    train = slice(0, steps)
    results = {alg: matnet_narx(u, y, steps, alg) for alg in ("lm", "br")}
    pnet = pyrenn.CreateNN([1, 10, 1], dIn=[1, 2], dIntern=[], dOut=[1, 2])
    with contextlib.redirect_stdout(io.StringIO()):
        t = time.perf_counter()
        probe = pyrenn.train_LM(u[train].T, y[train].T, {**pnet, "w": pnet["w"].copy()}, k_max=1, E_stop=0)
        per_epoch = time.perf_counter() - t
        k_max = max(1, int(budget / per_epoch))
        t = time.perf_counter()
        pnet = pyrenn.train_LM(u[train].T, y[train].T, pnet, k_max=k_max, E_stop=1e-10)
        pyrenn_time = time.perf_counter() - t
    del probe
    past = slice(steps - 2, steps)
    pyrenn_pred = pyrenn.NNOut(u[steps:].T, pnet, P0=u[past].T, Y0=y[past].T).reshape(-1, 1)
    pyrenn_mse = float(np.mean((pyrenn_pred - y[steps:]) ** 2))
    print(f"NARX on maglev, 1-10-1, delays 1:2, {steps} training steps, {len(y) - steps} held-out steps "
          f"(variance {np.var(y[steps:]):.3g})")
    for alg, (h, seconds, mse) in results.items():
        print(f"  matnet ({alg} open loop, {h.epochs} epochs, {h.stop_reason}): {seconds:7.2f} s, "
              f"closed-loop held-out MSE {mse:.3g}")
    print(f"  pyrenn (LM closed loop, {len(pnet['ErrorHistory'])} epochs in the {budget:g} s budget): "
          f"{pyrenn_time:7.2f} s, closed-loop held-out MSE {pyrenn_mse:.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="time steps of the Jacobian data")
    parser.add_argument("--train-steps", type=int, default=3200, help="maglev training steps (of 4001)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds allowed for pyrenn's training")
    args = parser.parse_args()
    jacobian_benchmark(args.steps)
    maglev_benchmark(args.train_steps, args.budget)


if __name__ == "__main__":
    main()
