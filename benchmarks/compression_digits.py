"""Compressing a digits classifier: test accuracy against compression ratio for
pruning, low rank and matrix product operators, in one table.

A 64-128-10 tanh/softmax network is trained on scikit-learn's digits (80 % of the
samples, stratified; 20 % held out for the test).  Each compression is applied to both
weight matrices, then fine-tuned with its form kept (sparse pattern, rank, bond
dimension) by Adam (up to 300 epochs, early stopping).  "Gradual" prunes while
training on from the dense network (Zhu & Gupta's cubic schedule over 40 epochs)
before the sparse fine-tuning.  The ratio counts weight parameters
(dense weights / stored weights; biases are not compressed and not counted).

    .venv/bin/python benchmarks/compression_digits.py
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits

import matnet as mn
from matnet import compress
from matnet.data import divide

MPO_FACTORS = {("x", "h1"): ((8, 8), (8, 16)), ("h1", "y"): ((8, 16), (2, 5))}   # (in, out) factors


def accuracy(net, X, y):
    return float(np.mean(net.predict_classes(X) == y))


def weight_params(net):
    return sum(W.size if type(W) is np.ndarray else W.n_params for W in net.weights.values())


def fine_tune(net, X, y, seed=0):
    net.fit(X, y, algorithm="adam", lr=0.003, batch_size=64, epochs=300, max_fail=20, division=(0.85, 0.15),
            seed=seed, progress=False)
    return net


def gradual(dense, X, y, sparsity):
    """Zhu & Gupta's gradual magnitude pruning while training on, then sparse storage."""
    net = dense.copy()
    net.fit(X, y, algorithm="adam", lr=0.003, batch_size=64, epochs=60, max_fail=None, division=(0.85, 0.15),
            seed=0, progress=False, callbacks=[compress.GradualPruning(sparsity, start=0, end=40)])
    return compress.prune(net, sparsity)


def main():
    X, y = load_digits(return_X_y=True)
    train, _, test = divide(len(X), (0.8, 0.0, 0.2), labels=y, seed=0)
    dense = mn.mlp([64, 128, 10], output_activation="softmax", seed=0)
    dense.fit(X[train], y[train], algorithm="adam", lr=0.01, batch_size=64, division=(0.85, 0.15), seed=0,
              progress=False)
    base_acc, base_params = accuracy(dense, X[test], y[test]), weight_params(dense)
    rows = [("dense", "-", base_params, 1.0, base_acc, base_acc, 0.0)]
    candidates = [("prune (magnitude)", f"sparsity {s:.2f}", lambda s=s: compress.prune(dense, s))
                  for s in (0.8, 0.9, 0.95)]
    candidates += [("prune (gradual)", f"sparsity {s:.2f}", lambda s=s: gradual(dense, X[train], y[train], s))
                   for s in (0.9, 0.95)]
    candidates += [("low rank", f"rank {r}", lambda r=r: compress.to_low_rank(dense, rank=r)) for r in (4, 8, 16)]
    candidates += [("MPO", f"bond {b}", lambda b=b: compress.to_mpo(
        dense, {k: v[0] for k, v in MPO_FACTORS.items()}, {k: v[1] for k, v in MPO_FACTORS.items()}, b))
        for b in (2, 4, 8)]
    for method, setting, make in candidates:
        start = time.perf_counter()
        net = make()
        before = accuracy(net, X[test], y[test])
        after = accuracy(fine_tune(net, X[train], y[train]), X[test], y[test])
        rows.append((method, setting, weight_params(net), base_params / weight_params(net), before, after,
                     time.perf_counter() - start))
    print(f"digits 64-128-10, {len(train)} training and {len(test)} test samples; dense test accuracy {base_acc:.4f}")
    print(f"{'method':<18} {'setting':<14} {'weights':>8} {'ratio':>7} {'acc (no FT)':>12} {'acc (FT)':>9} {'Δ pp':>6}")
    for method, setting, params, ratio, before, after, _ in rows:
        print(f"{method:<18} {setting:<14} {params:>8} {ratio:>6.1f}x {before:>12.4f} {after:>9.4f} "
              f"{100 * (after - base_acc):>+6.2f}")
    good = [r for r in rows[1:] if r[3] >= 10 and r[5] >= base_acc - 0.01]
    best = max(good, key=lambda r: r[3]) if good else None
    print("best ≥10x within 1 pp: " + (f"{best[0]} {best[1]} ({best[3]:.1f}x, {best[5]:.4f})" if best else "none"))


if __name__ == "__main__":
    main()
