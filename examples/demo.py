"""matnet in one minute: a textbook network written as its matrices.

The 1-2-1 network of Hagan, Demuth & Beale, *Neural Network Design* (ch. 11):
a logistic hidden layer of two neurons and a linear output, evaluated at p = 1.
Run with `make demo`.
"""
import numpy as np

import matnet as mn

W1 = np.array([[-0.27], [-0.41]])   # (2 hidden, 1 input): W[i, j] from input j to neuron i
b1 = np.array([-0.48, -0.13])
W2 = np.array([[0.09, -0.17]])      # (1 output, 2 hidden)
b2 = np.array([0.48])

net = mn.Network.from_matrices([W1, W2], [b1, b2], activations=["sigmoid", "linear"])
print(net.summary(), end="\n\n")
print(net.explain(np.array([1.0])))

A, nodes = net.adjacency()
print("Adjacency matrix A (rows receive, columns send); nodes:", ", ".join(map(str, nodes)))
print(np.array2string(A.toarray(), precision=2, suppress_small=True))
y = mn.graph.evaluate(A, [1.0], nodes.activations, nodes.inputs, nodes.outputs, bias=nodes.bias)
print(f"\nEvaluated straight from A: y = {y[0]:.4f} (the book gives 0.446)")
