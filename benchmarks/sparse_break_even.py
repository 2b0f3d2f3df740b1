"""Where does a sparse connection start to pay?  Dense vs matnet ``Sparse`` vs PyTorch CSR.

One 4096×4096 connection, batch 256, float32.  A training step of the connection is its
forward product and the two backward products:

    dense (numpy/BLAS):  X @ W.T,      D @ W,        D.T @ X
    matnet Sparse:       rep.dot(X),   rep.rdot(D),  rep.gradient(X, D)   (SciPy CSR + SDDMM)
    PyTorch CSR:         W @ X.T,      W.T @ D.T,    sampled_addmm(W, D.T, X)

at densities 50, 20, 10, 5 and 1 %, all in one run; the median of ``--repeats`` runs is
printed with speed-ups over dense and the break-even density (where the sparse step
costs what the dense one does, interpolated linearly in density).

    .venv/bin/python benchmarks/sparse_break_even.py
    .venv/bin/python benchmarks/sparse_break_even.py --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from matnet.weights import Sparse

try:
    import torch
except ImportError:  # the peer is optional
    torch = None


def random_pattern(n_out, n_in, density, rng):
    """A uniformly random CSR pattern with ``density * n_out * n_in`` entries, float32 values."""
    flat = np.sort(rng.choice(n_out * n_in, size=int(density * n_out * n_in), replace=False))
    rows, cols = np.divmod(flat, n_in)
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
    data = rng.standard_normal(flat.size, dtype=np.float32) / np.float32(np.sqrt(density * n_in))
    return Sparse(indptr, cols, data, (n_out, n_in))


def timed(fn, repeats):
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def step_times(ops, repeats):
    """``{name: ms}`` for the three products and their total."""
    out = {name: timed(fn, repeats) for name, fn in ops.items()}
    out["total"] = sum(out.values())
    return out


def dense_ops(W, X, D):
    return {"dot": lambda: X @ W.T, "rdot": lambda: D @ W, "grad": lambda: D.T @ X}


def matnet_ops(rep, X, D):
    return {"dot": lambda: rep.dot(X), "rdot": lambda: rep.rdot(D),
            "grad": lambda: rep.gradient(X, D)}


def torch_ops(rep, X, D):
    """PyTorch CSR on the same arrays; ``W.T`` is a second CSR whose values are gathered
    from ``W``'s at every call (the pattern's transpose permutation is computed once)."""
    warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
    n_out, n_in = rep.shape
    tX, tD = torch.from_numpy(X), torch.from_numpy(D)
    data = torch.from_numpy(rep.data)
    W = torch.sparse_csr_tensor(torch.from_numpy(rep.indptr.astype(np.int64)),
                                torch.from_numpy(rep.indices.astype(np.int64)), data, (n_out, n_in))
    perm = np.lexsort((rep.rows, rep.indices))            # CSR order of W.T
    t_indptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(np.bincount(rep.indices, minlength=n_in), out=t_indptr[1:])
    t_indptr, t_indices = torch.from_numpy(t_indptr), torch.from_numpy(rep.rows[perm].astype(np.int64))
    perm = torch.from_numpy(perm)

    def rdot():
        WT = torch.sparse_csr_tensor(t_indptr, t_indices, data[perm], (n_in, n_out))
        return (WT @ tD.T).T

    return {"dot": lambda: (W @ tX.T).T, "rdot": rdot,
            "grad": lambda: torch.sparse.sampled_addmm(W, tD.T.contiguous(), tX, beta=0.0)}


def check(rep, W, X, D, k=2000):
    """Largest relative error of the sparse products against the dense ones (the gradient
    on its first ``k`` entries): a sanity check."""
    grad_ref = np.einsum("bp,bp->p", D[:, rep.rows[:k]], X[:, rep.indices[:k]])
    pairs = [(rep.dot(X), X @ W.T), (rep.rdot(D), D @ W), (rep.gradient(X, D)[:k], grad_ref)]
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in pairs)


def break_even(densities, sparse_totals, dense_total):
    """Density at which the sparse total equals the dense one, by linear interpolation."""
    pts = sorted(zip(densities, sparse_totals))
    for (d0, t0), (d1, t1) in zip(pts, pts[1:]):
        if (t0 - dense_total) * (t1 - dense_total) <= 0 and t0 != t1:
            return d0 + (dense_total - t0) * (d1 - d0) / (t1 - t0)
    return None


def describe(d):
    return "none in range" if d is None else f"{100 * d:.1f} %"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--densities", type=float, nargs="+", default=[50, 20, 10, 5, 1],
                   help="percent")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="BLAS and torch threads")
    args = p.parse_args(argv)
    if args.threads and torch is not None:
        torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    rng = np.random.default_rng(0)
    n, B = args.n, args.batch
    X = rng.standard_normal((B, n), dtype=np.float32)
    D = rng.standard_normal((B, n), dtype=np.float32)
    blas = ", ".join(sorted({f"{i['internal_api']} {i['num_threads']} threads"
                             for i in threadpool_info() if i["user_api"] == "blas"}))
    print(f"{n}x{n} float32 connection, batch {B}; median of {args.repeats}; BLAS: {blas}; "
          f"torch: {'%d threads' % torch.get_num_threads() if torch else 'not installed'}")
    W = np.zeros((n, n), dtype=np.float32)
    rows = []
    for pct in args.densities:
        rep = random_pattern(n, n, pct / 100, rng)
        W[...] = 0
        W[rep.rows, rep.indices] = rep.data
        dense = step_times(dense_ops(W, X, D), args.repeats)
        ours = step_times(matnet_ops(rep, X, D), args.repeats)
        peer = step_times(torch_ops(rep, X, D), args.repeats) if torch else None
        err = check(rep, W, X, D)
        rows.append((pct / 100, dense, ours, peer, err))
    report(rows, torch is not None)


def report(rows, with_torch):
    head = (f"{'density':>8} | {'dense ms':>8} | {'matnet dot/rdot/grad ms':>24} | {'total':>7} | "
            f"{'speed-up':>8}")
    if with_torch:
        head += f" | {'torch dot/rdot/grad ms':>23} | {'total':>7} | {'speed-up':>8}"
    print(head + f" | {'max rel err':>11}")
    print("-" * len(head) + "-" * 14)
    for d, dense, ours, peer, err in rows:
        line = (f"{100 * d:7.0f}% | {dense['total']:8.1f} | "
                f"{ours['dot']:7.1f} {ours['rdot']:7.1f} {ours['grad']:8.1f} | {ours['total']:7.1f} | "
                f"{dense['total'] / ours['total']:7.2f}x")
        if with_torch:
            line += (f" | {peer['dot']:7.1f} {peer['rdot']:7.1f} {peer['grad']:7.1f} | "
                     f"{peer['total']:7.1f} | {dense['total'] / peer['total']:7.2f}x")
        print(line + f" | {err:11.1e}")
    dense_mean = statistics.mean(r[1]["total"] for r in rows)
    densities = [r[0] for r in rows]
    print(f"\nbreak-even density (dense step {dense_mean:.1f} ms on average): matnet Sparse "
          f"{describe(break_even(densities, [r[2]['total'] for r in rows], dense_mean))}", end="")
    if with_torch:
        print(f", PyTorch CSR {describe(break_even(densities, [r[3]['total'] for r in rows], dense_mean))}")
    else:
        print()


if __name__ == "__main__":
    main()
