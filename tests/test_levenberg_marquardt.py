import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matnet as mn
from matnet.simulate import plan
from matnet.derivatives import problem_of
from matnet.train.levenberg_marquardt import solve_damped
from matnet.train.problem import NormalEquations
from conftest import random_dag, random_inputs


def _targets(net, n, seed):
    rng = np.random.default_rng(seed + 7)
    T = {o: rng.normal(size=(n, net.layers[o].size)) for o in net.outputs}
    return T if len(T) > 1 else next(iter(T.values()))


def _errors(net, X, T):
    out = net(X)
    out = out if isinstance(out, dict) else {net.outputs[0]: out}
    T = T if isinstance(T, dict) else {net.outputs[0]: T}
    return np.hstack([out[o] - T[o] for o in net.outputs]).ravel()


def _torch_jacobian(net, X, T):
    """de/dθ by torch autograd on an independent torch forward pass."""
    import torch
    from reference import torch_forward
    keys_W, keys_b = list(net.weights), list(net.biases)

    def errors(*params):
        W = dict(zip(keys_W, params[:len(keys_W)]))
        b = dict(zip(keys_b, params[len(keys_W):]))
        out = torch_forward(net, X, W, b)
        Td = T if isinstance(T, dict) else {net.outputs[0]: T}
        return torch.cat([out[o] - torch.tensor(np.asarray(Td[o])) for o in net.outputs], dim=1).reshape(-1)
    params = [torch.tensor(np.array(net.weights[k])) for k in keys_W] + [torch.tensor(np.array(net.biases[k])) for k in keys_b]
    blocks = torch.autograd.functional.jacobian(errors, tuple(params))
    flat = np.zeros((blocks[0].shape[0], net.n_params))
    columns = plan(net).columns
    for k, block in zip([("W", k) for k in keys_W] + [("b", k) for k in keys_b], blocks):
        flat[:, columns[k]] = block.reshape(block.shape[0], -1).numpy()
    return flat


def _finite_difference_jacobian(net, X, T, h=1e-5):
    """Five-point central differences: truncation O(h⁴), rounding O(1e-16 / h)."""
    theta = net.get_flat()
    numeric = np.empty((_errors(net, X, T).size, theta.size))
    try:
        for p in range(theta.size):
            values = []
            for step in (2 * h, h, -h, -2 * h):
                shifted = theta.copy()
                shifted[p] += step
                net.set_flat(shifted)
                values.append(_errors(net, X, T))
            numeric[:, p] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
    finally:
        net.set_flat(theta)
    return numeric


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 100_000))
def test_jacobian_equals_finite_differences_and_gradient(seed):
    net = random_dag(seed, activations=["tanh", "sigmoid", "softmax", "elu", "linear", "softplus"])
    n = 6
    X, T = random_inputs(net, n, seed), _targets(net, n, seed)
    J, e = net.jacobian(X, T)
    K = sum(net.layers[o].size for o in net.outputs)
    assert J.shape == (n * K, net.n_params) and e.shape == (n * K,)
    np.testing.assert_allclose(e, _errors(net, X, T), rtol=1e-14, atol=1e-14)
    numeric = _finite_difference_jacobian(net, X, T)
    # Finite differences carry rounding noise of about |e| * 1e-16 / h, so the error is
    # measured against the larger of |J| and |e| (J can be tiny where tanh saturates).
    assert np.abs(J - numeric).max() / max(np.abs(numeric).max(), np.abs(e).max()) < 1e-8
    np.testing.assert_allclose(J, _torch_jacobian(net, X, T), rtol=1e-10, atol=1e-13)
    gW, gb = net.gradient(X, T, loss="sse")          # d(sum e²)/dθ = 2 Jᵀe
    flat = np.zeros(net.n_params)
    W, b = net.views(flat)
    for k in W:
        W[k][...] = gW[k]
    for k in b:
        b[k][...] = gb[k]
    np.testing.assert_allclose(2 * J.T @ e, flat, rtol=1e-10, atol=1e-12)


def test_jacobian_rows_are_sample_major_and_data_units():
    net = mn.mlp([2, 3, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(4, 2))
    T = np.random.default_rng(1).normal(size=(4, 2))
    net.output_scaling = {"y": mn.data.minmax(np.array([[0.0, 10.0], [4.0, 30.0]]))}
    J, e = net.jacobian(X, T)
    np.testing.assert_allclose(e.reshape(4, 2), net(X) - T, rtol=1e-12)   # e[i * 2 + k]
    # rows of sample 2 alone equal the Jacobian of that sample
    J2, _ = net.jacobian(X[2:3], T[2:3])
    np.testing.assert_allclose(J[4:6], J2, rtol=1e-13)


def _problem(net, X, T, weight=None):
    return problem_of(net, X, T, sample_weight=weight)


@pytest.mark.parametrize("weighted", [False, True])
def test_block_accumulation_equals_the_full_matrix(weighted):
    rng = np.random.default_rng(0)
    net = mn.mlp([3, 7, 2], seed=0)
    X, T = rng.normal(size=(103, 3)), rng.normal(size=(103, 2))
    w = rng.uniform(0.5, 2, size=103) if weighted else None
    problem = _problem(net, X, T, w)
    full = NormalEquations(problem, block_size=10_000).compute()
    for block in (1, 10, 17, 50):
        blocked = NormalEquations(problem, block_size=block).compute()
        np.testing.assert_allclose(blocked[0], full[0], rtol=1e-12)
        np.testing.assert_allclose(blocked[1], full[1], rtol=1e-12, atol=1e-13)
        assert blocked[2] == pytest.approx(full[2], rel=1e-12)
    J, e = net.jacobian(X, T, sample_weight=w)
    np.testing.assert_allclose(full[0], J.T @ J, rtol=1e-12)
    np.testing.assert_allclose(full[1], J.T @ e, rtol=1e-12, atol=1e-13)
    assert NormalEquations(problem, memory_reduction=4).block_size == 26


@pytest.mark.parametrize("form", ["dense", "low_rank", "frozen"])
def test_blocks_on_several_workers_equal_one_worker(form, monkeypatch):
    """Blocks shared out to workers (b mod workers, BLAS on one thread each) give the
    one-worker sums, metric included, the same on every call."""
    import matnet.train.problem as problem_module
    rng = np.random.default_rng(1)
    net = mn.mlp([3, 7, 2], seed=0)
    if form == "low_rank":
        net = mn.compress.to_low_rank(net, rank=2, connections=[("x", "h1")])
    if form == "frozen":
        net.connect("x", "y", rng.normal(size=(2, 3)), trainable=False)
    X, T = rng.normal(size=(103, 3)), rng.normal(size=(103, 2))
    problem = _problem(net, X, T, rng.uniform(0.5, 2, size=103))
    monkeypatch.setattr(problem_module, "blas_threads", lambda: 1)      # as in a few_threads scope
    monkeypatch.setattr(problem_module, "worker_threads", lambda: 3)
    monkeypatch.setattr(problem_module, "BLOCK_ROWS", 10)
    one = NormalEquations(problem)
    assert one._workers() == 1                                  # few parameters: below PARALLEL_PARAMS
    monkeypatch.setattr(problem_module, "PARALLEL_PARAMS", 1)
    several = NormalEquations(problem)
    assert several._workers() == 3
    monkeypatch.setattr(problem_module, "blas_threads", lambda: 2)      # BLAS threaded: only large networks
    assert several._workers() == 1
    monkeypatch.setattr(problem_module, "THREADED_PARAMS", 1)
    assert several._workers() == 3
    monkeypatch.setattr(problem_module, "blas_threads", lambda: 1)
    for chosen in (dict(block_size=10), dict(memory_reduction=11)):   # the user's memory bound: one block at a time
        assert NormalEquations(problem, **chosen)._workers() == 1
    with ThreadPoolExecutor(1) as pool:                         # not from the main thread: one worker
        assert pool.submit(several._workers).result() == 1
    assert [len(range(103)[b]) for b, _ in several._blocks(3)] == [9] * 11 + [4]    # 4 rounds of 3 blocks
    assert len(several._blocks()) == 11 and several._blocks(1) == several._blocks()
    metrics = [problem.fresh_metric(), problem.fresh_metric()]
    monkeypatch.setattr(problem_module, "PARALLEL_PARAMS", 10 ** 9)
    serial = one.compute(metrics[0])
    monkeypatch.setattr(problem_module, "PARALLEL_PARAMS", 1)
    parallel = several.compute(metrics[1])
    assert set(several._work) == {0, 1, 2}                       # each worker wrote its own workspace
    np.testing.assert_allclose(parallel[0], serial[0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(parallel[1], serial[1], rtol=1e-13, atol=1e-14)
    assert parallel[2] == pytest.approx(serial[2], rel=1e-13)
    assert metrics[1].value() == pytest.approx(metrics[0].value(), rel=1e-13)
    again = several.compute()
    assert all(np.array_equal(a, b) for a, b in zip(again[:2], parallel[:2])) and again[2] == parallel[2]


def test_an_error_in_one_worker_stops_the_others(monkeypatch):
    import matnet.train.problem as problem_module
    rng = np.random.default_rng(3)
    net = mn.mlp([3, 7, 2], seed=0)
    problem = _problem(net, rng.normal(size=(400, 3)), rng.normal(size=(400, 2)))
    for name, value in (("blas_threads", lambda: 1), ("worker_threads", lambda: 2), ("PARALLEL_PARAMS", 1),
                        ("BLOCK_ROWS", 10)):
        monkeypatch.setattr(problem_module, name, value)
    equations = NormalEquations(problem)
    split, taken = equations._split, []

    def failing_split(rows):                    # block 1 (worker 1's first) cannot be built; others take 10 ms
        taken.append(rows.start)
        if rows.start == 10:
            raise MemoryError("no room for this block")
        time.sleep(0.01)
        return split(rows)
    monkeypatch.setattr(equations, "_split", failing_split)
    with pytest.raises(MemoryError, match="no room"):
        equations.compute()
    assert len(equations._blocks(2)) == 40 and len(taken) < 20    # worker 0 stopped early


def test_lm_with_workers_trains_as_with_one(monkeypatch):
    import matnet.train.problem as problem_module
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(3000, 4))
    T = np.sin(X[:, :1] * 2) * X[:, 1:2]
    monkeypatch.setattr(problem_module, "worker_threads", lambda: 2)    # LM's one-thread scope keeps them
    histories = []
    for threshold in (10 ** 9, 1):
        monkeypatch.setattr(problem_module, "PARALLEL_PARAMS", threshold)
        monkeypatch.setattr(problem_module, "BLOCK_ROWS", 500)
        net = mn.mlp([4, 10, 1], seed=0)
        histories.append((net.fit(X, T, algorithm="lm", epochs=5, progress=False, seed=0), net.get_flat()))
    (h1, w1), (h2, w2) = histories
    np.testing.assert_allclose(w2, w1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h2.val_loss, h1.val_loss, rtol=1e-9)


def test_lm_fits_sine_to_1e_6():
    x = np.linspace(-np.pi, np.pi, 200)[:, None]
    net = mn.mlp([1, 10, 1], activation="tanh", seed=0)
    h = net.fit(x, np.sin(x), algorithm="lm", division=None, goal=1e-7)
    assert np.mean((net(x) - np.sin(x)) ** 2) < 1e-6
    assert h.stop_reason == "goal" and h.epochs < 1000


def test_mu_follows_the_trainlm_rule():
    x = np.linspace(-np.pi, np.pi, 200)[:, None]
    net = mn.mlp([1, 10, 1], seed=0)
    h = net.fit(x, np.sin(x), algorithm="lm", division=None, epochs=300)
    mu, steps = np.array(h.mu), np.array(h.inner_steps)
    assert mu[0] == 0.001
    # each epoch: mu × 10 for every rejected step, then × 0.1 for the accepted one
    np.testing.assert_allclose(mu[1:], np.maximum(mu[:-1] * 10.0 ** (steps[1:] - 1) * 0.1, 1e-20), rtol=1e-9)
    assert (steps[1:] == 1).any() and (steps[1:] > 1).any()   # mu falls and rises
    assert np.all(np.diff(h.train_loss) < 0)                  # every epoch lowers the loss


def test_mu_max_stops_at_the_minimum():
    x = np.linspace(-1, 1, 20)[:, None]
    t = 2 * x + 1 + 0.1 * np.cos(7 * x)                  # a linear fit cannot reach 0
    net = mn.Network.from_matrices([np.array([[0.3]])], [np.array([0.1])], activations="linear")
    h = net.fit(x, t, algorithm="lm", division=None, scaling=None, min_grad=0, mu_max=1e3)
    assert h.stop_reason == "mu_max"
    slope, intercept = np.polyfit(x[:, 0], t[:, 0], 1)  # the least-squares line
    np.testing.assert_allclose([net.weights["x", "y"][0, 0], net.biases["y"][0]], [slope, intercept], rtol=1e-9)


def test_lm_validation_stop_and_sse():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(80, 1))
    t = np.sin(3 * x) + 0.3 * rng.normal(size=x.shape)
    h = mn.mlp([1, 30, 1], seed=0).fit(x, t, algorithm="lm", seed=0)
    assert h.stop_reason == "validation stop" and h.val_fail[-1] == 6
    h = mn.mlp([1, 5, 1], seed=0).fit(x, t, algorithm="lm", loss="sse", epochs=5, seed=0)
    assert h.loss == "sse" and h.train_loss[-1] > 1     # a sum, not a mean
    with pytest.raises(ValueError, match="'lm' minimises squared errors"):   # labels alone train (one-hot, mse)
        mn.mlp([1, 2], output_activation="softmax").fit(x, (x > 0).ravel().astype(int), algorithm="lm",
                                                        loss="cross_entropy")


def test_br_effective_parameters_and_noise_level():
    rng = np.random.default_rng(0)
    noise = 0.1
    x = rng.uniform(-3, 3, size=(300, 1))
    t = np.sin(x) + noise * rng.normal(size=x.shape)
    net = mn.mlp([1, 20, 1], seed=0)
    h = net.fit(x, t, algorithm="br", seed=0)
    assert h.gamma[-1] < 0.5 * net.n_params          # clearly fewer effective parameters (61 here)
    assert h.test_loss[-1] < 1.3 * noise ** 2
    assert h.alpha[-1] > 0 and h.beta[-1] > 0
    assert h.best_epoch == h.epochs                   # no validation stop: the final weights
    xs = np.linspace(-3, 3, 100)[:, None]
    assert np.mean((net(xs) - np.sin(xs)) ** 2) < 0.3 * noise ** 2


def test_scg_trains_regression_and_classification():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(200, 2))
    h = mn.mlp([2, 6, 1], seed=0).fit(x, x[:, :1] * x[:, 1:], algorithm="scg", epochs=200, seed=0)
    assert h.train_loss[h.best_epoch] < 0.05 * h.train_loss[0]
    labels = (x[:, 0] + x[:, 1] > 0).astype(int)
    net = mn.mlp([2, 4, 2], output_activation="softmax", seed=0)
    h = net.fit(x, labels, algorithm="scg", epochs=100, seed=0)
    assert h.test_metric[h.best_epoch] > 0.9


def test_restarts_keep_the_best_initialisation():
    x = np.linspace(-np.pi, np.pi, 100)[:, None]
    net = mn.mlp([1, 3, 1], seed=0)
    h = net.fit(x, np.sin(x), algorithm="lm", restarts=3, seed=1, epochs=30)
    assert len(h.restart_scores) == 3 and h.restart_scores[h.restart] == min(h.restart_scores)
    assert h.val_loss[h.best_epoch] == min(h.restart_scores)


def test_solve_damped_falls_back_to_least_squares():
    A = np.array([[1.0, 0.0], [0.0, -5.0]])     # not positive definite with mu = 1
    x, method = solve_damped(A, np.array([1.0, 1.0]), 1.0)
    assert method == "lstsq" and np.allclose((A + np.eye(2)) @ x, [1, 1])
    x, method = solve_damped(np.eye(2), np.array([2.0, 4.0]), 1.0)
    assert method == "cholesky" and np.allclose(x, [1, 2])


def test_million_samples_train_in_bounded_memory():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(1_000_000, 1))
    t = np.sin(x)
    net = mn.mlp([1, 20, 1], seed=0)
    tracemalloc.start()
    h = net.fit(x, t, algorithm="lm", epochs=2, division=None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert h.epochs == 2 and h.train_loss[-1] < h.train_loss[0]
    assert peak < 300 * 2 ** 20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("algorithm,l2", [("lm", 0.0), ("lm", 1e-3), ("br", 0.0)])
def test_closed_loop_trials_side_by_side_train_as_one_by_one(algorithm, l2, monkeypatch):
    """The damping trials of a recurrent network run side by side in one wide run
    (train/candidates.py), two of them after an epoch that needed at most two, else four:
    the same epochs, damping, trials per epoch and weights as trying them one after
    another."""
    from matnet.train import candidates, levenberg_marquardt
    data = mn.datasets.narendra(300, seed=2)

    def train():
        net = mn.narx([1, 2], [1, 2, 3], [3, 3], loop="closed", seed=0)
        return net, net.fit(data.u, data.y, algorithm=algorithm, epochs=25, division=(0.8, 0.2), l2=l2, seed=0,
                            progress=False)
    used = []
    original = candidates.Candidates.run
    monkeypatch.setattr(candidates.Candidates, "run", lambda self, split: used.append(self.k) or original(self, split))
    together, h_together = train()
    assert used, "the trials did not run side by side"
    expected, width = [], levenberg_marquardt.TRIALS          # rounds of each epoch, in the width of its rule
    for steps in h_together.inner_steps[1:]:
        expected += [width] * -(-steps // width)
        width = 2 if steps <= 2 else levenberg_marquardt.TRIALS
    assert used[:len(expected)] == expected and {2, levenberg_marquardt.TRIALS} <= set(expected)
    monkeypatch.setattr(levenberg_marquardt.Candidates, "applies", staticmethod(lambda net, rows, k: False))
    alone, h_alone = train()
    assert h_together.epochs == h_alone.epochs and h_together.stop_reason == h_alone.stop_reason
    assert h_together.inner_steps == h_alone.inner_steps and h_together.mu == h_alone.mu
    np.testing.assert_allclose(h_together.train_loss, h_alone.train_loss, rtol=1e-9)
    np.testing.assert_allclose(together.get_flat(), alone.get_flat(), rtol=1e-8, atol=1e-10)


def test_candidates_read_back_each_parameter_vector_exactly():
    from matnet.train.candidates import Candidates
    from matnet.train.fit import sequence_data, whole_split
    net = mn.layer_recurrent([1, 2], [4], n_inputs=2, n_outputs=2, seed=0)
    u = np.random.default_rng(0).normal(size=(2, 30, 2))
    split = whole_split(net, sequence_data(net, u, np.zeros((2, 30, 2)), initial={}))
    thetas = [net.get_flat() * s for s in (1.0, 0.5, -0.3)]
    together = Candidates(net, 4)
    together.load(thetas)
    wide = together.run(split)
    from matnet.simulate import run
    for j, theta in enumerate(thetas):
        net.set_flat(theta)
        alone = run(net, split.x, split.shape, split.states)
        part = together.trace(wide, j)
        for name in net.layers:
            np.testing.assert_allclose(part.a[name], alone.a[name], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(part.z[name], alone.z[name], rtol=1e-13, atol=1e-15)


def test_blas_threads_reads_the_limit_in_effect():
    from matnet.threads import blas_threads, few_threads, one_thread, threads, worker_threads
    before = blas_threads()
    with threads(1):
        assert blas_threads() == 1 and worker_threads() == 1
    assert blas_threads() == before >= 1 and worker_threads() == before
    with few_threads(10, small=400):                # small work: BLAS on one thread, the workers keep the rest
        assert blas_threads() == 1 and worker_threads() == before
        with one_thread():
            assert worker_threads() == 1
        assert worker_threads() == before
    with few_threads(500, small=400):
        assert blas_threads() == before
    with one_thread(), few_threads(10, small=400):  # a sweep's run: no workers inside either
        assert blas_threads() == 1 and worker_threads() == 1


def test_over_rows_shares_large_passes_out_in_order(monkeypatch):
    """Ranges cover the rows in order, one per worker thread but none below PASS_BYTES,
    each in a thread of its own; one range, on the calling thread, for a small pass or in
    a one-thread scope."""
    import threading
    from matnet import threads
    seen = []

    def part(a, b):
        seen.append(threading.current_thread().name)
        return a, b
    monkeypatch.setattr(threads, "worker_threads", lambda: 3)
    assert threads.over_rows(part, 10, 5 * threads.PASS_BYTES) == [(0, 3), (3, 6), (6, 10)]
    assert len(seen) == 3 and all(name.startswith("matnet-data") for name in seen)
    assert threads.over_rows(part, 10, 2 * threads.PASS_BYTES) == [(0, 5), (5, 10)]
    assert threads.over_rows(part, 2, 5 * threads.PASS_BYTES) == [(0, 1), (1, 2)]
    seen.clear()
    assert threads.over_rows(part, 10, 2 * threads.PASS_BYTES - 1) == [(0, 10)]
    assert seen == [threading.current_thread().name]
    monkeypatch.undo()
    with threads.one_thread():
        assert threads.over_rows(part, 10, 10 * threads.PASS_BYTES) == [(0, 10)]
