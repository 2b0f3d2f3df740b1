"""Post-training quantisation: what int16 and int8 weights cost in accuracy, in one table.

Each network is trained in float64 for each of ``--seeds`` training seeds, then quantised
by ``compress.quantize`` (weights to integers with per-row or per-tensor scales, the input
of each product rounded onto a grid calibrated on the training data; biases and
activations stay float64):

* digits: a 64-H-10 tanh/softmax classifier (H = 128) on scikit-learn's digits, one
  stratified 80/20 split, Adam as in ``compression_digits.py``; metric: test accuracy.
  The issue's goal, int8 within 1 percentage point of float64, is checked per seed.
* maglev: NARX 1-10-1 with input and feedback delays 1:2, trained by Levenberg–Marquardt
  in open loop on the first 3200 of the 4001 steps (``narx_vs_pyrenn.py``'s settings),
  then the loop closed.  The closed-loop network is quantised (calibrated by a free run
  over the training steps) and runs free over the held-out steps from the measured past;
  metric: RMSE of the height in metres.  Each quantised network also gets a "+LM" row:
  a copy fine-tuned in closed loop by Levenberg–Marquardt (``--tune-epochs``, default 30)
  on the training steps, with ``fit``'s default block division and validation stop.  Its
  integer matrices stay fixed; only the weight scales and the biases train, so this is
  quantisation-aware fine-tuning.  Below the table, per tuned row: the median RMSE ratio
  against the untuned network, paired by seed, and in how many runs the tuning kept the
  quantised weights (the validation loss never improved, or the run diverged at once).

Per row: the median over the seeds, the spread (min..max), the median change against
float64 paired by seed, the metric with the same rounded weights in float64 arithmetic
("W only": what rounding the weights costs by itself), and the bytes of the weights as
stored.  Each quantised digits network is also exported to C (``export.to_c``), compiled
with gcc and run on the test set: the C program's accuracy, and how many of its outputs
differ from ``qnet(X_test)`` bit for bit.

    .venv/bin/python benchmarks/quantization.py [--seeds 5] [--hidden 128] [--tune-epochs 30] [--quick]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import matnet as mn
from matnet import compress, export
from matnet.data import divide, prepare_timeseries

SCHEMES = ("symmetric-per-row", "symmetric-per-tensor")
VARIANTS = [("float64", None, None)] + [(f"int{bits}", bits, scheme) for bits in (16, 8) for scheme in SCHEMES]
DELAYS = [1, 2]
C_MAIN = r"""#include <stdio.h>
#include "digits.h"

int main(void)
{
    double x[DIGITS_N_INPUTS], y[DIGITS_N_OUTPUTS];
    for (;;) {
        for (int i = 0; i < DIGITS_N_INPUTS; i++)
            if (scanf("%la", &x[i]) != 1)
                return 0;
        digits_predict(x, y);
        for (int j = 0; j < DIGITS_N_OUTPUTS; j++)
            printf("%a%c", y[j], j + 1 < DIGITS_N_OUTPUTS ? ' ' : '\n');
    }
}
"""


def weight_bytes(net):
    return compress.summary(net)["total"]["bytes"]


def accuracy(net, X, y):
    return float(np.mean(net.predict_classes(X) == y))


def quantized_variants(net, **calibration):
    """``(name, bits, scheme, network)`` for float64 and each quantisation of ``net``."""
    for name, bits, scheme in VARIANTS:
        yield name, bits, scheme, net if bits is None else compress.quantize(net, bits, scheme, **calibration)


def run_c(qnet, X, y, folder):
    """Export ``qnet`` as C, compile it with a main reading hex floats, run it on ``X``:
    ``(accuracy, number of outputs whose bits differ from qnet(X), largest relative difference)``."""
    bits = next(iter(qnet.weights.values())).bits
    export.to_c(qnet, folder / "digits.c", dtype=f"int{bits}")
    (folder / "main.c").write_text(C_MAIN)
    program = folder / "digits"
    subprocess.run(["gcc", "-std=c99", "-O2", "-o", str(program), str(folder / "main.c"), str(folder / "digits.c"),
                    "-lm"], check=True, capture_output=True)
    text = "\n".join(" ".join(float.hex(float(v)) for v in row) for row in X)
    out = subprocess.run([str(program)], input=text, capture_output=True, text=True, check=True).stdout
    Y = np.array([[float.fromhex(v) for v in line.split()] for line in out.splitlines()])
    labels = np.asarray(qnet.classes)[Y.argmax(axis=1)]
    P = qnet(X)
    return (float(np.mean(labels == y)), int(np.sum(Y.view(np.int64) != P.view(np.int64))),
            float(np.max(np.abs(Y - P) / np.maximum(np.abs(P), np.finfo(P.dtype).tiny))))


def digits(seeds, hidden, results):
    """Train, quantise and test the digits classifier for each seed, into ``results``."""
    X, y = load_digits(return_X_y=True)
    train, _, test = divide(len(X), (0.8, 0.0, 0.2), labels=y, seed=0)
    has_gcc = shutil.which("gcc") is not None
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            net = mn.mlp([64, hidden, 10], output_activation="softmax", seed=seed)
            net.fit(X[train], y[train], algorithm="adam", lr=0.01, batch_size=64, division=(0.85, 0.15), seed=seed,
                    progress=False)
            for name, bits, scheme, qnet in quantized_variants(net, calibration=X[train]):
                row = results[("digits", name, scheme)]
                row["value"].append(accuracy(qnet, X[test], y[test]))
                row["bytes"].append(weight_bytes(qnet))
                if bits is not None:
                    row["w_only"].append(accuracy(compress.to_dense(qnet), X[test], y[test]))
                    if has_gcc:
                        c_accuracy, differing, relative = run_c(qnet, X[test], y[test], Path(folder))
                        row["c_value"].append(c_accuracy)
                        row["c_differing"].append(differing)
                        row["c_relative"].append(relative)
                        row["c_outputs"].append(len(test) * 10)
    return f"digits: 64-{hidden}-10, {len(train)} training / {len(test)} test samples", has_gcc


def maglev(seeds, train_steps, epochs, algorithm, tune_epochs, results):
    """Train the NARX in open loop, close it, quantise it (and fine-tune each quantised copy
    by ``tune_epochs`` of closed-loop LM, if any) and run it free on the held-out steps, for
    each seed, into ``results``."""
    data = mn.datasets.maglev(seed=0)
    u, y = data.u, data.y
    past = train_steps - max(DELAYS)
    for seed in seeds:
        net = mn.narx(DELAYS, DELAYS, [10], seed=seed)
        net.fit(u[:train_steps], y[:train_steps], algorithm=algorithm, epochs=epochs, seed=seed, progress=False)
        closed = net.closed_loop()
        U_train, y_train, initial_train = prepare_timeseries(closed, u[:train_steps], y[:train_steps])
        U_test, y_test, initial_test = prepare_timeseries(closed, u[past:], y[past:])

        def rmse(n):
            return float(np.sqrt(np.mean((n.simulate(U_test, initial_test)[0] - y_test) ** 2)))

        def record(key, n):
            row = results[key]
            row["value"].append(rmse(n))
            row["bytes"].append(weight_bytes(n))
            if key[1] != "float64":
                row["w_only"].append(rmse(compress.to_dense(n)))
            return row
        for name, bits, scheme, qnet in quantized_variants(closed, calibration=U_train, initial=initial_train):
            record(("maglev", name, scheme), qnet)
            if bits is not None and tune_epochs:
                tuned = qnet.copy()
                with warnings.catch_warnings():         # a diverged run is counted below the table instead
                    warnings.simplefilter("ignore", mn.TrainingWarning)
                    history = tuned.fit(U_train, y_train, initial=initial_train, algorithm="lm", epochs=tune_epochs,
                                        seed=seed, progress=False)
                row = record(("maglev", f"{name} +LM", scheme), tuned)
                row["kept"].append(history.best_epoch == 0)
                row["diverged"].append(history.stop_reason.startswith("diverged"))
    return (f"maglev: NARX 1-10-1 (delays 1:2), open-loop {algorithm.upper()}, closed loop run free; {train_steps} "
            f"training / {len(u) - train_steps} held-out steps, std {np.std(y[train_steps:]):.3f} m")


def table(results, n_seeds):
    """The printed table: one line per (problem, network, scheme)."""
    metric = {"digits": "accuracy", "maglev": "RMSE m"}
    header = (f"{'problem':<7} {'network':<9} {'scheme':<10} {'metric':<8} {'median':>6} {'spread':>14} "
              f"{'Δ float':>8} {'W only':>6} {'bytes':>6}  C: accuracy, ≠ bits, max rel. diff")
    lines = [f"median over {n_seeds} training seeds; spread: min..max; Δ float: median change against float64 "
             "paired by seed (pp, RMSE ratio)", header, "-" * len(header)]
    for (problem, name, scheme), row in results.items():
        values = np.array(row["value"])
        base = np.array(results[(problem, "float64", None)]["value"])
        if problem == "digits":
            delta = f"{100 * np.median(values - base):+.2f}pp"
        else:
            delta = f"x{np.median(values / base):.2f}"
        w_only = f"{np.median(row['w_only']):.4f}" if row["w_only"] else "-"
        c_export = "-"
        if row["c_value"]:
            c_export = (f"{np.median(row['c_value']):.4f}, {sum(row['c_differing'])}/{sum(row['c_outputs'])}, "
                        f"{max(row['c_relative']):.1e}")
        lines.append(f"{problem:<7} {name:<9} {(scheme or '-').replace('symmetric-', ''):<10} {metric[problem]:<8} "
                     f"{np.median(values):6.4f} {values.min():6.4f}..{values.max():6.4f} {delta:>8} {w_only:>6} "
                     f"{int(np.median(row['bytes'])):>6}  {c_export}")
    return "\n".join(lines)


def tuning(results, tune_epochs):
    """What the LM tuning did to each quantised maglev network: a line per tuned row."""
    lines = [f"+LM: {tune_epochs} closed-loop LM epochs on the weight scales and biases of the quantised network "
             "(integers fixed)"]
    for (problem, name, scheme), row in results.items():
        if row["kept"]:
            untuned = np.array(results[(problem, name.removesuffix(" +LM"), scheme)]["value"])
            lines.append(f"  {name:<9} {scheme.replace('symmetric-', ''):<10}: RMSE x"
                         f"{np.median(np.array(row['value']) / untuned):.2f} against untuned (median, paired); "
                         f"weights kept in {sum(row['kept'])}/{len(row['kept'])} runs, {sum(row['diverged'])} "
                         "diverged at once")
    return "\n".join(lines)


def goal(results):
    """Whether int8 stays within 1 percentage point of float64 on digits: a line per scheme."""
    base = np.array(results[("digits", "float64", None)]["value"])
    lines = []
    for scheme in SCHEMES:
        drops = 100 * (base - np.array(results[("digits", "int8", scheme)]["value"]))
        verdict = ("holds on every seed" if drops.max() <= 1 else "holds on the median only"
                   if np.median(drops) <= 1 else "missed")
        lines.append(f"goal (digits, int8 within 1 pp of float64), {scheme.replace('symmetric-', '')}: {verdict} "
                     f"(median drop {np.median(drops):+.2f} pp, largest {drops.max():+.2f} pp)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="training seeds 0..n-1 per problem (default 5)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units of the digits classifier")
    parser.add_argument("--train-steps", type=int, default=3200, help="maglev training steps (of 4001)")
    parser.add_argument("--lm-epochs", type=int, default=None, help="maglev training epochs (default: fit's, 1000)")
    parser.add_argument("--maglev-algorithm", choices=("lm", "br"), default="lm",
                        help="maglev training: Levenberg–Marquardt or Bayesian regularisation")
    parser.add_argument("--tune-epochs", type=int, default=30,
                        help="closed-loop LM epochs tuning each quantised maglev network (0: no +LM rows)")
    parser.add_argument("--quick", action="store_true", help="2 seeds (unless --seeds) and 200 maglev epochs")
    args = parser.parse_args()
    seeds = range(args.seeds or (2 if args.quick else 5))
    epochs = args.lm_epochs or (200 if args.quick else None)
    results = defaultdict(lambda: defaultdict(list))
    digits_line, has_gcc = digits(seeds, args.hidden, results)
    maglev_line = maglev(seeds, args.train_steps, epochs, args.maglev_algorithm, args.tune_epochs, results)
    print(digits_line)
    print(maglev_line)
    print(table(results, len(seeds)))
    print("W only: the same rounded weights in float64 arithmetic (inputs not rounded); bytes: weights as stored "
          "(integers, scales)")
    if args.tune_epochs:
        print(tuning(results, args.tune_epochs))
    if not has_gcc:
        print("C export: skipped, gcc not found")
    print(goal(results))


if __name__ == "__main__":
    main()
