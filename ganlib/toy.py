"""Toy data for the first chapters: a 1-D Gaussian mixture, a ring of Gaussians, random tones.

Every sampler draws from torch's global random generator, so `ganlib.config.seed_everything`
makes it reproducible and `ganlib.train` can resume it exactly.

Notebooks: 02_first_gan.ipynb (mixture, tones), 03_stabilizing_gans.ipynb (ring, coverage).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch


def gaussian_mixture_1d(n: int, means: Sequence[float] = (-0.5, 0.5), stds: Sequence[float] = (0.1, 0.1),
                        weights: Sequence[float] | None = None) -> torch.Tensor:
    """n samples (n, 1) of a 1-D mixture of Gaussians."""
    if len(means) != len(stds):
        raise ValueError(f"{len(means)} means but {len(stds)} stds")
    weights = torch.as_tensor(weights if weights is not None else [1.0] * len(means), dtype=torch.float)
    component = torch.multinomial(weights / weights.sum(), n, replacement=True)
    means_t, stds_t = torch.tensor(means, dtype=torch.float), torch.tensor(stds, dtype=torch.float)
    return (means_t[component] + stds_t[component] * torch.randn(n)).unsqueeze(1)


def mixture_density_1d(x: torch.Tensor, means=(-0.5, 0.5), stds=(0.1, 0.1), weights=None) -> torch.Tensor:
    """The exact density of gaussian_mixture_1d at points x (any shape)."""
    weights = torch.as_tensor(weights if weights is not None else [1.0] * len(means), dtype=torch.float)
    weights = weights / weights.sum()
    density = torch.zeros_like(x, dtype=torch.float)
    for w, m, s in zip(weights, means, stds):
        density = density + w * torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return density


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (n_modes, 2) centres of a ring of Gaussians."""
    angles = torch.arange(n_modes, dtype=torch.float) * (2 * math.pi / n_modes)
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def ring_of_gaussians(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.05) -> torch.Tensor:
    """n samples (n, 2) from n_modes Gaussians evenly spaced on a circle (Metz et al., 2017)."""
    centers = ring_centers(n_modes, radius)
    mode = torch.randint(n_modes, (n,))
    return centers[mode] + std * torch.randn(n, 2)


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float = 0.05,
                  n_std: float = 3.0, min_fraction: float = 0.01) -> dict:
    """How well samples (n, d) cover the modes at `centers` (k, d).

    A sample is "high quality" if it lies within n_std * std of its nearest centre. A mode is
    covered if at least `min_fraction` of all samples are high-quality samples next to it, so
    a few stray points do not count as coverage. Returns modes_covered (int), high_quality
    (fraction of samples, float) and counts (high-quality samples per mode, list).
    Notebook: 03_stabilizing_gans.ipynb
    """
    samples = samples.detach().float().cpu()
    distances = torch.cdist(samples, centers.float())
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance < n_std * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return {"modes_covered": int((counts >= min_fraction * len(samples)).sum()),
            "high_quality": float(good.float().mean()),
            "counts": counts.tolist()}


def random_tones(n: int, length: int = 1024, sample_rate: int = 16000, f_min: float = 220.0,
                 f_max: float = 880.0, amplitude: float = 0.8) -> torch.Tensor:
    """n frames (n, length) of pure tones with log-uniform random pitch in [f_min, f_max] Hz
    and random phase: the simplest 'audio' a GAN can learn. Notebook: 02_first_gan.ipynb"""
    if not 0 < f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 < f_min < f_max <= sample_rate / 2, got f_min={f_min}, "
                         f"f_max={f_max}, sample_rate={sample_rate}")
    log_f = math.log(f_min) + torch.rand(n, 1) * (math.log(f_max) - math.log(f_min))
    phase = 2 * math.pi * torch.rand(n, 1)
    t = torch.arange(length, dtype=torch.float) / sample_rate
    return amplitude * torch.sin(2 * math.pi * torch.exp(log_f) * t + phase)


class Sampler:
    """An endless-data stand-in for a DataLoader: each pass yields `batches_per_epoch`
    fresh batches `sample(batch_size)` (drawn from torch's global generator).

        data = Sampler(lambda n: ring_of_gaussians(n), batch_size=256)
    """

    def __init__(self, sample: Callable[[int], torch.Tensor], batch_size: int, batches_per_epoch: int = 100):
        if batch_size < 1 or batches_per_epoch < 1:
            raise ValueError(f"batch_size={batch_size} and batches_per_epoch={batches_per_epoch} must be >= 1")
        self.sample, self.batch_size, self.batches_per_epoch = sample, batch_size, batches_per_epoch

    def __iter__(self):
        for _ in range(self.batches_per_epoch):
            yield self.sample(self.batch_size)

    def __len__(self) -> int:
        return self.batches_per_epoch
