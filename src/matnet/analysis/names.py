"""Names of a network's input features, as the analysis tables show them."""
from __future__ import annotations

__all__ = ["feature_labels"]


def feature_labels(net):
    """One name per input feature, inputs in ``net.inputs`` order: the column names
    kept in ``net.feature_names`` (a CSV header) or ``x[0]``, ``x[1]``, ... ."""
    labels = []
    for name, size in net.inputs.items():
        names = net.feature_names.get(name)
        labels += list(names) if names and len(names) == size else [f"{name}[{j}]" for j in range(size)]
    return labels
