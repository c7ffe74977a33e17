"""Checks for the exercises of chapter 03, stabilising GANs.

Each check calls the student's function on a few cases, compares with a reference (ganlib or
torch.linalg) and raises AssertionError with a hint when it is wrong. The checks draw their
test data from private generators, so they leave the notebook's random state alone.
Notebook: 03_stabilizing_gans.ipynb
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses, toy


def _scalar(value, what: str) -> torch.Tensor:
    assert value is not None, f"{what} returned None: did you forget `return`?"
    assert isinstance(value, torch.Tensor), (
        f"{what} should return a torch tensor (computed with autograd), got {type(value).__name__}")
    assert value.numel() == 1, f"{what} should be one number (a mean over the batch), got shape {tuple(value.shape)}"
    return value


def _small_discriminator(seed: int, in_features: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(in_features, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16),
                             nn.Tanh(), nn.Linear(16, 1))


def check_r1_penalty(my_r1_penalty) -> None:
    """my_r1_penalty(discriminator, real) -> E[||grad_x D(x)||^2] on the real batch, differentiable
    with respect to the discriminator's weights (like ganlib.losses.r1_penalty)."""
    generator = torch.Generator().manual_seed(3)

    def quadratic(x):  # D(x) = sum of squares: grad = 2x, so ||grad||^2 = 4 ||x||^2
        return (x ** 2).flatten(1).sum(dim=1, keepdim=True)

    real = torch.randn(5, 2, generator=generator)
    got = _scalar(my_r1_penalty(quadratic, real.clone()), "my_r1_penalty(D, real)")
    expected = 4 * real.pow(2).sum(dim=1).mean()
    if torch.allclose(got.detach(), expected.sqrt(), atol=1e-4) or \
            torch.allclose(got.detach(), 2 * real.norm(dim=1).mean(), atol=1e-4):
        raise AssertionError("R1 uses the *squared* gradient norm: sum the squares over each example's "
                             "features, then average over the batch")
    assert torch.allclose(got.detach(), expected, rtol=1e-4), (
        f"for D(x) = ||x||^2 (gradient 2x) expected E||2x||^2 = {expected.item():.5f}, got {got.item():.5f}. "
        "Sum the squared gradient over each example's features, then average over the batch.")

    cases = [("a 2-D MLP discriminator", _small_discriminator(0, 2), torch.randn(32, 2, generator=generator)),
             ("examples of shape (3, 4)", nn.Sequential(nn.Flatten(), _small_discriminator(1, 12)),
              torch.randn(16, 3, 4, generator=generator))]
    for name, discriminator, real in cases:
        answer = _scalar(my_r1_penalty(discriminator, real.clone()), "my_r1_penalty(D, real)")
        reference = losses.r1_penalty(discriminator, real.clone())
        assert torch.allclose(answer.detach(), reference.detach(), rtol=1e-4, atol=1e-7), (
            f"with {name} expected {reference.item():.6g}, got {answer.item():.6g}. Take the gradient of "
            "D(real).sum() with respect to real (torch.autograd.grad), flatten each example, square, sum, mean.")
        assert answer.requires_grad, (
            "the penalty must be differentiable with respect to D's weights, or it cannot regularise D: "
            "call torch.autograd.grad(..., create_graph=True)")
        params = list(discriminator.parameters())
        mine = torch.autograd.grad(answer, params, allow_unused=True)
        theirs = torch.autograd.grad(reference, params, allow_unused=True)  # the last bias has no say
        for a, b in zip(mine, theirs):
            if a is None and b is None:
                continue
            a = torch.zeros_like(b) if a is None else a
            b = torch.zeros_like(a) if b is None else b
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-7), (
                f"with {name} the penalty's gradient with respect to D's weights differs from "
                "ganlib.losses.r1_penalty's: did you detach something, or forget create_graph=True?")


def _reference_power_step(weight: torch.Tensor, v: torch.Tensor):
    u = F.normalize(weight @ v, dim=0)
    v_next = F.normalize(weight.T @ u, dim=0)
    return torch.dot(u, weight @ v_next), v_next


def _pair(value, what: str):
    assert isinstance(value, (tuple, list)) and len(value) == 2, (
        f"{what} should return a pair (sigma, v_next), got {type(value).__name__}")
    sigma, v_next = value
    assert isinstance(v_next, torch.Tensor), "v_next should be a tensor (a vector of size in_features)"
    sigma = torch.as_tensor(sigma, dtype=v_next.dtype)
    assert sigma.numel() == 1, f"sigma should be one number, got shape {tuple(sigma.shape)}"
    return sigma.reshape(()), v_next


def check_power_iteration(my_power_iteration) -> None:
    """my_power_iteration(weight, v) -> (sigma, v_next): one step u = W v / ||W v||,
    v_next = W^T u / ||W^T u||, sigma = u . (W v_next); repeated, sigma -> the spectral norm."""
    diagonal = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    start = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    sigma, v_next = _pair(my_power_iteration(diagonal, start.clone()), "my_power_iteration(W, v)")
    assert v_next.shape == (2,), f"v_next should have shape (in_features,) = (2,), got {tuple(v_next.shape)}"
    expected_sigma, expected_v = _reference_power_step(diagonal, start)
    assert torch.allclose(sigma, expected_sigma, atol=1e-5), (
        f"W = diag(3, 1), v = (1, 1)/sqrt(2): one step gives u = (3, 1)/sqrt(10), v_next = (9, 1)/sqrt(82) "
        f"and sigma = u . W v_next = {expected_sigma.item():.4f} (the true sigma is 3); you returned {sigma.item():.4f}")
    assert torch.allclose(v_next, expected_v, atol=1e-5), (
        f"W = diag(3, 1), v = (1, 1)/sqrt(2): v_next should be (9, 1)/sqrt(82) = {expected_v.tolist()}, "
        f"got {v_next.tolist()}. Normalise both u and v_next to unit length.")

    generator = torch.Generator().manual_seed(5)
    weight = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    v = F.normalize(torch.randn(4, generator=generator, dtype=torch.float64), dim=0)
    sigma, v_next = _pair(my_power_iteration(weight.clone(), v.clone()), "my_power_iteration(W, v)")
    expected_sigma, expected_v = _reference_power_step(weight, v)
    assert v_next.shape == (4,), f"for W of shape (6, 4), v_next should have shape (4,), got {tuple(v_next.shape)}"
    assert torch.allclose(sigma.double(), expected_sigma, atol=1e-6) and \
        torch.allclose(v_next.double(), expected_v, atol=1e-6), (
        "for a random (6, 4) matrix your step differs from u = W v / ||W v||, v_next = W^T u / ||W^T u||, "
        "sigma = u . (W v_next)")
    true_sigma = torch.linalg.matrix_norm(weight, ord=2)
    assert sigma.double() <= true_sigma + 1e-9, "sigma = u . W v with unit u and v can never exceed the spectral norm"
    for _ in range(100):
        sigma, v = _pair(my_power_iteration(weight, v), "my_power_iteration(W, v)")
    assert torch.allclose(sigma.double(), true_sigma, rtol=1e-6), (
        f"after 100 steps your estimate is {sigma.item():.6f}, but torch.linalg.matrix_norm(W, ord=2) "
        f"is {true_sigma.item():.6f}")


def check_mode_coverage(my_mode_coverage) -> None:
    """my_mode_coverage(samples, centers, std) -> (modes_covered, high_quality), as
    ganlib.toy.mode_coverage with n_std = 3 and min_fraction = 0.01."""
    centers = toy.ring_centers(8, 2.0)
    generator = torch.Generator().manual_seed(7)

    def around(modes, n, std):
        index = torch.tensor(modes)[torch.randint(len(modes), (n,), generator=generator)]
        return centers[index] + std * torch.randn(n, 2, generator=generator)

    strays = torch.cat([around([0, 1], 995, 0.05), around([5], 5, 0.01)])  # 5 of 1000 at mode 5: < 1 %
    cases = [
        ("samples from all 8 modes", around(list(range(8)), 1000, 0.05)),
        ("a collapsed generator on modes 2 and 3", around([2, 3], 800, 0.05)),
        ("blurry samples (std 0.3) around all modes", around(list(range(8)), 1000, 0.3)),
        ("two modes plus 5 stray points at a third", strays),
    ]
    for name, samples in cases:
        answer = my_mode_coverage(samples.clone(), centers, 0.05)
        assert isinstance(answer, (tuple, list)) and len(answer) == 2, (
            f"return a pair (modes_covered, high_quality), got {type(answer).__name__}")
        modes, quality = answer
        expected = toy.mode_coverage(samples, centers, std=0.05)
        assert int(modes) == expected["modes_covered"], (
            f"for {name} expected {expected['modes_covered']} modes covered, got {int(modes)}. A mode counts "
            "when at least 1 % of ALL samples are high-quality samples next to it.")
        assert math.isclose(float(quality), expected["high_quality"], abs_tol=1e-6), (
            f"for {name} expected a high-quality fraction of {expected['high_quality']:.4f}, got {float(quality):.4f}. "
            "A sample is high quality when its distance to the NEAREST centre is below 3 * std.")


CHECKS = {
    "03.r1_penalty": check_r1_penalty,
    "03.power_iteration": check_power_iteration,
    "03.mode_coverage": check_mode_coverage,
}
