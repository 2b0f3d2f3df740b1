"""The update rules against torch.optim on the same gradient sequence."""
import numpy as np
import pytest
import torch

from matnet.train import SGD, Adam, RMSprop, Rprop


def _gradients(n=6, size=5, seed=0):
    return [np.random.default_rng(seed + k).normal(size=size) for k in range(n)]


@pytest.mark.parametrize("ours,theirs", [
    (lambda: SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: SGD(lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: SGD(lr=0.1, momentum=0.9, nesterov=True), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    (lambda: Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (lambda: RMSprop(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
])
def test_updates_match_torch(ours, theirs):
    theta = np.linspace(-1, 1, 5)
    param = torch.nn.Parameter(torch.tensor(theta.copy()))
    opt, topt = ours(), theirs([param])
    for g in _gradients():
        opt.step(theta, g)
        param.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(theta, param.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_rprop_plus_backtracks_and_trainrp_does_not():
    grads = [np.array([1.0]), np.array([1.0]), np.array([-1.0]), np.array([-1.0])]
    for backtracking, expected in [(True, [-0.07, -0.154, -0.07, -0.028]),     # flip: step undone, then +delta/2
                                   (False, [-0.07, -0.154, -0.112, -0.0616])]:
        theta, opt, path = np.zeros(1), Rprop(backtracking=backtracking), []
        for g in grads:
            opt.step(theta, g)
            path.append(theta[0])
        np.testing.assert_allclose(path, expected, rtol=1e-12)
