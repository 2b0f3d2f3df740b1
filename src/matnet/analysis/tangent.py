"""How the outputs move with the inputs: the tangent matrix ``dy/dx`` and the
generalized weights, exact (matrix products of the layer derivatives, one reverse
sweep from every output neuron at once), in data units.

With input scaling ``x̃ = s_x ⊙ x + c_x`` and output scaling ``ỹ = s_y ⊙ y + c_y`` the
tangent in data units is ``dy/dx = diag(1/s_y) · dỹ/dx̃ · diag(s_x)``.
"""
from __future__ import annotations

import numpy as np

from ..backend import on_host
from ..backprop import input_sensitivities
from ..prepare import initial_states, prepare_inputs, prepare_sequences
from ..simulate import plan, run, run_sequences, static_inputs
from .names import output_index

__all__ = ["input_jacobian", "generalized_weights"]


def _output_scale(net):
    """``1/s_y`` of the output neurons side by side (``(K,)``)."""
    parts = []
    for name in plan(net).outputs:
        s = net.output_scaling.get(name)
        parts.append(np.ones(net.layers[name].size, net.dtype) if s is None else s.inverse_scale.astype(net.dtype))
    return np.concatenate(parts)


def _input_scale(net, name):
    s = net.input_scaling.get(name)
    return np.ones(net.inputs[name], net.dtype) if s is None else s.scale.astype(net.dtype)


def _static(net, X, at_z=False):
    """``(found, n_samples, single)``: :func:`input_sensitivities` of a static network on
    samples ``X``."""
    inputs, single = prepare_inputs(net, X)
    n = next(iter(inputs.values())).shape[0]
    trace = run(net, static_inputs(net, inputs), (n, 1))
    return input_sensitivities(net, trace, at_z=at_z), n, single


@on_host
def input_jacobian(net, X, initial=None):
    """The tangent matrix ``dy/dx`` of the network, in data units.

    Parameters
    ----------
    X : array or dict
        Static network: samples ``(n_samples, n_in)`` (or one sample ``(n_in,)``).
        Network with delays: input series ``(n_steps, n_in)`` or
        ``(n_series, n_steps, n_in)``, as :meth:`Network.simulate` takes them (an
        open-loop NARX also takes its fed-back outputs as an input).  A dict
        ``name -> array`` for several inputs.
    initial : dict, optional
        Initial delay states (network with delays), as :meth:`Network.simulate`.

    Returns
    -------
    ndarray, or a dict ``input name -> ndarray`` for several inputs
        Static network: ``(n_samples, n_out, n_in)``, ``J[s, k, i] = dy_k/dx_i`` at
        sample ``s`` (``(n_out, n_in)`` for one 1-D sample).  Network with delays:
        ``(n_steps, n_out, d + 1, n_in)`` (``(n_series, ...)`` for several series),
        ``J[t, k, d, i] = ∂y_k(t)/∂x_i(t - d)`` for every delay ``d`` from 0 to the
        largest of the input (zero where no connection taps it; ``t - d < 0`` is the
        initial state).  ``n_out`` counts the neurons of every output layer, side by
        side.  In a network with feedback from layers (closed-loop NARX, layer
        recurrence) this is one step's derivative with the layers' delayed values
        held fixed; ``net.open_loop().input_jacobian`` adds the derivatives with
        respect to the fed-back outputs.

    Notes
    -----
    Exact: one reverse sweep from all output neurons at once, the products of the
    layers' derivatives and weight matrices (no finite differences).
    """
    out_scale = _output_scale(net)
    if not net.is_dynamic:
        found, n, single = _static(net, X)
        result = {}
        for name in net.inputs:
            J = found.get((name, 0))
            J = np.zeros((n, out_scale.size, net.inputs[name]), net.dtype) if J is None else J
            J = J * out_scale[None, :, None] * _input_scale(net, name)[None, None, :]
            result[name] = J[0] if single else J
        return result[next(iter(net.inputs))] if len(result) == 1 else result
    inputs, single = prepare_sequences(net, X)
    S, T = next(iter(inputs.values())).shape[:2]
    trace = run_sequences(net, inputs, initial_states(net, initial, S), T)
    found = input_sensitivities(net, trace)
    lags = net.max_delays()
    result = {}
    for name, size in net.inputs.items():
        J = np.zeros((S, T, out_scale.size, lags.get(name, 0) + 1, size), net.dtype)
        for d in range(J.shape[3]):
            if (name, d) in found:
                J[:, :, :, d] = found[(name, d)].reshape(S, T, out_scale.size, size)
        J *= out_scale[:, None, None] * _input_scale(net, name)
        result[name] = J[0] if single else J
    return result[next(iter(net.inputs))] if len(result) == 1 else result


@on_host
def generalized_weights(net, X, output=0):
    """Generalized weights (Intrator & Intrator 2001; R neuralnet's ``gwplot``).

    For an output neuron with a logistic (sigmoid) activation, the derivative of its
    log-odds ``∂ log(o/(1 - o)) / ∂x_i`` — the net input's derivative, so the
    contribution of input ``i`` on the logit scale; for any other output, ``∂y/∂x_i``
    in data units.  A generalized weight that varies little over the samples marks an
    input acting linearly (on the logit scale); one near zero everywhere, an input
    without effect.

    Parameters
    ----------
    X : array (n_samples, n_in), or a dict for several inputs (their features side by
        side in ``net.inputs`` order in the result)
    output : int
        The output neuron (outputs of every output layer side by side).

    Returns
    -------
    ndarray (n_samples, n_in), per unit of each input (data units).
    """
    if net.is_dynamic:
        raise ValueError("generalized weights are defined for static networks; for a network with delays "
                         "use net.input_jacobian(U), which gives dy(t)/dx(t-d) per delay")
    out_scale = _output_scale(net)
    output, start = output_index(output, out_scale.size), 0
    for name in plan(net).outputs:                   # the layer the neuron belongs to
        size = net.layers[name].size
        if output < start + size:
            logistic = net.layers[name].activation.name == "sigmoid"
            break
        start += size
    found, n, single = _static(net, X, at_z=logistic)
    factor = 1.0 if logistic else out_scale[output]
    parts = []
    for name, size in net.inputs.items():
        J = found.get((name, 0))
        parts.append(np.zeros((n, size), net.dtype) if J is None else J[:, output] * factor * _input_scale(net, name))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
