"""Solutions to the exercises of notebooks/05_specgan_and_conditional_gans.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch05.py.
"""
import math

import torch


def magnitude(spectrogram, mean, std, clip=3.0):
    """SpecGAN's normalisation undone step by step: [-1, 1] -> z-score (times clip) -> log-magnitude
    (times std, plus mean, per frequency bin) -> linear magnitude (exp). Clipped values stay clipped."""
    return torch.exp(spectrogram.squeeze(1) * clip * std + mean)


def griffin_lim(magnitude, n_iter):
    """Plain Griffin-Lim (1984): start from random phases, then alternate between the waveform
    closest to (magnitude, phase) and the phase of that waveform's STFT."""
    n_fft, hop_length = 256, 128
    window = torch.hann_window(n_fft)
    length = hop_length * (magnitude.shape[-1] - 1)
    phase = torch.polar(torch.ones_like(magnitude), 2 * math.pi * torch.rand(magnitude.shape))
    for _ in range(n_iter):
        waveform = torch.istft(magnitude * phase, n_fft, hop_length, window=window, length=length)
        rebuilt = torch.stft(waveform, n_fft, hop_length, window=window, return_complex=True)
        phase = rebuilt / (rebuilt.abs() + 1e-16)
    return torch.istft(magnitude * phase, n_fft, hop_length, window=window, length=length)


def embedding_table(dense, latent_dim):
    """A linear layer on cat([z, one_hot(y)]) adds column latent_dim + y of its weight: those
    columns, one row per class, are an embedding table."""
    return dense.weight[:, latent_dim:].T.detach()


SOLUTIONS = {
    "05.magnitude": magnitude,
    "05.griffin_lim": griffin_lim,
    "05.one_hot_embedding": embedding_table,
}
