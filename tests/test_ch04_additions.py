"""ganlib.viz.interpolate_latents, the latent path of chapter 04's interpolation widget."""
import math

import pytest
import torch

from ganlib.viz import interpolate_latents


def test_both_paths_start_and_end_at_the_endpoints():
    generator = torch.Generator().manual_seed(0)
    start, end = torch.randn(100, generator=generator), torch.randn(100, generator=generator)
    for spherical in (True, False):
        path = interpolate_latents(start, end, [0.0, 1.0], spherical=spherical)
        assert path.shape == (2, 100)
        assert torch.allclose(path[0], start, atol=1e-5) and torch.allclose(path[1], end, atol=1e-5)
        assert interpolate_latents(start, end, 0.5, spherical=spherical).shape == (100,)


def test_the_line_is_the_weighted_mean():
    start, end = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    assert torch.allclose(interpolate_latents(start, end, 0.25, spherical=False), torch.tensor([0.75, 0.75]))


def test_slerp_keeps_the_norm_and_turns_at_a_constant_rate():
    start, end = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])  # a quarter circle of radius 2
    path = interpolate_latents(start, end, torch.linspace(0, 1, 7))
    assert torch.allclose(path.norm(dim=1), torch.full((7,), 2.0), atol=1e-5)
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles, torch.linspace(0, math.pi / 2, 7), atol=1e-5)


def test_gaussian_midpoints_the_line_shrinks_and_slerp_does_not():
    generator = torch.Generator().manual_seed(1)
    start, end = torch.randn(512, generator=generator), torch.randn(512, generator=generator)
    line = interpolate_latents(start, end, 0.5, spherical=False).norm() / start.norm()
    arc = interpolate_latents(start, end, 0.5).norm() / start.norm()
    assert 0.6 < line < 0.8 and 0.9 < arc < 1.1


def test_parallel_vectors_fall_back_to_the_line_and_shapes_are_checked():
    start = torch.tensor([1.0, 1.0])
    assert torch.allclose(interpolate_latents(start, 3 * start, 0.5), 2 * start)
    with pytest.raises(ValueError, match="same size"):
        interpolate_latents(torch.zeros(3), torch.zeros(4), 0.5)
