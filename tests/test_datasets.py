"""Simulated NARX data sets: shapes, determinism, physical ranges and independent checks
of the physics (finite differences for maglev; exact mass balances and the charge
balance for pH)."""
import numpy as np
import pytest

from matnet import datasets as ds

# ---------------------------------------------------------------------------------------
# Shared: default-size records are generated once
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maglev_default():
    return ds.maglev()


@pytest.fixture(scope="module")
def ph_default():
    return ds.ph()


GENERATORS = [ds.maglev, ds.ph]


def test_default_shapes_and_dtypes(maglev_default, ph_default):
    assert maglev_default.u.shape == (4001, 1) and maglev_default.y.shape == (4001, 1)
    assert ph_default.u.shape == (2001, 2) and ph_default.y.shape == (2001, 1)
    for d in (maglev_default, ph_default):
        assert d.u.dtype == np.float64 and d.y.dtype == np.float64
        assert np.isfinite(d.u).all() and np.isfinite(d.y).all()
    assert maglev_default.dt == 0.01 and ph_default.dt == 10.0
    np.testing.assert_allclose(ph_default.t[:3], [0.0, 10.0, 20.0])


def test_repr_is_short(maglev_default, ph_default):
    for d, name in ((maglev_default, "maglev"), (ph_default, "ph")):
        text = repr(d)
        assert len(text) < 80 and name in text and str(d.u.shape) in text


@pytest.mark.parametrize("make", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(make):
    a, b, c = make(300, seed=7), make(300, seed=7), make(300, seed=8)
    np.testing.assert_array_equal(a.u, b.u)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.u, c.u) and not np.array_equal(a.y, c.y)


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_seed_equals_int_seed(make):
    a, b = make(200, seed=3), make(200, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.u, b.u)
    np.testing.assert_array_equal(a.y, b.y)


@pytest.mark.parametrize("make", GENERATORS)
def test_global_random_state_untouched(make):
    before = np.random.get_state()
    make(50, seed=1)
    after = np.random.get_state()
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n", [1, 2, 37])
def test_n_steps_honoured(make, n):
    d = make(n, seed=0)
    assert len(d.u) == n and len(d.y) == n


@pytest.mark.parametrize("make", GENERATORS)
def test_shorter_record_is_start_of_longer(make):
    short, long = make(250, seed=5), make(500, seed=5)
    np.testing.assert_array_equal(short.u, long.u[:250])
    np.testing.assert_array_equal(short.y, long.y[:250])


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("kwargs", [dict(n_steps=0), dict(n_steps=2.5), dict(dt=0.0), dict(dt=-1.0)])
def test_bad_arguments(make, kwargs):
    with pytest.raises(ValueError):
        make(**kwargs)


def test_custom_dt_is_recorded():
    d = ds.maglev(20, dt=0.02)
    assert d.dt == 0.02
    np.testing.assert_allclose(d.t[-1], 19 * 0.02)


# ---------------------------------------------------------------------------------------
# Maglev
# ---------------------------------------------------------------------------------------


def test_maglev_ranges(maglev_default):
    y, u = maglev_default.y, maglev_default.u
    assert y.min() > ds.MAGLEV_FLOOR and y.max() < 7.0
    assert u.min() >= 0.0 and u.max() <= 4.0
    assert np.ptp(y) > 3.0 and np.ptp(u) > 3.0  # informative: wide excursions


def _maglev_residual(d, alpha=15.0, beta=12.0, mass=3.0, g=9.8):
    """Finite-difference acceleration minus the ODE's right-hand side at each interior
    sample.  The current switches at t_k, so the central second difference sees the
    mean of the accelerations under u[k-1] and u[k]."""
    y, u, dt = d.y[:, 0], d.u[:, 0], d.dt
    acceleration = (y[2:] - 2 * y[1:-1] + y[:-2]) / dt ** 2
    velocity = (y[2:] - y[:-2]) / (2 * dt)

    def rhs(i):
        return -g + alpha / mass * i ** 2 / y[1:-1] - beta / mass * velocity

    return acceleration - (rhs(u[:-2]) + rhs(u[1:-1])) / 2, acceleration


def test_maglev_satisfies_the_discretised_ode(maglev_default):
    residual, acceleration = _maglev_residual(maglev_default)
    assert np.median(np.abs(residual)) < 1e-2 * np.median(np.abs(acceleration))
    assert np.percentile(np.abs(residual), 99) < 0.1
    # and the check can tell: a 7 % error in alpha is seen clearly
    wrong, _ = _maglev_residual(maglev_default, alpha=16.0)
    assert np.median(np.abs(wrong)) > 20 * np.median(np.abs(residual))


def test_maglev_current_includes_feedback(maglev_default):
    """The recorded current is not piecewise constant: the PD feedback moves it at
    almost every sample."""
    changes = np.diff(maglev_default.u[:, 0]) != 0
    assert changes.mean() > 0.5


def test_maglev_lands_on_the_floor():
    x = ds._maglev_step(np.array([0.12, -2.0]), 0.0, 0.05)
    np.testing.assert_array_equal(x, [ds.MAGLEV_FLOOR, 0.0])
    x = ds._maglev_step(x, 0.0, 0.01)  # no current: stays put
    np.testing.assert_array_equal(x, [ds.MAGLEV_FLOOR, 0.0])
    x = ds._maglev_step(x, 2.0, 0.01)  # enough current: lifts off
    assert x[0] > ds.MAGLEV_FLOOR and x[1] > 0


def test_maglev_equilibrium_current_holds_the_magnet_still():
    i = np.sqrt(9.8 * 3.0 / 15.0 * 2.0)  # i^2 / y = g M / alpha at y = 2
    x = ds._maglev_step(np.array([2.0, 0.0]), i, 0.5)
    np.testing.assert_allclose(x, [2.0, 0.0], atol=1e-7)


# ---------------------------------------------------------------------------------------
# pH
# ---------------------------------------------------------------------------------------

KA, KW = 10 ** -4.75, 1e-14


def _exact_states(flows, dt):
    """Tank concentrations [C, Na] at the sample times, from the closed-form solution of
    the linear mass balances (independent of solve_ivp)."""
    p = ds.PH
    total = flows.sum(axis=1)
    steady = np.column_stack([flows[:, 0] * p["acid"], flows[:, 1] * p["base"]]) / total[:, None]
    decay = np.exp(-total * dt / (60.0 * p["volume"]))
    x = np.empty_like(steady)
    x[0] = steady[0]
    for k in range(1, len(flows)):
        x[k] = steady[k - 1] + (x[k - 1] - steady[k - 1]) * decay[k - 1]
    return x


def test_ph_ranges(ph_default):
    y, u = ph_default.y, ph_default.u
    assert y.min() >= 0.0 and y.max() <= 14.0
    assert np.ptp(y) > 2.0
    assert (u > 0).all()
    assert 3.0 < y.min() and y.max() < 12.0  # near MATLAB's 3.7-11.8


def test_ph_charge_balance_holds_at_every_sample(ph_default):
    acetate, sodium = _exact_states(ph_default.u, ph_default.dt).T
    h = 10.0 ** -ph_default.y[:, 0]
    positive, negative = h + sodium, KW / h + acetate * KA / (KA + h)
    np.testing.assert_allclose(positive, negative, rtol=1e-7)


def test_ph_titration_curve_rises_with_base_to_acid_ratio():
    acid = 81.0
    base = np.linspace(1.0, 10.0, 19)
    steady = [ds.simulate_ph(np.tile([acid, b], (3, 1)))[:, 0] for b in base]
    for run in steady:  # constant flows from their steady state: constant pH
        np.testing.assert_allclose(run, run[0], atol=1e-9)
    curve = np.array([run[0] for run in steady])
    assert (np.diff(curve) > 0).all()
    assert curve[0] < 5.5 and curve[-1] > 10.0
    equivalence = acid * ds.PH["acid"] / ds.PH["base"]  # 5.18 l/min: steepest part
    slopes = np.diff(curve) / np.diff(base)
    assert base[np.argmax(slopes)] <= equivalence <= base[np.argmax(slopes) + 1]


def test_ph_settles_at_the_new_steady_state_after_a_step():
    before, after = [81.0, 4.0], [81.0, 6.5]
    flows = np.array([before] * 5 + [after] * 1000)  # ~2.8 h, ~13 residence times
    run = ds.simulate_ph(flows)[:, 0]
    target = ds.simulate_ph(np.array([after]))[0, 0]
    assert run[5] == pytest.approx(run[0]) and run[6] > run[5]
    assert run[-1] == pytest.approx(target, abs=1e-4)


def test_simulate_ph_rejects_bad_flows():
    with pytest.raises(ValueError):
        ds.simulate_ph(np.ones((5, 3)))
    with pytest.raises(ValueError):
        ds.simulate_ph(np.array([[81.0, 0.0]]))


def test_narendra_follows_its_difference_equation_and_is_reproducible():
    d = ds.narendra(300, seed=4)
    assert d.u.shape == d.y.shape == (300, 1) and d.dt == 1.0
    u, y = d.u[:, 0], d.y[:, 0]
    k = np.arange(2, 299)
    expected = (y[k] * y[k - 1] * y[k - 2] * u[k - 1] * (y[k - 2] - 1) + u[k]) / (1 + y[k - 1] ** 2 + y[k - 2] ** 2)
    np.testing.assert_allclose(y[k + 1], expected, rtol=1e-12, atol=1e-15)
    assert y[0] == 0 and np.abs(u).max() <= 1
    np.testing.assert_array_equal(ds.narendra(100, seed=4).y, d.y[:100])   # a prefix of the longer record
    with pytest.raises(ValueError, match="n_steps"):
        ds.narendra(0)


def test_second_order_lag_has_its_gain_and_overshoot():
    d = ds.second_order(2000, seed=0, dt=0.05, time_constant=0.5, damping=0.2, gain=2.0)
    assert d.u.shape == d.y.shape == (2000, 1)
    step = ds.second_order(400, seed=0, dt=0.05, time_constant=0.5, damping=0.2, gain=2.0)
    np.testing.assert_array_equal(step.u, d.u[:400])
    # the response to one held level: check with the continuous solution's steady state and overshoot
    levels = np.flatnonzero(np.diff(d.u[:, 0]))
    first = levels[0] + 1                       # samples of the first level
    assert first >= 10
    from scipy.signal import lti, step as lti_step
    t = np.arange(first) * 0.05
    _, response = lti_step(lti([2.0], [0.25, 0.2, 1.0]), T=t)
    np.testing.assert_allclose(d.y[:first, 0], d.u[0, 0] * response, atol=1e-9)
