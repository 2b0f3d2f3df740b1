"""PyTorch conversion: :func:`to_torch` and :func:`from_torch`.

A matnet weight matrix ``(n_out, n_in)`` *is* ``nn.Linear.weight``, so conversions
copy matrices without transposing (compressed weight representations as their dense
matrices).  A chain ``x → h1 → ... → y`` becomes an
``nn.Sequential`` of ``nn.Linear`` and activation modules; any other static network
(skip connections, several inputs or outputs) becomes a :class:`MatnetModule`.
Input and output scaling become :class:`Affine` modules (``x * scale + shift``) at the
ends of the ``nn.Sequential`` (or buffers of the ``MatnetModule``).

Activation modules are those :mod:`matnet.activations` declares (``nn.ReLU``,
``nn.Tanh``, ``nn.Sigmoid``, ``nn.LeakyReLU(0.01)``, ``nn.ELU(alpha=1)``,
``nn.Softplus(beta=1)``, ``nn.Softmax(dim=-1)``, ``nn.Hardtanh`` to [0, 1] (satlin) or
[-1, 1] (satlins), :class:`Hardlim`); ``nn.Identity``, ``nn.Flatten`` and
``nn.Dropout`` (its inference behaviour) are passed over, and ``nn.Softmax(dim=1)``
is the same as ``dim=-1`` on 2-D data.  ``nn.Softplus`` turns linear above
``threshold`` (default 20, where it differs from matnet's softplus by
``log1p(exp(-20)) ≈ 2e-9``); :func:`to_torch` uses 40 for float64, where the
difference is below rounding.

Importing this module imports torch (``pip install matnet[torch]``).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..backend import on_host
from .. import activations
from ..data.scaling import Scaling
from ..network import Network
from ._common import check_static, is_chain, missing_package, scaling_from_inverse

try:
    import torch
    from torch import nn
except ImportError as e:
    raise missing_package(__name__, "the package 'torch'", "torch", e) from e

__all__ = ["to_torch", "from_torch", "Affine", "Hardlim", "MatnetModule"]

_PASS_THROUGH = (nn.Identity, nn.Dropout)
_SOFTPLUS_LINEAR = 20.0   # nn.Softplus's default threshold: the least from_torch accepts


class Affine(nn.Module):
    """``x * scale + shift`` feature by feature (matnet's input or output scaling).

    ``kind`` and ``value`` keep the :class:`~matnet.data.scaling.Scaling`'s kind
    and constant-feature values for the way back to matnet.
    """

    def __init__(self, scale, shift, kind="minmax", value=None):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale))
        self.register_buffer("shift", torch.as_tensor(shift))
        self.register_buffer("value", torch.as_tensor(shift if value is None else value))
        self.kind = kind

    def forward(self, x):
        return x * self.scale + self.shift

    def extra_repr(self):
        return f"features={self.scale.numel()}, kind={self.kind!r}"


class Hardlim(nn.Module):
    """``1`` where ``x >= 0``, else ``0`` (MATLAB's ``hardlim``)."""

    def forward(self, x):
        return (x >= 0).to(x.dtype)


_OWN_MODULES = {cls.__name__: cls for cls in (Hardlim,)}   # activation modules torch lacks


class MatnetModule(nn.Module):
    """A static matnet network of any shape as an ``nn.Module``.

    ``forward`` takes the inputs as keyword arguments named as the network's
    inputs, as one dict, or positionally in input order; it returns a tensor
    for one output layer and a dict ``layer -> tensor`` for several.
    Parameters: ``weights[k]`` (matnet's ``W``, ``(n_out, n_in)``) and
    ``biases[k]``; ``steps`` says which layer uses which, in topological order:
    ``(layer, activation, [(source, weight index)], bias index or None)``, and
    ``activation_modules[k]`` is step ``k``'s activation as a module.
    """

    def __init__(self, inputs, steps, outputs, weights, biases, input_scaling, output_scaling):
        super().__init__()
        self.inputs = list(inputs)                       # [(name, size)]
        self.steps = [tuple(s) for s in steps]           # [(layer, activation, [(source, k)], k or None)]
        self.outputs = list(outputs)
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        self.activation_modules = nn.ModuleList(
            [_activation_module(activations.get(kind), weights[0].dtype) for _, kind, _, _ in self.steps])
        self.input_scaling = nn.ModuleList([input_scaling[n] for n, _ in self.inputs if n in input_scaling])
        self.output_scaling = nn.ModuleList([output_scaling[n] for n in self.outputs if n in output_scaling])
        self.scaled_inputs = [n for n, _ in self.inputs if n in input_scaling]
        self.scaled_outputs = [n for n in self.outputs if n in output_scaling]

    def forward(self, *args, **kwargs):
        names = [n for n, _ in self.inputs]
        if len(args) == 1 and isinstance(args[0], Mapping) and not kwargs:
            values = dict(args[0])
        else:
            values = dict(zip(names, args), **kwargs)
        if set(values) != set(names):
            raise ValueError(f"inputs must be exactly {', '.join(names)}; got {', '.join(map(str, values))}")
        for name, module in zip(self.scaled_inputs, self.input_scaling):
            values[name] = module(values[name])
        for (layer, _, sources, bias), activation in zip(self.steps, self.activation_modules):
            z = None
            for source, k in sources:
                part = values[source] @ self.weights[k].T
                z = part if z is None else z + part
            if bias is not None:
                z = z + self.biases[bias]
            values[layer] = activation(z)
        out = {name: values[name] for name in self.outputs}
        for name, module in zip(self.scaled_outputs, self.output_scaling):
            out[name] = module(out[name])
        return out[self.outputs[0]] if len(out) == 1 else out


def _module_class(name):
    """The activation module class ``name``: torch's, or one of :data:`_OWN_MODULES`."""
    return _OWN_MODULES[name] if name in _OWN_MODULES else getattr(nn, name)


def _activation_module(activation, dtype):
    """The module ``activation`` declares as its torch equivalent, for data of ``dtype``."""
    cls = _module_class(activation.torch.name)
    params = dict(activation.torch.params)
    if cls is nn.Softplus:     # linear above the threshold: far enough that this is below rounding
        params["threshold"] = 40.0 if dtype == torch.float64 else _SOFTPLUS_LINEAR
    return cls(**params)


# -- matnet → torch ----------------------------------------------------------------

@on_host
def to_torch(net, dtype=None):
    """``net`` as a PyTorch module with the same outputs (in eval mode).

    Parameters
    ----------
    net : Network
        A static network with built-in activations.
    dtype : {"float32", "float64"}, optional
        Default: the network's dtype.

    Returns
    -------
    torch.nn.Sequential or MatnetModule
        An ``nn.Sequential`` for a chain ``x → h1 → ... → y`` (one input, each layer
        fed only by the one before, the last layer the only output), with :class:`Affine`
        modules first/last for input/output scaling; a :class:`MatnetModule`
        otherwise.
    """
    check_static(net, "to_torch")
    if dtype is not None:
        net = net.astype(dtype)
    module = _sequential(net) if is_chain(net) else _dag_module(net)
    return module.eval()


def _tensor(array):
    return torch.from_numpy(np.array(array, copy=True))


def _affines(net):
    inputs = {k: Affine(_tensor(s.scale), _tensor(s.shift), s.kind, _tensor(s.value))
              for k, s in net.input_scaling.items() if k in net.inputs}
    outputs = {}
    for k, s in net.output_scaling.items():
        inverse, offset = s.inverse_scale, s.offset
        outputs[k] = Affine(_tensor(inverse), _tensor(offset), s.kind, _tensor(s.value))
    return inputs, outputs


def _sequential(net):
    dtype = getattr(torch, net.dtype.name)
    scale_in, scale_out = _affines(net)
    modules = list(scale_in.values())
    for name in net.topological_order():
        layer = net.layers[name]
        W = net.weights[net.incoming(name)[0].key]
        linear = nn.Linear(W.shape[1], W.shape[0], bias=layer.bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(_tensor(W))
            if layer.bias:
                linear.bias.copy_(_tensor(net.biases[name]))
        modules.append(linear)
        if layer.activation.name != "linear":
            modules.append(_activation_module(layer.activation, dtype))
    modules.extend(scale_out[k] for k in net.outputs if k in scale_out)
    return nn.Sequential(*modules)


def _dag_module(net):
    weights, biases, steps = [], [], []
    for name in net.topological_order():
        sources = []
        for c in net.incoming(name):
            sources.append((c.source, len(weights)))
            weights.append(_tensor(net.weights[c.key]))
        if not sources:   # Z = 0 (+ b): a zero weight from the first input gives the batch shape
            first, width = next(iter(net.inputs.items()))
            sources.append((first, len(weights)))
            weights.append(_tensor(np.zeros((net.layers[name].size, width), net.dtype)))
        bias = None
        if net.layers[name].bias:
            bias = len(biases)
            biases.append(_tensor(net.biases[name]))
        steps.append((name, net.layers[name].activation.name, sources, bias))
    scale_in, scale_out = _affines(net)
    return MatnetModule(list(net.inputs.items()), steps, net.outputs, weights, biases, scale_in, scale_out)


# -- torch → matnet ----------------------------------------------------------------

def from_torch(module, architecture=None, dtype=None, prefix=""):
    """A matnet network from a PyTorch module or a state dict.

    Parameters
    ----------
    module : torch.nn.Module or mapping
        An ``nn.Sequential`` (nested ones are flattened) or ``nn.Linear`` made of the
        modules listed in the module docstring, or a :class:`MatnetModule`; or a
        ``state_dict`` (tensors or NumPy arrays) of such an ``nn.Sequential``.
    architecture : sequence, optional
        Needed with a state dict: one entry per module of the ``nn.Sequential``, in
        order: an int ``n`` for ``nn.Linear(…, n)`` (checked against the weights),
        an activation name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``,
        ``"elu"``, ``"softplus"``, ``"softmax"``, ``"satlin"``, ``"satlins"``,
        ``"hardlim"``) or ``"identity"``.  E.g. ``[8, "relu", 3, "softmax"]`` for
        ``nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(-1))``,
        whose keys are ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``.
    dtype : {"float32", "float64"}, optional
        Default: the dtype of the weights.
    prefix : str
        Prefix of the state dict's keys (e.g. ``"model."``).

    Returns
    -------
    Network
        A chain named ``x, h1, ..., y`` (as :func:`matnet.mlp`), or the network a
        :class:`MatnetModule` was made from.
    """
    if isinstance(module, Mapping):
        if architecture is None:
            raise ValueError("from_torch of a state dict needs architecture=[...]: one entry per module, "
                             "an int for nn.Linear's output size or an activation name")
        return _from_state_dict(module, architecture, dtype, prefix)
    if architecture is not None:
        raise ValueError("architecture= applies to a state dict only; a module describes itself")
    if isinstance(module, MatnetModule):
        return _from_matnet_module(module, dtype)
    if not isinstance(module, (nn.Sequential, nn.Linear)):
        raise TypeError(f"from_torch takes an nn.Sequential, an nn.Linear, a MatnetModule or a state dict, "
                        f"got {type(module).__name__}")
    return _from_modules(_flatten(module), dtype)


def _numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.array(value, copy=True)


def _flatten(module, path=""):
    if isinstance(module, nn.Sequential):
        out = []
        for key, child in module.named_children():
            out.extend(_flatten(child, f"{path}{key}."))
        return out
    return [(path.rstrip(".") or type(module).__name__, module)]


def _activation_of(module):
    """matnet's name for an activation module, ``""`` for a pass-through one, None if unsupported."""
    if _passes_through(module):
        return ""
    activation = activations.from_equivalent("torch", type(module).__name__, _params(module))
    if activation is None or _module_class(activation.torch.name) is not type(module):
        return None
    if type(module) is nn.Softplus and module.threshold < _SOFTPLUS_LINEAR:
        return None
    return activation.name


def _passes_through(module):
    """Whether ``module`` leaves 2-D data as it is: Identity, Dropout (at inference), Flatten(1, -1)."""
    flattens_2d = type(module) is nn.Flatten and (module.start_dim, module.end_dim) == (1, -1)
    return type(module) in _PASS_THROUGH or flattens_2d


def _params(module):
    """The module's constructor arguments (its attributes); on 2-D data ``dim`` 1 (or None) is -1."""
    params = dict(vars(module))
    if params.get("dim", -1) in (1, None):
        params["dim"] = -1
    return params


def _why(module):
    """What ``module`` lacks to be one of matnet's activations, e.g. ``"alpha must be 1 (elu)"``."""
    if type(module) is nn.Flatten:
        return "only Flatten(1, -1) of 2-D data"
    options = [a for a in activations.with_equivalent("torch", type(module).__name__)
               if _module_class(a.torch.name) is type(module)]
    if not options:
        return "not a supported module"
    needs = " or ".join(f"{_requirements(a.torch.params)} ({a.name})" for a in options)
    return needs + (f" and threshold >= {_SOFTPLUS_LINEAR:g}" if type(module) is nn.Softplus else "")


def _requirements(params):
    """``"negative_slope must be 0.01"``; on 2-D data, ``dim`` -1 and 1 are the same axis."""
    return ", ".join(f"{key} must be -1 or 1" if key == "dim" else f"{key} must be {value:g}"
                     for key, value in params.items())


def _supported():
    """The modules from_torch reads, for messages: ``"nn.Linear, Identity, Sigmoid, ..."``."""
    names = dict.fromkeys(activations.get(name).torch.name for name in activations.names())
    return ", ".join(["nn.Linear", *names, "Flatten", "Dropout"])


def _from_modules(modules, dtype):
    """Parse ``[(path, module)]``: [Affine] (Linear [activation])+ [Affine]."""
    weights, biases, acts = [], [], []
    scaling_in = scaling_out = None
    for path, m in modules:
        if isinstance(m, Affine):
            if not weights and scaling_in is None:
                scaling_in = m
            elif weights and scaling_out is None:
                scaling_out = m
            else:
                raise ValueError(f"module {path} (Affine): scaling must come first (inputs) or last (outputs)")
            continue
        if scaling_out is not None:
            raise ValueError(f"module {path} ({type(m).__name__}) follows the output scaling")
        if isinstance(m, nn.Linear):
            weights.append(_numpy(m.weight))
            biases.append(None if m.bias is None else _numpy(m.bias))
            acts.append(None)
            continue
        kind = _activation_of(m)
        if kind is None:
            raise ValueError(f"module {path} ({type(m).__name__}): {_why(m)}; from_torch takes {_supported()}")
        if kind == "":
            continue
        if not acts or acts[-1] is not None:
            raise ValueError(f"module {path} ({type(m).__name__}) must follow an nn.Linear "
                             "(matnet layers are a weighted sum and one activation)")
        acts[-1] = kind
    if not weights:
        raise ValueError("the module has no nn.Linear layer")
    net = _chain(weights, biases, [a or "linear" for a in acts], dtype)
    _set_affine_scaling(net, scaling_in, scaling_out)
    return net


def _chain(weights, biases, kinds, dtype):
    """The network ``x → h1 → ... → y`` of these matrices and activation names."""
    if dtype is None:
        dtype = np.float32 if {w.dtype for w in weights} == {np.dtype(np.float32)} else np.float64
    return Network.from_matrices([np.asarray(w, dtype) for w in weights],
                                 [None if b is None else np.asarray(b, dtype) for b in biases],
                                 kinds, dtype=dtype)


def _set_affine_scaling(net, scaling_in, scaling_out):
    if scaling_in is not None:
        arrays = [np.broadcast_to(_numpy(a), (net.inputs["x"],)).astype(net.dtype)
                  for a in (scaling_in.scale, scaling_in.shift, scaling_in.value)]
        net.input_scaling["x"] = Scaling(scaling_in.kind, *arrays)
    if scaling_out is not None:
        size = net.layers["y"].size
        net.output_scaling["y"] = scaling_from_inverse(
            *(np.broadcast_to(_numpy(a), (size,)) for a in (scaling_out.scale, scaling_out.shift)),
            kind=scaling_out.kind, value=np.broadcast_to(_numpy(scaling_out.value), (size,)), dtype=net.dtype)


def _from_state_dict(state, architecture, dtype, prefix):
    state = {k: _numpy(v) for k, v in state.items()}
    weights, biases, acts, used = [], [], [], set()
    for index, entry in enumerate(architecture):
        key = f"{prefix}{index}"
        if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
            if f"{key}.weight" not in state:
                raise ValueError(f"state dict has no {key}.weight for architecture entry {index} (Linear → {entry})")
            W = state[f"{key}.weight"]
            if W.ndim != 2 or W.shape[0] != entry or (weights and W.shape[1] != weights[-1].shape[0]):
                expected = f"({entry}, {weights[-1].shape[0] if weights else 'n_in'})"
                raise ValueError(f"{key}.weight has shape {W.shape}; architecture entry {index} needs {expected}")
            b = state.get(f"{key}.bias")
            if b is not None and b.shape != (entry,):
                raise ValueError(f"{key}.bias has shape {b.shape}; expected ({entry},)")
            used.update({f"{key}.weight", f"{key}.bias"})
            weights.append(W)
            biases.append(b)
            acts.append(None)
        elif isinstance(entry, str) and entry.lower() in ("identity", "flatten", "dropout"):
            continue
        elif isinstance(entry, str):
            kind = activations.get(entry).name
            if not acts or acts[-1] is not None:
                raise ValueError(f"architecture entry {index} ({entry!r}) must follow a Linear size")
            acts[-1] = kind
        else:
            raise ValueError(f"architecture entry {index} must be an int (Linear output size) or an "
                             f"activation name, got {entry!r}")
    extra = sorted(set(state) - used)
    if extra:
        raise ValueError(f"state dict entries not described by the architecture: {', '.join(extra)}")
    if not weights:
        raise ValueError("architecture has no Linear entry (an int)")
    return _chain(weights, biases, [a or "linear" for a in acts], dtype)


def _from_matnet_module(module, dtype):
    params = [_numpy(w) for w in module.weights]
    dtype = dtype or (params[0].dtype if params else np.float64)
    net = Network(dtype=dtype)
    for name, size in module.inputs:
        net.add_input(name, size)
    for layer, kind, sources, bias in module.steps:
        net.add_layer(layer, params[sources[0][1]].shape[0], kind, bias=bias is not None)
    for layer, _, sources, _ in module.steps:
        for source, k in sources:
            net.connect(source, layer, params[k].astype(dtype))
    for layer, _, _, bias in module.steps:
        if bias is not None:
            net.biases[layer] = _numpy(module.biases[bias])
    net.outputs = module.outputs
    for name, m in zip(module.scaled_inputs, module.input_scaling):
        net.input_scaling[name] = Scaling(m.kind, *(_numpy(a).astype(net.dtype) for a in (m.scale, m.shift, m.value)))
    for name, m in zip(module.scaled_outputs, module.output_scaling):
        net.output_scaling[name] = scaling_from_inverse(_numpy(m.scale), _numpy(m.shift), m.kind,
                                                         _numpy(m.value), net.dtype)
    return net
