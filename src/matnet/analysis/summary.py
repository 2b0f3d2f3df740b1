"""Everything the analysis has to say about one trained network on its data, for the
command line (``matnet analyze``) and the HTML report."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from ..backend import on_host
from .importance import importance
from .names import feature_labels
from .spectra import spectra
from .table import Table
from .uncertainty import SingularInformationWarning, confidence_intervals, nic

__all__ = ["Analysis", "analyze", "MAX_PARAMS"]

#: Networks with more parameters get no intervals from :func:`analyze` (``JᵀJ`` is
#: ``p × p``; for 2,000 parameters its eigendecomposition takes about 0.6 s and 32 MB).
MAX_PARAMS = 2000


@dataclass
class Analysis:
    """What :func:`analyze` found.

    Attributes
    ----------
    importance : Table or None
        One row per input feature, one column per method that applies
        (``garson``, ``olden``, ``sensitivity`` of output 0; ``permutation``, the
        increase of the loss of all outputs, and its ``permutation_std``).
    intervals : Table or None
        :func:`~matnet.analysis.confidence_intervals` (with targets).
    nic : float or None
        :func:`~matnet.analysis.nic` (with targets).
    spectra : Table
        :func:`~matnet.analysis.spectra`.
    notes : list of str
        What was left out and why, and warnings met on the way.
    """
    spectra: Table
    importance: Table | None = None
    intervals: Table | None = None
    nic: float | None = None
    notes: list = field(default_factory=list)

    def intervals_line(self):
        """One line on the intervals: method, parameters determined, NIC ("" without)."""
        if self.intervals is None:
            return ""
        determined = int(self.intervals["determined"].sum())
        return (f"{self.intervals.title}: {determined} of {len(self.intervals)} parameters determined; "
                f"NIC {self.nic:.6g}")


@on_host
def analyze(net, X=None, T=None, initial=None, n_repeats=5, seed=0):
    """Importance, confidence intervals, NIC and weight spectra of a trained network.

    Parameters
    ----------
    X, T : the data (as ``fit`` takes it; series for a network with delays), optional
        Without ``X`` only what the matrices alone give (Olden, Garson, spectra);
        without ``T`` no intervals and no permutation importance.  Intervals are
        left out (with a note) for more than :data:`MAX_PARAMS` parameters, and where
        the data cannot give them (fewer errors than parameters, targets that do not
        fit the outputs).
    initial : dict, optional
        Initial delay states of series.
    n_repeats, seed : permutation importance's shuffles.

    Returns
    -------
    Analysis
    """
    result = Analysis(spectra=spectra(net))
    columns = {"feature": feature_labels(net)}
    methods = [("garson", {}), ("olden", {})]
    if X is not None and not net.is_dynamic:
        methods.append(("sensitivity", {"X": X}))
        if T is not None:
            methods.append(("permutation", {"X": X, "T": T, "n_repeats": n_repeats, "seed": seed}))
    for method, data in methods:
        try:
            table = importance(net, method, **data)
        except ValueError as e:
            result.notes.append(f"{method} importance: {e}")
            continue
        columns[method] = table["importance"]
        if "std" in table.columns:
            columns[f"{method}_std"] = table["std"]
    if len(columns) > 1:
        result.importance = Table(columns, title="Importance of the inputs "
                                                 "(output 0; permutation: the loss of all outputs)")
    if T is not None and net.n_params > MAX_PARAMS:
        result.notes.append(f"confidence intervals left out: {net.n_params} parameters (more than {MAX_PARAMS}) "
                            "make JᵀJ large; mn.analysis.confidence_intervals computes them on request")
    elif T is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SingularInformationWarning)
            try:
                result.intervals = confidence_intervals(net, X, T, initial=initial)
                result.nic = nic(net, X, T, initial=initial)
            except ValueError as e:
                result.notes.append(f"confidence intervals: {e}")
        result.notes += [str(w.message) for w in caught if issubclass(w.category, SingularInformationWarning)][:1]
    return result
