"""scikit-learn conversion and estimators.

* :func:`from_sklearn` — a fitted ``MLPRegressor``/``MLPClassifier`` as a matnet
  chain (sklearn stores ``coefs_[k]`` as ``(n_in, n_out)``: matnet's ``W`` is its
  transpose);
* :func:`to_sklearn` — a matnet chain as a ready-to-predict ``MLPRegressor`` or
  ``MLPClassifier``;
* :class:`MatnetRegressor`, :class:`MatnetClassifier` — scikit-learn estimators
  (``fit``/``predict``, ``GridSearchCV``, ``Pipeline``) that build a
  :func:`matnet.mlp` and train it with :meth:`Network.fit` (Levenberg–Marquardt by
  default for regression).

Activations are matched by the scikit-learn names :mod:`matnet.activations` declares
(``identity``, ``logistic``, ``tanh``, ``relu``, ``softmax``).

Importing this module imports scikit-learn (``pip install matnet[sklearn]``, 1.6 or
later).
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from ..backend import on_host
from .. import activations
from ..io import load, save
from ..network import Network, mlp
from ._common import check_static, is_chain, missing_package

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
except ImportError as e:
    raise missing_package(__name__, "scikit-learn >= 1.6", "sklearn", e) from e

__all__ = ["from_sklearn", "to_sklearn", "MatnetRegressor", "MatnetClassifier"]

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")   # scikit-learn's choices for `activation`
OUTPUT_ACTIVATIONS = ("identity", "logistic", "softmax")        # and the values of `out_activation_`
_MINIBATCH = ("sgd", "adam", "rmsprop")


# -- sklearn → matnet --------------------------------------------------------------

def from_sklearn(estimator):
    """A matnet network from a fitted scikit-learn MLP (or a fitted Matnet estimator).

    Parameters
    ----------
    estimator : MLPRegressor, MLPClassifier, MatnetRegressor or MatnetClassifier
        Fitted.

    Returns
    -------
    Network
        A chain ``x → h1 → ... → y`` with ``W_k = coefs_[k].T`` and
        ``b_k = intercepts_[k]``; output activation identity (regressor), sigmoid
        (binary or multilabel classifier) or softmax (multiclass); ``net.classes``
        set from ``classes_`` for single-label classifiers.
    """
    if isinstance(estimator, _MatnetEstimator):
        check_is_fitted(estimator)
        return estimator.net_.copy()
    if not isinstance(estimator, (MLPRegressor, MLPClassifier)):
        raise TypeError(f"from_sklearn takes an MLPRegressor or MLPClassifier, got {type(estimator).__name__}")
    check_is_fitted(estimator)
    n = len(estimator.coefs_)
    kinds = [_activation(estimator.activation)] * (n - 1) + [_activation(estimator.out_activation_)]
    net = Network.from_matrices([np.asarray(c).T for c in estimator.coefs_],
                                [np.asarray(b) for b in estimator.intercepts_], kinds)
    multilabel = estimator.out_activation_ == "logistic" and estimator.n_outputs_ > 1
    if isinstance(estimator, MLPClassifier) and not multilabel:
        net.classes = np.asarray(estimator.classes_).tolist()
    return net


def _activation(name):
    """matnet's name for scikit-learn's activation ``name``."""
    activation = activations.from_equivalent("sklearn", name)
    if activation is None:
        raise ValueError(f"scikit-learn's activation {name!r} has no matnet equivalent")
    return activation.name


# -- matnet → sklearn --------------------------------------------------------------

@on_host
def to_sklearn(net, fold_scaling=False):
    """A matnet chain as a fitted-looking scikit-learn MLP that predicts the same.

    Parameters
    ----------
    net : Network
        A chain ``x → h1 → ... → y`` whose hidden layers share one activation among
        linear, sigmoid, tanh, relu, and whose output is linear (→ ``MLPRegressor``),
        sigmoid (→ binary, or multilabel for several units, ``MLPClassifier``) or
        softmax (→ multiclass ``MLPClassifier``; two softmax units become the one
        logistic unit sklearn uses, ``w = w_1 - w_0``).
    fold_scaling : bool
        sklearn's MLP has no scaling: fold the input scaling (and the output
        scaling of a linear output) into the first (last) layer's weights.  Without
        it, a scaled network is refused.

    Returns
    -------
    MLPRegressor or MLPClassifier
        Set up by scikit-learn itself (``n_layers_``, ``n_outputs_``,
        ``out_activation_``, ``n_features_in_``, and ``classes_`` for classifiers,
        as :meth:`~sklearn.neural_network.MLPClassifier.partial_fit` on placeholder
        data sets them), then given the network's ``coefs_`` and ``intercepts_``;
        ``n_iter_`` is 0.
    """
    check_static(net, "to_sklearn")
    if not is_chain(net):
        raise ValueError("to_sklearn needs a chain x → h1 → ... → y (one input, one output, no skip "
                         "connections); sklearn's MLP cannot express this network")
    order = net.topological_order()
    hidden = {net.layers[n].activation.name for n in order[:-1]}
    allowed = [_activation(name) for name in HIDDEN_ACTIVATIONS]
    if len(hidden) > 1 or not hidden <= set(allowed):
        raise ValueError(f"sklearn's MLP has one hidden activation among {', '.join(allowed)}; this network has "
                         f"{', '.join(sorted(hidden))}")
    output = net.layers[order[-1]].activation
    out = output.sklearn.name if output.sklearn else None
    if out not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"sklearn's MLP output is identity, logistic or softmax; this network's is {output.name}")
    weights, biases = _folded(net, order, fold_scaling)
    if out == "softmax" and weights[-1].shape[0] == 2:          # sklearn's binary form: one logistic unit
        weights[-1] = weights[-1][1:] - weights[-1][:1]
        biases[-1] = biases[-1][1:] - biases[-1][:1]
        out = "logistic"
    activation = activations.get(hidden.pop()).sklearn.name if hidden else "identity"
    model = _set_up(out, [W.shape for W in weights], activation, net.classes)
    model.coefs_ = [W.T.copy() for W in weights]
    model.intercepts_ = [b.copy() for b in biases]
    model.n_iter_ = 0
    return model


def _set_up(out, shapes, activation, classes):
    """An MLP with layers of these weight ``shapes`` ``(n_out, n_in)`` that scikit-learn has set up
    to predict, by one ``partial_fit`` step on placeholder data (its weights are to be replaced:
    scikit-learn has no public way to build a fitted MLP from given weights)."""
    sizes = tuple(int(shape[0]) for shape in shapes[:-1])
    n_in, n_out = int(shapes[0][1]), int(shapes[-1][0])
    options = dict(hidden_layer_sizes=sizes, activation=activation, random_state=0)   # no global random state
    if out == "identity":
        targets = np.zeros((1, n_out)) if n_out > 1 else np.zeros(1)
        model = MLPRegressor(**options).partial_fit(np.zeros((1, n_in)), targets)
    elif out == "logistic" and n_out > 1:   # multilabel
        model = MLPClassifier(**options).partial_fit(np.zeros((n_out, n_in)), np.eye(n_out, dtype=int),
                                                     classes=np.arange(n_out))
    else:
        labels = list(range(max(n_out, 2))) if classes is None else list(classes)
        if len(labels) != max(n_out, 2):
            raise ValueError(f"net.classes has {len(labels)} labels for {n_out} output units")
        model = MLPClassifier(**options).partial_fit(np.zeros((len(labels), n_in)), np.asarray(labels),
                                                     classes=np.asarray(labels))
    return model.set_params(random_state=None)


def _folded(net, order, fold_scaling):
    """Weights and biases of the chain, with the scaling folded in when asked."""
    weights = [np.array(net.weights[net.incoming(n)[0].key]) for n in order]
    biases = [np.array(net.biases[n]) if n in net.biases else np.zeros(net.layers[n].size, net.dtype) for n in order]
    scaled_in, scaled_out = net.input_scaling.get(next(iter(net.inputs))), net.output_scaling.get(order[-1])
    if (scaled_in or scaled_out) and not fold_scaling:
        raise ValueError("the network scales its inputs or outputs, which sklearn's MLP cannot; pass "
                         "fold_scaling=True to fold the scaling into the first and last weights")
    if scaled_in is not None:    # W (x*s + t) + b = (W*s) x + (W t + b)
        biases[0] = biases[0] + weights[0] @ scaled_in.shift
        weights[0] = weights[0] * scaled_in.scale[None, :]
    if scaled_out is not None:
        if net.layers[order[-1]].activation.name != "linear":
            raise ValueError("only the output scaling of a linear output layer can be folded into its weights")
        inverse, offset = scaled_out.inverse_scale, scaled_out.offset    # (W a + b) * inv + off
        weights[-1] = weights[-1] * inverse[:, None]
        biases[-1] = biases[-1] * inverse + offset
    return weights, biases


# -- estimators --------------------------------------------------------------------

_DOC_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Sizes of the hidden layers, as scikit-learn's MLP.
    activation : str
        Hidden activation: scikit-learn's names (``"identity"``, ``"logistic"``,
        ``"tanh"``, ``"relu"``) or any matnet activation name.
    algorithm : str
        matnet training algorithm (``"lm"``, ``"br"``, ``"scg"``, ``"adam"``, ``"sgd"``,
        ``"rmsprop"``, ``"rprop"``, ``"lbfgs"``, ``"cg"``).
    max_iter : int
        Maximum epochs.
    learning_rate_init : float
        Learning rate of ``"sgd"``, ``"adam"``, ``"rmsprop"`` (ignored by the others).
    batch_size : int or "auto"
        Minibatch size of ``"sgd"``, ``"adam"``, ``"rmsprop"``; ``"auto"`` is
        ``min(200, n_samples)``.
    alpha : float
        L2 penalty as scikit-learn's: ``alpha / (2 n_samples) * sum(W**2)`` added to
        the loss (matnet's ``l2 = alpha / n_samples``); not used by ``"br"``, which
        chooses its own.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training data and stop when its loss
        has not improved for ``n_iter_no_change`` epochs (matnet's ``max_fail``),
        keeping the best epoch's weights.  Otherwise all data is used for training.
    validation_fraction : float
    n_iter_no_change : int
    scaling : str or None
        matnet's ``fit(scaling=...)``: ``"auto"`` (inputs to [-1, 1], and regression
        targets), ``"minmax"``, ``"standard"`` or None.
    dtype : {"float64", "float32"}
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None
        Initial weights and division; an int gives the same model every time.

    Attributes
    ----------
    net_ : Network
        The trained network (its ``classes`` are the class labels).
    history_ : History
    n_features_in_, n_outputs_, n_iter_, loss_ : as scikit-learn's MLP.
"""


class _MatnetEstimator(BaseEstimator):
    """What the two estimators share: parameters, training, pickling."""

    def __init__(self, hidden_layer_sizes=(100,), activation="tanh", algorithm="lm", max_iter=200,
                 learning_rate_init=0.001, batch_size="auto", alpha=0.0001, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, scaling="auto", dtype="float64",
                 random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.algorithm = algorithm
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scaling = scaling
        self.dtype = dtype
        self.random_state = random_state

    def _seeds(self):
        """Two generators (initial weights, training) from ``random_state``."""
        state = self.random_state
        if isinstance(state, np.random.Generator):
            root = np.random.SeedSequence(int(state.integers(2 ** 63)))
        elif state is None:
            root = np.random.SeedSequence()
        else:
            root = np.random.SeedSequence(int(check_random_state(state).randint(2 ** 31 - 1)))
        return [np.random.default_rng(s) for s in root.spawn(2)]

    def _train(self, X, T, n_out, output_activation, loss=None):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        init_seed, fit_seed = self._seeds()
        net = mlp([X.shape[1], *sizes, n_out], activation=self.activation,
                  output_activation=output_activation, seed=init_seed, dtype=self.dtype)
        options = dict(algorithm=self.algorithm, epochs=self.max_iter, progress=False, seed=fit_seed,
                       scaling=self.scaling, loss=loss)
        if self.early_stopping:
            options.update(division=(1 - self.validation_fraction, self.validation_fraction, 0.0),
                           max_fail=self.n_iter_no_change)
        else:
            options.update(division=None)
        if self.algorithm != "br" and self.alpha:
            options["l2"] = self.alpha / X.shape[0]
        if self.algorithm in _MINIBATCH:
            options["lr"] = self.learning_rate_init
            options["batch_size"] = None if self.batch_size == "auto" else self.batch_size
        self.history_ = net.fit(X, T, **options)
        self.net_ = net
        self.n_outputs_ = n_out
        self.n_iter_ = self.history_.epochs
        self.loss_ = float(self.history_.train_loss[self.history_.best_epoch])
        return self

    def _outputs(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return np.asarray(self.net_(X))

    def __getstate__(self):   # Networks are stored as matnet's .npz bytes, never pickled
        state = dict(super().__getstate__())   # object's is the live __dict__
        if "net_" in state:
            net = state["net_"].copy()
            net.classes = None            # restored from classes_ (labels of any type)
            state["net_"] = _network_bytes(net)
        return state

    def __setstate__(self, state):
        if isinstance(state.get("net_"), bytes):
            state = dict(state, net_=_network_from_bytes(state["net_"]))
            if "classes_" in state:
                state["net_"].classes = np.asarray(state["classes_"]).tolist()
        super().__setstate__(state)


class MatnetRegressor(RegressorMixin, _MatnetEstimator):
    __doc__ = ("Multilayer perceptron regressor trained by matnet (default Levenberg–Marquardt).\n"
               + _DOC_PARAMETERS)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or
        (n_samples, n_targets); returns ``self``."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=(np.float64, np.float32))
        T = y.reshape(len(y), -1)
        return self._train(X, T, T.shape[1], "linear")

    def predict(self, X):
        """Predictions ``(n_samples,)`` (one target) or ``(n_samples, n_targets)``."""
        Y = self._outputs(X)
        return Y.ravel() if Y.shape[1] == 1 else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class MatnetClassifier(ClassifierMixin, _MatnetEstimator):
    __doc__ = ("Multilayer perceptron classifier trained by matnet (one sigmoid output for two "
               "classes, softmax for more; default algorithm SCG).\n" + _DOC_PARAMETERS)

    def __init__(self, hidden_layer_sizes=(100,), activation="tanh", algorithm="scg", max_iter=200,
                 learning_rate_init=0.001, batch_size="auto", alpha=0.0001, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, scaling="auto", dtype="float64",
                 random_state=None):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, algorithm=algorithm,
                         max_iter=max_iter, learning_rate_init=learning_rate_init, batch_size=batch_size,
                         alpha=alpha, early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, scaling=scaling, dtype=dtype,
                         random_state=random_state)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,);
        returns ``self``."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; got 1 class "
                             f"({self.classes_[0]!r})")
        n_out = 1 if k == 2 else k
        if self.algorithm in ("lm", "br"):   # squared errors on 0/1 targets
            T = codes[:, None].astype(float) if n_out == 1 else np.eye(k)[codes]
            loss = "mse"
        else:
            T, loss = codes, None
        self._train(X, T, n_out, "sigmoid" if n_out == 1 else "softmax", loss)
        self.net_.classes = self.classes_.tolist()
        return self

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``, columns as ``classes_``."""
        Y = self._outputs(X)
        return np.hstack([1 - Y, Y]) if Y.shape[1] == 1 else Y

    def predict(self, X):
        """The most probable class of each sample ``(n_samples,)``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _network_bytes(net):
    """``net`` as the bytes of matnet's ``.npz`` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "net.npz")
        save(net, path)
        with open(path, "rb") as f:
            return f.read()


def _network_from_bytes(data):
    """The network of :func:`_network_bytes`' ``data``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "net.npz")
        with open(path, "wb") as f:
            f.write(data)
        return load(path)
