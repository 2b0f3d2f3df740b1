"""matnet on a GPU (CuPy) beside PyTorch on the same GPU, in one run.

1. SGD on 784-256-256-10 (tanh, softmax, cross-entropy), float32, 60,000 random
   samples, learning rate 0.01, at batches 128 and 4096: samples per second of one epoch
   of ``net.fit`` (``scaling=None, division=None``: the loop) against PyTorch's eager
   loop with the same network, batch, learning rate and order of work; the median of
   ``--repeats`` epochs after a warm-up, and the ratio.
2. One Levenberg–Marquardt epoch of a 2,091-parameter network (20-95-1, tanh) on 100,000
   samples in float64 (the History's clock: its damping trials and normal equations,
   median over epochs 2 onwards) against one ``JᵀJ`` product of that size (``J.T @ J`` of
   a ``(100,000, 2,091)`` matrix, cuBLAS) in the same run: the issue's goal is at most 3x.
3. Dense against ``Sparse`` weights on the GPU: a 4096 x 4096 float32 weight, batch 256,
   one forward product and one weight gradient (``dot`` and ``gradient`` of the operator
   protocol; ``Sparse`` through ``cupyx.scipy.sparse`` and gathers) at densities from 1 %
   to 50 %, and the density where the two cost the same.

    python benchmarks/gpu.py [--repeats 3]

Without CuPy or a GPU it prints why and measures nothing (exit status 0).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import matnet as mn


def _gpu():
    """``(cupy, torch)`` or None with the reason printed."""
    try:
        mn.backend.library("cupy")
        import cupy
    except (ImportError, RuntimeError) as e:
        print(f"no GPU measured: {e}")
        return None
    try:
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("torch finds no CUDA device")
    except (ImportError, RuntimeError) as e:
        print(f"no PyTorch on the GPU ({e}): matnet rows only")
        torch = None
    return cupy, torch


def _timed(f, sync):
    sync()
    start = time.perf_counter()
    f()
    sync()
    return time.perf_counter() - start


def sgd_rows(cupy, torch, repeats, n=60_000):
    g = np.random.default_rng(0)
    X = g.standard_normal((n, 784)).astype(np.float32)
    labels = g.integers(0, 10, n)
    sync = cupy.cuda.Device().synchronize
    Xg, Tg = cupy.asarray(X), cupy.asarray(np.eye(10, dtype=np.float32)[labels])
    for batch in (128, 4096):
        net = mn.mlp([784, 256, 256, 10], output_activation="softmax", seed=0, dtype="float32").to("cupy")

        def epoch():
            net.fit(Xg, Tg, algorithm="sgd", lr=0.01, batch_size=batch, epochs=1, scaling=None, division=None,
                    loss="cross_entropy", seed=0, progress=False)
        epoch()
        ours = statistics.median(_timed(epoch, sync) for _ in range(repeats))
        line = f"SGD batch {batch:>5}: matnet {n / ours:>12,.0f} samples/s"
        if torch is not None:
            theirs = statistics.median(_torch_epoch(torch, X, labels, batch) for _ in range(repeats))
            line += f"   PyTorch {n / theirs:>12,.0f} samples/s   matnet/PyTorch {theirs / ours:.2f}x"
        print(line)


def _torch_epoch(torch, X, labels, batch):
    device = torch.device("cuda")
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256),
                                torch.nn.Tanh(), torch.nn.Linear(256, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt, Yt = torch.as_tensor(X, device=device), torch.as_tensor(labels, device=device)
    loss = torch.nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(len(Xt), device=device)
        for i in range(0, len(Xt), batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss(model(Xt[idx]), Yt[idx]).backward()
            opt.step()
    epoch()                                   # warm-up (kernels, allocator)
    return _timed(epoch, torch.cuda.synchronize)


def lm_row(cupy, repeats, n=100_000):
    g = np.random.default_rng(1)
    X = g.uniform(-2, 2, (n, 20))
    T = (np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * X[:, 2:].sum(axis=1))[:, None]
    Xg, Tg = cupy.asarray(X), cupy.asarray(T)
    sync = cupy.cuda.Device().synchronize
    net = mn.mlp([20, 95, 1], seed=0).to("cupy")
    P = net.n_params
    net.fit(Xg, Tg, algorithm="lm", epochs=1, division=None, seed=0, progress=False)      # warm-up
    history = net.fit(Xg, Tg, algorithm="lm", epochs=repeats + 1, division=None, seed=0, progress=False)
    ours = statistics.median(np.diff(history.time[1:]))        # whole epochs: trials and normal equations
    J = cupy.asarray(g.standard_normal((n, P)))
    J.T @ J
    syrk = statistics.median(_timed(lambda: J.T @ J, sync) for _ in range(repeats))
    print(f"LM epoch, {P} parameters, {n:,} samples, float64: {ours * 1e3:.1f} ms; JᵀJ alone "
          f"{syrk * 1e3:.1f} ms; epoch / JᵀJ {ours / syrk:.2f} (goal <= 3)")


def sparse_rows(cupy, repeats, n=4096, batch=256):
    g = np.random.default_rng(2)
    W = g.standard_normal((n, n)).astype(np.float32)
    X, D = (cupy.asarray(g.standard_normal((batch, n)).astype(np.float32)) for _ in range(2))
    sync = cupy.cuda.Device().synchronize
    dense = mn.weights.Dense(cupy.asarray(W))
    grad = cupy.empty(n * n, cupy.float32)

    def step(op, out):
        op.dot(X)
        op.gradient(X, D, out=out)
    step(dense, grad)
    t_dense = statistics.median(_timed(lambda: step(dense, grad), sync) for _ in range(repeats))
    print(f"{n}x{n} float32, batch {batch}, dot + gradient: dense {t_dense * 1e3:.2f} ms")
    previous = None
    for density in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5):
        mask = g.random((n, n)) < density
        sparse = mn.weights.Sparse.from_dense(W, mask)
        sparse.bind(cupy.empty(sparse.nnz, cupy.float32))          # its values on the GPU
        out = cupy.empty(sparse.nnz, cupy.float32)
        step(sparse, out)
        t = statistics.median(_timed(lambda: step(sparse, out), sync) for _ in range(repeats))
        print(f"  Sparse at {density:4.0%}: {t * 1e3:8.2f} ms   dense / Sparse {t_dense / t:5.2f}")
        if previous is not None and previous[1] <= t_dense < t:
            print(f"  break-even between {previous[0]:.0%} and {density:.0%}")
        previous = (density, t)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    found = _gpu()
    if found is None:
        return 0
    cupy, torch = found
    print(f"GPU: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}; matnet {mn.__version__}")
    sgd_rows(cupy, torch, args.repeats)
    lm_row(cupy, args.repeats)
    sparse_rows(cupy, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
