"""Graphs and factorisations as matrix networks: a GCN on Zachary's karate club, biased
matrix factorisation on ratings, and a recurrent network unrolled in time.

Writes docs/images/karate.png (the learned two-dimensional node embedding) and
docs/images/unrolled.png (the unrolled network's block lower-triangular adjacency).
Needs networkx (the karate club) and matplotlib.

    python examples/graphs_and_factorizations.py [output folder, default docs/images]
"""
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import matnet as mn

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "images"
out.mkdir(parents=True, exist_ok=True)

# -- a graph convolutional network: four labelled members, every member classified -----
club = mn.datasets.karate()
labelled = np.array([0, 1, 32, 33])                  # the two leaders and one member of each faction
mask = np.zeros(club.n_nodes)
mask[labelled] = 1
net = mn.gcn(club.adjacency, [34, 4, 2, 2], activation="tanh", dropout=0.0, seed=3)
fig = Figure(figsize=(11, 4.5), layout="constrained")
untrained, trained = fig.subplots(1, 2)
mn.plot.embedding(net, club.features, "h2", labels=club.labels, graph=club.adjacency, class_names=club.classes,
                  title="untrained: the graph alone (random weights)", ax=untrained)
net.fit(club.features, club.labels, sample_weight=mask, division=None, scaling=None, epochs=300, lr=0.02, seed=0,
        progress=False)
accuracy = np.mean(net.predict_classes(club.features) == club.labels)
print(f"karate club, 4 labelled members: {accuracy:.0%} of the 34 classified correctly")
mn.plot.embedding(net, club.features, "h2", labels=club.labels, graph=club.adjacency, labelled=labelled,
                  class_names=club.classes, title=f"trained on 4 labelled members: {accuracy:.0%} correct",
                  ax=trained)
fig.savefig(out / "karate.png", dpi=100, metadata={"Software": None})

# -- biased matrix factorisation on generated ratings (MovieLens-100K's size) ------------
ratings = mn.datasets.ratings()
train, test = ratings.folds[0]
mf = mn.factorization.biased_mf(ratings.ratings.n_users, ratings.ratings.n_items, 10, seed=0)
mf.fit({"user": train.user, "item": train.item}, train.rating, epochs=20, batch_size=256, lr=1e-3, l2=1e-5,
       division=(0.95, 0.05, 0), seed=0, progress=False)
baseline = np.sqrt(np.mean((test.rating - train.rating.mean()) ** 2))
print(f"biased MF, fold 1: test RMSE {mn.factorization.rmse(mf, test):.3f} stars (the mean rating: {baseline:.3f})")

# -- a recurrent network unrolled into an acyclic graph ----------------------------------
elman = mn.layer_recurrent([1], [3], seed=0)
U = np.random.default_rng(0).normal(size=(5, 1))
unrolled = elman.unroll(5)
Y, _ = elman.simulate(U)
same = np.allclose(np.hstack([unrolled({f"x@{t + 1}": U[t:t + 1] for t in range(5)})[f"y@{t + 1}"]
                              for t in range(5)]).T, Y, rtol=1e-14)
print(f"Elman network unrolled over 5 steps: {unrolled.n_params} parameters (as the network), outputs equal "
      f"to simulate: {same}")
fig = mn.plot.adjacency(unrolled)
fig.savefig(out / "unrolled.png", dpi=110, metadata={"Software": None})
print("wrote", out / "karate.png", "and", out / "unrolled.png")
