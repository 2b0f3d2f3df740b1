"""Magnetic levitation, end to end: a NARX model trained open loop, then run closed loop.

The data: ``mn.datasets.maglev()`` simulates a magnet held above an electromagnet
(4001 steps of 0.01 s; the control current in, the magnet's position out).  The model:
``y(t) = f(u(t-1), u(t-2), y(t-1), y(t-2))`` with 10 tanh neurons (MATLAB's
``narxnet(1:2, 1:2, 10)``).

1. Open loop (series-parallel): the measured past positions are an input; training is
   static and fast.  Bayesian regularisation keeps the model smooth.
2. Closed loop (parallel): ``net.closed_loop()`` feeds the model's own predictions
   back, with the same weights, and simulates the held-out 20 % of the record from
   its first two steps only.

Writes ``docs/images/maglev_closed_loop.png``.  Run: ``.venv/bin/python examples/maglev_narx.py``
(needs matplotlib: ``pip install matnet[plot]``).
"""
from pathlib import Path

import numpy as np

import matnet as mn
from matnet.data import prepare_timeseries


def main(out=Path(__file__).resolve().parent.parent / "docs" / "images" / "maglev_closed_loop.png"):
    data = mn.datasets.maglev(seed=0)
    cut = int(0.8 * len(data.u))

    net = mn.narx(input_delays=[1, 2], feedback_delays=[1, 2], hidden_sizes=[10], seed=0)
    history = net.fit(data.u[:cut], data.y[:cut], algorithm="br", seed=0)
    print(history.summary())

    held = slice(cut - 2, None)                      # two steps of history start the run
    inputs, targets, initial = prepare_timeseries(net, data.u[held], data.y[held])
    one_step, _ = net.simulate(inputs, initial)

    closed = net.closed_loop()
    c_inputs, c_targets, c_initial = prepare_timeseries(closed, data.u[held], data.y[held])
    free_run, _ = closed.simulate(c_inputs, c_initial)

    for name, prediction in (("one step ahead", one_step), ("closed loop", free_run)):
        mse = np.mean((prediction - targets) ** 2)
        print(f"held-out {name:15s} MSE {mse:.3g}   R² {1 - mse / np.var(targets):.5f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = data.dt * np.arange(cut, cut + len(targets))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[3, 1])
    top.plot(t, targets[:, 0], color="0.3", lw=2, label="measured position")
    top.plot(t, free_run[:, 0], color="tab:red", lw=1, ls="--", label="NARX, closed loop")
    top.set_ylabel("position (m)")
    top.legend(loc="upper right")
    top.set_title("Maglev: closed-loop simulation of the held-out 20 %")
    bottom.plot(t, free_run[:, 0] - targets[:, 0], color="tab:red", lw=1)
    bottom.set_ylabel("error (m)")
    bottom.set_xlabel("time (s)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
