"""What each option of :func:`~matnet.train.fit` and of its algorithms may be: one table
(as scikit-learn's ``_parameter_constraints``), checked before anything on the network
changes, so that a rejected call leaves the network as it was."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["Interval", "Boolean", "CONSTRAINTS", "EXCLUSIVE", "check_option", "check_options"]


@dataclass(frozen=True)
class Interval:
    """Numbers (``integer`` ones only, when set) between ``low`` and ``high`` (None:
    unbounded); ``closed`` says which ends belong: "both", "left", "right", "neither"."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"
    integer: bool = False
    none: bool = False             # whether None is allowed too
    finite: bool = True            # whether only finite numbers are

    def admits(self, value):
        if value is None:
            return self.none
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            return False
        if self.finite and not math.isfinite(value):
            return False
        if self.integer and int(value) != value:
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed in ("right", "neither"))):
            return False
        return self.high is None or not (value > self.high or (value == self.high and self.closed in ("left", "neither")))

    def __str__(self):
        kind = "an integer" if self.integer else "a number"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        if self.low is None and self.high is None:
            return kind + (" or None" if self.none else "")
        return f"{kind} in {left}{low}, {high}{right}" + (" or None" if self.none else "")


class Boolean:
    """True or False."""

    @staticmethod
    def admits(value):
        return isinstance(value, bool)

    def __str__(self):
        return "True or False"


def positive(none=False):
    return Interval(0, None, "right", none=none)


def fraction():
    return Interval(0, 1, "right")


#: Every option's constraint, by name (fit's own and those of the registered algorithms).
CONSTRAINTS = {
    # fit
    "epochs": Interval(0, None, integer=True, none=True),
    "batch_size": Interval(1, None, integer=True, none=True),
    "lr": positive(none=True),
    "l2": Interval(0, None),
    "max_fail": Interval(1, None, integer=True, none=True),
    "patience": Interval(1, None, integer=True, none=True),
    "goal": Interval(0, None),
    "min_grad": Interval(0, None),
    "max_time": Interval(0, None, none=True),
    "restarts": Interval(1, None, integer=True),
    # minibatch optimisers
    "momentum": Interval(0, 1, "left"),
    "nesterov": Boolean(),
    "beta1": Interval(0, 1, "left"),
    "beta2": Interval(0, 1, "left"),
    "eps": positive(),
    "alpha": Interval(0, 1, "left"),
    # Rprop
    "delta0": positive(),
    "increase": Interval(1, None, "neither"),
    "decrease": Interval(0, 1, "neither"),
    "delta_max": positive(),
    "delta_min": Interval(0, None),
    "backtracking": Boolean(),
    # SCG
    "sigma": positive(),
    "lambda_": positive(),
    # SciPy's L-BFGS-B and CG
    "maxcor": Interval(1, None, integer=True),
    "ftol": Interval(0, None),
    "maxls": Interval(1, None, integer=True),
    "maxfun": Interval(1, None, integer=True),
    "norm": Interval(None, None, finite=False),
    "c1": Interval(0, 1, "neither"),
    "c2": Interval(0, 1, "neither"),
    # Levenberg–Marquardt and Bayesian regularisation
    "mu": positive(none=True),
    "mu_dec": Interval(0, 1, "neither"),
    "mu_inc": Interval(1, None, "neither"),
    "mu_max": positive(),
    "block_size": Interval(1, None, integer=True, none=True),
    "memory_reduction": Interval(1, None, integer=True, none=True),
}


#: Options that exclude each other.
EXCLUSIVE = [("block_size", "memory_reduction")]


def check_options(options, algorithm=None):
    """:func:`check_option` for each of ``options`` (a dict), and no two that exclude
    each other (:data:`EXCLUSIVE`) both set."""
    for name, value in options.items():
        check_option(name, value, algorithm)
    for a, b in EXCLUSIVE:
        if options.get(a) is not None and options.get(b) is not None:
            raise ValueError(f"give {a} or {b}, not both")


def check_option(name, value, algorithm=None):
    """Raise ``ValueError`` naming the option (and the algorithm) when ``value`` breaks
    its constraint; options without one (SciPy's, passed on) are not checked here."""
    constraint = CONSTRAINTS.get(name)
    if constraint is not None and not constraint.admits(value):
        where = f" of {algorithm!r}" if algorithm else ""
        raise ValueError(f"option {name}{where} must be {constraint}, got {value!r}")
