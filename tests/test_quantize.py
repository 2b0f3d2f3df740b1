"""Quantised weights (:class:`matnet.weights.Quantized`) and :func:`matnet.compress.quantize`:
integer products as hardware computes them, scales as the parameters, the report."""
import numpy as np
import pytest

import matnet as mn
from matnet import compress
from matnet.weights import Quantized, from_arrays


def by_hand(W_q, weight_scale, input_scale, bits, X):
    """What integer hardware computes, written with Python integers (no floats in the sums)."""
    qmax = 2 ** (bits - 1) - 1
    Xq = [[max(-qmax, min(qmax, int(np.floor(x * (1 / input_scale) + 0.5)))) for x in row] for row in X]
    acc = [[sum(int(a) * int(b) for a, b in zip(row, w)) for w in W_q] for row in Xq]
    scale = np.broadcast_to(weight_scale * input_scale, (len(W_q),))
    return np.array(acc, dtype=np.float64) * scale


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("scheme", ["symmetric-per-row", "symmetric-per-tensor"])
def test_products_are_the_integer_hardware_s(bits, scheme):
    rng = np.random.default_rng(bits)
    W = rng.normal(size=(5, 7)) * rng.uniform(0.1, 3, size=(5, 1))
    form = Quantized.from_dense(W, input_scale=0.02, bits=bits, scheme=scheme)
    X = rng.normal(size=(30, 7)) * 2
    X[0, :3] = [100.0, -100.0, 0.01]                   # beyond the grid: clipped to ±qmax
    np.testing.assert_array_equal(form.dot(X), by_hand(form.q, form.weight_scale, 0.02, bits, X))
    assert form.q.dtype == (np.int8 if bits == 8 else np.int16)
    assert np.abs(form.q).max() == 2 ** (bits - 1) - 1
    error = np.linalg.norm(form.to_dense() - W) / np.linalg.norm(W)
    assert error < (0.02 if bits == 8 else 1e-4)
    np.testing.assert_allclose(form.rdot(X[:, :5]), X[:, :5] @ form.to_dense(), rtol=1e-13)


def test_per_row_scales_fit_rows_of_different_size_better():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(8, 20)) * np.logspace(-3, 0, 8)[:, None]
    errors = {s: np.linalg.norm(Quantized.from_dense(W, 1.0, 8, s).to_dense() - W) for s in
              ("symmetric-per-row", "symmetric-per-tensor")}
    assert errors["symmetric-per-row"] < errors["symmetric-per-tensor"] / 2


def test_accumulator_is_int32_unless_a_row_could_overflow_it():
    assert Quantized.from_dense(np.ones((2, 1000)), 1.0, 8).accumulator == "int32"
    assert Quantized.from_dense(np.ones((2, 2)), 1.0, 16).accumulator == "int32"      # 2 * 32767² < 2³¹
    assert Quantized.from_dense(np.ones((2, 3)), 1.0, 16).accumulator == "int64"


@pytest.mark.parametrize("per_row", [True, False])
def test_gradient_and_jacobian_of_the_scales(per_row):
    rng = np.random.default_rng(1)
    scheme = "symmetric-per-row" if per_row else "symmetric-per-tensor"
    form = Quantized.from_dense(rng.normal(size=(4, 6)), 0.05, 8, scheme)
    X, D = rng.normal(size=(9, 6)), rng.normal(size=(9, 4))

    def objective():
        return np.sum(D * form.dot(X))
    h, grad = 1e-6, np.empty(form.n_params)
    for k in range(form.n_params):                     # the product is linear in the scales
        s = form.weight_scale.copy()
        form.weight_scale[k] += h
        up = objective()
        form.weight_scale[...] = s
        grad[k] = (up - objective()) / h
    np.testing.assert_allclose(form.gradient(X, D), grad, rtol=1e-6)
    J = form.jacobian(X, D[None])
    np.testing.assert_allclose(J.sum(axis=(0, 1)), form.gradient(X, D), rtol=1e-12)
    assert J.shape == (9, 1, form.n_params)


def test_arrays_round_trip_and_bad_arrays_are_refused():
    form = Quantized.from_dense(np.random.default_rng(0).normal(size=(3, 4)), 0.1, 16)
    back = from_arrays("quantized", (3, 4), form.arrays())
    np.testing.assert_array_equal(back.q, form.q)
    np.testing.assert_array_equal(back.dot(np.ones((2, 4))), form.dot(np.ones((2, 4))))
    good = form.arrays()
    with pytest.raises(ValueError, match="expected int16"):
        from_arrays("quantized", (3, 4), {**good, "q": good["q"].astype(np.int32)})
    with pytest.raises(ValueError, match="beyond ±127"):
        Quantized(np.full((2, 2), 128), [1.0, 1.0], 0.1, 8)
    with pytest.raises(ValueError, match="input_scale must be one positive number"):
        Quantized(np.ones((2, 2), np.int8), [1.0, 1.0], 0.0, 8)
    with pytest.raises(ValueError, match="weight_scale has shape"):
        Quantized(np.ones((2, 2), np.int8), [1.0, 1.0, 1.0], 0.1, 8)
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        Quantized(np.ones((2, 2), np.int8), [1.0, 1.0], 0.1, 4)
    with pytest.raises(ValueError, match="has shape"):
        from_arrays("quantized", (4, 3), good)


def trained(seed=0):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    net = mn.mlp([64, 24, 10], output_activation="softmax", seed=seed)
    net.fit(X[:1200], y[:1200], algorithm="adam", epochs=40, seed=seed, progress=False)
    return net, X, y


def test_quantised_digits_classifier_keeps_its_accuracy_and_reports_it():
    net, X, y = trained()
    q = compress.quantize(net, bits=8, calibration=X[:1200], targets=y[:1200])
    report = q.quantization
    assert [r["connection"] for r in report.connections] == ["W[x→h1]", "W[h1→y]"]
    assert all(r["accumulator"] == "int32" and r["bits"] == 8 for r in report.connections)
    assert 0.9 < report.connections["range"][1] <= 1.0              # tanh's output, as measured
    assert 0 < report.output_error < 0.05
    assert abs(report.accuracy["quantized"] - report.accuracy["float"]) <= 0.01
    test_float = np.mean(net.predict_classes(X[1200:]) == y[1200:])
    test_q = np.mean(q.predict_classes(X[1200:]) == y[1200:])
    assert abs(test_q - test_float) <= 0.01
    assert set(q.compression_errors) == set(net.weights) and max(q.compression_errors.values()) < 0.01
    assert "accuracy: float" in str(report)
    assert net.quantization is None and type(net.weights["x", "h1"]) is np.ndarray   # the argument unchanged
    total = compress.summary(q)["total"]
    assert total["params"] == 64 * 24 + 24 * 10 + 24 + 10 and total["bytes"] < total["dense_bytes"] / 4


def test_without_calibration_ranges_come_from_scaling_and_activations():
    net, X, y = trained()
    q = compress.quantize(net, bits=16)
    assert list(q.quantization.connections["range"]) == [1.0, 1.0]
    assert q.quantization.output_error is None
    relu = mn.mlp([3, 4, 2], activation="relu", seed=0)
    with pytest.raises(ValueError, match=r"W\[x→h1\] reads input 'x' \(no min-max scaling\).*calibration"):
        compress.quantize(relu)
    with pytest.raises(ValueError, match=r"W\[h1→y\] reads layer 'h1' \(relu is unbounded\)"):
        compress.quantize(relu, connections=[("h1", "y")])
    with pytest.raises(ValueError, match="targets need the calibration data"):
        compress.quantize(net, targets=y)
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        compress.quantize(net, bits=4)
    with pytest.raises(ValueError, match="unknown scheme"):
        compress.quantize(net, scheme="asymmetric")


def test_regression_report_gives_the_loss():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    T = np.sin(2 * X[:, :1]) + X[:, 1:] ** 2
    net = mn.mlp([2, 10, 1], seed=0)
    net.fit(X, T, algorithm="lm", epochs=50, progress=False)
    q = compress.quantize(net, 16, calibration=X, targets=T)
    loss = q.quantization.loss
    assert loss["float"] < 1e-3 and loss["quantized"] == pytest.approx(loss["float"], rel=0.05)


def test_quantised_network_trains_its_scales_saves_and_refuses_onnx(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    T = np.sin(2 * X[:, :1]) * X[:, 1:]
    net = mn.mlp([2, 8, 1], seed=0)
    net.fit(X, T, algorithm="lm", epochs=30, progress=False)
    q = compress.quantize(net, 8, calibration=X)
    ints = {k: W.q.copy() for k, W in q.weights.items()}
    before = mn.loss_value(q, X, T)
    q.fit(X, T, algorithm="lm", epochs=20, division=None, progress=False)
    assert mn.loss_value(q, X, T) < before
    assert all(np.array_equal(q.weights[k].q, ints[k]) for k in ints)     # only scales and biases move
    q.save(tmp_path / "q.npz")
    back = mn.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(back(X), q(X))
    assert back.weights["x", "h1"].bits == 8
    pytest.importorskip("onnx")
    from matnet.interop.onnx import to_onnx
    with pytest.raises(ValueError, match=r"W\[x→h1\] is quantised"):
        to_onnx(q, tmp_path / "q.onnx")


def test_gradient_through_a_quantised_first_connection_is_exact():
    """The first connection rounds the data (not a parameter), so every derivative is the
    true one there: finite differences agree."""
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    net = mn.mlp([3, 5, 2], seed=0)
    q = compress.quantize(net, 8, calibration=X, connections=[("x", "h1")])
    report = mn.check_gradient(q, X, T)
    assert report["max_absolute_error"] / np.abs(report["gradient"]).max() < 1e-7


def test_explain_shows_the_input_on_the_grid_the_product_reads():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(50, 2))
    net = mn.mlp([2, 3, 1], seed=0)
    q = compress.quantize(net, 8, calibration=X)
    text = q.explain(X[0])
    assert "W[x→h1] · round(x) + b[h1]" in text and "round(h1) =" in text
    form = q.weights["x", "h1"]
    used = form.reads(X[:1])
    np.testing.assert_allclose(used @ form.to_dense().T, form.dot(X[:1]), rtol=1e-13)
    assert np.abs(used - X[:1]).max() <= form.input_scale[0] / 2
    assert mn.weights.operator(np.eye(2)).reads(X) is X
