"""Spectra of the weight matrices: singular values of every weight form, norms, and the
power-law exponent of the eigenvalues of WᵀW (Clauset–Shalizi–Newman)."""
import numpy as np
import pytest
import scipy.stats

import matnet as mn
from matnet import compress
from matnet.analysis import power_law, spectra
from matnet.weights import MPO, LowRank, Sparse, base, operator


def _svd(W):
    return np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False)


def _close(s, ref, rtol=1e-10):
    """Singular values equal up to ``rtol`` of the largest."""
    assert s.shape == ref.shape and s.dtype == np.float64
    assert np.all(np.diff(s) <= 0)                                     # descending
    np.testing.assert_allclose(s, ref, rtol=0, atol=rtol * ref[0])


FACTORS = {8: (2, 4), 12: (3, 4)}


def _forms(shape=(12, 8), seed=0):
    """``kind -> operator`` of a ``shape`` matrix in every form (an MPO of bond 2)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(shape)
    return {"dense": operator(W),
            "sparse": Sparse.from_dense(W * (rng.random(W.shape) < 0.5)),
            "lowrank": LowRank(rng.standard_normal((shape[0], 3)), rng.standard_normal((3, shape[1]))),
            "mpo": MPO.from_dense(W, FACTORS[shape[1]], FACTORS[shape[0]], bond_dim=2)}


def _planted(alpha, shape, seed, xmin=1.0):
    """``W = U diag(s) Vᵀ`` with orthonormal ``U``, ``V`` and ``s²`` Pareto(``α``, ``xmin``)."""
    rng = np.random.default_rng(seed)
    m = min(shape)
    U, _ = np.linalg.qr(rng.standard_normal((shape[0], m)))
    V, _ = np.linalg.qr(rng.standard_normal((shape[1], m)))
    lam = xmin * (1 - rng.random(m)) ** (-1 / (alpha - 1))
    return (U * np.sqrt(lam)) @ V.T


def _pareto(alpha, n, xmin, rng):
    return xmin * (1 - rng.random(n)) ** (-1 / (alpha - 1))


# -- singular values of every weight form ---------------------------------------------------

@pytest.mark.parametrize("shape", [(12, 8), (8, 12)])
@pytest.mark.parametrize("kind", ["dense", "sparse", "lowrank", "mpo"])
def test_singular_values_of_every_form_equal_numpy(kind, shape):
    op = _forms(shape)[kind]
    ref = _svd(op.to_dense())
    assert ref.shape == (8,)
    _close(op.singular_values(), ref)
    _close(op.singular_values(k=3), ref[:3])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        op.singular_values(k=0)


def test_low_rank_singular_values_never_form_the_dense_matrix(monkeypatch):
    rng = np.random.default_rng(2)
    L = LowRank(rng.standard_normal((40, 3)), rng.standard_normal((3, 25)))
    ref = _svd(L.to_dense())
    def refuse(self):
        raise AssertionError("to_dense called")
    monkeypatch.setattr(LowRank, "to_dense", refuse)
    s = L.singular_values()
    _close(s, ref)
    assert s.shape == (25,) and np.all(s[3:] == 0)                     # zeros beyond the rank
    tall = LowRank(rng.standard_normal((4, 6)), rng.standard_normal((6, 5)))   # rank > min(shape)
    assert tall.singular_values().shape == (4,)


def test_large_sparse_and_mpo_give_their_top_singular_values_from_products_only(monkeypatch):
    ops = {k: op for k, op in _forms(seed=3).items() if k in ("sparse", "mpo")}
    refs = {k: _svd(op.to_dense()) for k, op in ops.items()}
    def refuse(self):
        raise AssertionError("to_dense called")
    monkeypatch.setattr(base, "DENSE_SVD_ENTRIES", 0)                  # every matrix counts as large
    monkeypatch.setattr(Sparse, "to_dense", refuse)
    monkeypatch.setattr(MPO, "to_dense", refuse)
    for kind, op in ops.items():
        s = op.singular_values()                                       # default k = min(shape) - 1
        _close(s, refs[kind][: min(op.shape) - 1])
        _close(op.singular_values(k=2), refs[kind][:2])
    row = Sparse.from_dense(np.array([[1.0, 0.0, 2.0, 2.0]]))         # one row: its norm
    np.testing.assert_allclose(row.singular_values(), [3.0])


def test_converted_networks_report_their_forms_and_spectra():
    net = mn.mlp([8, 12, 6], seed=0)
    conversions = {"sparse": compress.prune(net, 0.5, seed=0), "lowrank": compress.to_low_rank(net, rank=2),
                   "mpo": compress.to_mpo(net, {("x", "h1"): (2, 4), ("h1", "y"): (3, 4)},
                                          {("x", "h1"): (3, 4), ("h1", "y"): (2, 3)}, bond_dim=2)}
    for kind, small in conversions.items():
        table = spectra(small)
        assert list(table["form"]) == [kind, kind]
        dense = compress.to_dense(small)
        for key in small.weights:
            _close(table.singular_values[key], _svd(dense.weights[key]))
    assert np.all(spectra(conversions["lowrank"])["condition"] == np.inf)   # rank 2 < min(shape)


# -- norms ---------------------------------------------------------------------------------

def test_norms_stable_rank_and_condition_equal_numpy():
    rng = np.random.default_rng(4)
    W1, W2 = rng.standard_normal((30, 20)), rng.standard_normal((5, 30)) * np.linspace(1, 9, 30)
    net = mn.Network.from_matrices([W1, W2])
    table = spectra(net)
    for row, W in zip(table.rows(), (W1, W2)):
        two, fro = np.linalg.norm(W, 2), np.linalg.norm(W, "fro")
        assert (row["rows"], row["columns"]) == W.shape
        np.testing.assert_allclose(row["spectral_norm"], two, rtol=1e-12)
        np.testing.assert_allclose(row["frobenius_norm"], fro, rtol=1e-12)
        np.testing.assert_allclose(row["stable_rank"], fro ** 2 / two ** 2, rtol=1e-12)
        np.testing.assert_allclose(row["condition"], np.linalg.cond(W), rtol=1e-10)
    zero = spectra(mn.Network.from_matrices([np.zeros((3, 4))]))
    assert zero["spectral_norm"][0] == 0 and np.isnan(zero["alpha"][0]) and np.isnan(zero["stable_rank"][0])


# -- the power-law exponent ------------------------------------------------------------------

def test_gaussian_matrix_has_no_heavy_tail():
    # An i.i.d. Gaussian 1000×500 matrix: the eigenvalues of WᵀW follow Marchenko–Pastur,
    # whose density ends at a hard edge, so the best power law through the top is very
    # steep.  Over 300 seeds the fitted α had median 9.5 and minimum 4.45 (the fit at times
    # takes a small tail at the edge); the median of five seeds was never below 6.7.  So
    # every seed is above 4 — outside the heavy-tailed range 2–4 of trained layers and well
    # above the planted α below — and the median of five is above WeightWatcher's random-like
    # threshold 6.
    alphas = []
    for seed in range(5):
        W = np.random.default_rng(seed).standard_normal((1000, 500))
        fit = power_law(operator(W).singular_values() ** 2)
        assert fit.alpha > 4.0
        alphas.append(fit.alpha)
    assert np.median(alphas) > 6.0


@pytest.mark.parametrize("alpha", [2.5, 3.5])
def test_planted_power_law_is_recovered(alpha):
    # σ² are 1000 Pareto draws, so α̂ has standard error (α - 1)/sqrt(n_tail).  Over 200
    # seeds |α̂ - α| never exceeded 3.4 σ (the KS choice of xmin adds a little to the MLE's
    # own spread), so 4 σ is a bound that holds, and still a tight one (σ ≈ 0.05-0.08).
    W = _planted(alpha, (1200, 1000), seed=int(alpha * 10))
    table = spectra(mn.Network.from_matrices([W]))
    fit = table.fits[("x", "y")]
    assert abs(fit.alpha - alpha) < 4 * fit.sigma
    assert fit.sigma == pytest.approx((fit.alpha - 1) / np.sqrt(fit.n_tail))
    assert fit.xmin >= 1.0 - 1e-9 and fit.n_tail >= 100
    assert table["alpha"][0] == fit.alpha and table["n_tail"][0] == fit.n_tail


@pytest.mark.parametrize("alpha", [2.5, 3.5])
def test_power_law_finds_the_tail_above_a_body(alpha):
    # 1000 values uniform on [0.2, 2] below 1000 Pareto values from xmin = 2.  Over 300
    # seeds: α̂ within 3.4 σ of α; the chosen xmin never below 0.9·2 (the flat body is
    # never taken for the tail) but at times well above 2 (a shorter tail fits as well),
    # while the median of five seeds stayed within [0.95, 1.55]·2.
    xmins = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        fit = power_law(np.r_[rng.uniform(0.2, 2.0, 1000), _pareto(alpha, 1000, 2.0, rng)])
        assert abs(fit.alpha - alpha) < 4 * fit.sigma
        assert fit.xmin >= 0.85 * 2.0
        xmins.append(fit.xmin)
    assert 0.9 * 2.0 <= np.median(xmins) <= 1.6 * 2.0


def _reference_fit(x, min_tail):
    """CSN by a loop over the candidates, KS distances by SciPy."""
    x, best = np.sort(x), None
    for i in range(x.size - min_tail + 1):
        tail, xmin = x[i:], x[i]
        alpha = 1 + tail.size / np.sum(np.log(tail / xmin))
        D = scipy.stats.kstest(tail, lambda v: 1 - (v / xmin) ** (1 - alpha)).statistic
        if best is None or D < best[2]:
            best = (alpha, xmin, D, tail.size)
    return best


def test_power_law_equals_a_loop_over_candidates():
    rng = np.random.default_rng(5)
    x = np.r_[rng.uniform(0.2, 2.0, 120), _pareto(2.5, 120, 2.0, rng)]
    fit = power_law(x, min_tail=10)
    alpha, xmin, D, n = _reference_fit(x, 10)
    assert fit.xmin == xmin and fit.n_tail == n
    np.testing.assert_allclose([fit.alpha, fit.ks_distance], [alpha, D], rtol=1e-10)


def test_power_law_with_a_given_xmin():
    rng = np.random.default_rng(6)
    x = _pareto(3.0, 500, 1.0, rng)
    fit = power_law(x, xmin=1.5)
    tail = x[x >= 1.5]
    alpha = 1 + tail.size / np.sum(np.log(tail / 1.5))
    D = scipy.stats.kstest(tail, lambda v: 1 - (v / 1.5) ** (1 - alpha)).statistic
    assert fit.n_tail == tail.size and fit.xmin == 1.5
    np.testing.assert_allclose([fit.alpha, fit.ks_distance], [alpha, D], rtol=1e-10)


def test_power_law_of_too_few_values_is_nan():
    rng = np.random.default_rng(7)
    few = _pareto(2.5, 9, 1.0, rng)
    for values in (few, np.r_[few, np.zeros(50), -np.ones(5), 1e-20 * few], [], np.ones(30)):
        fit = power_law(values)
        assert np.isnan(fit.alpha) and np.isnan(fit.sigma) and fit.n_tail == 0
    assert np.isfinite(power_law(np.r_[few, 5.0]).alpha)               # ten are enough
    assert np.isnan(power_law(_pareto(2.5, 50, 1.0, rng), xmin=1e6).alpha)


# -- whole networks and the picture --------------------------------------------------------

COLUMNS = ["connection", "form", "rows", "columns", "spectral_norm", "frobenius_norm", "stable_rank", "condition",
           "alpha", "xmin", "ks_distance", "n_tail"]


def test_spectra_of_a_trained_mlp():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(40, 4))
    net = mn.mlp([4, 8, 1], seed=0)
    net.fit(X, np.tanh(X[:, :1] - X[:, 1:2]), algorithm="lm", epochs=5, seed=0, progress=False)
    table = spectra(net)
    assert table.columns == COLUMNS and len(table) == 2
    assert list(table["connection"]) == ["W[x→h1]", "W[h1→y]"] and list(table["form"]) == ["dense"] * 2
    assert list(table["rows"]) == [8, 1] and list(table["columns"]) == [4, 8]
    assert [s.shape for s in table.singular_values.values()] == [(4,), (1,)]
    assert np.all(np.isnan(table["alpha"]))                            # 4 and 1 eigenvalues: too few
    assert "W[x→h1]" in table.to_text() and table.to_csv().startswith("connection,form")


def test_spectra_of_a_time_delay_network_use_the_whole_delayed_matrix():
    net = mn.timedelay([0, 1, 2], [6], n_inputs=2, n_outputs=2, seed=0)
    table = spectra(net)
    assert len(table) == len(net.weights) == 2
    assert (table["rows"][0], table["columns"][0]) == (6, 3 * 2)
    for key, s in table.singular_values.items():
        _close(s, _svd(net.weights[key]))


def test_plot_spectra_returns_a_figure():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    plot_spectra = mn.plot.spectra
    net = mn.Network.from_matrices([_planted(2.5, (60, 80), seed=1), np.random.default_rng(0).normal(size=(3, 60))])
    fig = plot_spectra(net)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    top, small = fig.axes
    assert "W[x→h1]" in top.get_title() and "α = " in top.get_title()
    assert any(line.get_gid() == "power_law" for line in top.lines)
    assert "fewer than" in small.get_title()                           # 3 eigenvalues: no fit
    fig.canvas.draw()
    again = plot_spectra(spectra(net), ax=list(fig.axes))              # a computed table, given Axes
    assert again is fig
