"""Dynamic networks: matnet vs pyrenn, in one run.

1. Jacobian time per time step of pyrenn's ``[1, 3, 3, 1]`` network with
   ``dIn=[1, 2]``, ``dIntern=[1]``, ``dOut=[1, 2, 3]`` (65 weights) on the same data
   and the same weights: pyrenn's ``RTRL`` against ``net.jacobian`` (matnet's
   forward-in-time dynamic Jacobian, forward pass included).  The two Jacobians are
   compared too.
2. NARX on the maglev data (4001 steps; the first 3200 train, the rest is held out),
   10 hidden neurons, delays 1:2: closed-loop LM on both sides from pyrenn's initial
   weights and damping (``mu=3``), pyrenn's scaling, zero initial states, the same
   number of epochs: seconds per epoch (the whole training call, after a warm-up,
   median of interleaved runs), whether both reach the same weights, and the
   closed-loop error on the held-out steps.  Then,
   matnet only, MATLAB's workflow: open-loop LM (and BR), the loop closed afterwards.

    .venv/bin/python benchmarks/narx_vs_pyrenn.py [--steps 500] [--train-steps 3200] [--epochs 20] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np

import matnet as mn
from matnet.data import prepare_timeseries
from matnet.data.scaling import Scaling


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
    pyrenn.RTRL(pnet, data)                                 # warm-ups
    net.jacobian(P.T, Y.T)
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
    """MATLAB's workflow: open-loop training on the first ``steps``, closed-loop error on
    the rest (matnet only: pyrenn trains recurrent networks closed-loop)."""
    train, held = slice(0, steps), slice(steps - 2, None)
    net = mn.narx([1, 2], [1, 2], [10], seed=0)
    t = time.perf_counter()
    h = net.fit(u[train], y[train], algorithm=algorithm, seed=0, progress=False)
    seconds = time.perf_counter() - t
    return h, seconds, closed_loop_mse(net.closed_loop(), u[held], y[held])


def closed_loop_mse(closed, u, y):
    inputs, targets, initial = prepare_timeseries(closed, u, y)
    prediction, _ = closed.simulate(inputs, initial)
    return float(np.mean((prediction - targets) ** 2))


def pyrenn_scaling(x):
    """pyrenn's normalisation ``x / max(|x|, 1)`` per feature, as a matnet Scaling."""
    norm = np.maximum(np.abs(x).max(axis=0), 1.0)
    return Scaling("minmax", 1 / norm, np.zeros(len(norm)), np.zeros(len(norm)))


def train_both(pyrenn, pnet, u, y, epochs, profile=None):
    """LM on both sides from pyrenn's weights, ``epochs`` epochs, closed loop for a
    dynamic network (pyrenn's scaling, ``mu=3``, zero initial states):
    ``(pyrenn seconds, pyrenn network, matnet seconds, matnet network, history)``.

    matnet trains on the targets in pyrenn's scaled units (pyrenn's errors are in those
    units, and LM's steps depend on them); the trained network then gets pyrenn's
    output scaling, so it predicts in data units.  ``profile`` (a context manager
    factory) wraps matnet's call.
    """
    net = matnet_like_pyrenn(pnet, pyrenn)
    net.input_scaling = {"x": pyrenn_scaling(u)}
    y_scaling = pyrenn_scaling(y)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        trained = pyrenn.train_LM(u.T, y.T, {**pnet, "w": pnet["w"].copy()}, k_max=epochs, E_stop=1e-300)
    pyrenn_seconds = time.perf_counter() - t
    with profile() if profile else contextlib.nullcontext():
        t = time.perf_counter()
        h = net.fit(u, y_scaling.apply(y), algorithm="lm", epochs=epochs, mu=3.0, division=None,
                    scaling=("keep", "keep"), max_fail=None, min_grad=0, progress=False,
                    **({"initial": {}} if net.is_dynamic else {}))
        matnet_seconds = time.perf_counter() - t
    net.output_scaling = {net.outputs[0]: y_scaling}
    return pyrenn_seconds, trained, matnet_seconds, net, h


def same_weights(pyrenn, pnet, trained, net):
    """Largest difference of the two trained weight vectors, relative to pyrenn's largest weight."""
    w_pyrenn = trained["w"][pyrenn_order(pnet, pyrenn)]
    return float(np.abs(net.get_flat() - w_pyrenn).max() / np.abs(w_pyrenn).max())


def maglev_benchmark(steps, epochs, repeats):
    pyrenn = pyrenn_module()
    data = mn.datasets.maglev(seed=0)
    u, y = data.u, data.y
    train, held = slice(0, steps), slice(steps - 2, None)
    results = {alg: matnet_narx(u, y, steps, alg) for alg in ("lm", "br")}
    np.random.seed(0)                 # pyrenn draws its initial weights from NumPy's global state
    pnet = pyrenn.CreateNN([1, 10, 1], dIn=[1, 2], dIntern=[], dOut=[1, 2])
    train_both(pyrenn, pnet, u[:200], y[:200], 1)                            # warm-up of both sides
    runs = sorted((train_both(pyrenn, pnet, u[train], y[train], epochs) for _ in range(repeats)),
                  key=lambda r: r[0])
    p_seconds = sorted(r[0] for r in runs)[len(runs) // 2]
    m_seconds = sorted(r[2] for r in runs)[len(runs) // 2]
    _, trained, _, net, h = runs[0]
    past = slice(steps - 2, steps)
    pyrenn_pred = pyrenn.NNOut(u[steps:].T, trained, P0=u[past].T, Y0=y[past].T).reshape(-1, 1)
    pyrenn_mse = float(np.mean((pyrenn_pred - y[steps:]) ** 2))
    matnet_mse = closed_loop_mse_from_past(net, u, y, steps)
    gap = same_weights(pyrenn, pnet, trained, net)
    print(f"NARX on maglev, 1-10-1, delays 1:2, {steps} training steps, {len(y) - steps} held-out steps "
          f"(variance {np.var(y[steps:]):.3g})")
    print(f"  closed-loop LM, {epochs} epochs from pyrenn's initial weights (mu 3), median of {repeats} runs:")
    p_epochs = len(trained["ErrorHistory"])          # pyrenn keeps the errors of epochs 0..k-1
    p_rate, m_rate = p_seconds / max(p_epochs, 1), m_seconds / max(h.epochs, 1)
    print(f"    pyrenn train_LM   {p_seconds:7.2f} s ({p_epochs} epochs, {1e3 * p_rate:.0f} ms/epoch), "
          f"held-out closed-loop MSE {pyrenn_mse:.3g}")
    print(f"    matnet lm         {m_seconds:7.2f} s ({h.epochs} epochs, {1e3 * m_rate:.0f} ms/epoch, "
          f"{h.stop_reason}), held-out closed-loop MSE {matnet_mse:.3g}   -> {p_rate / m_rate:.0f}x faster per epoch")
    print(f"    trained weights of both sides differ by {gap:.1e} (relative): the same training")
    print("  matnet only (open-loop training as MATLAB's workflow, then the loop closed):")
    for alg, (h, seconds, mse) in results.items():
        print(f"    matnet {alg} open loop ({h.epochs} epochs, {h.stop_reason}): {seconds:7.2f} s, "
              f"held-out closed-loop MSE {mse:.3g}")


def closed_loop_mse_from_past(net, u, y, steps):
    """Held-out closed-loop MSE of a closed-loop network started from the measured past."""
    state = {"x": u[steps - 2:steps], "L2": y[steps - 2:steps]}
    prediction, _ = net.simulate(u[steps:], initial=state)
    return float(np.mean((prediction - y[steps:]) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="time steps of the Jacobian data")
    parser.add_argument("--train-steps", type=int, default=3200, help="maglev training steps (of 4001)")
    parser.add_argument("--epochs", type=int, default=20, help="closed-loop LM epochs of both sides")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs (median)")
    args = parser.parse_args()
    jacobian_benchmark(args.steps)
    maglev_benchmark(args.train_steps, args.epochs, args.repeats)


if __name__ == "__main__":
    main()
