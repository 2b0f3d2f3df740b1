"""One epoch of minibatch SGD: matnet vs PyTorch CPU vs scikit-learn, in one run.

784-256-256-10 ReLU/softmax network, float32, batch 128, plain SGD (lr 0.01), 60,000
random samples; the same as issue 3's benchmark.  Each peer is timed ``--repeats``
times and the median is printed, with samples per second and ratios.  The
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


def run_matnet(X, y):
    net = mn.mlp(SIZES, activation="relu", output_activation="softmax", init="he", seed=0, dtype="float32")
    t = time.perf_counter()
    h = net.fit(X, y, algorithm="sgd", lr=LR, batch_size=BATCH, epochs=1, division=None, scaling=None,
                max_fail=None, progress=False, seed=0)
    total = time.perf_counter() - t
    return h.time[1] - h.time[0], total


def run_torch(X, y, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    t = time.perf_counter()
    perm = torch.randperm(N)
    for i in range(0, N, BATCH):
        idx = perm[i:i + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def run_sklearn(X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), activation="relu", solver="sgd", batch_size=BATCH,
                        learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=1, shuffle=True, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=N)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        peak1 = None
        with threadpool_limits(limits=1, user_api="blas"):
            peak1 = matmul_peak()
        results = {"matnet": [], "matnet fit() total": [], "pytorch": [], "sklearn": []}
        for _ in range(args.repeats):
            epoch, total = run_matnet(X, y)
            results["matnet"].append(epoch)
            results["matnet fit() total"].append(total)
            results["pytorch"].append(run_torch(X, y, threads))
            if not args.no_sklearn:
                results["sklearn"].append(run_sklearn(X, y))
    med = {k: statistics.median(v) for k, v in results.items() if v}
    flops = epoch_flops()
    print(f"SGD epoch, {SIZES}, float32, batch {BATCH}, {N} samples; BLAS threads {threads}; "
          f"median of {args.repeats}")
    print(f"single-thread float32 matmul peak (4096x4096): {peak1 / 1e9:.1f} GFLOP/s")
    print(f"{'':22s} {'seconds':>8s} {'samples/s':>10s} {'GFLOP/s':>8s} {'matnet speed-up':>16s}")
    for name, sec in med.items():
        ratio = sec / med["matnet"]
        print(f"{name:22s} {sec:8.3f} {N / sec:10.0f} {flops / sec / 1e9:8.1f} {ratio:15.2f}x")
    print(f"matnet epoch uses {flops / med['matnet'] / peak1:.0%} of the single-thread matmul peak"
          + ("" if threads == 1 else f" ({threads} threads)"))


if __name__ == "__main__":
    main()
