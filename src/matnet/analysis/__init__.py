"""After training: what the matrices say about a trained network.

=====================================  ================================================
``input_jacobian(net, X)``             tangent matrix ``dy/dx`` in data units, exact
``generalized_weights(net, X)``        ``∂ logit(o)/∂x`` (logistic output) or ``∂y/∂x``
``parameter_covariance(net, X, T)``    ``σ²(JᵀJ)⁻¹``, White's sandwich, or BR's posterior
``confidence_intervals(net, X, T)``    per weight and bias: estimate, standard error, limits
``nic(net, X, T)``                     network information criterion (Murata et al.)
``prediction_intervals(net, X, ...)``  delta-method confidence / prediction intervals
``importance(net, method, X, T)``      Garson, Olden, sensitivity, permutation
``profile(net, X, feature)``           Lek's profile: one input varied, others at quantiles
``spectra(net)``                       singular values, norms, stable rank, power-law α
``analyze(net, X, T)``                 all of the above that applies, for a report
=====================================  ================================================

Tables come back as :class:`Table` (columns by name, text, HTML, CSV).  Pictures of
these results are in :mod:`matnet.plot` (``generalized_weights``, ``importance``,
``profile``, ``spectra``).
"""
from __future__ import annotations

from .importance import importance, profile
from .names import feature_labels
from .spectra import power_law, spectra
from .summary import Analysis, analyze
from .table import Table
from .tangent import generalized_weights, input_jacobian
from .uncertainty import (SingularInformationWarning, confidence_intervals, nic, parameter_covariance,
                          prediction_intervals)

__all__ = ["input_jacobian", "generalized_weights", "parameter_covariance", "confidence_intervals", "nic",
           "prediction_intervals", "importance", "profile", "spectra", "power_law", "Table",
           "SingularInformationWarning", "feature_labels", "analyze", "Analysis"]
