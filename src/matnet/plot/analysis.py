"""The pictures of an :class:`~matnet.analysis.Analysis`, for the command line and the
HTML report: importance, weight spectra and, for a static network with data, Lek's
profile and the generalized weights of the most important input."""
from __future__ import annotations

import numpy as np

from ..analysis.table import Table
from .feature_importance import importance, profile
from .weight_spectra import spectra
from .tangent import generalized_weights

__all__ = ["analysis_figures", "leading_method"]

#: Methods in the order the pictures prefer them: data-based ones first.
PREFERRED = ("sensitivity", "permutation", "olden", "garson")


def leading_method(table):
    """The first of :data:`PREFERRED` the importance table has, or None."""
    return next((m for m in PREFERRED if table is not None and m in table.columns), None)


def analysis_figures(net, analysis, X=None):
    """``name -> (Figure, caption)`` of the analysis of ``net`` (data ``X`` if given)."""
    figures = {"spectra": (spectra(net), "spectra of the weight matrices (eigenvalues of WᵀW, log-log)")}
    method = leading_method(analysis.importance)
    if method is None:
        return figures
    table = Table({"feature": analysis.importance["feature"], "importance": analysis.importance[method],
                   **({"std": analysis.importance[f"{method}_std"]} if f"{method}_std" in analysis.importance.columns
                      else {})}, title=f"{method} importance of the inputs")
    figures["importance"] = (importance(table, sort=True), f"importance of the inputs ({method})")
    if X is not None and not net.is_dynamic and not net.is_graph and not net.index_inputs:   # per-sample curves
        top = int(np.nanargmax(np.abs(table["importance"])))
        name = str(table["feature"][top])
        figures["profile"] = (profile(net, X, top), f"Lek's profile of {name}, the most important input")
        figures["generalized_weights"] = (generalized_weights(net, X, top),
                                          f"generalized weights of {name}")
    return figures
