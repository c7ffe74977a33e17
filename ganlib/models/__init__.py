"""Model families of the course, one file a family: mlp, wavegan (and SpecGAN), classifier, hifigan, fourier (Fourier-head vocoders)."""
from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


from . import classifier, fourier, hifigan, mlp, wavegan  # noqa: E402  (after count_parameters, which model files may import)
