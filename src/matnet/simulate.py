"""The one evaluation engine.

A network's structure is compiled once into a :class:`Plan` (layers in topological
order, each with the sources and weight matrices it sums) and cached on the network
until its structure changes.  :func:`forward` runs the plan on a batch, rows being
samples: ``Z = sum_k A_k @ W_k.T + b``, ``A = f(Z)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import shape_str

__all__ = ["Plan", "Forward", "plan", "forward", "predict", "prepare_inputs"]


@dataclass(frozen=True)
class Step:
    layer: str
    activation: object
    sources: tuple  # ((source name, weight key), ...)
    bias: bool


@dataclass(frozen=True)
class Plan:
    """Compiled structure: the steps in topological order, the outputs, which entries
    of the parameter vector are weights (not biases), and where each array lies in it
    (``columns[("W", key)]`` or ``columns[("b", layer)]``, a slice)."""

    steps: tuple
    outputs: tuple
    weight_mask: np.ndarray
    columns: dict


@dataclass
class Forward:
    """Everything one forward pass computed.

    Attributes
    ----------
    inputs : dict
        ``name -> X`` as used (validated, cast, 2-D ``(n_samples, n)``).
    z : dict
        ``layer -> Z``, the net inputs ``(n_samples, size)``.
    a : dict
        ``layer -> A = f(Z)``, the activations ``(n_samples, size)``.
    single : bool
        Whether the input was one 1-D sample.
    """

    inputs: dict
    z: dict
    a: dict
    single: bool = False

    def values(self, name):
        """The values a source ``name`` (input or layer) sends."""
        return self.inputs[name] if name in self.inputs else self.a[name]


def plan(net) -> Plan:
    """The compiled :class:`Plan` of ``net`` (cached until its structure changes)."""
    if net._plan is None:
        steps = tuple(
            Step(name, net.layers[name].activation,
                 tuple((c.source, c.key) for c in net.incoming(name)), net.layers[name].bias)
            for name in net.topological_order())
        mask = np.zeros(net.n_params, bool)
        for view in net.views(mask)[0].values():
            view[...] = True
        columns, start = {}, 0
        for kind, key, shape in net._layout():
            size = int(np.prod(shape))
            columns[(kind, key)] = slice(start, start + size)
            start += size
        net._plan = Plan(steps, tuple(net.outputs), mask, columns)
    return net._plan


def prepare_inputs(net, X, scale=True):
    """Validate inputs, cast them to the network's dtype and apply its input scaling.

    Parameters
    ----------
    X : array_like or dict
        ``(n_samples, n_features)`` or one sample ``(n_features,)`` for a network
        with one input; a dict ``name -> array`` for any network.

    scale : bool
        Apply ``net.input_scaling`` (the network's units are the scaled ones).

    Returns
    -------
    inputs : dict ``name -> (n_samples, n_features)`` array of ``net.dtype``
    single : bool, whether one 1-D sample was given
    """
    names = list(net.inputs)
    if not isinstance(X, dict):
        if len(names) != 1:
            raise ValueError(f"the network has inputs {', '.join(names)}; pass a dict name -> array")
        X = {names[0]: X}
    unknown = set(X) - set(names)
    missing = [n for n in names if n not in X]
    if unknown or missing:
        raise ValueError(f"inputs must be exactly {', '.join(names)}; "
                         + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(map(str, unknown))}"))
    out, dims, rows = {}, set(), set()
    for name in names:
        x = _as_matrix(X[name], name, net.inputs[name], net.dtype)
        dims.add(np.ndim(X[name]))
        rows.add(x.shape[0])
        if scale and name in net.input_scaling:
            x = net.input_scaling[name].apply(x)
        out[name] = x
    if len(rows) > 1:
        raise ValueError("inputs have different numbers of samples: "
                         + ", ".join(f"{n} {out[n].shape[0]}" for n in names))
    if len(dims) > 1:
        raise ValueError("give every input as one sample (1-D) or every input as a batch (2-D)")
    return out, dims == {1}


def _as_matrix(x, name, size, dtype):
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise ValueError(f"input {name!r} is not a numeric array: {e}") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise ValueError(f"input {name!r} must be real numbers, got dtype {x.dtype}")
    if x.ndim not in (1, 2) or x.shape[-1] != size:
        raise ValueError(f"input {name!r} expects {size} features per sample, got an array of shape "
                         f"{shape_str(x.shape)}")
    if x.ndim == 1:
        x = x[None, :]
    x = x.astype(dtype, copy=False)
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"input {name!r} contains NaN or inf (first at sample {i}, feature {j})")
    return x


def forward(net, X) -> Forward:
    """Run the network on a batch and keep every layer's net input and activation.

    Input scaling is applied first; the values kept are in the network's (scaled)
    units.

    Parameters
    ----------
    X : array_like or dict
        See :func:`prepare_inputs`.

    Returns
    -------
    Forward
    """
    if net.is_dynamic:
        raise ValueError("the network has delayed connections; run it over time with net.simulate()")
    inputs, single = prepare_inputs(net, X)
    return run(net, inputs, single)


def run(net, inputs, single=False) -> Forward:
    """:func:`forward` on inputs already validated by :func:`prepare_inputs`."""
    result = Forward(inputs, {}, {}, single)
    weights, biases = net.weights._views, net.biases._views
    n = next(iter(inputs.values())).shape[0] if inputs else 0
    for step in plan(net).steps:
        Z = None
        for source, key in step.sources:
            part = result.values(source) @ weights[key].T
            Z = part if Z is None else np.add(Z, part, out=Z)
        if Z is None:
            Z = np.zeros((n, net.layers[step.layer].size), net.dtype)
        if step.bias:
            Z += biases[step.layer]
        result.z[step.layer] = Z
        result.a[step.layer] = step.activation(Z)
    return result


def predict(net, X):
    """Outputs of ``net`` for ``X``.

    Input scaling is applied to ``X`` and output scaling undone on the outputs, so
    both are in data units.

    Returns
    -------
    ndarray or dict
        ``(n_samples, n_out)`` (or ``(n_out,)`` for one 1-D sample) of ``net.dtype``;
        a dict ``layer -> array`` when the network has several outputs.
    """
    result = forward(net, X)
    outputs = {}
    for name in plan(net).outputs:
        Y = result.a[name]
        if name in net.output_scaling:
            Y = net.output_scaling[name].invert(Y)
        outputs[name] = Y[0] if result.single else Y
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs


def predict_classes(net, X):
    """Class labels for ``X``: the most probable class of each sample.

    One output column is a binary classifier (class 1 where the output is >= 0.5);
    several columns pick the largest.  Labels are those the network was trained on
    (``net.classes``), or column indices when it has none.
    """
    Y = predict(net, X)
    if isinstance(Y, dict):
        raise ValueError("predict_classes needs a network with one output layer")
    Y2 = np.atleast_2d(Y)
    index = (Y2[:, 0] >= 0.5).astype(int) if Y2.shape[1] == 1 else np.argmax(Y2, axis=1)
    labels = index if net.classes is None else np.asarray(net.classes)[index]
    return labels[0] if Y.ndim == 1 else labels
