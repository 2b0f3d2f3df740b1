"""Matrix factorisation on ratings: matnet's BiasedMF and NNMF against the same models in PyTorch.

Both sides train the same model on the same folds with the same minibatch loop: Adam,
batch 256, learning rate 1e-3, the same L2 penalty ``l2/2 * sum(W**2)`` on every weight,
the ratings mapped onto [-1, 1] (matnet's default min-max output scaling; PyTorch gets the
same numbers) and the squared error measured in stars (matnet's losses are in data
units), a fixed number of epochs, no early stopping.  Reported: mean test RMSE
over the folds (stars) and the median seconds per epoch, set-up included (``fit``
against the PyTorch loop), after one warm-up.

* NNMF is Dziugaite & Roy's (2015) network: embeddings U, V (d = 10) and U', V'
  (d' = 60) whose element-wise product joins them, three hidden layers of 50 sigmoid
  units; they report 0.907 on MovieLens-100K.
* BiasedMF: ``μ + b_u + c_i + p_u · q_i`` (d = 10).

Data: ``--data DIR`` reads MovieLens-100K in the GroupLens layout (``u.data``,
``u1.base`` ... ``u5.test``) — its terms forbid redistributing it, so bring your own —
otherwise a generated ratings matrix of the same size (``matnet.datasets.ratings``: low
rank plus a nonlinear interaction and noise; 943 x 1,682, 100,000 ratings, 5 folds).
The issue's goals (BiasedMF <= 0.915, NNMF <= 0.905) are stated for MovieLens.

Run: ``python benchmarks/mf_ratings.py [--data DIR] [--folds 5] [--epochs 30] [--threads 1]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import matnet as mn

D, D_PRIME, HIDDEN, BATCH, LR = 10, 60, [50, 50, 50], 256, 1e-3


def matnet_run(name, data, train, test, epochs, l2, seed):
    """``(rmse, seconds per epoch)`` of one matnet model trained on ``train``."""
    start = time.perf_counter()
    n_users, n_items = data.ratings.n_users, data.ratings.n_items
    net = (mn.factorization.biased_mf(n_users, n_items, D, seed=seed) if name == "BiasedMF" else
           mn.factorization.nnmf(n_users, n_items, D, D_PRIME, HIDDEN, seed=seed))
    net.fit({"user": train.user, "item": train.item}, train.rating, epochs=epochs, batch_size=BATCH, lr=LR, l2=l2,
            division=None, max_fail=None, seed=seed, scaling=(None, "minmax"))
    return mn.factorization.rmse(net, test), (time.perf_counter() - start) / epochs


def _glorot(embedding):
    """matnet's initial embedding: Glorot-uniform over its ``(d, n)`` weight (zeros for biases)."""
    n, d = embedding.weight.shape
    bound = np.sqrt(6 / (n + d))
    torch.nn.init.uniform_(embedding.weight, -bound, bound)


class TorchMF(torch.nn.Module):
    """The same two models in PyTorch, initialised as matnet's (Glorot-uniform weights,
    zero biases)."""

    def __init__(self, name, n_users, n_items):
        super().__init__()
        self.name = name
        self.P, self.Q = torch.nn.Embedding(n_users, D), torch.nn.Embedding(n_items, D)
        _glorot(self.P)
        _glorot(self.Q)
        if name == "BiasedMF":
            self.b, self.c = torch.nn.Embedding(n_users, 1), torch.nn.Embedding(n_items, 1)
            torch.nn.init.zeros_(self.b.weight)
            torch.nn.init.zeros_(self.c.weight)
            self.mu = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        else:
            self.P2, self.Q2 = torch.nn.Embedding(n_users, D_PRIME), torch.nn.Embedding(n_items, D_PRIME)
            _glorot(self.P2)
            _glorot(self.Q2)
            sizes = [2 * D + D_PRIME, *HIDDEN, 1]
            self.mlp = torch.nn.Sequential(*[m for a, b in zip(sizes, sizes[1:])
                                             for m in (torch.nn.Linear(a, b), torch.nn.Sigmoid())][:-1])
            for layer in self.mlp[::2]:
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
        self.double()

    def forward(self, u, i):
        if self.name == "BiasedMF":
            return self.mu + self.b(u)[:, 0] + self.c(i)[:, 0] + (self.P(u) * self.Q(i)).sum(1)
        return self.mlp(torch.cat([self.P(u), self.Q(i), self.P2(u) * self.Q2(i)], 1))[:, 0]

    def penalty(self):
        return sum((p ** 2).sum() for n, p in self.named_parameters() if "bias" not in n and n != "mu")


def torch_run(name, data, train, test, epochs, l2, seed):
    """``(rmse, seconds per epoch)`` of the same model and loop in PyTorch."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = TorchMF(name, data.ratings.n_users, data.ratings.n_items)
    low, high = train.rating.min(), train.rating.max()
    scale = lambda r: 2 * (r - low) / (high - low) - 1                     # noqa: E731, matnet's minmax
    stars = (high - low) / 2                  # matnet's loss is in data units: errors in stars
    u, i, t = torch.tensor(train.user), torch.tensor(train.item), torch.tensor(scale(train.rating))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(t), generator=g).split(BATCH):
            optimizer.zero_grad()
            loss = (((model(u[idx], i[idx]) - t[idx]) * stars) ** 2).mean() + l2 / 2 * model.penalty()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        y = model(torch.tensor(test.user), torch.tensor(test.item)).numpy()
    predicted = (y + 1) * (high - low) / 2 + low
    return float(np.sqrt(np.mean((predicted - test.rating) ** 2))), (time.perf_counter() - start) / epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="a MovieLens-100K directory (default: generated ratings)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--l2", type=float, default=1e-5)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    try:
        data = mn.data.read_movielens(args.data) if args.data else mn.datasets.ratings()
    except (OSError, ValueError) as e:
        print(f"mf_ratings: {e}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    source = args.data or "generated (matnet.datasets.ratings, 943 x 1682, 100,000 ratings)"
    print(f"matnet {mn.__version__}, torch {torch.__version__}, numpy {np.__version__}; threads: "
          f"{args.threads or 'default'}; data: {source}; {args.epochs} epochs, Adam lr {LR}, batch {BATCH}, "
          f"l2 {args.l2}")
    folds = data.folds[:args.folds]
    with threadpool_limits(args.threads):
        matnet_run("BiasedMF", data, *folds[0], 1, args.l2, 0)            # warm-up
        torch_run("BiasedMF", data, *folds[0], 1, args.l2, 0)
        print(f"{'model':<9} {'side':<7} {'test RMSE (mean over folds)':>28} {'s/epoch (median)':>17}")
        for name in ("BiasedMF", "NNMF"):
            times = {}
            for side, runner in (("matnet", matnet_run), ("torch", torch_run)):
                results = [runner(name, data, train, test, args.epochs, args.l2, k)
                           for k, (train, test) in enumerate(folds)]
                errors, seconds = zip(*results)
                times[side] = statistics.median(seconds)
                print(f"{name:<9} {side:<7} {np.mean(errors):>21.4f} ± {np.std(errors):.4f} {times[side]:>17.3f}")
            print(f"{name:<9} torch / matnet time: {times['torch'] / times['matnet']:.2f}x")
    if args.data:
        print("goals on MovieLens-100K: BiasedMF <= 0.915, NNMF <= 0.905 (Dziugaite & Roy report 0.907)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
