"""Every operation on every kind of network in every weight form, through the one core.

Kinds: static, input delays only (time-delay, open-loop NARX), recurrent (closed-loop
NARX, layer feedback).  Forms: dense, Sparse, LowRank, MPO.  For each pair the forward
run, the loss, the gradient (back-propagation through time) and the Jacobian (forward
in time) are checked against finite differences, against the dense equivalent of the
same network (``compress.to_dense``) and against each other (``2 Jᵀe`` = gradient of
the ``sse``); then training with every algorithm, files, the adjacency view,
explanations, pictures and ONNX export.
"""
import matplotlib
import numpy as np
import pytest

import matnet as mn
from matnet import compress
from matnet.interop.onnx import to_onnx
from matnet.weights import operator
from reference import numeric_jacobian

matplotlib.use("Agg")


def _two_factors(n):
    """``(a, n / a)`` with the smallest divisor ``a > 1``, or ``(1, n)`` for a prime."""
    return next(((a, n // a) for a in range(2, n) if n % a == 0), (1, n))


def _mpo(net):
    ins = {k: _two_factors(W.shape[1]) for k, W in net.weights.items()}
    outs = {k: _two_factors(W.shape[0]) for k, W in net.weights.items()}
    return compress.to_mpo(net, ins, outs, bond_dim=2)[0]


KINDS = {
    "static": lambda: mn.mlp([4, 6, 2], seed=0),
    "timedelay": lambda: mn.timedelay([0, 1, 2], [6], n_inputs=2, n_outputs=2, seed=0),
    "narx_open": lambda: mn.narx([1, 2], [1, 2], [6], n_inputs=2, n_outputs=1, seed=0),
    "narx_closed": lambda: mn.narx([1, 2], [1, 2], [6], n_inputs=2, n_outputs=1, seed=0).closed_loop(),
    "layer_recurrent": lambda: mn.layer_recurrent([1, 2], [4], n_inputs=2, n_outputs=2, seed=0),
}
FORMS = {
    "dense": lambda net: net,
    "sparse": lambda net: compress.prune(net, 0.5, seed=0)[0],
    "lowrank": lambda net: compress.to_low_rank(net, rank=2)[0],
    "mpo": _mpo,
}
ALGORITHMS = ["sgd", "adam", "rmsprop", "rprop", "lbfgs", "cg", "scg", "lm", "br"]


def _case(kind, form, seed=1):
    """``(net, dense equivalent, X, T, inputs of simulate, initial states)``."""
    net = FORMS[form](KINDS[kind]())
    rng = np.random.default_rng(seed)
    n_out = net.layers["y"].size
    if not net.is_dynamic:
        X, T = rng.normal(size=(10, 4)), rng.normal(size=(10, n_out))
        return net, compress.to_dense(net), X, T, None, None
    X, T = rng.normal(size=(2, 9, 2)), rng.normal(size=(2, 9, n_out))
    U = {"x": X, "y_fb": T} if "y_fb" in net.inputs else X
    initial = {name: rng.normal(size=(2, d, net.size_of(name))) for name, d in net.max_delays().items()
               if d and name not in ("y_fb",)}
    if "y_fb" in net.inputs:
        initial["y_fb"] = rng.normal(size=(2, 2, 1))
    return net, compress.to_dense(net), X, T, U, initial


def _outputs(net, X, U, initial):
    return net(X) if U is None else net.simulate(U, initial=initial)[0]


CASES = [(k, f) for k in KINDS for f in FORMS]


@pytest.mark.parametrize("kind,form", CASES)
def test_outputs_agree_with_the_dense_equivalent(kind, form):
    net, dense, X, T, U, initial = _case(kind, form)
    assert all(operator(net.weights[k]).kind == form for k in net.weights)
    np.testing.assert_allclose(_outputs(net, X, U, initial), _outputs(dense, X, U, initial), rtol=1e-11, atol=1e-12)
    if U is None:   # a static network over time is its zero-delay case: every step on its own
        series = X.reshape(2, 5, 4)
        np.testing.assert_allclose(net.simulate(series)[0], net(X).reshape(2, 5, -1), rtol=1e-13)


@pytest.mark.parametrize("kind,form", CASES)
def test_loss_gradient_and_jacobian_agree_with_finite_differences(kind, form):
    net, dense, X, T, U, initial = _case(kind, form)
    report = mn.check_gradient(net, X, T, initial=initial)
    assert report["max_absolute_error"] / np.abs(report["gradient"]).max() < 1e-7
    Y = _outputs(net, X, U, initial)
    assert mn.loss_value(net, X, T, initial=initial) == pytest.approx(np.mean((Y - T) ** 2), rel=1e-12)
    assert mn.loss_value(net, X, T, initial=initial) == pytest.approx(
        mn.loss_value(dense, X, T, initial=initial), rel=1e-11)
    J, e = net.jacobian(X, T, initial=initial)
    np.testing.assert_allclose(e, np.ravel(Y - T), rtol=1e-12, atol=1e-13)
    numeric = numeric_jacobian(net, lambda: _outputs(net, X, U, initial) - T)
    assert np.abs(J - numeric).max() / np.abs(numeric).max() < 1e-7
    sse = mn.check_gradient(net, X, T, loss="sse", initial=initial)["gradient"]
    np.testing.assert_allclose(2 * J.T @ e, sse, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
def test_dense_gradient_and_jacobian_equal_those_of_the_compressed_forms_chained(kind):
    """At full rank the low-rank form is the dense matrix: ``J_lowrank = J_dense dW/dθ``."""
    net, _, X, T, _, initial = _case(kind, "dense")
    full = compress.to_low_rank(net, rank=64)[0]
    J, _ = net.jacobian(X, T, initial=initial)
    Jf, _ = full.jacobian(X, T, initial=initial)
    cols = mn.simulate.plan(net).columns
    fcols = mn.simulate.plan(full).columns
    for key in net.weights:
        U, V = full.weights[key].U, full.weights[key].V
        n_out, n_in = U.shape[0], V.shape[1]
        Jw = J[:, cols[("W", key)]].reshape(-1, n_out, n_in)
        chained = np.concatenate([(Jw @ V.T).reshape(len(J), -1), (U.T @ Jw).reshape(len(J), -1)], axis=1)
        np.testing.assert_allclose(Jf[:, fcols[("W", key)]], chained, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,form", CASES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_trains_every_kind_and_form(kind, form, algorithm):
    net, _, X, T, _, _ = _case(kind, form, seed=2)
    before = net.get_flat().copy()
    history = net.fit(X, T, algorithm=algorithm, epochs=3, division=None, seed=0, progress=False)
    assert 1 <= history.n_epochs <= 4 and np.isfinite(history.train_loss).all()
    assert history.train_loss[history.best_epoch] <= history.train_loss[0]
    assert not np.array_equal(net.get_flat(), before)
    assert all(operator(net.weights[k]).kind == form for k in net.weights)     # training keeps the form


@pytest.mark.parametrize("kind,form", CASES)
def test_files_adjacency_explain_pictures_and_onnx(kind, form, tmp_path):
    net, dense, X, T, U, initial = _case(kind, form)
    net.save(tmp_path / "m.npz")
    back = mn.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(_outputs(back, X, U, initial), _outputs(net, X, U, initial))
    A, nodes = net.adjacency()
    rebuilt = mn.Network.from_adjacency(A, nodes)
    np.testing.assert_allclose(_outputs(rebuilt, X, U, initial), _outputs(net, X, U, initial), rtol=1e-11)
    text = net.explain(X if U is None else U, max_samples=2, initial=initial)
    assert all(c.label in text for c in net.connections.values())
    assert mn.plot.network(net).axes and mn.plot.adjacency(net).axes
    if net.is_dynamic:
        delayed = next(c.label for c in net.connections.values() if c.delays != (0,))
        with pytest.raises(ValueError, match=delayed.replace("[", r"\[").replace("]", r"\]")):
            to_onnx(net, tmp_path / "m.onnx")
    else:
        to_onnx(net, tmp_path / "m.onnx")
        np.testing.assert_allclose(mn.interop.onnx.from_onnx(tmp_path / "m.onnx")(X), net(X), rtol=1e-12)
