"""After training: importance of the inputs, Lek's profile and the generalized weights
of a small trained network; regenerates docs/images/after_training.png.

A 3-6-1 network learns y = 2·x0 + sin(3·x1) from noisy samples; x2 does nothing.  The
importance bars (sensitivity: mean |dy/dx| in data units) find that, the profile of x1
shows the sine, and its generalized weights (dy/dx1 per sample) vary with x1 where x0's
would be constant.  Needs matplotlib (pip install matnet[plot]).

    python examples/after_training.py [output folder, default docs/images]
"""
import sys
from pathlib import Path

import numpy as np

import matnet as mn
import matnet.plot as mp
from matnet.plot._mpl import new_figure

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "images"
out.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(400, 3))
T = 2 * X[:, :1] + np.sin(3 * X[:, 1:2]) + rng.normal(scale=0.05, size=(400, 1))
net = mn.mlp([3, 6, 1], seed=0)
net.feature_names = {"x": ["x0", "x1", "x2"]}
print(net.fit(X, T, algorithm="lm", seed=0, progress=False).summary())
print(mn.analysis.importance(net, "sensitivity", X=X))

fig = new_figure((13.5, 3.8))
axes = fig.subplots(1, 3)
mp.importance(net, "permutation", X=X, T=T, seed=0, ax=axes[0], title="permutation importance")
mp.profile(net, X, "x1", ax=axes[1], title="Lek's profile of x1")
mp.generalized_weights(net, X, "x1", ax=axes[2], title="generalized weights of x1 (dy/dx1)")
fig.savefig(out / "after_training.png", dpi=100, metadata={"Software": None})
print("wrote", out / "after_training.png")
