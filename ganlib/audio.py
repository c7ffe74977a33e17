"""The course's audio front end: spectrograms in torch, on any device, batched.

This first version holds what chapters 00-03 need; the data chapter extends it (loading,
resampling, Griffin-Lim, pre-emphasis).

Notebook: 00_audio_basics.ipynb
"""
from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn


class MelSpectrogram(nn.Module):
    """Waveforms (batch, samples) or (samples,) -> mel spectrograms (batch, n_mels, frames).

    The filterbank is librosa's (Slaney-normalised, as librosa.filters.mel), so the result
    matches `librosa.feature.melspectrogram` with the same settings. With `log=True` the output
    is log(clamp(mel, min=1e-5)), HiFi-GAN's convention.

    Frames: 1 + samples // hop_length when center=True (librosa's default padding).
    """

    def __init__(self, sample_rate: int = 22050, n_fft: int = 1024, hop_length: int = 256,
                 win_length: int | None = None, n_mels: int = 80, fmin: float = 0.0,
                 fmax: float | None = None, power: float = 1.0, center: bool = True,
                 pad_mode: str = "reflect", log: bool = True, log_floor: float = 1e-5):
        super().__init__()
        win_length = win_length or n_fft
        if win_length > n_fft:
            raise ValueError(f"win_length={win_length} must be <= n_fft={n_fft}")
        if fmax is not None and fmax > sample_rate / 2:
            raise ValueError(f"fmax={fmax} Hz is above the Nyquist frequency {sample_rate / 2} Hz")
        self.sample_rate, self.n_fft, self.hop_length, self.win_length = sample_rate, n_fft, hop_length, win_length
        self.n_mels, self.power, self.center, self.pad_mode = n_mels, power, center, pad_mode
        self.log, self.log_floor = log, log_floor
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        squeeze = waveform.dim() == 1
        if squeeze:
            waveform = waveform.unsqueeze(0)
        if waveform.dim() != 2:
            raise ValueError(f"expected a waveform (samples,) or (batch, samples), got shape {tuple(waveform.shape)}")
        spec = torch.stft(waveform.float(), self.n_fft, self.hop_length, self.win_length, self.window,
                          center=self.center, pad_mode=self.pad_mode, return_complex=True).abs()
        if self.power != 1.0:
            spec = spec ** self.power
        mel = torch.matmul(self.mel_basis, spec)
        if self.log:
            mel = torch.log(torch.clamp(mel, min=self.log_floor))
        return mel.squeeze(0) if squeeze else mel


def stft_magnitude(waveform: torch.Tensor, n_fft: int = 1024, hop_length: int = 256) -> torch.Tensor:
    """|STFT| with a Hann window: (batch, samples) -> (batch, n_fft // 2 + 1, frames)."""
    window = torch.hann_window(n_fft, device=waveform.device)
    return torch.stft(waveform.float(), n_fft, hop_length, window=window, return_complex=True).abs()


def to_db(magnitude, ref: float | None = None, top_db: float = 80.0) -> np.ndarray:
    """Amplitude (numpy or torch) -> decibels relative to `ref` (default: the maximum)."""
    magnitude = magnitude.detach().cpu().numpy() if isinstance(magnitude, torch.Tensor) else np.asarray(magnitude)
    return librosa.amplitude_to_db(magnitude, ref=np.max if ref is None else ref, top_db=top_db)


def dominant_frequency(frames: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The frequency in Hz of the strongest FFT bin of each frame, ignoring 0 Hz (DC):
    frames (batch, samples) -> (batch,), or (samples,) -> a 0-d tensor.

    Each frame's mean is removed first and the 0 Hz bin skipped, so an offset never wins. A
    Hann window keeps a loud tone's spectral leakage out of the neighbouring bins. The answer
    is a bin centre, so it is exact to within sample_rate / samples Hz (15.6 Hz for 1024 samples
    at 16 kHz). A crude pitch detector, enough to ask "which pitches did a generator produce?".
    Notebook: 02_first_gan.ipynb
    """
    if frames.dim() not in (1, 2) or frames.shape[-1] < 2:
        raise ValueError(f"expected frames (batch, samples) or (samples,) with samples >= 2, got shape {tuple(frames.shape)}")
    length = frames.shape[-1]
    window = torch.hann_window(length, periodic=False, device=frames.device)
    centred = frames.float() - frames.float().mean(dim=-1, keepdim=True)
    magnitude = torch.fft.rfft(centred * window, dim=-1).abs()
    peak_bin = magnitude[..., 1:].argmax(dim=-1) + 1
    return peak_bin.float() * (sample_rate / length)
