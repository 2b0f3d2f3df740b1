"""scikit-learn: MLP conversion both ways, the Matnet estimators (estimator checks,
GridSearchCV, Pipeline, pickling)."""
import pickle
import warnings

import numpy as np
import pytest

import matnet as mn

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from matnet.interop.sklearn import MatnetClassifier, MatnetRegressor, from_sklearn, to_sklearn  # noqa: E402


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Tiny matrices: one BLAS thread avoids OpenBLAS's thread hand-off costs on a busy machine."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


def fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


# -- from_sklearn / to_sklearn -----------------------------------------------------

MATNET_NAME = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_from_sklearn_regressor(activation):
    X, y = make_regression(n_samples=60, n_features=4, n_targets=2, random_state=0)
    mlp = fitted(MLPRegressor(hidden_layer_sizes=(5, 3), activation=activation, max_iter=50, random_state=0), X, y)
    net = from_sklearn(mlp)
    assert [l.activation.name for l in net.layers.values()] == [MATNET_NAME[activation]] * 2 + ["linear"]
    np.testing.assert_array_equal(net.weights["x", "h1"], mlp.coefs_[0].T)
    np.testing.assert_allclose(net(X), mlp.predict(X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_from_sklearn_classifier(n_classes):
    X, y = make_classification(n_samples=80, n_features=5, n_informative=3, n_classes=n_classes, random_state=1)
    labels = np.array(["cat", "dog", "eel"])[y]
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(6,), max_iter=100, random_state=0), X, labels)
    net = from_sklearn(mlp)
    assert net.classes == mlp.classes_.tolist()
    assert net.layers["y"].activation.name == ("sigmoid" if n_classes == 2 else "softmax")
    proba = mlp.predict_proba(X)
    np.testing.assert_allclose(net(X), proba[:, 1:] if n_classes == 2 else proba, rtol=1e-10, atol=1e-12)
    assert (net.predict_classes(X) == mlp.predict(X)).all()


def test_from_sklearn_multilabel_classifier_has_no_classes():
    X = np.random.default_rng(2).normal(size=(80, 5))
    Y = (X[:, :3] > 0).astype(int)                                         # three labels per sample
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(6,), max_iter=100, random_state=0), X, Y)
    net = from_sklearn(mlp)
    assert net.classes is None and net.layers["y"].activation.name == "sigmoid"
    np.testing.assert_allclose(net(X), mlp.predict_proba(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-6)])
def test_sklearn_to_matnet_to_torch(dtype, tol):
    torch = pytest.importorskip("torch")
    from matnet.interop.torch import to_torch
    X, y = make_regression(n_samples=50, n_features=3, random_state=2)
    X = X.astype(dtype)
    mlp = fitted(MLPRegressor(hidden_layer_sizes=(7, 4), activation="tanh", max_iter=30, random_state=0), X, y)
    net = from_sklearn(mlp)
    assert net.dtype == np.dtype(dtype)
    with torch.no_grad():
        out = to_torch(net)(torch.from_numpy(X)).numpy().ravel()
    np.testing.assert_allclose(out, mlp.predict(X), rtol=tol, atol=tol)


@pytest.mark.parametrize("output, size", [("linear", 2), ("sigmoid", 1), ("softmax", 3), ("softmax", 2),
                                          ("sigmoid", 3)])
def test_to_sklearn_predicts_the_same(output, size):
    net = mn.mlp([4, 5, 3, size], activation="relu", output_activation=output, seed=0)
    rng = np.random.default_rng(0)
    net.set_flat(rng.normal(size=net.n_params))      # no output exactly at 0.5 (a tie)
    X = rng.normal(size=(30, 4))
    model = to_sklearn(net)
    Y = net(X)
    if output == "linear":
        assert isinstance(model, MLPRegressor)
        np.testing.assert_allclose(model.predict(X), Y, rtol=1e-10, atol=1e-12)
    elif output == "sigmoid" and size == 3:      # multilabel
        np.testing.assert_allclose(model.predict_proba(X), Y, rtol=1e-10, atol=1e-12)
        assert (model.predict(X) == (Y > 0.5)).all()
    else:
        proba = model.predict_proba(X)
        expected = np.hstack([1 - Y, Y]) if size == 1 else Y
        np.testing.assert_allclose(proba, expected, rtol=1e-10, atol=1e-12)
        assert (model.predict(X) == net.predict_classes(X)).all()


def test_to_sklearn_classes_and_errors():
    net = mn.mlp([2, 3, 3], output_activation="softmax", seed=0)
    net.classes = ["a", "b", "c"]
    assert to_sklearn(net).classes_.tolist() == ["a", "b", "c"]
    dag = mn.Network(seed=0)
    dag.add_input("x", 2)
    dag.add_layer("h", 3)
    dag.add_layer("y", 1, "linear")
    dag.connect("x", "h"); dag.connect("h", "y"); dag.connect("x", "y")
    with pytest.raises(ValueError, match="needs a chain"):
        to_sklearn(dag)
    mixed = mn.Network.from_matrices([np.ones((2, 2)), np.ones((2, 2)), np.ones((1, 2))],
                                     activations=["tanh", "relu", "linear"])
    with pytest.raises(ValueError, match="one hidden activation"):
        to_sklearn(mixed)
    with pytest.raises(ValueError, match="output is identity, logistic or softmax"):
        to_sklearn(mn.mlp([2, 2, 1], output_activation="tanh", seed=0))


def test_to_sklearn_scaling_must_be_folded_explicitly():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 3)) * [1, 10, 100]
    T = np.column_stack([np.sin(X[:, 0]), np.full(80, 3.0)])   # a constant target
    net = mn.mlp([3, 6, 2], seed=0)
    net.fit(X, T, algorithm="lm", epochs=5, seed=0, progress=False)
    assert net.input_scaling and net.output_scaling
    with pytest.raises(ValueError, match="fold_scaling=True"):
        to_sklearn(net)
    model = to_sklearn(net, fold_scaling=True)
    np.testing.assert_allclose(model.predict(X), net(X), rtol=1e-9, atol=1e-9)


# -- the estimators ----------------------------------------------------------------

# No check is expected to fail: every check of scikit-learn 1.9 passes for both
# estimators (small networks keep the suite fast; the defaults differ only in size).
EXPECTED_FAILURES = {}


@parametrize_with_checks(
    [MatnetRegressor(hidden_layer_sizes=(8,), max_iter=40, random_state=0),
     MatnetClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
     MatnetClassifier(hidden_layer_sizes=(6,), algorithm="lm", max_iter=30, random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_regressor_fits_and_reports():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(150, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2
    model = MatnetRegressor(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    assert model.score(X, y) > 0.99 and model.n_features_in_ == 2 and model.n_outputs_ == 1
    assert model.net_.layers["h1"].activation.name == "tanh" and model.history_.algorithm == "lm"
    assert np.isnan(model.history_.val_loss).all()          # division=None: no validation set
    early = MatnetRegressor(hidden_layer_sizes=(8,), early_stopping=True, validation_fraction=0.2,
                            random_state=0).fit(X, y)
    assert not np.isnan(early.history_.val_loss).any()
    again = MatnetRegressor(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    assert np.array_equal(again.predict(X), model.predict(X))


@pytest.mark.parametrize("algorithm", ["scg", "adam", "br"])
def test_classifier_algorithms_and_labels(algorithm):
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=3)
    labels = np.array(["red", "green", "blue"])[y]
    model = MatnetClassifier(hidden_layer_sizes=(6,), algorithm=algorithm, max_iter=60, random_state=0,
                             batch_size=32, learning_rate_init=0.05).fit(X, labels)
    assert model.classes_.tolist() == ["blue", "green", "red"] and model.net_.classes == model.classes_.tolist()
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert (model.predict(X) == model.net_.predict_classes(X)).all()
    assert model.score(X, labels) > 0.7


def test_grid_search_and_pipeline():
    X, y = make_regression(n_samples=90, n_features=3, noise=0.1, random_state=5)
    search = GridSearchCV(MatnetRegressor(max_iter=20, random_state=0),
                          {"hidden_layer_sizes": [(2,), (6,)], "activation": ["tanh", "relu"]}, cv=3)
    search.fit(X, y)
    assert set(search.best_params_) == {"hidden_layer_sizes", "activation"}
    assert search.best_estimator_.net_.layers["h1"].size == search.best_params_["hidden_layer_sizes"][0]
    Xc, yc = make_classification(n_samples=90, n_features=4, random_state=6)
    pipe = make_pipeline(StandardScaler(), MatnetClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0,
                                                            scaling=None))
    pipe.fit(Xc, yc)
    assert pipe.score(Xc, yc) > 0.8
    search = GridSearchCV(pipe, {"matnetclassifier__algorithm": ["scg", "lm"]}, cv=2).fit(Xc, yc)
    assert search.best_params_["matnetclassifier__algorithm"] in ("scg", "lm")


def test_pickle_keeps_the_network_without_pickling_it():
    X, y = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=7)
    model = MatnetClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, y.astype(float))
    state = model.__getstate__()
    assert isinstance(state["net_"], bytes) and state["net_"][:2] == b"PK"   # matnet's .npz, no pickle inside
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    assert back.net_.classes == [0.0, 1.0] and isinstance(model.net_, mn.Network)
    assert from_sklearn(back).get_flat().tobytes() == model.net_.get_flat().tobytes()
