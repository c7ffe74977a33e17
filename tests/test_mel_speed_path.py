"""MelSpectrogram's fast CPU path: the same numbers as the autograd path and librosa, finite
gradients at silence, and the one-thread cap on small inputs that restores the thread count."""
import librosa
import numpy as np
import pytest
import torch

from ganlib import audio


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_fast_path_matches_autograd_path_and_librosa(power):
    waveform = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0)) * 0.3
    mel = audio.MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, power=power, log=False)
    with torch.no_grad():
        fast = mel(waveform)                            # sqrt(re^2 + im^2)
    differentiable = mel(waveform.clone().requires_grad_())  # complex abs
    reference = librosa.feature.melspectrogram(y=waveform.numpy(), sr=16000, n_fft=512, hop_length=128,
                                               n_mels=40, power=power, pad_mode="reflect")
    assert fast.shape == differentiable.shape == reference.shape == (2, 40, 63)
    assert torch.allclose(fast, differentiable.detach(), rtol=1e-5, atol=1e-6)
    assert np.abs(fast.numpy() - reference).max() < 1e-4 * np.abs(reference).max()


def test_gradient_is_finite_through_silence():
    waveform = torch.zeros(1, 4000)
    waveform[0, 2000:] = torch.randn(2000, generator=torch.Generator().manual_seed(1))
    waveform.requires_grad_()
    audio.MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40)(waveform).sum().backward()
    assert torch.isfinite(waveform.grad).all()


def test_small_inputs_run_on_one_thread_and_the_count_comes_back(monkeypatch):
    seen = []
    stft = torch.stft
    monkeypatch.setattr(torch, "stft", lambda *args, **kwargs: seen.append(torch.get_num_threads()) or stft(*args, **kwargs))
    mel = audio.MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        mel(torch.zeros(16000))
        monkeypatch.setattr(mel, "single_thread_samples", 100)
        mel(torch.zeros(16000))                         # above the cap: threads as they are
        assert seen == [1, 2]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
