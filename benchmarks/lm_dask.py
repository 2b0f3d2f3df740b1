"""Levenberg–Marquardt on a Dask cluster against NumPy in memory: seconds per epoch, bytes moved.

10⁶ samples (``--samples``) of ``y = sin(x1) cos(x2) + 0.1 (x3 + ... + x10)``, ``x``
uniform in ``[-2, 2]``, generated on the workers of a ``distributed.LocalCluster``
(``--workers`` processes of one thread) in chunks of ``--chunk`` rows and kept there
(persisted); a 10-20-1 tanh network (241 parameters), ``division=None``, a fixed number
of epochs.  The same data gathered into NumPy arrays trains in this process (an LM epoch
of fewer than 400 parameters on one BLAS thread, :mod:`matnet.threads`), and as Dask
arrays of the same chunks on Dask's threads scheduler (in this process, no cluster:
one chunk per thread).  Seconds per epoch are one whole LM epoch (its damping trials and its
normal equations) from the History's clock, epochs 2 onwards; medians over
``--repeats`` interleaved runs (after a warm-up of each).

Bytes moved per epoch, measured between the ends of consecutive epochs (median):

* ``loopback``: bytes sent over the loopback interface by every process of the machine
  (client, scheduler, workers; graphs, results, heartbeats; a cluster on one machine
  talks only there), from ``psutil``;
* ``workers``: bytes the workers sent of task results (to each other in the tree
  reduction, and to the client), their ``transfer_outgoing_bytes_total`` counters
  (Dask's size estimate of the objects).

    .venv/bin/python benchmarks/lm_dask.py [--samples 1000000] [--epochs 4] [--repeats 3]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics

import numpy as np

import matnet as mn
from matnet.threads import SMALL

SIZES = [10, 20, 1]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    except (ImportError, ValueError):
        return "?"


def data(da, n, chunk):
    """Inputs and targets made on the workers, chunk by chunk."""
    X = da.random.default_rng(0).uniform(-2, 2, size=(n, SIZES[0]), chunks=(chunk, SIZES[0]))
    T = da.sin(X[:, :1]) * da.cos(X[:, 1:2]) + 0.1 * X[:, 2:].sum(axis=1, keepdims=True)
    return X, T


def loopback_bytes():
    import psutil
    counters = psutil.net_io_counters(pernic=True)
    return counters["lo"].bytes_sent if "lo" in counters else psutil.net_io_counters().bytes_sent


def worker_bytes(client):
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())


class Meter:
    """A callback of ``fit`` that reads the byte counters at the end of every epoch."""

    def __init__(self, client=None):
        self.client, self.readings = client, []

    def __call__(self, epoch, history, net):
        self.readings.append((loopback_bytes(), worker_bytes(self.client) if self.client else 0))

    def per_epoch(self):
        """Median bytes of one epoch, from the second epoch on: ``(loopback, workers)``."""
        steps = np.diff(np.array(self.readings[1:], dtype=float), axis=0)
        return tuple(statistics.median(column) for column in steps.T)


def run(X, T, epochs, client=None):
    """``(seconds per epoch list, meter, history)`` of one fit."""
    meter = Meter(client)
    h = mn.mlp(SIZES, seed=0).fit(X, T, algorithm="lm", epochs=epochs, division=None, max_fail=None, goal=0.0,
                                  min_grad=0.0, seed=0, progress=False, callbacks=[meter])
    return list(np.diff(h.time[1:])), meter, h


def threads(f):
    """``f()`` on Dask's threads scheduler (in this process), not the cluster."""
    import dask
    with dask.config.set(scheduler="threads"):
        return f()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=125_000, help="rows per chunk")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import dask
    import dask.array as da
    import distributed

    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {cpu_name()}; {os.cpu_count()} CPUs; {blas_threads()} BLAS "
          f"threads (an LM epoch of fewer than {SMALL} parameters in this process uses one: matnet.threads); "
          f"dask {dask.__version__}, distributed {distributed.__version__}")
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        X, T = client.persist(data(da, args.samples, args.chunk))
        distributed.wait([X, T])
        X_np, T_np = dask.compute(X, T)            # the same data in memory, for NumPy only
        size = X.nbytes + T.nbytes
        P = mn.mlp(SIZES, seed=0).n_params
        print(f"{args.samples} samples in {X.numblocks[0]} chunks ({size / 2**20:.0f} MiB); network "
              f"{'-'.join(map(str, SIZES))} ({P} parameters); {args.workers} workers x 1 thread; "
              f"median of {args.repeats} runs x {args.epochs - 1} epochs")
        X_threads, T_threads = (da.from_array(a, chunks=(args.chunk, a.shape[1])) for a in (X_np, T_np))
        runs = {"NumPy, in memory": lambda e: run(X_np, T_np, e),
                "Dask, threads": lambda e: threads(lambda: run(X_threads, T_threads, e)),
                "Dask, LocalCluster": lambda e: run(X, T, e, client)}
        for f in runs.values():
            f(2)                                    # warm-up of each
        epochs, moved, trials = {name: [] for name in runs}, [], []
        for _ in range(args.repeats):
            for name, f in runs.items():
                seconds, meter, h = f(args.epochs)
                epochs[name] += seconds
                if name == "Dask, LocalCluster":
                    moved.append(meter.per_epoch())
                    trials += h.inner_steps[2:]
    loopback, workers = (statistics.median(column) for column in zip(*moved))
    returned = ((P + 1) * (P + 2) // 2 + 6) * 8
    numpy_s = statistics.median(epochs["NumPy, in memory"])
    print(f"{'where':<22} {'s/epoch':>8} {'vs NumPy':>9}")
    for name, seconds in epochs.items():
        print(f"{name:<22} {statistics.median(seconds):8.3f} {statistics.median(seconds) / numpy_s:8.2f}x")
    print(f"bytes moved per epoch ({statistics.median(trials):.0f} damping trials): "
          f"loopback {loopback / 2**20:.2f} MiB, "
          f"workers' results {workers / 2**20:.2f} MiB; the data is {size / 2**20:.0f} MiB "
          f"(loopback / data = {loopback / size:.2%})")
    print(f"normal equations returned to the client per epoch: {returned / 2**10:.0f} KiB "
          f"(upper triangle of the {P + 1}x{P + 1} system and 6 metric sums, float64)")


if __name__ == "__main__":
    main()
