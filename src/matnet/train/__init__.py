"""Training: the fit loop and its algorithms.

``fit(net, X, T, algorithm=...)`` (also ``net.fit``) with ``"sgd"``, ``"adam"``,
``"rmsprop"`` (minibatch), ``"rprop"``, ``"lbfgs"``, ``"cg"``, ``"scg"`` (full batch) and the
Jacobian methods ``"lm"`` (Levenberg–Marquardt) and ``"br"`` (Bayesian regularisation).
"""
from .first_order import minibatch_runner, rprop_runner, scipy_runner
from .fit import ALGORITHMS, Monitor, TrainingWarning, fit, register
from .history import History
from .levenberg_marquardt import br_runner, lm_runner
from .problem import NormalEquations, Problem, Split
from .scg import scg_runner
from .optimizers import SGD, Adam, ExponentialLR, ReduceOnPlateau, RMSprop, Rprop, StepLR

register("sgd", minibatch_runner(SGD, "sgd", 0.01), full_batch=False, epochs=200)
register("adam", minibatch_runner(Adam, "adam", 0.001), full_batch=False, epochs=200)
register("rmsprop", minibatch_runner(RMSprop, "rmsprop", 0.001), full_batch=False, epochs=200)
register("rprop", rprop_runner)
register("lbfgs", scipy_runner("L-BFGS-B", "lbfgs"))
register("cg", scipy_runner("CG", "cg"))
register("scg", scg_runner)
register("lm", lm_runner)
register("br", br_runner, max_fail=None)

__all__ = ["fit", "History", "ALGORITHMS", "register", "Problem", "Split", "NormalEquations", "Monitor",
           "TrainingWarning",
           "SGD", "Adam", "RMSprop", "Rprop", "StepLR", "ExponentialLR", "ReduceOnPlateau"]
