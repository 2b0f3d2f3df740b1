import warnings

import numpy as np
import pytest

from matnet import activations as act

ELEMENTWISE = [n for n in act.names() if act.get(n).elementwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_difference(name):
    f = act.get(name)
    # avoid the kinks of relu/leaky_relu/satlin/hardlim
    z = np.array([[-3.1, -0.73, -0.2, 0.31, 0.6, 0.9, 2.7]])
    h = 1e-6
    numeric = (f(z + h) - f(z - h)) / (2 * h)
    np.testing.assert_allclose(f.derivative(z), numeric, rtol=1e-6, atol=1e-8)


def test_softmax_backward_is_the_jacobian_transpose_product():
    f = act.get("softmax")
    rng = np.random.default_rng(0)
    z, g = rng.normal(size=(1, 4)), rng.normal(size=(1, 4))
    a = f(z)
    J = np.diag(a[0]) - np.outer(a[0], a[0])
    np.testing.assert_allclose(f.backward(z, a, g)[0], J.T @ g[0], rtol=1e-12)
    np.testing.assert_allclose(a.sum(), 1.0)


@pytest.mark.parametrize("name", act.names())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_on_huge_inputs_and_keeps_dtype(name, dtype):
    f = act.get(name)
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = f(z)
        g = f.backward(z, a, np.ones_like(z))
    assert a.dtype == dtype and g.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(g).all()


def test_known_values():
    z = np.array([[-2.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(act.get("sigmoid")(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(act.get("satlin")(z), [[0, 0, 0.5, 1]])
    np.testing.assert_allclose(act.get("hardlim")(z), [[0, 1, 1, 1]])
    np.testing.assert_allclose(act.get("softplus")(z), np.log1p(np.exp(z)))
    np.testing.assert_allclose(act.get("elu")(z), [[np.exp(-2) - 1, 0, 0.5, 2]])
    np.testing.assert_allclose(act.get("leaky_relu")(z), [[-0.02, 0, 0.5, 2]])


def test_aliases_and_unknown_name():
    assert act.get("purelin") is act.get("linear")
    assert act.get("logsig") is act.get("sigmoid")
    assert act.get("TANSIG") is act.get("tanh")
    with pytest.raises(ValueError, match="unknown activation 'swishy'; known: linear, sigmoid"):
        act.get("swishy")
    with pytest.raises(TypeError, match="activation must be a name"):
        act.get(3)


def test_user_pair():
    def cube(z):
        return z ** 3

    f = act.get((cube, lambda z: 3 * z ** 2))
    z = np.array([[2.0]])
    assert f.name == "cube" and f(z)[0, 0] == 8 and f.derivative(z)[0, 0] == 12
    assert not f.builtin
