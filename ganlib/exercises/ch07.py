"""Checks for the exercises of chapter 07, GAN vocoders.

Each check calls the student's function on a few cases, compares with ganlib (the period
discriminator's folding, losses.feature_matching_loss, the spectral-convergence term of
losses.multi_resolution_stft_loss) and raises AssertionError with a hint when it is wrong.
Test data come from private generators, so the checks leave the notebook's random state alone.
Notebook: 07_gan_vocoders.ipynb
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import losses
from . import answer_tensor


def check_fold(my_fold) -> None:
    """my_fold(x, period): waveforms (batch, 1, samples) -> (batch, 1, ceil(samples / period),
    period), reflect-padded at the end to a multiple of the period, as a period discriminator
    folds them."""
    generator = torch.Generator().manual_seed(7)
    for samples, period in [(12, 3), (13, 3), (20, 7), (11, 11), (10, 2), (9, 5)]:
        x = torch.randn(2, 1, samples, generator=generator)
        answer = answer_tensor(my_fold(x.clone(), period), "my_fold")
        padded = F.pad(x, (0, (-samples) % period), "reflect") if samples % period else x
        expected = padded.view(2, 1, -1, period).double()
        assert answer.shape == expected.shape, (
            f"{samples} samples, period {period}: expected shape {tuple(expected.shape)} (rows of `period` "
            f"samples, the last row completed by reflect padding), got {tuple(answer.shape)}")
        assert torch.allclose(answer, expected), (
            f"{samples} samples, period {period}: the values differ. Row r holds samples r * period ... "
            f"r * period + period - 1, so column c holds every period-th sample from c; pad the end with "
            f"F.pad(x, (0, n), 'reflect') first, n = period - samples % period when that is not zero.")


def check_feature_matching(my_feature_matching) -> None:
    """my_feature_matching(real_features, fake_features) -> sum over the feature maps of
    mean |real - fake| (nested lists, one list per sub-discriminator)."""
    generator = torch.Generator().manual_seed(8)

    def maps(*shapes):
        return [torch.randn(*shape, generator=generator) for shape in shapes]

    real = [maps((2, 4, 10), (2, 8, 5)), maps((2, 3, 7, 2))]
    fake = [maps((2, 4, 10), (2, 8, 5)), maps((2, 3, 7, 2))]
    answer = answer_tensor(my_feature_matching(real, fake), "my_feature_matching")
    expected = losses.feature_matching_loss(real, fake).double()
    assert answer.numel() == 1, f"return one number (a scalar tensor), got shape {tuple(answer.shape)}"
    per_map_sum = sum((r - f).abs().sum() for rs, fs in zip(real, fake) for r, f in zip(rs, fs)).double()
    assert not torch.isclose(answer.reshape(()), per_map_sum), (
        "that sums |real - fake| over every element; take the mean over each feature map, then sum the means")
    assert torch.isclose(answer.reshape(()), expected), (
        f"expected {float(expected):.6f}, got {float(answer):.6f}: the sum over every sub-discriminator's "
        f"every feature map of mean |real - fake|")
    same = answer_tensor(my_feature_matching(real, real), "my_feature_matching")
    assert float(same) == 0.0, f"identical features should give 0, got {float(same)}"


def check_spectral_convergence(my_spectral_convergence) -> None:
    """my_spectral_convergence(fake, real, n_fft, hop_length, win_length) -> ||S_real - S_fake||_F
    / ||S_real||_F with S = |STFT| (Hann window of win_length, centred)."""
    generator = torch.Generator().manual_seed(9)
    real = torch.randn(4000, generator=generator)
    fake = real + 0.3 * torch.randn(4000, generator=generator)
    for n_fft, hop, window in [(512, 50, 240), (1024, 120, 600)]:
        answer = answer_tensor(my_spectral_convergence(fake, real, n_fft, hop, window), "my_spectral_convergence")
        only = losses.multi_resolution_stft_loss
        args = dict(n_fft=n_fft, hop_length=hop, win_length=window, window=torch.hann_window(window),
                    center=True, return_complex=True)
        s_fake, s_real = torch.stft(fake, **args).abs(), torch.stft(real, **args).abs()
        expected = (torch.linalg.norm(s_real - s_fake) / torch.linalg.norm(s_real)).double()
        assert answer.numel() == 1, f"return one number, got shape {tuple(answer.shape)}"
        assert torch.isclose(answer.reshape(()), expected, rtol=1e-4), (
            f"n_fft {n_fft}, hop {hop}, window {window}: expected {float(expected):.5f}, got {float(answer):.5f}. "
            f"Magnitudes of torch.stft(..., window=torch.hann_window(win_length), center=True, "
            f"return_complex=True), then the Frobenius norm of their difference over that of the real one.")
        # the full loss adds the log-magnitude term and averages the resolutions
        assert float(only(fake, real, [(n_fft, hop, window)])) > float(answer)
    double = answer_tensor(my_spectral_convergence(2 * real, real, 512, 50, 240), "my_spectral_convergence")
    assert torch.isclose(double.reshape(()), torch.tensor(1.0, dtype=torch.float64), rtol=1e-4), (
        f"twice the real signal has |S_fake| = 2 |S_real|, so the convergence is exactly 1; got {float(double):.5f}")


CHECKS = {
    "07.fold": check_fold,
    "07.feature_matching": check_feature_matching,
    "07.spectral_convergence": check_spectral_convergence,
}
