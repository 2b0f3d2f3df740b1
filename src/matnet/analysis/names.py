"""A network's input features and output neurons as the analysis counts them: the
features of every input side by side (``net.inputs`` order), the neurons of every
output layer side by side (``net.outputs`` order)."""
from __future__ import annotations

import numpy as np

from ..prepare import prepare_inputs

__all__ = ["feature_labels", "feature_index", "features", "n_outputs", "output_index"]


def feature_labels(net):
    """One name per input feature: the column names kept in ``net.feature_names`` (a
    CSV header) or ``x[0]``, ``x[1]``, ... ."""
    labels = []
    for name, size in net.inputs.items():
        names = net.feature_names.get(name)
        labels += list(names) if names and len(names) == size else [f"{name}[{j}]" for j in range(size)]
    return labels


def feature_index(net, feature):
    """The column of ``feature`` (an index or a label) among the features side by side."""
    labels = feature_labels(net)
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not 0 <= feature < len(labels):
            raise ValueError(f"feature index must be from 0 to {len(labels) - 1}, got {feature}")
        return int(feature)
    if isinstance(feature, str) and feature in labels:
        return labels.index(feature)
    raise ValueError(f"no feature {feature!r}; features: {', '.join(labels)} (or an index)")


def features(net, X):
    """The features of ``X`` side by side, ``(n_samples, n_features)`` float64 in data
    units (validated as :meth:`Network.predict` does; one 1-D sample is one row)."""
    inputs, _ = prepare_inputs(net, X, scale=False)
    return np.hstack([np.asarray(inputs[name], np.float64) for name in net.inputs])


def n_outputs(net):
    """Neurons of every output layer together."""
    return sum(net.layers[name].size for name in net.outputs)


def output_index(output, n_out):
    """``output`` checked as an index of one of ``n_out`` output neurons."""
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or not 0 <= output < n_out:
        raise ValueError(f"output must be an output neuron index from 0 to {n_out - 1}, got {output!r}")
    return int(output)
