"""The seed document's multilayer-perceptron GAN, with its exact layer sizes.

Generator:      noise (latent_dim = 100) -> 256 -> ReLU -> 512 -> ReLU -> out -> tanh
Discriminator:  in -> 512 -> LeakyReLU(0.2) -> 256 -> LeakyReLU(0.2) -> 1

The seed ends the discriminator with a sigmoid and takes `log` of its output; that saturates
(see ganlib.losses). Here the discriminator returns a *logit* by default, and
`output="probability"` restores the seed's sigmoid so notebook 01/02 can show why it breaks.

Notebook: 02_first_gan.ipynb
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Generator(nn.Module):
    """z (batch, latent_dim) -> sample (batch, out_features) in [-1, 1] (tanh).

    output_activation="tanh" (the seed's; audio lives in [-1, 1]) or None for an unbounded
    linear output, e.g. for toy data outside [-1, 1] such as the ring of Gaussians.
    """

    def __init__(self, out_features: int, latent_dim: int = 100, hidden: Sequence[int] = (256, 512),
                 output_activation: str | None = "tanh"):
        super().__init__()
        if out_features < 1 or latent_dim < 1:
            raise ValueError(f"out_features={out_features} and latent_dim={latent_dim} must be >= 1")
        if output_activation not in ("tanh", None):
            raise ValueError(f"output_activation must be 'tanh' or None, got {output_activation!r}")
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        width = latent_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers += [nn.Linear(width, out_features), nn.Tanh() if output_activation == "tanh" else nn.Identity()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """x (batch, in_features) -> logit (batch, 1); probability (batch, 1) with output="probability"."""

    def __init__(self, in_features: int, hidden: Sequence[int] = (512, 256),
                 output: str = "logits", spectral_norm: bool = False):
        super().__init__()
        if output not in ("logits", "probability"):
            raise ValueError(f"output must be 'logits' or 'probability', got {output!r}")
        self.output = output
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [wrap(nn.Linear(width, size)), nn.LeakyReLU(0.2)]
            width = size
        layers.append(wrap(nn.Linear(width, 1)))
        if output == "probability":
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)

