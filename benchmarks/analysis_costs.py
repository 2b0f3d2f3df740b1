"""What the analysis of a trained network costs, against one LM epoch of the same
network and data, and matnet's permutation importance against scikit-learn's
``permutation_importance`` on the same network (wrapped as a fitted estimator), in
one run.  Medians of 3 after a warm-up.

A 10-30-10-1 tanh network (651 parameters) on 10,000 samples, float64.

    python benchmarks/analysis_costs.py
"""
import time
import warnings

import numpy as np

import matnet as mn


def median_time(f, n=3):
    f()                                                   # warm-up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    warnings.simplefilter("ignore", mn.analysis.SingularInformationWarning)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 10))
    T = np.sin(X[:, :1]) + X[:, 1:2] ** 2
    net = mn.mlp([10, 30, 10, 1], seed=0)
    net.fit(X, T, algorithm="lm", epochs=3, seed=0, progress=False)
    trained = net.get_flat()

    def lm_epoch():
        net.set_flat(trained)
        net.fit(X, T, algorithm="lm", epochs=1, division=None, progress=False)
    epoch = median_time(lm_epoch)
    net.set_flat(trained)
    rows = [("confidence_intervals", lambda: mn.analysis.confidence_intervals(net, X, T)),
            ("input_jacobian", lambda: net.input_jacobian(X)),
            ("importance permutation (5 repeats)",
             lambda: mn.analysis.importance(net, "permutation", X=X, T=T, seed=0)),
            ("nic (exact Hessian)", lambda: mn.analysis.nic(net, X, T)),
            ("spectra", lambda: mn.analysis.spectra(net))]
    print(f"{net.n_params} parameters, {len(X)} samples; one LM epoch {epoch:.3f} s")
    print(f"{'step':<36} {'seconds':>9} {'x LM epoch':>11}")
    times = {}
    for name, f in rows:
        times[name] = median_time(f, n=1 if name.startswith("nic") else 3)
        print(f"{name:<36} {times[name]:>9.4f} {times[name] / epoch:>11.2f}")
    try:
        from sklearn.base import BaseEstimator, RegressorMixin
        from sklearn.inspection import permutation_importance
    except ImportError:
        return

    class Fitted(RegressorMixin, BaseEstimator):
        """The trained network as a fitted scikit-learn regressor (no refit)."""

        def __init__(self, net=None):
            self.net = net

        def fit(self, X, y):
            return self

        def predict(self, X):
            return self.net(X)[:, 0]
    theirs = median_time(lambda: permutation_importance(Fitted(net), X, T[:, 0], scoring="neg_mean_squared_error",
                                                        n_repeats=5, random_state=0))
    ours = times["importance permutation (5 repeats)"]
    print(f"{'scikit-learn permutation_importance':<36} {theirs:>9.4f}   "
          f"matnet / scikit-learn time {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
