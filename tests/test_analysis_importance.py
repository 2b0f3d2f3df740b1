"""matnet.analysis.importance / profile: Garson and Olden by hand (Beck 2018), Olden as
the sum over paths, sensitivity as the tangent, permutation against scikit-learn, Lek's
profile, the errors, and the pictures."""
import dataclasses
import importlib
import warnings

import numpy as np
import pytest

import matnet as mn
from matnet.analysis import Table, importance, input_jacobian, profile
from matnet.analysis.importance import garson, olden_matrix

from conftest import random_dag, random_inputs

# A 3-2-1 network with small integer-ish weights (W is (n_out, n_in): rows receive).
W1 = np.array([[1.0, -2.0, 0.5],       # input → hidden 1
               [0.3, 1.0, -1.0]])      # input → hidden 2
W2 = np.array([[2.0, -1.0]])           # hidden → output


def three_two_one():
    return mn.Network.from_matrices([W1, W2], [np.array([0.1, -0.2]), np.array([0.3])], ["tanh", "linear"])


# -- Garson and Olden by hand --------------------------------------------------------

def test_garson_by_hand():
    """Beck (2018), eq. 1: c_ij = |w_ij v_j|, r_ij = c_ij / Σ_i c_ij, S_i = Σ_j r_ij,
    RI_i = S_i / Σ_i S_i (w_ij: input i → hidden j, v_j: hidden j → output)."""
    n_in, n_hidden = 3, 2
    S = [0.0] * n_in
    for j in range(n_hidden):
        c = [abs(W1[j, i] * W2[0, j]) for i in range(n_in)]
        for i in range(n_in):
            S[i] += c[i] / sum(c)
    expected = [s / sum(S) for s in S]
    # worked out: hidden 1 gives (2, 4, 1) / 7, hidden 2 gives (0.3, 1, 1) / 2.3
    np.testing.assert_allclose(expected, [(2 / 7 + 0.3 / 2.3) / 2, (4 / 7 + 1 / 2.3) / 2, (1 / 7 + 1 / 2.3) / 2])
    table = importance(three_two_one(), "garson")
    assert isinstance(table, Table) and table.columns == ["feature", "importance"]
    assert table["feature"].tolist() == ["x[0]", "x[1]", "x[2]"]
    np.testing.assert_allclose(table["importance"], expected, rtol=1e-12)
    assert table["importance"].sum() == pytest.approx(1.0)


def test_olden_by_hand():
    """Beck (2018), eq. 2: the importance of input i is Σ_j w_ij v_j, signed."""
    expected = [sum(W1[j, i] * W2[0, j] for j in range(2)) for i in range(3)]
    np.testing.assert_allclose(expected, [1.7, -5.0, 2.0])
    np.testing.assert_allclose(importance(three_two_one(), "olden")["importance"], expected, rtol=1e-12)
    np.testing.assert_allclose(importance(three_two_one())["importance"], expected, rtol=1e-12)  # the default


def test_garson_and_olden_pick_the_output():
    V = np.array([[2.0, -1.0], [0.5, 3.0]])
    net = mn.Network.from_matrices([W1, V])
    for k in range(2):
        np.testing.assert_allclose(importance(net, "olden", output=k)["importance"], V[k] @ W1)
        np.testing.assert_allclose(importance(net, "garson", output=k)["importance"], garson(W1, V[k]))
    with pytest.raises(ValueError, match="output neuron index from 0 to 1"):
        importance(net, "olden", output=2)


def test_garson_all_zero_is_nan():
    assert np.isnan(garson(W1, np.zeros(2))).all()
    np.testing.assert_allclose(garson(W1, np.array([0.0, 2.0])), np.abs(W1[1]) / np.abs(W1[1]).sum())


def test_feature_names_label_the_rows():
    net = three_two_one()
    net.feature_names["x"] = ["age", "dose", "weight"]
    assert importance(net, "garson")["feature"].tolist() == ["age", "dose", "weight"]


# -- Olden over any depth and any DAG ------------------------------------------------

def test_olden_on_a_deep_chain_is_the_matrix_product():
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(5, 4)), rng.normal(size=(3, 5)), rng.normal(size=(6, 3)), rng.normal(size=(2, 6))]
    net = mn.Network.from_matrices(Ws, activations=["tanh", "relu", "sigmoid", "linear"])
    product = Ws[3] @ Ws[2] @ Ws[1] @ Ws[0]
    np.testing.assert_allclose(olden_matrix(net), product, rtol=1e-12)
    for k in range(2):
        np.testing.assert_allclose(importance(net, "olden", output=k)["importance"], product[k], rtol=1e-12)


def test_olden_includes_a_skip_connection():
    rng = np.random.default_rng(1)
    W, V, S = rng.normal(size=(3, 2)), rng.normal(size=(1, 3)), rng.normal(size=(1, 2))
    net = mn.Network(seed=0)
    net.add_input("x", 2)
    net.add_layer("h", 3, "tanh")
    net.add_layer("y", 1, "linear")
    net.connect("x", "h", W)
    net.connect("h", "y", V)
    net.connect("x", "y", S)                              # the direct path x → y
    np.testing.assert_allclose(importance(net, "olden")["importance"], (V @ W + S)[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"direct connection W\[x→y\]"):
        importance(net, "garson")


@pytest.mark.parametrize("seed", range(4))
def test_olden_of_a_linear_dag_is_its_tangent(seed):
    """Without activations the network is y = M x + c, and M is the sum over paths."""
    net = random_dag(seed, activations=["linear"])
    J = input_jacobian(net, random_inputs(net, 3))
    J = np.concatenate([J[name] for name in net.inputs], axis=-1) if isinstance(J, dict) else J
    np.testing.assert_allclose(olden_matrix(net), J[0], rtol=1e-10, atol=1e-12)


def test_olden_sums_the_delay_blocks_of_a_time_delay_network():
    net = mn.timedelay([0, 1, 2], [4], n_inputs=2, seed=0)
    W, V = net.weights["x", "h1"], net.weights["h1", "y"]
    summed = sum(W[:, 2 * d:2 * d + 2] for d in range(3))   # blocks [x(t); x(t-1); x(t-2)], 2 features each
    np.testing.assert_allclose(importance(net, "olden")["importance"], (V @ summed)[0], rtol=1e-12)
    narx = mn.narx(2, 1, [3], seed=0)                          # open loop: the fed-back output is an input
    assert importance(narx, "olden")["feature"].tolist() == ["x[0]", "y_fb[0]"]


# -- sensitivity ---------------------------------------------------------------------

def test_sensitivity_is_the_mean_absolute_tangent():
    net = random_dag(3, n_inputs=2, n_outputs=2, activations=["tanh", "sigmoid"])
    X = random_inputs(net, 40, seed=1)
    J = input_jacobian(net, X)
    J = np.concatenate([J[name] for name in net.inputs], axis=-1)
    n_out = J.shape[1]
    for k in range(n_out):
        expected = np.mean(np.abs(J[:, k, :]), axis=0)
        np.testing.assert_allclose(importance(net, "sensitivity", X=X, output=k)["importance"], expected)


def test_sensitivity_of_a_linear_network_is_the_absolute_weight():
    w = np.array([[1.5, -2.0, 0.0]])
    net = mn.Network.from_matrices([w], [np.array([0.7])], "linear")
    X = np.random.default_rng(0).normal(size=(10, 3))
    np.testing.assert_allclose(importance(net, "sensitivity", X=X)["importance"], np.abs(w[0]))
    np.testing.assert_allclose(importance(net, "sensitivity", X=X[0])["importance"], np.abs(w[0]))  # one sample


# -- permutation ---------------------------------------------------------------------

def test_permutation_agrees_with_scikit_learn():
    """Both estimate, for the same fitted model, the mean of the same distribution (the
    loss increase over uniformly random shuffles of one column); the shuffles differ,
    so each mean carries a standard error std/sqrt(R) and their difference one of
    sqrt((std_a² + std_b²)/R).  Allow 4 of those (a true difference beyond that has
    probability ~1e-4); the feature without effect gets ≈ 0 in both."""
    pytest.importorskip("sklearn")
    from sklearn.inspection import permutation_importance
    from matnet.interop.sklearn import MatnetRegressor
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(200, 3))
    y = 2 * np.sin(X[:, 0]) + X[:, 1] + 0.05 * rng.normal(size=200)       # x[2] has no effect
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MatnetRegressor(hidden_layer_sizes=(6,), max_iter=50, random_state=0).fit(X, y)
    R = 30
    theirs = permutation_importance(model, X, y, scoring="neg_mean_squared_error", n_repeats=R, random_state=0)
    ours = importance(model.net_, "permutation", X=X, T=y, n_repeats=R, seed=0)
    assert ours.columns == ["feature", "importance", "std"]
    se = np.sqrt((theirs.importances_std ** 2 + ours["std"] ** 2) / R)
    assert np.all(np.abs(ours["importance"] - theirs.importances_mean) <= 4 * se)
    assert np.argsort(-ours["importance"]).tolist() == np.argsort(-theirs.importances_mean).tolist() == [0, 1, 2]
    top = theirs.importances_mean[0]
    assert abs(ours["importance"][2]) < 1e-3 * top and abs(theirs.importances_mean[2]) < 1e-3 * top
    assert np.all((ours["std"] > 0.5 * theirs.importances_std) & (ours["std"] < 2 * theirs.importances_std))


def test_permutation_is_seeded_and_exact_for_a_feature_without_effect():
    net = mn.Network.from_matrices([np.array([[1.0, 0.0, -3.0]])], activations="linear")
    X = np.random.default_rng(0).normal(size=(50, 3))
    T = net(X)
    a = importance(net, "permutation", X=X, T=T, n_repeats=4, seed=7)
    b = importance(net, "permutation", X=X, T=T, n_repeats=4, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a["importance"], b["importance"])
    assert a["importance"][1] == 0 and a["std"][1] == 0
    # y = w·x exactly: shuffling x_i adds mean((w_i (x_i[π] - x_i))²) ≈ 2 w_i² var(x_i)
    assert a["importance"][2] > a["importance"][0] > 0


def test_permutation_of_a_classifier_uses_the_error_rate():
    net = mn.Network.from_matrices([np.array([[4.0, 0.0]])], [np.array([0.0])], "sigmoid")
    net.classes = ["no", "yes"]
    X = np.random.default_rng(0).normal(size=(60, 2))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    table = importance(net, "permutation", X=X, T=labels, n_repeats=5, seed=0)

    def error_rate(Y, T):                                           # T comes one-hot / 0-1 encoded
        return np.mean((Y[:, 0] >= 0.5) != (T[:, 0] >= 0.5))
    same = importance(net, "permutation", X=X, T=labels, n_repeats=5, seed=0, loss=error_rate)
    np.testing.assert_allclose(table["importance"], same["importance"])
    assert 0.2 < table["importance"][0] <= 1 and table["importance"][1] == 0
    entropy = importance(net, "permutation", X=X, T=labels, n_repeats=5, seed=0, loss="cross_entropy")
    assert entropy["importance"][0] > 0 and entropy["importance"][1] == 0


def test_permutation_of_one_output_and_of_several_inputs():
    net = random_dag(5, n_inputs=2, n_outputs=2)
    X = random_inputs(net, 30, seed=2)
    Y = net(X)
    T = {name: Y[name] + 0.1 for name in net.outputs} if isinstance(Y, dict) else Y + 0.1
    table = importance(net, "permutation", X=X, T=T, n_repeats=3, seed=0)
    assert len(table) == sum(net.inputs.values()) and np.all(np.isfinite(table["importance"]))
    one = importance(net, "permutation", X=X, T=T, n_repeats=3, seed=0, output=0)
    assert len(one) == len(table)


# -- Lek's profile -------------------------------------------------------------------

def test_profile_shapes_and_grid():
    net = mn.mlp([3, 4, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(30, 3))
    p = profile(net, X, 1, n=11)
    assert p.feature == "x[1]" and p.values.shape == (11,) and p.outputs.shape == (6, 11, 2)
    np.testing.assert_allclose(p.quantiles, [0, 0.2, 0.4, 0.6, 0.8, 1])
    assert p.values[0] == X[:, 1].min() and p.values[-1] == X[:, 1].max()
    np.testing.assert_allclose(p.held, np.quantile(X, p.quantiles, axis=0))
    # each group's output is the network at [held quantiles with the feature replaced]
    grid = np.tile(p.held[2], (11, 1))
    grid[:, 1] = p.values
    np.testing.assert_allclose(p.outputs[2], net(grid))
    q = profile(net, X, "x[2]", n=5, groups=[0.25, 0.5, 0.75])
    assert q.outputs.shape == (3, 5, 2) and q.feature == "x[2]"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.feature = "x[0]"


def test_profile_of_a_linear_network_is_a_line_of_slope_w():
    w = np.array([[0.5, -2.0, 3.0]])
    net = mn.Network.from_matrices([w], [np.array([1.0])], "linear")
    X = np.random.default_rng(0).uniform(-1, 2, size=(40, 3))
    for feature in range(3):
        p = profile(net, X, feature, n=20)
        for k in range(len(p.quantiles)):
            slopes = np.diff(p.outputs[k, :, 0]) / np.diff(p.values)
            np.testing.assert_allclose(slopes, w[0, feature], rtol=1e-9)
            others = [j for j in range(3) if j != feature]
            offset = 1.0 + sum(w[0, j] * np.quantile(X[:, j], p.quantiles[k]) for j in others)
            np.testing.assert_allclose(p.outputs[k, 0, 0], w[0, feature] * p.values[0] + offset)


def test_profile_errors():
    net = three_two_one()
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"no feature 'dose'; features: x\[0\], x\[1\], x\[2\]"):
        profile(net, X, "dose")
    with pytest.raises(ValueError, match="feature index must be from 0 to 2"):
        profile(net, X, 3)
    with pytest.raises(ValueError, match="quantiles in"):
        profile(net, X, 0, groups=[0.5, 1.5])
    with pytest.raises(ValueError, match="static network"):
        profile(mn.timedelay(2, [3], seed=0), np.zeros((5, 1)), 0)


# -- errors --------------------------------------------------------------------------

def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"exactly one hidden layer.*h1 → h2 → y"):
        importance(mn.mlp([3, 4, 4, 1], seed=0), "garson")
    with pytest.raises(ValueError, match=r"garson needs a static network"):
        importance(mn.timedelay(2, [3], seed=0), "garson")
    with pytest.raises(ValueError, match=r"olden needs a network without feedback.*W\[h1→h1\]"):
        importance(mn.layer_recurrent(1, [3], seed=0), "olden")
    with pytest.raises(ValueError, match="net.open_loop"):
        importance(mn.narx(2, 2, [3], loop="closed", seed=0), "olden")
    net = three_two_one()
    with pytest.raises(ValueError, match="sensitivity importance needs the data"):
        importance(net, "sensitivity")
    with pytest.raises(ValueError, match="needs the data and its targets"):
        importance(net, "permutation", X=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="unknown importance method 'shap'; use one of garson, olden, "
                                         "sensitivity, permutation"):
        importance(net, "shap")
    with pytest.raises(ValueError, match="input_jacobian"):
        importance(mn.timedelay(2, [3], seed=0), "sensitivity", X=np.zeros((5, 1)))
    with pytest.raises(ValueError, match="unknown loss 'mae'"):
        importance(net, "permutation", X=np.zeros((4, 3)), T=np.zeros(4), loss="mae")
    with pytest.raises(ValueError, match="n_repeats"):
        importance(net, "permutation", X=np.zeros((4, 3)), T=np.zeros(4), n_repeats=0)


# -- pictures ------------------------------------------------------------------------

def test_pictures():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    pictures = importlib.import_module("matnet.plot.feature_importance")
    net = three_two_one()
    fig = pictures.importance(net, "olden")
    assert isinstance(fig, Figure)
    bars = fig.axes[0].patches
    assert len(bars) == 3 and [b.get_width() for b in bars] == pytest.approx([1.7, -5.0, 2.0])
    assert bars[0].get_facecolor() != bars[1].get_facecolor()          # red positive, blue negative
    X = np.random.default_rng(0).normal(size=(20, 3))
    fig = pictures.importance(net, "permutation", X=X, T=net(X) + 0.1, n_repeats=3, seed=0, sort=True)
    bars = next(c for c in fig.axes[0].containers if hasattr(c, "errorbar"))
    assert bars.errorbar is not None and len(bars) == 3
    table = importance(net, "garson")
    assert isinstance(pictures.importance(table), Figure)
    fig = pictures.profile(net, X, "x[1]", n=10, groups=4)
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) == 4
    assert isinstance(pictures.profile(profile(net, X, 0, n=5)), Figure)
    with pytest.raises(ValueError, match="needs the data X"):
        pictures.profile(net, feature=0)
