"""Pictures of a small trained network: regenerates the PNGs in docs/images/.

A 2-4-1 network learns z = sin(x0) * x1 with Levenberg-Marquardt; the script draws
the network (every weight on its edge), its first weight matrix as a heatmap with
values, and the training performance.  Needs matplotlib (pip install matnet[plot]).

    python examples/pictures.py [output folder, default docs/images]
"""
import sys
from pathlib import Path

import numpy as np

import matnet as mn
import matnet.plot as mp

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "images"
out.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(300, 2))
T = np.sin(X[:, :1]) * X[:, 1:]
net = mn.mlp([2, 4, 1], seed=0)
history = net.fit(X, T, algorithm="lm", epochs=100, seed=0, progress=False)
print(history.summary())

pictures = {
    "network.png": mp.network(net, title="2-4-1 network fitted to sin(x0)·x1: every weight and bias is an edge"),
    "weights.png": mp.matrix(net=net, key=("x", "h1")),
    "performance.png": mp.performance(history),
}
for name, fig in pictures.items():
    fig.savefig(out / name, dpi=110, metadata={"Software": None})
    print("wrote", out / name)
