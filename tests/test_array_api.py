"""The engine on any array library: under ``array_api_strict`` (the standard and nothing
else, so no NumPy call slips through) forward runs, gradients, Jacobians and training
equal NumPy's."""
import numpy as np
import pytest

import matnet as mn
from matnet import backend
from matnet.backprop import jacobian_blocks, stack_blocks
from matnet.derivatives import problem_of

xs = pytest.importorskip("array_api_strict")
Array = type(xs.asarray(0.0))

STRICT = "array_api_strict"


def on_strict(net):
    """A copy of ``net`` computing under array_api_strict."""
    return net.copy().to(STRICT)


def strict(*arrays):
    return [xs.asarray(a) for a in arrays]


def host(x):
    return backend.to_numpy(x)


def data(n=40, n_in=3, n_out=2, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, n_in))
    return X, np.tanh(X @ g.standard_normal((n_in, n_out))) + 0.05 * g.standard_normal((n, n_out))


NETWORKS = {
    "mlp": lambda: mn.mlp([3, 5, 4, 2], seed=0),
    "float32": lambda: mn.mlp([3, 5, 2], seed=0, dtype="float32"),
    "relu-softplus": lambda: mn.mlp([3, 4, 2], activation="relu", output_activation="softplus", seed=0),
}


def sequences(seed=0, steps=25):
    g = np.random.default_rng(seed)
    U = g.standard_normal((2, steps, 2))
    return U, np.tanh(np.cumsum(U, axis=1) * 0.3)


DYNAMIC = {
    "narx-open": lambda: mn.narx([1, 2], [1, 2], [4], n_inputs=2, n_outputs=2, seed=0),
    "narx-closed": lambda: mn.narx([1, 2], [1, 2], [4], n_inputs=2, n_outputs=2, seed=0).closed_loop(),
    "layer-recurrent": lambda: mn.layer_recurrent([1, 2], [3, 2], n_inputs=2, n_outputs=2, seed=0),
    "timedelay": lambda: mn.timedelay([0, 1, 3], [4], n_inputs=2, n_outputs=2, seed=0),
}


# -- moving a network -----------------------------------------------------------------

def test_to_moves_the_parameter_vector_and_keeps_views():
    net = mn.mlp([3, 4, 2], seed=0)
    theta = net.get_flat()
    assert net.to(STRICT) is net and net.library == STRICT
    assert isinstance(net.theta, Array) and isinstance(net.weights["x", "h1"], Array)
    np.testing.assert_array_equal(host(net.theta), theta)
    net.weights["x", "h1"] = np.ones((4, 3))          # views of the one vector, as on numpy
    assert float(xs.sum(net.theta[:12])) == 12.0
    net.biases["y"] = 0.5
    assert host(net.biases["y"]).tolist() == [0.5, 0.5]
    back = net.to("numpy")
    assert isinstance(back.theta, np.ndarray) and back.library == "numpy"
    assert back.weights["x", "h1"].base is not None and np.shares_memory(back.weights["x", "h1"], back.theta)


def test_copy_keeps_the_library_and_files_store_numpy(tmp_path):
    net = mn.mlp([3, 4, 2], seed=0).to(STRICT)
    twin = net.copy()
    assert twin.library == STRICT and twin.theta is not net.theta
    mn.save(net, tmp_path / "m.npz")
    loaded = mn.load(tmp_path / "m.npz")
    assert loaded.library == "numpy"
    np.testing.assert_array_equal(loaded.get_flat(), host(net.theta))
    with np.load(tmp_path / "m.npz") as f:
        assert all(isinstance(f[k], np.ndarray) for k in f.files)


def test_to_refuses_what_computes_on_numpy_only():
    with pytest.raises(ValueError, match="unknown array library 'torch'"):
        mn.mlp([2, 2, 1]).to("torch")
    compressed = mn.compress.to_mpo(mn.mlp([6, 4, 1], seed=0), {("x", "h1"): (2, 3)}, {("x", "h1"): (2, 2)},
                                    bond_dim=2, connections=[("x", "h1")])
    with pytest.raises(ValueError, match=r"W\[x→h1\] is a mpo weight, which computes on numpy only"):
        compressed.to(STRICT)
    assert compressed.library == "numpy"
    quantized = mn.compress.quantize(mn.mlp([6, 4, 1], seed=0), bits=8, calibration=np.ones((3, 6)))
    with pytest.raises(ValueError, match="is a quantized weight"):
        quantized.to(STRICT)
    graph = mn.gcn(np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1), [2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="propagates over a graph"):
        graph.to(STRICT)
    mf = mn.factorization.pmf(5, 4, 2, seed=0)
    with pytest.raises(ValueError, match="index input"):
        mf.to(STRICT)


def test_data_of_another_library_is_a_clear_error():
    net = mn.mlp([3, 4, 2], seed=0).to(STRICT)
    X, T = data()
    with pytest.raises(ValueError, match="input 'x' is a numpy array but the network computes on "
                                         "array_api_strict"):
        net(X)
    with pytest.raises(ValueError, match="targets for output 'y' is a numpy array"):
        net.fit(xs.asarray(X), T, epochs=1)
    numpy_net = mn.mlp([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match="is a array_api_strict array but the network computes on numpy"):
        numpy_net(xs.asarray(X))


def test_cupy_without_a_gpu_is_a_clear_error():
    try:
        backend.library("cupy")
    except (ImportError, RuntimeError) as e:
        assert "cupy" in str(e).lower() or "gpu" in str(e).lower()
    else:
        pytest.skip("CuPy finds a GPU here: tests/test_gpu.py runs")


# -- the engine: forward, gradient, Jacobian ---------------------------------------------

@pytest.mark.parametrize("name", NETWORKS)
def test_forward_equals_numpy(name):
    net = NETWORKS[name]()
    X, _ = data()
    Y = on_strict(net)(xs.asarray(X.astype(net.dtype)))
    assert isinstance(Y, Array)
    np.testing.assert_allclose(host(Y), net(X), rtol=1e-6 if net.dtype == np.float32 else 1e-13, atol=1e-13)


@pytest.mark.parametrize("activation", mn.activations.names())
def test_every_activation_and_its_derivative_equal_numpy(activation):
    net = mn.mlp([3, 4, 3], activation=activation, output_activation="softmax", seed=2)
    X, _ = data(n_out=3)
    T = np.eye(3)[np.arange(40) % 3]
    np.testing.assert_allclose(host(on_strict(net)(xs.asarray(X))), net(X), rtol=1e-13, atol=1e-15)
    g = host(problem_of(on_strict(net), *strict(X, T), loss="cross_entropy").evaluate()[1])
    np.testing.assert_allclose(g, problem_of(net, X, T, loss="cross_entropy").evaluate()[1], rtol=1e-10,
                               atol=1e-13)


@pytest.mark.parametrize("loss,options", [("mse", {}), ("sse", {"l2": 0.1}), ("mse", {"weighted": True})])
def test_gradient_equals_numpy(loss, options):
    net = mn.mlp([3, 5, 4, 2], seed=0)
    net.input_scaling = {"x": mn.data.minmax(np.random.default_rng(1).standard_normal((9, 3)))}
    X, T = data()
    w = np.linspace(0.0, 2.0, len(X)) if options.get("weighted") else None
    l2 = options.get("l2", 0.0)
    ref = problem_of(net, X, T, loss, l2, w).evaluate()
    got = problem_of(on_strict(net), *strict(X, T), loss, l2, None if w is None else xs.asarray(w)).evaluate()
    assert got[0] == pytest.approx(ref[0], rel=1e-13)
    np.testing.assert_allclose(host(got[1]), ref[1], rtol=1e-11, atol=1e-14)


def test_static_jacobian_equals_numpy():
    net = mn.mlp([3, 5, 2], seed=0)
    X, T = data()
    J, e = mn.jacobian(on_strict(net), *strict(X, T), sample_weight=xs.asarray(np.linspace(0.5, 1, 40)))
    J0, e0 = mn.jacobian(net, X, T, sample_weight=np.linspace(0.5, 1, 40))
    np.testing.assert_allclose(host(J), J0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(host(e), e0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", DYNAMIC)
def test_dynamic_runs_gradients_and_jacobians_equal_numpy(name):
    net = DYNAMIC[name]()
    U, Y = sequences()
    moved = on_strict(net)
    inputs = {"x": U, "y_fb": Y} if "y_fb" in net.inputs else U
    strict_inputs = {k: xs.asarray(v) for k, v in inputs.items()} if isinstance(inputs, dict) else xs.asarray(U)
    out, state = moved.simulate(strict_inputs)
    ref, ref_state = net.simulate(inputs)
    np.testing.assert_allclose(host(out), ref, rtol=1e-12, atol=1e-14)
    for k in ref_state:
        np.testing.assert_allclose(host(state[k]), ref_state[k], rtol=1e-12, atol=1e-14)
    g = host(problem_of(moved, xs.asarray(U), xs.asarray(Y)).evaluate()[1])
    np.testing.assert_allclose(g, problem_of(net, U, Y).evaluate()[1], rtol=1e-10, atol=1e-13)
    J, e = mn.jacobian(moved, xs.asarray(U), xs.asarray(Y))
    J0, e0 = mn.jacobian(net, U, Y)
    np.testing.assert_allclose(host(J), J0, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(host(e), e0, rtol=1e-12, atol=1e-14)


def test_jacobian_blocks_of_a_recurrent_run_equal_the_whole():
    net = on_strict(DYNAMIC["layer-recurrent"]())
    U, Y = sequences()
    problem = problem_of(net, xs.asarray(U), xs.asarray(Y))
    trace = problem.run(problem.train)
    whole = stack_blocks(jacobian_blocks(net, trace, problem.train.targets, problem.scale), trace.shape)
    blocks = stack_blocks(jacobian_blocks(net, trace, problem.train.targets, problem.scale, block_rows=14),
                          trace.shape)
    np.testing.assert_allclose(host(blocks[0]), host(whole[0]), rtol=1e-12, atol=1e-14)


# -- training -------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm,options", [
    ("lm", {}), ("br", {}), ("adam", {"batch_size": 8}), ("sgd", {"batch_size": 8, "momentum": 0.9}),
    ("rmsprop", {"batch_size": 16}), ("rprop", {}), ("lbfgs", {}), ("cg", {}), ("scg", {}),
])
def test_training_equals_numpy(algorithm, options):
    X, T = data()
    net = mn.mlp([3, 5, 2], seed=0)
    moved = on_strict(net)
    kwargs = dict(algorithm=algorithm, epochs=6, seed=3, progress=False, **options)
    history = net.fit(X, T, **kwargs)
    moved_history = moved.fit(*strict(X, T), **kwargs)
    assert moved_history.epochs == history.epochs and moved_history.stop_reason == history.stop_reason
    np.testing.assert_allclose(moved_history.train_loss, history.train_loss, rtol=1e-9)
    np.testing.assert_allclose(moved_history.val_loss, history.val_loss, rtol=1e-9)
    np.testing.assert_allclose(host(moved.theta), net.theta, rtol=1e-8, atol=1e-10)
    assert moved.input_scaling["x"].kind == "minmax"
    np.testing.assert_allclose(host(moved(xs.asarray(X))), net(X), rtol=1e-8, atol=1e-10)


def test_recurrent_lm_with_validation_equals_numpy():
    net = DYNAMIC["narx-closed"]()
    U, Y = sequences(steps=40)
    moved = on_strict(net)
    kwargs = dict(algorithm="lm", epochs=4, seed=0, progress=False)
    history = net.fit(U, Y, **kwargs)
    moved_history = moved.fit(xs.asarray(U), xs.asarray(Y), **kwargs)
    np.testing.assert_allclose(moved_history.val_loss, history.val_loss, rtol=1e-9)
    np.testing.assert_allclose(host(moved.theta), net.theta, rtol=1e-8, atol=1e-10)


def test_classifier_with_labels_trains_alike():
    X, _ = data(n=60)
    labels = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    net = mn.mlp([3, 4, 2], output_activation="softmax", seed=0)
    moved = on_strict(net)
    history = net.fit(X, labels, epochs=5, batch_size=10, seed=1, progress=False)
    moved_history = moved.fit(xs.asarray(X), labels, epochs=5, batch_size=10, seed=1, progress=False)
    np.testing.assert_allclose(moved_history.val_metric, history.val_metric)
    assert moved.classes == net.classes
    assert list(moved.predict_classes(xs.asarray(X))) == list(net.predict_classes(X))


# -- uses of a trained network: on a NumPy copy ----------------------------------------------

def test_uses_of_a_trained_network_run_on_a_numpy_copy(tmp_path):
    X, T = data(n=80)
    net = mn.mlp([3, 3, 2], seed=0)
    net.fit(X, T, algorithm="lm", epochs=20, seed=0, progress=False)
    moved = on_strict(net)
    Xs, Ts = strict(X, T)
    assert moved.explain(Xs[:1, :]) == net.explain(X[:1])
    np.testing.assert_array_equal(mn.analysis.input_jacobian(moved, Xs), mn.analysis.input_jacobian(net, X))
    ours, theirs = mn.analysis.parameter_covariance(moved, Xs, Ts), mn.analysis.parameter_covariance(net, X, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert mn.check_gradient(moved, Xs, Ts)["max_relative_error"] < 1e-6
    pruned = mn.compress.prune(moved, 0.5)
    assert pruned.library == "numpy" and pruned.weights["x", "h1"].kind == "sparse"
    assert moved.library == STRICT                     # the network itself stays where it was
    (tmp_path / "moved").mkdir(), (tmp_path / "net").mkdir()
    mn.export.to_python(moved, tmp_path / "moved" / "m.py")
    mn.export.to_python(net, tmp_path / "net" / "m.py")
    assert (tmp_path / "moved" / "m.py").read_bytes() == (tmp_path / "net" / "m.py").read_bytes()
    assert (mn.graph.adjacency(moved)[0] != mn.graph.adjacency(net)[0]).nnz == 0
    assert mn.plot.regression(moved, Xs, Ts) is not None


def test_one_sample_one_series_and_predict_ahead_equal_numpy():
    net = mn.mlp([3, 4, 2], seed=0)
    X, _ = data()
    np.testing.assert_array_equal(host(on_strict(net)(xs.asarray(X[0]))), net(X[0]))
    narx = mn.narx([1, 2], [1, 2], [4], seed=0)
    U = np.random.default_rng(0).standard_normal((50, 1))
    Y = np.tanh(np.cumsum(U, axis=0) * 0.2)
    narx.fit(U, Y, epochs=3, seed=0, progress=False)
    moved = on_strict(narx)
    out, state = moved.simulate({"x": xs.asarray(U), "y_fb": xs.asarray(Y)})
    ref, ref_state = narx.simulate({"x": U, "y_fb": Y})
    np.testing.assert_array_equal(host(out), ref)
    np.testing.assert_array_equal(host(state["x"]), ref_state["x"])
    ahead = mn.simulate.predict_ahead(moved, xs.asarray(U), xs.asarray(Y[:30]), 10)
    np.testing.assert_array_equal(host(ahead), mn.simulate.predict_ahead(narx, U, Y[:30], 10))


def two_inputs_two_outputs():
    net = mn.Network(seed=0)
    net.add_input("a", 2)
    net.add_input("b", 1)
    net.add_layer("h", 3)
    net.add_layer("y1", 1, "linear")
    net.add_layer("y2", 1, "linear")
    for source, target in (("a", "h"), ("b", "h"), ("h", "y1"), ("h", "y2"), ("b", "y2")):
        net.connect(source, target)
    net.outputs = ["y1", "y2"]
    return net


@pytest.mark.parametrize("case", ["validation", "restarts", "weights-and-l2", "two-in-two-out", "recurrent-br",
                                  "memory-reduction"])
def test_training_options_and_network_kinds_equal_numpy(case):
    X, T = data(n=80)
    U, Y = sequences(steps=30)
    net, x, t = mn.mlp([3, 4, 2], seed=0), X, T
    kwargs = dict(epochs=4, seed=0, progress=False)
    if case == "validation":
        kwargs.update(algorithm="adam", batch_size=16, validation=(X[:20], T[:20]))
    elif case == "restarts":
        kwargs.update(algorithm="lm", restarts=2)
    elif case == "weights-and-l2":
        kwargs.update(algorithm="lm", l2=0.01, sample_weight=np.linspace(0.2, 1.0, 80), record_weights=True)
    elif case == "two-in-two-out":
        net, x, t = two_inputs_two_outputs(), {"a": X[:, :2], "b": X[:, 2:]}, {"y1": T[:, :1], "y2": T[:, 1:]}
        kwargs.update(algorithm="lm")
    elif case == "recurrent-br":
        net, x, t = mn.layer_recurrent([1], [3], n_inputs=2, n_outputs=2, seed=0), U, Y
        kwargs.update(algorithm="br")
    else:
        kwargs.update(algorithm="lm", memory_reduction=3)
    moved = on_strict(net)

    def move(v):
        return {k: xs.asarray(a) for k, a in v.items()} if isinstance(v, dict) else xs.asarray(v)
    strict_kwargs = dict(kwargs)
    if "validation" in kwargs:
        strict_kwargs["validation"] = tuple(move(v) for v in kwargs["validation"])
    history = net.fit(x, t, **kwargs)
    moved_history = moved.fit(move(x), move(t), **strict_kwargs)
    np.testing.assert_allclose(moved_history.train_loss, history.train_loss, rtol=1e-9)
    np.testing.assert_allclose(moved_history.val_loss, history.val_loss, rtol=1e-9)
    np.testing.assert_allclose(host(moved.theta), net.theta, rtol=1e-8, atol=1e-10)
    if kwargs.get("record_weights"):
        assert all(isinstance(w, np.ndarray) for w in moved_history.weights[-1].values())


@pytest.mark.parametrize("kind", ["static", "recurrent"])
def test_sparse_weights_move_and_equal_numpy(kind):
    """A pruned network's Sparse weights compute in the library too (a dense copy where
    it has no sparse matrices, as array_api_strict; gathers for gradient and Jacobian)."""
    if kind == "static":
        net = mn.compress.prune(mn.mlp([6, 8, 2], seed=0), 0.5)
        X, T = data(n=50, n_in=6)
        args = (X, T)
    else:
        net = mn.compress.prune(mn.layer_recurrent([1, 2], [4], n_inputs=2, n_outputs=2, seed=0), 0.4)
        args = sequences()
    moved = on_strict(net)
    assert moved.weights[next(iter(moved.weights))].kind == "sparse"
    assert isinstance(moved.weights[next(iter(moved.weights))].data, Array)
    strict_args = strict(*args)
    np.testing.assert_allclose(host(problem_of(moved, *strict_args).evaluate()[1]),
                               problem_of(net, *args).evaluate()[1], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(host(mn.jacobian(moved, *strict_args)[0]), mn.jacobian(net, *args)[0], rtol=1e-11,
                               atol=1e-14)
    net.fit(*args, algorithm="lm", epochs=4, seed=0, progress=False)
    moved.fit(*strict_args, algorithm="lm", epochs=4, seed=0, progress=False)
    np.testing.assert_allclose(host(moved.theta), net.theta, rtol=1e-8, atol=1e-10)
    back = moved.copy().to("numpy")
    assert back.weights[next(iter(back.weights))].kind == "sparse"
    np.testing.assert_array_equal(back.theta, host(moved.theta))


@pytest.mark.parametrize("form", ["dense", "sparse", "lowrank"])
@pytest.mark.parametrize("kind", ["static", "timedelay", "narx_open", "narx_closed", "layer_recurrent"])
def test_every_network_kind_with_initial_states_equals_numpy(kind, form):
    from test_core import _case               # the kinds and forms every core test runs

    net, _, X, T, U, initial = _case(kind, form)
    moved = on_strict(net)

    def move(v):
        if isinstance(v, dict):
            return {k: xs.asarray(a) for k, a in v.items()}
        return None if v is None else xs.asarray(v)
    ours = moved(move(X)) if U is None else moved.simulate(move(U), initial=move(initial))[0]
    theirs = net(X) if U is None else net.simulate(U, initial=initial)[0]
    np.testing.assert_allclose(host(ours), theirs, rtol=1e-12, atol=1e-14)
    g = problem_of(moved, move(X), move(T), initial=move(initial)).evaluate()[1]
    np.testing.assert_allclose(host(g), problem_of(net, X, T, initial=initial).evaluate()[1], rtol=1e-10,
                               atol=1e-13)
    J, e = mn.jacobian(moved, move(X), move(T), initial=move(initial))
    J0, e0 = mn.jacobian(net, X, T, initial=initial)
    np.testing.assert_allclose(host(J), J0, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(host(e), e0, rtol=1e-12, atol=1e-14)
