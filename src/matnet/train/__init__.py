"""Training: the fit loop and its algorithms.

``fit(net, X, T, algorithm=...)`` (also ``net.fit``) with ``"sgd"``, ``"adam"``,
``"rmsprop"`` (minibatch), ``"rprop"``, ``"lbfgs"``, ``"cg"``, ``"scg"`` (full batch) and the
Jacobian methods ``"lm"`` (Levenberg–Marquardt) and ``"br"`` (Bayesian regularisation).
"""
from .first_order import SCIPY_OPTIONS, minibatch_runner, optimizer_options, rprop_runner, scipy_runner
from .fit import ALGORITHMS, Algorithm, Monitor, TrainingWarning, fit, parse_options, register
from .history import History
from .levenberg_marquardt import LM_OPTIONS, br_runner, lm_runner
from .problem import NormalEquations, Problem, Split
from .scg import SCG_OPTIONS, scg_runner
from .optimizers import SGD, Adam, ExponentialLR, ReduceOnPlateau, RMSprop, Rprop, StepLR

#: Validation failures before a minibatch method stops (its validation loss is noisy;
#: scikit-learn's n_iter_no_change is 10); full-batch methods keep MATLAB's 6.
MINIBATCH_MAX_FAIL = 10

register("sgd", minibatch_runner(SGD), optimizer_options(SGD), lr=0.01, epochs=200, max_fail=MINIBATCH_MAX_FAIL)
register("adam", minibatch_runner(Adam), optimizer_options(Adam), lr=0.01, epochs=200, max_fail=MINIBATCH_MAX_FAIL)
register("rmsprop", minibatch_runner(RMSprop), optimizer_options(RMSprop), lr=0.001, epochs=200,
         max_fail=MINIBATCH_MAX_FAIL)
register("rprop", rprop_runner, optimizer_options(Rprop))
register("lbfgs", scipy_runner("L-BFGS-B"), SCIPY_OPTIONS["L-BFGS-B"])
register("cg", scipy_runner("CG"), SCIPY_OPTIONS["CG"])
register("scg", scg_runner, SCG_OPTIONS)
register("lm", lm_runner, LM_OPTIONS, squared_errors=True)
register("br", br_runner, {**LM_OPTIONS, "mu": 0.005}, max_fail=None, squared_errors=True)

__all__ = ["fit", "History", "ALGORITHMS", "Algorithm", "register", "parse_options", "Problem", "Split", "NormalEquations", "Monitor",
           "TrainingWarning",
           "SGD", "Adam", "RMSprop", "Rprop", "StepLR", "ExponentialLR", "ReduceOnPlateau"]
