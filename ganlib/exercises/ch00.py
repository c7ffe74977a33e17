"""Checks for chapter 00, digital audio: Slaney's mel scale, STFT frame counts, a linear chirp.

Notebook: 00_audio_basics.ipynb
"""
from __future__ import annotations

import math

import librosa
import numpy as np
import torch


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double()
    return float(value)


def check_hz_to_mel(my_hz_to_mel) -> None:
    """my_hz_to_mel(frequency_hz: float) -> Slaney mels, as librosa.hz_to_mel(f, htk=False)."""
    for frequency in (0.0, 200.0, 500.0, 999.0, 1000.0, 1500.0, 4000.0, 11025.0):
        expected = float(librosa.hz_to_mel(frequency, htk=False))
        got = _as_float(my_hz_to_mel(frequency))
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6):
            continue
        if math.isclose(got, float(librosa.hz_to_mel(frequency, htk=True)), rel_tol=1e-6):
            raise AssertionError(f"at {frequency} Hz you return {got:.4f}: that is the HTK formula. "
                                 "Slaney's scale is f / (200/3) below 1 kHz, logarithmic above.")
        region = "below 1000 Hz (linear part: f / (200/3))" if frequency < 1000 else \
            "at or above 1000 Hz (log part: 15 + 27 ln(f/1000) / ln 6.4)"
        raise AssertionError(f"at {frequency} Hz expected {expected:.4f} mels, got {got:.4f}; "
                             f"look at the formula {region}.")


def check_n_frames(my_n_frames) -> None:
    """my_n_frames(n_samples, n_fft, hop_length, center) == librosa.stft(...).shape[1].

    The reference is torch.stft's frame count, the same as librosa's and quicker on a first call.
    """
    cases = [(22050, 1024, 256, True), (22050, 1024, 256, False), (16000, 512, 128, True),
             (16000, 512, 128, False), (1024, 1024, 256, False), (5000, 2048, 300, True),
             (5000, 2048, 300, False), (4097, 1024, 1024, False)]
    for n_samples, n_fft, hop_length, center in cases:
        expected = torch.stft(torch.zeros(n_samples), n_fft, hop_length, window=torch.ones(n_fft),
                              center=center, return_complex=True).shape[1]
        got = my_n_frames(n_samples, n_fft, hop_length, center=center)
        if got != expected or isinstance(got, float) and not float(got).is_integer():
            hint = ("with center=True the signal is padded by n_fft // 2 on both sides and frames "
                    "start every hop_length samples from 0" if center else
                    "with center=False the last frame must end inside the signal: how many hops "
                    "fit into n_samples - n_fft?")
            raise AssertionError(f"for n_samples={n_samples}, n_fft={n_fft}, hop_length={hop_length}, "
                                 f"center={center}: the STFT has {expected} frames, you gave {got}; {hint}.")


def check_linear_chirp(my_linear_chirp) -> None:
    """my_linear_chirp(f_start, f_end, duration, sample_rate) == librosa.chirp(..., linear=True)."""
    for f_start, f_end, duration, sample_rate in ((100.0, 1000.0, 0.5, 8000), (3000.0, 200.0, 0.25, 16000)):
        expected = librosa.chirp(fmin=f_start, fmax=f_end, sr=sample_rate, duration=duration, linear=True)
        got = my_linear_chirp(f_start, f_end, duration, sample_rate)
        got = got.detach().cpu().double().numpy() if isinstance(got, torch.Tensor) else np.asarray(got, dtype=float)
        if got.shape != expected.shape:
            raise AssertionError(f"for duration={duration} s at {sample_rate} Hz expected shape "
                                 f"{expected.shape} (round(duration * sample_rate) samples), got {got.shape}.")
        if np.allclose(got, expected, atol=1e-3):
            continue
        t = np.arange(len(expected)) / sample_rate
        naive = np.sin(2 * np.pi * (f_start + (f_end - f_start) * t / duration) * t)
        if np.allclose(got, naive, atol=1e-3):
            raise AssertionError("you computed sin(2 pi f(t) t): its frequency ends at 2 f_end - f_start. "
                                 "The phase is the integral of 2 pi f(t) dt.")
        raise AssertionError(f"chirp {f_start} -> {f_end} Hz differs from librosa.chirp(linear=True) by up to "
                             f"{np.abs(got - expected).max():.3g}; start with phase 0 (a sine) and integrate "
                             "the frequency: phase(t) = 2 pi (f_start t + (f_end - f_start) t^2 / (2 duration)).")


CHECKS = {
    "00.hz_to_mel": check_hz_to_mel,
    "00.n_frames": check_n_frames,
    "00.linear_chirp": check_linear_chirp,
}
