"""Solutions to the exercises of notebooks/03_stabilizing_gans.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch03.py.
"""
import torch
import torch.nn.functional as F


def r1_penalty(discriminator, real):
    """E[||grad_x D(x)||^2] over the real batch (Mescheder et al., 2018), differentiable in D's
    weights: create_graph=True keeps the graph of the gradient so the penalty can be backpropagated."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def power_iteration(weight, v):
    """One power-iteration step for the largest singular value of weight (out, in), in the order
    torch.nn.utils.parametrizations.spectral_norm uses: u from v, then v from u."""
    u = F.normalize(weight @ v, dim=0)
    v_next = F.normalize(weight.T @ u, dim=0)
    sigma = torch.dot(u, weight @ v_next)
    return sigma, v_next


def mode_coverage(samples, centers, std):
    """(modes covered, fraction of high-quality samples), as ganlib.toy.mode_coverage with
    n_std = 3 and min_fraction = 0.01."""
    nearest_distance, nearest = torch.cdist(samples, centers).min(dim=1)
    good = nearest_distance < 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    modes_covered = int((counts >= 0.01 * len(samples)).sum())
    return modes_covered, good.float().mean().item()


SOLUTIONS = {
    "03.r1_penalty": r1_penalty,
    "03.power_iteration": power_iteration,
    "03.mode_coverage": mode_coverage,
}
