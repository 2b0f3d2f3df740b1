"""Independent reference implementations in PyTorch, used only by tests."""
import numpy as np
import torch
import torch.nn.functional as F

TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "softplus": F.softplus,
    "softmax": lambda z: torch.softmax(z, dim=1),
    "satlin": lambda z: torch.clamp(z, 0, 1),
    "satlins": lambda z: torch.clamp(z, -1, 1),
    "hardlim": lambda z: (z >= 0).to(z.dtype),
}


def torch_params(net, requires_grad=False):
    """The network's weights and biases as torch tensors (copies)."""
    W = {k: torch.tensor(np.array(v), requires_grad=requires_grad) for k, v in net.weights.items()}
    b = {k: torch.tensor(np.array(v), requires_grad=requires_grad) for k, v in net.biases.items()}
    return W, b


def torch_forward(net, X, W=None, b=None):
    """Outputs of a static matnet network computed with torch, layer by layer."""
    if W is None:
        W, b = torch_params(net)
    dtype = W[next(iter(W))].dtype if W else torch.float64
    X = X if isinstance(X, dict) else {next(iter(net.inputs)): X}
    values = {k: torch.tensor(np.asarray(v), dtype=dtype) for k, v in X.items()}
    for name in net.topological_order():
        z = 0
        for c in net.incoming(name):
            z = z + torch.nn.functional.linear(values[c.source], W[c.key])
        if name in b:
            z = z + b[name]
        values[name] = TORCH_ACTIVATIONS[net.layers[name].activation.name](z)
    return {name: values[name] for name in net.outputs}


def torch_loss(net, X, T, loss, l2=0.0, sample_weight=None):
    """Loss of design.md §4 computed with torch autograd; returns (value, grads dict)."""
    W, b = torch_params(net, requires_grad=True)
    dtype = next(iter(W.values())).dtype
    X = X if isinstance(X, dict) else {next(iter(net.inputs)): X}
    values = {k: torch.tensor(np.asarray(v), dtype=dtype) for k, v in X.items()}
    z = {}
    for name in net.topological_order():
        acc = 0
        for c in net.incoming(name):
            acc = acc + F.linear(values[c.source], W[c.key])
        if name in b:
            acc = acc + b[name]
        z[name] = acc
        values[name] = TORCH_ACTIVATIONS[net.layers[name].activation.name](acc)
    T = T if isinstance(T, dict) else {net.outputs[0]: T}
    n = next(iter(T.values())).shape[0]
    w = torch.ones(n, dtype=dtype) if sample_weight is None else torch.tensor(sample_weight, dtype=dtype)
    k_total = sum(np.asarray(T[o]).shape[1] for o in net.outputs)
    total = 0
    for o in net.outputs:
        t = torch.tensor(np.asarray(T[o]), dtype=dtype)
        if loss in ("mse", "sse"):
            per = ((values[o] - t) ** 2).sum(dim=1)
        elif loss == "cross_entropy":
            per = -(t * torch.log_softmax(z[o], dim=1)).sum(dim=1)
        else:
            y = values[o]
            per = -(t * torch.log(y) + (1 - t) * torch.log(1 - y)).sum(dim=1)
        total = total + (w * per).sum()
    norm = {"mse": w.sum() * k_total, "sse": 1.0, "cross_entropy": w.sum(),
            "binary_cross_entropy": w.sum() * k_total}[loss]
    value = total / norm
    if l2:
        value = value + 0.5 * l2 * sum((v ** 2).sum() for v in W.values())
    value.backward()
    grad = lambda v: np.zeros(tuple(v.shape)) if v.grad is None else v.grad.numpy()  # noqa: E731
    return value.item(), {k: grad(v) for k, v in W.items()}, {k: grad(v) for k, v in b.items()}


def torch_simulate(net, U, W=None, b=None):
    """A dynamic network unrolled in time with torch (one series, zero initial states)."""
    if W is None:
        W, b = torch_params(net)
    dtype = next(iter(W.values())).dtype
    U = U if isinstance(U, dict) else {next(iter(net.inputs)): U}
    T = next(iter(U.values())).shape[0]
    history = {name: [] for name in [*net.inputs, *net.layers]}

    def value(name, t):
        size = net.size_of(name)
        return history[name][t] if t >= 0 else torch.zeros(size, dtype=dtype)
    for t in range(T):
        for name, u in U.items():
            history[name].append(torch.tensor(np.asarray(u[t]), dtype=dtype))
        for name in net.topological_order():
            z = b[name] if name in b else torch.zeros(net.layers[name].size, dtype=dtype)
            for c in net.incoming(name):
                stacked = torch.cat([value(c.source, t - d) for d in c.delays])
                z = z + W[c.key] @ stacked
            history[name].append(TORCH_ACTIVATIONS[net.layers[name].activation.name](z[None])[0])
    return {name: torch.stack(history[name]) for name in net.outputs}


def numeric_jacobian(net, errors, h=1e-6):
    """Central differences of ``errors()`` (a flat vector computed from ``net``) with
    respect to every parameter; the parameters are restored afterwards."""
    theta = net.get_flat()
    columns = []
    try:
        for p in range(theta.size):
            values = []
            for step in (h, -h):
                shifted = theta.copy()
                shifted[p] += step
                net.set_flat(shifted)
                values.append(np.ravel(errors()))
            columns.append((values[0] - values[1]) / (2 * h))
    finally:
        net.set_flat(theta)
    return np.stack(columns, axis=1)
