"""Checks for the exercises of chapter 05, SpecGAN and conditional GANs.

Each check calls the student's function on a few cases, compares with a reference (ganlib's
SpecGANTransform, or a measurement of the answer itself) and raises AssertionError with a hint
when it is wrong. Checks run inside torch.random.fork_rng, so they never change the notebook's
random numbers. Notebook: 05_specgan_and_conditional_gans.ipynb
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..models.wavegan import SpecGANTransform
from . import answer_tensor as _tensor

N_FFT, HOP_LENGTH = 256, 128


# --- 05.magnitude -------------------------------------------------------------------------
def check_magnitude(my_magnitude) -> None:
    """my_magnitude(spectrogram, mean, std, clip) turns SpecGAN's normalised log-magnitude
    (batch, 1, 128, 128) in [-1, 1] back into a linear magnitude (batch, 128, 128):
    exp(spectrogram * clip * std + mean), mean and std of shape (128, 1)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        transform = SpecGANTransform()
        transform.mean.copy_(-9 + torch.randn(128, 1))
        transform.std.copy_(3 + torch.rand(128, 1))
        spectrogram = torch.rand(3, 1, 128, 128) * 2 - 1
    for clip in (3.0, 2.0):
        transform.clip = clip
        expected = transform.magnitude(spectrogram)[:, :128].double()  # ganlib adds a silent Nyquist bin
        got = _tensor(my_magnitude(spectrogram.clone(), transform.mean.clone(), transform.std.clone(), clip),
                      "my_magnitude(spectrogram, mean, std, clip)")
        assert got.numel() == expected.numel(), (
            f"expected a magnitude of shape (batch, 128, 128) = {tuple(expected.shape)}, got {tuple(got.shape)}")
        got = got.reshape(expected.shape)
        if torch.allclose(got, expected.log(), rtol=1e-4, atol=1e-4):
            raise AssertionError("that is the log-magnitude: Griffin-Lim needs the linear magnitude, exp(...)")
        if torch.allclose(got, torch.exp(spectrogram.squeeze(1).double() * transform.std.double()
                                          + transform.mean.double()), rtol=1e-4):
            raise AssertionError("undo the division by `clip` too: the forward map divided the clipped "
                                 "z-score by clip to land in [-1, 1]")
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-8), (
            f"with clip = {clip} your magnitude differs from SpecGANTransform.magnitude's (largest relative "
            f"error {((got - expected).abs() / expected).max().item():.3g}). Undo the steps in reverse order: "
            "times clip, times std, plus mean (per frequency bin: broadcast the (128, 1) statistics), then exp.")


# --- 05.griffin_lim -----------------------------------------------------------------------
def _harmonic_clips(n: int = 2, length: int = 8192, sample_rate: int = 8000) -> torch.Tensor:
    """n voiced, gliding harmonic tones (batch, length): a magnitude whose phase matters."""
    t = torch.arange(length) / sample_rate
    clips = []
    for i in range(n):
        f0 = 140.0 + 60.0 * i
        tone = sum(torch.sin(2 * math.pi * k * f0 * (1 + 0.3 * t) * t + k) / k for k in range(1, 8))
        clips.append(0.3 * tone * torch.exp(-((t - 0.5) / 0.2) ** 2))
    return torch.stack(clips)


def spectral_convergence(magnitude: torch.Tensor, waveform: torch.Tensor) -> torch.Tensor:
    """|| |STFT(waveform)| - magnitude ||_F / || magnitude ||_F per example (n_fft 256, hop 128)."""
    rebuilt = torch.stft(waveform.float(), N_FFT, HOP_LENGTH, window=torch.hann_window(N_FFT),
                         return_complex=True).abs()
    return (rebuilt - magnitude).norm(dim=(1, 2)) / magnitude.norm(dim=(1, 2))


def _rounded(values: torch.Tensor) -> list:
    return [round(float(v), 3) for v in values]


def check_griffin_lim(my_griffin_lim) -> None:
    """my_griffin_lim(magnitude, n_iter) -> waveform (batch, 128 * (frames - 1)): Griffin-Lim for
    a magnitude (batch, 129, frames) of n_fft 256, hop 128, Hann window, centred frames."""
    clips = _harmonic_clips()
    magnitude = torch.stft(clips, N_FFT, HOP_LENGTH, window=torch.hann_window(N_FFT), return_complex=True).abs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        random_phase = torch.polar(magnitude, 2 * math.pi * torch.rand(magnitude.shape))
        baseline = spectral_convergence(magnitude, torch.istft(random_phase, N_FFT, HOP_LENGTH,
                                                               window=torch.hann_window(N_FFT),
                                                               length=clips.shape[-1]))
        results = {}
        for n_iter in (2, 50):
            waveform = _tensor(my_griffin_lim(magnitude.clone(), n_iter), f"my_griffin_lim(magnitude, {n_iter})")
            assert waveform.shape == clips.shape, (
                f"for a magnitude of shape {tuple(magnitude.shape)} expected waveforms of shape "
                f"(batch, hop_length * (frames - 1)) = {tuple(clips.shape)}, got {tuple(waveform.shape)}. "
                "torch.istft(..., length=...) sets the length.")
            assert torch.isfinite(waveform).all(), "your waveform has NaN or infinite samples"
            results[n_iter] = spectral_convergence(magnitude, waveform)
    assert (results[50] < 0.6 * baseline).all() and (results[50] < 0.25).all(), (
        f"after 50 iterations the spectral convergence of your waveforms is {_rounded(results[50])}, no "
        f"better than random phases ({_rounded(baseline)}); 50 iterations reach about 0.1. Each iteration: "
        "waveform = istft(magnitude * phase), then phase = angle of stft(waveform), keeping the GIVEN magnitude.")
    assert (results[50] <= results[2] + 0.02).all(), (
        f"more iterations should not make it worse: spectral convergence {_rounded(results[2])} after 2 "
        f"iterations, {_rounded(results[50])} after 50")


# --- 05.one_hot_embedding -----------------------------------------------------------------
def check_one_hot_embedding(my_embedding_table) -> None:
    """my_embedding_table(dense, latent_dim) -> table (num_classes, out_features) such that
    dense(cat([z, one_hot(y)])) == dense(cat([z, zeros])) + table[y]."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        for latent_dim, num_classes, out_features in ((4, 3, 6), (100, 10, 64)):
            dense = nn.Linear(latent_dim + num_classes, out_features)
            z = torch.randn(8, latent_dim)
            labels = torch.randint(num_classes, (8,))
            table = _tensor(my_embedding_table(dense, latent_dim), "my_embedding_table(dense, latent_dim)")
            if table.shape == (out_features, num_classes):
                raise AssertionError(f"your table has shape (out_features, num_classes) = {tuple(table.shape)}: "
                                     "transpose it, one row per class")
            assert table.shape == (num_classes, out_features), (
                f"for dense = nn.Linear({latent_dim} + {num_classes}, {out_features}) expected a table of shape "
                f"(num_classes, out_features) = ({num_classes}, {out_features}), got {tuple(table.shape)}")
            with torch.no_grad():
                one_hot = dense(torch.cat([z, F.one_hot(labels, num_classes).float()], dim=1))
                without = dense(torch.cat([z, torch.zeros(8, num_classes)], dim=1))
            assert torch.allclose(without.double() + table[labels], one_hot.double(), atol=1e-5), (
                "dense(cat([z, one_hot(y)])) - dense(cat([z, 0])) should equal table[y]: the one-hot vector "
                "picks one column of dense.weight (which columns multiply the one-hot part?), and the bias "
                "is already in dense(cat([z, 0])).")


CHECKS = {
    "05.magnitude": check_magnitude,
    "05.griffin_lim": check_griffin_lim,
    "05.one_hot_embedding": check_one_hot_embedding,
}
