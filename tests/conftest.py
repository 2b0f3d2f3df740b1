"""Shared fixtures and builders for the test suite."""
import numpy as np
import pytest

import matnet as mn

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "satlin"]


def random_dag(seed, dtype="float64", n_inputs=None, n_outputs=None, activations=ACTIVATIONS,
               output_activation=None):
    """A random DAG network: 1-2 inputs, 2-4 layers, skip connections, 1-2 outputs
    (the last one or two layers; ``output_activation`` fixes their activation)."""
    rng = np.random.default_rng(seed)
    net = mn.Network(dtype=dtype, seed=rng)
    n_inputs = n_inputs or int(rng.integers(1, 3))
    inputs = [f"u{k}" for k in range(n_inputs)]
    for name in inputs:
        net.add_input(name, int(rng.integers(1, 4)))
    n_layers = int(rng.integers(2, 5))
    layers = []
    for k in range(n_layers):
        name = f"L{k}"
        act = activations[rng.integers(len(activations))]
        if output_activation and k >= n_layers - 2:
            act = output_activation
        size = int(rng.integers(2 if act == "softmax" else 1, 5))
        net.add_layer(name, size, act, bias=bool(rng.integers(0, 4)))
        sources = [s for s in inputs + layers if rng.random() < 0.5] or [(inputs + layers)[-1]]
        for s in sources:
            net.connect(s, name)
        layers.append(name)
    for name in layers:
        if name in net.biases:
            net.biases[name] = rng.normal(size=net.layers[name].size)
    two = n_outputs == 2 or (n_outputs is None and rng.random() < 0.5)
    net.outputs = layers[-2:] if two else layers[-1:]
    for name in inputs:  # every input feeds something
        if not any(c.source == name for c in net.connections.values()):
            net.connect(name, layers[-1])
    return net


def random_inputs(net, n, seed=0):
    rng = np.random.default_rng(seed)
    X = {name: rng.normal(size=(n, size)) for name, size in net.inputs.items()}
    return X if len(X) > 1 else next(iter(X.values()))


@pytest.fixture
def textbook_net():
    """Hagan, Demuth & Beale, Neural Network Design, ch. 11: 1-2-1, logsig/purelin."""
    return mn.Network.from_matrices(
        [np.array([[-0.27], [-0.41]]), np.array([[0.09, -0.17]])],
        [np.array([-0.48, -0.13]), np.array([0.48])],
        activations=["sigmoid", "linear"])
