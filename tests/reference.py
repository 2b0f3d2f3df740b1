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
