import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

import matnet as mn
from conftest import random_dag, random_inputs


def _outputs(net, X):
    out = net(X)
    return out if isinstance(out, dict) else {net.outputs[0]: out}


def _stack_inputs(net, X):
    return np.hstack([X[n] for n in net.inputs]) if isinstance(X, dict) else X


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_augmented_round_trip(seed):
    net = random_dag(seed)
    aug = net.augmented()
    for name, M in aug.items():
        widths = sum(net.weights[c.key].shape[1] for c in net.incoming(name))
        assert M.shape == (net.layers[name].size, widths + net.layers[name].bias)
    back = mn.Network.from_augmented(aug, like=net)
    assert np.array_equal(back.get_flat(), net.get_flat())
    X = random_inputs(net, 4, seed)
    for name, y in _outputs(net, X).items():
        np.testing.assert_array_equal(_outputs(back, X)[name], y)


def test_augmented_acts_on_a_with_one_appended():
    net = mn.mlp([3, 4, 2], seed=0)
    x = np.random.default_rng(0).normal(size=3)
    aug = net.augmented()
    h = np.tanh(aug["h1"] @ np.append(x, 1))
    np.testing.assert_allclose(aug["y"] @ np.append(h, 1), net(x), rtol=1e-14)
    chain = mn.Network.from_augmented([aug["h1"], aug["y"]])
    np.testing.assert_array_equal(chain.get_flat(), net.get_flat())


def test_augmented_errors():
    net = mn.mlp([3, 4, 2], seed=0)
    aug = net.augmented()
    aug["h1"] = aug["h1"][:, :3]
    with pytest.raises(ValueError, match=r"augmented matrix of h1 must have shape \(4, 4\) \(\[W\[x→h1\] \| b\[h1\]\]\), got \(4, 3\)"):
        mn.Network.from_augmented(aug, like=net)
    with pytest.raises(ValueError, match="needs like="):
        mn.Network.from_augmented(net.augmented())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_adjacency_round_trip_and_bare_evaluation(seed):
    net = random_dag(seed, activations=["tanh", "sigmoid", "relu", "linear", "softmax"])
    A, nodes = net.adjacency()
    N = sum(net.inputs.values()) + sum(l.size for l in net.layers.values()) + 1
    assert sp.issparse(A) and A.shape == (N, N) and len(nodes) == N
    assert A.nnz == net.n_params  # every weight and bias is one stored edge
    back = mn.Network.from_adjacency(A, nodes)
    assert back.n_params == net.n_params and back.outputs == net.outputs
    X = random_inputs(net, 5, seed)
    ref = _outputs(net, X)
    for name, y in _outputs(back, X).items():
        np.testing.assert_allclose(y, ref[name], rtol=1e-13, atol=1e-14)
    y = mn.graph.evaluate(A, _stack_inputs(net, X), nodes.activations, nodes.inputs, nodes.outputs,
                          bias=nodes.bias, groups=nodes.groups)
    np.testing.assert_allclose(y, np.hstack([ref[n] for n in net.outputs]), rtol=1e-12, atol=1e-13)


def test_adjacency_orientation_rows_receive():
    net = mn.Network.from_matrices([np.array([[2.0, 3.0]])], [np.array([5.0])])
    A, nodes = net.adjacency()
    assert [str(n) for n in nodes] == ["x[0]", "x[1]", "y[0]", "1"]
    # A[i, j] is the edge from j to i: y[0] receives from x[0], x[1] and the bias node.
    np.testing.assert_array_equal(A.toarray()[2], [2.0, 3.0, 0.0, 5.0])
    assert A.toarray()[:, 2].sum() == 0


def test_zero_weights_survive_the_adjacency_round_trip():
    net = mn.mlp([2, 3, 1], seed=0)
    net.weights["x", "h1"][:] = 0
    net.biases["y"][:] = 0
    back = mn.Network.from_adjacency(*net.adjacency())
    assert set(back.connections) == set(net.connections) and set(back.biases) == set(net.biases)


def _naive_dag_eval(A, x, acts, inputs, bias):
    """Node by node in index order (A strictly lower triangular)."""
    v = np.zeros(A.shape[0])
    v[inputs] = x
    v[bias] = 1
    for i in range(A.shape[0]):
        if i not in inputs and i != bias:
            v[i] = acts[i](np.array([[A[i] @ v]]))[0, 0]
    return v


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(6, 40), st.floats(0.05, 0.5))
def test_evaluate_random_sparse_dag_not_made_of_layers(seed, N, density):
    rng = np.random.default_rng(seed)
    A = sp.random(N, N, density=density, random_state=rng, format="csr")
    A = sp.csr_array(sp.tril(A, k=-1))  # j -> i only for j < i: acyclic
    inputs, bias = [0, 1], 2
    A = A.tolil()
    A[inputs, :] = 0
    A[bias, :] = 0
    A = sp.csr_array(A)
    names = ["tanh", "sigmoid", "relu", "linear", "softplus"]
    acts = [None] * 3 + [mn.activations.get(names[k]) for k in rng.integers(len(names), size=N - 3)]
    outputs = list(rng.choice(np.arange(3, N), size=2, replace=False))
    X = rng.normal(size=(4, 2))
    y = mn.graph.evaluate(A, X, acts, inputs, outputs, bias=bias)
    dense = A.toarray()
    for k in range(4):
        v = _naive_dag_eval(dense, X[k], acts, inputs, bias)
        np.testing.assert_allclose(y[k], v[outputs], rtol=1e-12, atol=1e-14)
    # node order need not be topological: permute the nodes
    perm = rng.permutation(N)
    inv = np.argsort(perm)
    P = A[perm][:, perm]
    y2 = mn.graph.evaluate(P, X, [acts[p] for p in perm], [int(inv[i]) for i in inputs],
                           [int(inv[o]) for o in outputs], bias=int(inv[bias]))
    np.testing.assert_allclose(y2, y, rtol=1e-12, atol=1e-14)


def test_evaluate_errors():
    A = sp.csr_array(np.array([[0, 0, 0], [1.0, 0, 1.0], [0, 1.0, 0]]))
    with pytest.raises(mn.CycleError, match="cycle through nodes (1 → 2 → 1|2 → 1 → 2)"):
        mn.graph.evaluate(A, [1.0], [None, "tanh", "tanh"], [0], [2])
    with pytest.raises(ValueError, match="x must have 1 columns"):
        mn.graph.evaluate(np.zeros((3, 3)), [[1.0, 2.0]], [None, "tanh", "tanh"], [0], [2])
    with pytest.raises(ValueError, match="node 1 is an input or the bias node but receives edges"):
        mn.graph.evaluate(A, [[1.0, 2.0]], [None, None, "tanh"], [0, 1], [2])


def test_to_networkx():
    nx = pytest.importorskip("networkx")
    net = mn.mlp([2, 3, 1], seed=0)
    g = net.to_networkx()
    assert g.number_of_nodes() == 2 + 3 + 1 + 1 and g.number_of_edges() == net.n_params
    assert nx.is_directed_acyclic_graph(g)
    assert g.edges[0, 2]["weight"] == net.weights["x", "h1"][0, 0]
    assert g.nodes[6]["kind"] == "bias"
