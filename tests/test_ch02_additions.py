"""What chapter 02 added to ganlib: audio.dominant_frequency."""
import math

import pytest
import torch

from ganlib import audio, toy


def tone(frequency, length=1024, sample_rate=16000, phase=0.3, amplitude=0.8):
    t = torch.arange(length, dtype=torch.float) / sample_rate
    return amplitude * torch.sin(2 * math.pi * frequency * t + phase)


def test_a_tone_on_a_bin_centre_is_found_exactly():
    bin_width = 16000 / 1024
    frames = torch.stack([tone(k * bin_width) for k in (15, 28, 50)])
    assert torch.equal(audio.dominant_frequency(frames, 16000), torch.tensor([15, 28, 50]) * bin_width)


def test_random_tones_are_found_to_within_one_bin():
    torch.manual_seed(0)
    frequencies = torch.exp(math.log(220) + torch.rand(64) * math.log(4))
    frames = torch.stack([tone(f.item(), phase=p.item()) for f, p in zip(frequencies, 6 * torch.rand(64))])
    error = (audio.dominant_frequency(frames, 16000) - frequencies).abs()
    assert error.max() <= 16000 / 1024 / 2 + 1e-3


def test_dc_is_ignored_the_louder_tone_wins_and_one_frame_gives_a_scalar():
    frame = 0.9 + tone(500.0, amplitude=0.3) + tone(2000.0, amplitude=0.1)
    found = audio.dominant_frequency(frame, 16000)
    assert found.shape == () and abs(found.item() - 500.0) <= 8
    assert audio.dominant_frequency(toy.random_tones(5), 16000).shape == (5,)
    with pytest.raises(ValueError, match="expected frames"):
        audio.dominant_frequency(torch.zeros(2, 3, 4), 16000)
