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
    return compress.to_mpo(net, ins, outs, bond_dim=2)


KINDS = {
    "static": lambda: mn.mlp([4, 6, 2], seed=0),
    "timedelay": lambda: mn.timedelay([0, 1, 2], [6], n_inputs=2, n_outputs=2, seed=0),
    "narx_open": lambda: mn.narx([1, 2], [1, 2], [6], n_inputs=2, n_outputs=1, seed=0),
    "narx_closed": lambda: mn.narx([1, 2], [1, 2], [6], n_inputs=2, n_outputs=1, seed=0).closed_loop(),
    "layer_recurrent": lambda: mn.layer_recurrent([1, 2], [4], n_inputs=2, n_outputs=2, seed=0),
}
FORMS = {
    "dense": lambda net: net,
    "sparse": lambda net: compress.prune(net, 0.5, seed=0),
    "lowrank": lambda net: compress.to_low_rank(net, rank=2),
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
    full = compress.to_low_rank(net, rank=64)
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
    minibatch = algorithm in ("sgd", "adam", "rmsprop")     # epoch 0 not evaluated (NaN)
    losses = history.train_loss[1:] if minibatch else history.train_loss
    assert 1 <= history.n_epochs <= 4 and np.isfinite(losses).all()
    assert history.train_loss[history.best_epoch] <= losses[0]
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


# -- second-order training of recurrent networks in bounded memory -----------------

def _recurrent_problem(n_steps, hidden=20, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, size=(n_steps, 1))
    y = np.zeros((n_steps, 1))
    for t in range(2, n_steps):
        y[t] = 0.6 * y[t - 1] - 0.1 * y[t - 2] + np.tanh(u[t - 1])
    net = mn.narx([1, 2], [1, 2], [hidden], seed=seed).closed_loop()
    net.weights["y", "h1"] *= 0.1                # a stable loop to start from
    return net, u, y


@pytest.mark.parametrize("options", [dict(block_size=1), dict(block_size=7), dict(memory_reduction=3)])
def test_normal_equations_of_a_recurrent_run_in_blocks_equal_the_whole(options):
    from matnet.derivatives import problem_of
    net, u, y = _recurrent_problem(40, hidden=3)
    u2, y2 = np.stack([u, -u]), np.stack([y, y[::-1]])          # two series
    problem = problem_of(net, u2, y2, initial={"y": np.zeros((2, 2, 1)) + 0.1})
    whole = problem.normal_equations(block_size=10_000).compute()
    blocked = problem.normal_equations(**options).compute()
    for a, b in zip(whole, blocked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    J, e = net.jacobian(u2, y2, initial={"y": np.zeros((2, 2, 1)) + 0.1})
    np.testing.assert_allclose(J.T @ J, whole[0], rtol=1e-12)


def test_lm_on_a_20000_step_closed_loop_narx_keeps_memory_bounded():
    """Bound: 24 MiB with 1,000-row blocks for 121 parameters; the whole Jacobian alone
    would be 18.5 MiB and the former (steps, neurons, parameters) sensitivities 388 MiB."""
    import tracemalloc
    net, u, y = _recurrent_problem(20_000)
    assert net.n_params == 121
    tracemalloc.start()
    try:
        history = net.fit(u, y, algorithm="lm", epochs=1, division=None, block_size=1000, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert history.train_loss[1] < history.train_loss[0]
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_block_options_are_checked():
    net, u, y = _recurrent_problem(30, hidden=3)
    with pytest.raises(ValueError, match="block_size or memory_reduction, not both"):
        net.fit(u, y, algorithm="lm", block_size=5, memory_reduction=2, progress=False)
    with pytest.raises(ValueError, match="option block_size of '.*' must be an integer in"):
        net.fit(u, y, algorithm="br", block_size=0, progress=False)
    with pytest.raises(ValueError, match=r"unknown option\(s\) for 'adam': block_size"):
        net.fit(u, y, algorithm="adam", block_size=5, progress=False)
    with pytest.raises(ValueError, match="'lm' chooses its own steps; lr and lr_schedule do not apply"):
        net.fit(u, y, algorithm="lm", lr=0.1, progress=False)


# -- several inputs and initial states everywhere ------------------------------------

def _two_input_narx():
    rng = np.random.default_rng(3)
    u = {"a": rng.uniform(-1, 1, size=(120, 1)), "b": rng.uniform(-1, 1, size=(120, 2))}
    y = np.zeros((120, 1))
    for t in range(1, 120):
        y[t] = 0.5 * y[t - 1] + 0.4 * u["a"][t - 1] - 0.3 * u["b"][t - 1, 1]
    net = mn.Network(seed=0)
    net.add_input("a", 1)
    net.add_input("b", 2)
    net.add_input("y_fb", 1)
    net.add_layer("h1", 4)
    net.add_layer("y", 1, "linear")
    net.connect("a", "h1", delays=[1, 2])
    net.connect("b", "h1", delays=[1])
    net.connect("y_fb", "h1", delays=[1, 2])
    net.connect("h1", "y")
    net.feedback = {"y_fb": "y"}
    return net, u, y


def test_predict_ahead_and_simulate_with_several_exogenous_inputs():
    net, u, y = _two_input_narx()
    net.fit(u, y, algorithm="lm", epochs=30, seed=0, progress=False)
    ahead = net.predict_ahead(u, y[:80], steps=40)
    closed = net.closed_loop()
    _, state = net.simulate({"a": u["a"][:80], "b": u["b"][:80], "y_fb": y[:80]})
    start = {("y" if k == "y_fb" else k): v for k, v in state.items()}
    free, _ = closed.simulate({"a": u["a"][80:], "b": u["b"][80:]}, initial=start)
    np.testing.assert_allclose(ahead, free, rtol=1e-12)
    np.testing.assert_allclose(net.predict_ahead(u, {"y": y[:80]}, steps=40), ahead, rtol=1e-15)
    with pytest.raises(ValueError, match="Y_past must give the measured outputs y, got h1"):
        net.predict_ahead(u, {"h1": y[:80]}, steps=40)
    with pytest.raises(ValueError, match="U must give the exogenous inputs a, b"):
        net.predict_ahead(u["a"], y[:80], steps=40)
    with pytest.raises(ValueError, match="at least 110 steps of 'b', got 100"):
        net.predict_ahead({"a": u["a"], "b": u["b"][:100]}, y[:80], steps=30)
    inputs, targets, initial = mn.data.prepare_timeseries(net, u, y)
    assert set(inputs) == {"a", "b", "y_fb"} and initial["b"].shape == (1, 2) and initial["a"].shape == (2, 1)


def test_fit_gradient_and_jacobian_take_initial_states():
    """Given the first steps as initial states, training on the rest is training with
    those steps shifted off (MATLAB's preparets), bit for bit."""
    net, u, y = _two_input_narx()
    shifted = net.copy()
    h1 = shifted.fit(u, y, algorithm="lm", epochs=5, seed=0, progress=False)
    given = net.copy()
    _, _, initial = mn.data.prepare_timeseries(net, u, y)
    rest = {k: v[2:] for k, v in u.items()}
    h2 = given.fit(rest, y[2:], algorithm="lm", epochs=5, seed=0, progress=False, initial=initial)
    assert h1.train_loss == h2.train_loss
    np.testing.assert_array_equal(shifted.get_flat(), given.get_flat())
    g0 = net.gradient(rest, y[2:])[0]["a", "h1"]
    g1 = net.gradient(rest, y[2:], initial=initial)[0]["a", "h1"]
    assert not np.allclose(g0, g1)                   # the initial states matter
    with pytest.raises(ValueError, match="no delay state 'h1'"):
        net.jacobian(rest, y[2:], initial={"h1": np.zeros((1, 4))})
    with pytest.raises(ValueError, match="initial= gives delay states; the network has no delays"):
        mn.mlp([1, 2, 1]).gradient(np.ones((3, 1)), np.ones((3, 1)), initial={"x": np.ones((1, 1))})


@pytest.mark.parametrize("kind,form", CASES)
def test_analysis_of_every_kind_and_form(kind, form):
    """The tangent matrix, Olden's importance and the spectra of a compressed network
    equal those of its dense equivalent; intervals cover every parameter."""
    import warnings
    net, dense, X, T, U, initial = _case(kind, form)
    data = X if U is None else U
    np.testing.assert_allclose(*(_as_one(m.input_jacobian(data, **({} if U is None else {"initial": initial})))
                                 for m in (net, dense)), rtol=1e-9, atol=1e-12)
    if net.is_recurrent:
        with pytest.raises(ValueError, match="feedback from layers"):
            mn.analysis.importance(net, "olden")
    else:
        np.testing.assert_allclose(mn.analysis.importance(net, "olden")["importance"],
                                   mn.analysis.importance(dense, "olden")["importance"], rtol=1e-9, atol=1e-12)
    ours, theirs = mn.analysis.spectra(net), mn.analysis.spectra(dense)
    for key in net.weights:
        np.testing.assert_allclose(ours.singular_values[key], theirs.singular_values[key], rtol=1e-9, atol=1e-12)
    rng = np.random.default_rng(2)                      # enough errors for every parameter
    n_out = net.layers["y"].size
    X, T = (rng.normal(size=(80, 4)), rng.normal(size=(80, n_out))) if U is None else \
        (rng.normal(size=(2, 60, 2)), rng.normal(size=(2, 60, n_out)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mn.analysis.SingularInformationWarning)   # random weights may be redundant
        table = mn.analysis.confidence_intervals(net, {"x": X, "y_fb": T} if "y_fb" in net.inputs else X, T)
    assert len(table) == net.n_params and np.isfinite(table["std_error"][table["determined"]]).all()


def _as_one(J):
    return np.concatenate([v.ravel() for v in J.values()]) if isinstance(J, dict) else J
