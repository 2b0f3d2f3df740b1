"""The engine on a GPU (CuPy): results equal NumPy's.  Marked ``gpu``; skipped where
CuPy is not installed or finds no GPU (the project's CI machines)."""
import numpy as np
import pytest

import matnet as mn
from matnet import backend
from matnet.derivatives import problem_of

pytestmark = pytest.mark.gpu
cupy = pytest.importorskip("cupy")
try:
    backend.library("cupy")
except (ImportError, RuntimeError) as e:           # pragma: no cover - machines without a GPU
    pytest.skip(f"CuPy finds no GPU: {e}", allow_module_level=True)


def data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 3))
    return X, np.tanh(X @ g.standard_normal((3, 2)))


def test_forward_gradient_and_jacobian_equal_numpy():
    net = mn.mlp([3, 6, 2], seed=0)
    gpu = net.copy().to("cupy")
    X, T = data()
    Xg, Tg = cupy.asarray(X), cupy.asarray(T)
    assert isinstance(gpu(Xg), cupy.ndarray)
    np.testing.assert_allclose(gpu(Xg).get(), net(X), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(problem_of(gpu, Xg, Tg).evaluate()[1].get(), problem_of(net, X, T).evaluate()[1],
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mn.jacobian(gpu, Xg, Tg)[0].get(), mn.jacobian(net, X, T)[0], rtol=1e-10,
                               atol=1e-13)


@pytest.mark.parametrize("algorithm", ["lm", "br", "adam"])
def test_training_equals_numpy(algorithm):
    net = mn.mlp([3, 6, 2], seed=0)
    gpu = net.copy().to("cupy")
    X, T = data()
    kwargs = dict(algorithm=algorithm, epochs=5, seed=0, progress=False)
    net.fit(X, T, **kwargs)
    gpu.fit(cupy.asarray(X), cupy.asarray(T), **kwargs)
    np.testing.assert_allclose(gpu.theta.get(), net.theta, rtol=1e-7, atol=1e-9)


def test_recurrent_network_runs_alike():
    net = mn.narx([1, 2], [1, 2], [4], seed=0).closed_loop()
    U = np.random.default_rng(0).standard_normal((30, 1))
    out, _ = net.copy().to("cupy").simulate(cupy.asarray(U))
    np.testing.assert_allclose(out.get(), net.simulate(U)[0], rtol=1e-12, atol=1e-13)


def test_sparse_weights_on_the_gpu_equal_numpy():
    net = mn.compress.prune(mn.mlp([3, 6, 2], seed=0), 0.5)
    gpu = net.copy().to("cupy")
    X, T = data()
    Xg, Tg = cupy.asarray(X), cupy.asarray(T)
    np.testing.assert_allclose(gpu(Xg).get(), net(X), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(problem_of(gpu, Xg, Tg).evaluate()[1].get(), problem_of(net, X, T).evaluate()[1],
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mn.jacobian(gpu, Xg, Tg)[0].get(), mn.jacobian(net, X, T)[0], rtol=1e-10, atol=1e-13)


def test_low_rank_weights_on_the_gpu_equal_numpy():
    net = mn.compress.to_low_rank(mn.mlp([3, 6, 2], seed=0), rank=2)
    gpu = net.copy().to("cupy")
    X, T = data()
    Xg, Tg = cupy.asarray(X), cupy.asarray(T)
    np.testing.assert_allclose(gpu(Xg).get(), net(X), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mn.jacobian(gpu, Xg, Tg)[0].get(), mn.jacobian(net, X, T)[0], rtol=1e-10, atol=1e-13)
