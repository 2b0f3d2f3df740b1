"""Tangent matrices, generalized weights and parameter uncertainty (mn.analysis),
against finite differences, torch autograd, statsmodels and scipy's curve_fit."""
import warnings

import numpy as np
import pytest

import matnet as mn
from matnet import compress
from matnet.analysis import SingularInformationWarning

EPS = 1e-6


def numeric_tangent(f, X):
    """Central differences of ``f`` ``(n, n_in) -> (n, n_out)``: ``(n, n_out, n_in)``."""
    cols = []
    for i in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[i] = EPS
        cols.append((f(X + step) - f(X - step)) / (2 * EPS))
    return np.stack(cols, axis=-1)


def trained_regressor(seed=0, outputs=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3)) * [1, 10, 0.1] + [0, 50, 0]
    T = np.c_[np.sin(X[:, 0]) + X[:, 1] / 10, X[:, 2] * X[:, 0]][:, :outputs] * 100 + 5
    net = mn.mlp([3, 6, outputs], seed=seed)
    net.fit(X, T, algorithm="lm", epochs=10, seed=seed, progress=False)    # min-max scaling on both sides
    return net, X, T


# -- the tangent matrix -------------------------------------------------------------

def test_input_jacobian_of_a_scaled_network_equals_finite_differences_and_torch():
    torch = pytest.importorskip("torch")
    net, X, _ = trained_regressor()
    assert net.input_scaling and net.output_scaling
    J = net.input_jacobian(X)
    assert J.shape == (80, 2, 3)
    np.testing.assert_allclose(J, numeric_tangent(net, X), rtol=1e-6, atol=1e-6 * np.abs(J).max())
    sx, cx = (torch.tensor(getattr(net.input_scaling["x"], k)) for k in ("scale", "shift"))
    sy, cy = (torch.tensor(getattr(net.output_scaling["y"], k)) for k in ("scale", "shift"))
    W1, W2 = (torch.tensor(net.weights[k]) for k in (("x", "h1"), ("h1", "y")))
    b1, b2 = torch.tensor(net.biases["h1"]), torch.tensor(net.biases["y"])

    def f(x):                                    # the network written out in torch, data units
        return ((torch.tanh((x * sx + cx) @ W1.T + b1) @ W2.T + b2) - cy) / sy
    for s in (0, 41, 79):
        ref = torch.autograd.functional.jacobian(f, torch.tensor(X[s])).numpy()
        np.testing.assert_allclose(J[s], ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(net.input_jacobian(X[5]), J[5])          # one 1-D sample


@pytest.mark.parametrize("form", ["sparse", "lowrank", "mpo"])
def test_input_jacobian_of_every_weight_form(form):
    net, X, _ = trained_regressor(outputs=1)
    if form == "sparse":
        small = compress.prune(net, 0.5)
    elif form == "lowrank":
        small = compress.to_low_rank(net, rank=2)
    else:
        big = mn.mlp([4, 6, 1], seed=1)
        X = np.random.default_rng(1).normal(size=(30, 4))
        small = compress.to_mpo(big, [2, 2], [2, 3], 2, connections=[("x", "h1")])
    J = small.input_jacobian(X)                 # differences of outputs ~100 lose ~1e-8 to round-off
    np.testing.assert_allclose(J, numeric_tangent(small, X), rtol=1e-6, atol=1e-7 * max(1, np.abs(J).max()))


def test_input_jacobian_of_several_inputs_and_outputs():
    net = mn.Network(seed=3)
    net.add_input("a", 2)
    net.add_input("b", 1)
    net.add_layer("h", 4)
    net.add_layer("y", 1, activation="linear")
    net.add_layer("z", 2, activation="sigmoid")
    for s, t in [("a", "h"), ("b", "h"), ("h", "y"), ("h", "z"), ("b", "z")]:
        net.connect(s, t)
    net.outputs = ["y", "z"]
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    J = net.input_jacobian({"a": A, "b": B})
    assert J["a"].shape == (10, 3, 2) and J["b"].shape == (10, 3, 1)

    def outputs(a, b):
        y = net({"a": a, "b": b})
        return np.concatenate([y["y"], y["z"]], axis=1)
    np.testing.assert_allclose(J["a"], numeric_tangent(lambda a: outputs(a, B), A), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(J["b"], numeric_tangent(lambda b: outputs(A, b), B), rtol=1e-6, atol=1e-9)


def numeric_series_tangent(f, U, t, k, s, i):
    """``∂y_k(t)/∂u_i(s)`` by central differences over one series."""
    up, down = U.copy(), U.copy()
    up[s, i] += EPS
    down[s, i] -= EPS
    return (f(up)[t, k] - f(down)[t, k]) / (2 * EPS)


def test_input_jacobian_per_delay_of_a_time_delay_network():
    net = mn.timedelay([0, 2, 3], [5], n_inputs=2, n_outputs=2, seed=4)
    U = np.random.default_rng(2).normal(size=(12, 2))
    J = net.input_jacobian(U)
    assert J.shape == (12, 2, 4, 2)                     # delays 0..3, delay 1 not tapped
    assert not J[:, :, 1].any()
    simulate = lambda u: net.simulate(u)[0]             # noqa: E731
    for t, k, d, i in [(5, 0, 0, 1), (7, 1, 2, 0), (11, 0, 3, 1), (3, 1, 3, 0)]:
        assert J[t, k, d, i] == pytest.approx(numeric_series_tangent(simulate, U, t, k, t - d, i), abs=1e-8)
    many = net.input_jacobian(np.stack([U, U[::-1]]))
    np.testing.assert_allclose(many[0], J)
    assert many.shape == (2, 12, 2, 4, 2)


def test_closed_loop_narx_gives_the_one_step_derivative_of_the_open_loop():
    """With the fed-back outputs held fixed, a closed-loop NARX's step is the open
    loop's: their derivatives with respect to the exogenous input agree, and the open
    loop's with respect to its own past outputs equal finite differences."""
    closed = mn.narx([1, 2], [1, 2], [4], seed=5, loop="closed")
    U = np.random.default_rng(3).normal(size=(15, 1))
    Y, _ = closed.simulate(U)
    opened = closed.open_loop()
    Jc = closed.input_jacobian(U)
    Jo = opened.input_jacobian({"x": U, "y_fb": Y})
    np.testing.assert_allclose(Jc, Jo["x"], rtol=1e-12, atol=1e-14)
    step = lambda y: opened.simulate({"x": U, "y_fb": y})[0]     # noqa: E731
    assert Jo["y_fb"][9, 0, 2, 0] == pytest.approx(numeric_series_tangent(step, Y, 9, 0, 7, 0), abs=1e-8)


# -- generalized weights ------------------------------------------------------------

def test_generalized_weights_are_the_log_odds_derivative_of_a_logistic_output():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)) * 5 + 2
    net = mn.mlp([3, 4, 1], output_activation="sigmoid", seed=6)
    net.input_scaling["x"] = mn.data.scaling.minmax(X)
    gw = mn.analysis.generalized_weights(net, X)
    logit = lambda x: np.log(net(x) / (1 - net(x)))     # noqa: E731
    np.testing.assert_allclose(gw, numeric_tangent(logit, X)[:, 0], rtol=1e-6, atol=1e-9)
    regressor, X, _ = trained_regressor()
    np.testing.assert_allclose(mn.analysis.generalized_weights(regressor, X, output=1),
                               regressor.input_jacobian(X)[:, 1])
    with pytest.raises(ValueError, match="output must be an output neuron index from 0 to 1, got 2"):
        mn.analysis.generalized_weights(regressor, X, output=2)
    with pytest.raises(ValueError, match="input_jacobian"):
        mn.analysis.generalized_weights(mn.timedelay([0, 1], [3], seed=0), X[:, :1])


# -- parameter uncertainty ------------------------------------------------------------

def linear_data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1, 3, 0.5]
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(scale=0.5, size=n) * (1 + np.abs(X[:, 0]))
    return X, y


def linear_network(X, y):
    """No hidden layer, linear output: ordinary least squares, trained by LM."""
    net = mn.Network(seed=0)
    net.add_input("x", X.shape[1])
    net.add_layer("y", 1, activation="linear")
    net.connect("x", "y")
    net.fit(X, y[:, None], algorithm="lm", scaling=None, division=None, epochs=30, progress=False)
    return net


def test_a_linear_network_has_the_intervals_of_ordinary_least_squares():
    sm = pytest.importorskip("statsmodels.api")
    X, y = linear_data()
    net = linear_network(X, y)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    order = [1, 2, 3, 0]                                 # matnet: W then b; statsmodels: constant first
    table = mn.analysis.confidence_intervals(net, X, y[:, None])
    np.testing.assert_allclose(table["estimate"], ols.params[order], rtol=1e-8)
    np.testing.assert_allclose(table["std_error"], ols.bse[order], rtol=1e-8)
    np.testing.assert_allclose(np.c_[table["lower"], table["upper"]], ols.conf_int()[order], rtol=1e-8)
    assert list(table["parameter"]) == ["W[x→y]"] * 3 + ["b[y]"] and list(table["column"]) == [0, 1, 2, -1]
    new = np.random.default_rng(9).normal(size=(7, 3))
    frame = ols.get_prediction(sm.add_constant(new, has_constant="add")).summary_frame(alpha=0.1)
    for kind, lower, upper in [("confidence", "mean_ci_lower", "mean_ci_upper"),
                               ("prediction", "obs_ci_lower", "obs_ci_upper")]:
        lo, up = mn.analysis.prediction_intervals(net, new, X, y[:, None], level=0.9, kind=kind)
        np.testing.assert_allclose(lo[:, 0], frame[lower], rtol=1e-8)
        np.testing.assert_allclose(up[:, 0], frame[upper], rtol=1e-8)
    robust = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC0")
    sandwich = mn.analysis.confidence_intervals(net, X, y[:, None], method="sandwich")
    np.testing.assert_allclose(sandwich["std_error"], robust.bse[order], rtol=1e-8)
    np.testing.assert_allclose(np.c_[sandwich["lower"], sandwich["upper"]], robust.conf_int()[order], rtol=1e-8)


def test_nic_of_a_linear_network_by_hand():
    X, y = linear_data(1)
    net = linear_network(X, y)
    A = np.c_[X, np.ones(len(X))]                        # columns in parameter order
    e = A @ net.get_flat() - y
    B = (A * e[:, None] ** 2).T @ A
    expected = 0.5 * e @ e + np.trace(B @ np.linalg.inv(A.T @ A))
    assert mn.analysis.nic(net, X, y[:, None], hessian="gauss-newton") == pytest.approx(expected, rel=1e-10)
    assert mn.analysis.nic(net, X, y[:, None]) == pytest.approx(expected, rel=1e-7)   # a linear net: no curvature


def test_nic_with_the_exact_hessian_as_neuralnet_against_torch():
    """``E + tr(B A⁻¹)`` with ``A`` the exact Hessian of ``SSE/2`` (torch autograd of
    the network written out) — what neuralnet computes — differs from the
    Gauss–Newton one where residuals are large."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(40, 2))
    T = np.sin(X[:, :1]) * X[:, 1:] + rng.normal(scale=0.3, size=(40, 1))
    net = mn.mlp([2, 3, 1], seed=1)
    net.fit(X, T, algorithm="lm", scaling=None, division=None, epochs=15, progress=False)
    W, b = net.views(np.arange(net.n_params))            # where each matrix sits in the parameter vector
    W1, W2, b1, b2 = W["x", "h1"], W["h1", "y"], b["h1"], b["y"]
    x, t = torch.tensor(X), torch.tensor(T)

    def half_sse(theta):
        y = torch.tanh(x @ theta[W1].T + theta[b1]) @ theta[W2].T + theta[b2]
        return 0.5 * ((y - t) ** 2).sum()
    A = torch.autograd.functional.hessian(half_sse, torch.tensor(net.get_flat())).numpy()
    J, e = mn.jacobian(net, X, T)
    g = J * e[:, None]                                   # per-sample gradients (one output)
    expected = 0.5 * e @ e + np.trace(g.T @ g @ np.linalg.inv(A))
    assert mn.analysis.nic(net, X, T) == pytest.approx(expected, rel=1e-6)
    assert abs(mn.analysis.nic(net, X, T, hessian="gauss-newton") - expected) > 1e-3 * abs(expected)
    with pytest.raises(ValueError, match="hessian must be"):
        mn.analysis.nic(net, X, T, hessian="bfgs")


def test_gauss_newton_covariance_equals_curve_fits_pcov():
    from scipy.optimize import curve_fit
    rng = np.random.default_rng(5)
    x = np.linspace(-2, 2, 50)
    y = 1.5 * np.tanh(1.2 * x - 0.3) + 0.2 + rng.normal(scale=0.05, size=x.size)
    net = mn.mlp([1, 1, 1], seed=2)
    net.fit(x[:, None], y[:, None], algorithm="lm", scaling=None, division=None, epochs=200, min_grad=1e-14,
            progress=False)
    theta = net.get_flat()

    def model(x, *p):
        probe = net.copy()
        probe.set_flat(np.array(p))
        return probe(x[:, None])[:, 0]
    _, pcov = curve_fit(model, x, y, p0=theta, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    cov = mn.analysis.parameter_covariance(net, x[:, None], y[:, None])
    np.testing.assert_allclose(cov, pcov, rtol=1e-6, atol=1e-12)


def test_bayesian_regularisation_gives_its_posterior_and_files_keep_it(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, size=(60, 2))
    T = np.sin(2 * X[:, :1]) + X[:, 1:] ** 2 + rng.normal(scale=0.05, size=(60, 1))
    net = mn.mlp([2, 5, 1], seed=3)
    net.fit(X, T, algorithm="br", epochs=40, division=None, progress=False)
    alpha, beta = net.training["alpha"], net.training["beta"]
    J, _ = mn.jacobian(net, X, T)
    expected = np.linalg.inv(beta * J.T @ J + alpha * np.eye(net.n_params))
    tiny = 1e-9 * np.abs(expected).max()                 # entries that cancel to round-off
    np.testing.assert_allclose(mn.analysis.parameter_covariance(net, X, T), expected, rtol=1e-9, atol=tiny)
    net.save(tmp_path / "br.npz")
    again = mn.load(tmp_path / "br.npz")
    np.testing.assert_allclose(mn.analysis.parameter_covariance(again, X, T), expected, rtol=1e-9, atol=tiny)
    lo, up = mn.analysis.prediction_intervals(net, X[:3], X, T, kind="prediction")
    y = net(X[:3])
    np.testing.assert_allclose(y - lo, up - y)
    assert np.all(up - y > 1.96 / np.sqrt(beta) - 1e-12)      # at least the noise of 1/β


def test_redundant_weights_are_reported_not_inverted():
    """Two identical hidden units: their weights cannot be told apart; the output
    bias (which no redundancy touches) keeps a finite standard error."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 1))
    net = mn.Network.from_matrices([np.array([[0.7], [0.7]]), np.array([[0.4, 0.4]])],
                                   [np.array([0.1, 0.1]), np.array([0.2])], ["tanh", "linear"])
    T = net(X) + rng.normal(scale=0.1, size=(40, 1))
    with pytest.warns(SingularInformationWarning, match="not determined by the data"):
        table = mn.analysis.confidence_intervals(net, X, T)
    determined = dict(zip(zip(table["parameter"], table["row"], table["column"]), table["determined"]))
    assert not determined[("W[x→h1]", 0, 0)] and not determined[("W[h1→y]", 0, 1)]
    assert determined[("b[y]", 0, -1)]
    se = dict(zip(zip(table["parameter"], table["row"], table["column"]), table["std_error"]))
    assert np.isnan(se[("W[x→h1]", 0, 0)]) and np.isfinite(se[("b[y]", 0, -1)])


def test_intervals_of_a_time_delay_network_follow_its_series():
    net = mn.timedelay([0, 1], [3], seed=8)
    rng = np.random.default_rng(8)
    U = rng.normal(size=(120, 1))
    Y = np.r_[[[0.0]], np.tanh(U[:-1] + U[1:])] + rng.normal(scale=0.05, size=(120, 1))
    net.fit(U, Y, algorithm="lm", epochs=20, progress=False)
    table = mn.analysis.confidence_intervals(net, U, Y)
    assert len(table) == net.n_params and np.all(np.isfinite(table["std_error"][table["determined"]]))
    lo, up = mn.analysis.prediction_intervals(net, U[:30], U, Y)
    y, _ = net.simulate(U[:30])
    assert lo.shape == y.shape == (30, 1) and np.all(lo <= y) and np.all(y <= up)


def test_bad_options_are_refused():
    X, y = linear_data()
    net = linear_network(X, y)
    for kwargs, message in [({"level": 1.5}, "level must be between 0 and 1"),
                            ({"method": "bootstrap"}, "method must be one of"),
                            ({"method": "posterior"}, "trained with algorithm='br'")]:
        with pytest.raises(ValueError, match=message):
            mn.analysis.confidence_intervals(net, X, y[:, None], **kwargs)
    with pytest.raises(ValueError, match="kind must be"):
        mn.analysis.prediction_intervals(net, X, X, y[:, None], kind="tolerance")
    with pytest.warns(SingularInformationWarning), pytest.raises(ValueError, match="do not determine"):
        mn.analysis.parameter_covariance(net, X[:3], y[:3, None])      # 3 errors, 4 parameters
    narx = mn.narx([1], [1], [2], seed=0)
    with pytest.raises(ValueError, match="pass them as T="):
        mn.analysis.prediction_intervals(narx, X[:5, :1], X[:, :1], y[:, None])


def test_table_prints_and_writes_csv(tmp_path):
    X, y = linear_data()
    table = mn.analysis.confidence_intervals(linear_network(X, y), X, y[:, None])
    text = repr(table)
    assert text.splitlines()[0].startswith("95% confidence intervals (gauss-newton")
    assert "W[x→y]" in text and "std_error" in text
    table.to_csv(tmp_path / "ci.csv")
    rows = (tmp_path / "ci.csv").read_text().splitlines()
    assert rows[0] == "parameter,row,column,estimate,std_error,lower,upper,determined" and len(rows) == 5
    assert float(rows[1].split(",")[3]) == table["estimate"][0]          # full precision
    assert "<table>" in table._repr_html_()
    with pytest.raises(KeyError, match="no column 'p'"):
        table["p"]
