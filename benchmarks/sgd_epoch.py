"""Minibatch SGD: matnet vs PyTorch CPU vs scikit-learn, fit against fit, in one run.

784-256-256-10 ReLU/softmax network, float32, batch 128, plain SGD (lr 0.01), 60,000
random samples, ``--epochs`` epochs over all of them, inputs standardised on every side.
Timed as a user calls it: matnet's whole ``fit`` (data checks, label encoding, scaling,
the initial loss; no division, as the peers train on all samples), PyTorch's eager loop
with its standardisation and set-up, scikit-learn's ``StandardScaler`` and
``MLPClassifier.fit``; and the epoch loop alone of matnet and PyTorch.  One warm-up,
then ``--repeats`` interleaved runs, each after a pause as a user's call starts (the
threads of the run before asleep: OpenBLAS's spin for about 0.1 s after a call and would
hold a core); medians and ratios.  After them, matnet's ``fit`` with all its defaults
shows the share of an epoch spent outside the loop.  The
single-thread float32 matrix-product peak (numpy 4096×4096 matmul) is measured in the
same run to show how much of the machine matnet's epoch uses.

    .venv/bin/python benchmarks/sgd_epoch.py            # all BLAS threads
    .venv/bin/python benchmarks/sgd_epoch.py --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import matnet as mn

SIZES = [784, 256, 256, 10]
N, BATCH, LR = 60_000, 128, 0.01


def epoch_flops(n=N, sizes=SIZES):
    """Multiply-adds ×2 of forward, weight gradients and the hidden layers' input gradients."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(a * b for a, b in pairs)
    back_inputs = sum(a * b for a, b in pairs[1:])   # no gradient is needed for the data
    return 2 * n * (2 * forward + back_inputs)


def matmul_peak(size=4096, repeats=3):
    A = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    A @ A
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        A @ A
        times.append(time.perf_counter() - t)
    return 2 * size ** 3 / min(times)


def run_matnet(X, y, epochs, defaults=False):
    """matnet's whole ``fit`` and the loop alone, ``(epoch seconds, fit seconds)``: as
    the peers train (all samples, inputs standardised), or with ``fit``'s defaults
    (min-max scaling, a 70/15/15 division whose validation and test sets each epoch
    evaluates)."""
    net = mn.mlp(SIZES, activation="relu", output_activation="softmax", init="he", seed=0, dtype="float32")
    like_peers = {} if defaults else dict(division=None, scaling="standard", max_fail=None)
    t = time.perf_counter()
    h = net.fit(X, y, algorithm="sgd", lr=LR, batch_size=BATCH, epochs=epochs, progress=False, seed=0, **like_peers)
    total = time.perf_counter() - t
    return (h.time[-1] - h.time[0]) / epochs, total


def _after_pause(run, seconds=0.2):
    """``run()`` once the BLAS threads of the work before have stopped spinning (OpenBLAS's
    wait for the next call, about 0.1 s, holds a core), as a user's ``fit`` starts."""
    time.sleep(seconds)
    return run()


def run_torch(X, y, threads, epochs):
    """PyTorch's eager loop, inputs standardised once: ``(epoch seconds, fit seconds)``."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t = time.perf_counter()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    Xt = (Xt - Xt.mean(dim=0)) / Xt.std(dim=0).clamp_min(1e-12)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    loop = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(N)
        for i in range(0, N, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    end = time.perf_counter()
    return (end - loop) / epochs, end - t


def run_sklearn(X, y, epochs):
    """scikit-learn's ``MLPClassifier.fit`` (on standardised inputs, as the others)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), activation="relu", solver="sgd", batch_size=BATCH,
                        learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=epochs, shuffle=True,
                        random_state=0, tol=0.0, n_iter_no_change=epochs + 1)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(StandardScaler().fit_transform(X), y)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of every fit")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=N)
    E = args.epochs
    with threadpool_limits(limits=args.threads, user_api="blas"):
        threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        with threadpool_limits(limits=1, user_api="blas"):
            peak1 = matmul_peak()
        run_matnet(X[:2000], y[:2000], 1)                             # warm-ups
        run_torch(X, y, threads, 1)
        epoch = {"matnet": [], "pytorch": []}
        fits = {"matnet": [], "pytorch": [], "sklearn": []}
        for _ in range(args.repeats):                                 # interleaved
            for name, run in (("matnet", lambda: run_matnet(X, y, E)),
                              ("pytorch", lambda: run_torch(X, y, threads, E))):
                e, f = _after_pause(run)
                epoch[name].append(e)
                fits[name].append(f)
            if not args.no_sklearn:
                fits["sklearn"].append(_after_pause(lambda: run_sklearn(X, y, E)))
        defaults = [_after_pause(lambda: run_matnet(X, y, E, defaults=True)) for _ in range(args.repeats + 1)][1:]
    med_epoch = {k: statistics.median(v) for k, v in epoch.items()}
    med_fit = {k: statistics.median(v) for k, v in fits.items() if v}
    flops = epoch_flops()
    print(f"SGD, {SIZES}, float32, batch {BATCH}, {N} samples, {E} epochs; BLAS threads {threads}; "
          f"median of {args.repeats} interleaved runs after a warm-up")
    print(f"single-thread float32 matmul peak (4096x4096): {peak1 / 1e9:.1f} GFLOP/s")
    print(f"{'one epoch (the loop)':28s} {'seconds':>8s} {'samples/s':>10s} {'GFLOP/s':>8s} {'matnet speed-up':>16s}")
    for name, sec in med_epoch.items():
        print(f"{name:28s} {sec:8.3f} {N / sec:10.0f} {flops / sec / 1e9:8.1f} {sec / med_epoch['matnet']:15.2f}x")
    print(f"{'whole fit, ' + str(E) + ' epochs':28s} {'seconds':>8s} {'':>10s} {'':>8s}")
    for name, sec in med_fit.items():
        print(f"{name:28s} {sec:8.3f} {'':>10s} {'':>8s} {sec / med_fit['matnet']:15.2f}x")
    outside = med_fit["matnet"] - E * med_epoch["matnet"]
    print(f"matnet epoch uses {flops / med_epoch['matnet'] / peak1:.0%} of the single-thread matmul peak"
          + ("" if threads == 1 else f" ({threads} threads)")
          + f"; its fit spends {outside:.3f} s ({outside / med_epoch['matnet']:.0%} of an epoch) outside the loop")
    first = fits["matnet"][0] - E * epoch["matnet"][0]
    print(f"  (the first of these fits, the process's first touch of memory for the scaled copy: {first:.3f} s)")
    e, f = (statistics.median(v) for v in zip(*defaults))
    outside = f - E * e
    print(f"matnet's fit with its defaults (min-max scaling, 70/15/15 division; {args.repeats} runs after these): "
          f"epoch {e:.3f} s, {outside:.3f} s ({outside / e:.0%} of an epoch) outside the loop")


if __name__ == "__main__":
    main()
