"""ganlib.config, ganlib.models.mlp, ganlib.toy and ganlib.audio."""
import random

import librosa
import numpy as np
import pytest
import torch

from ganlib import audio, config, toy
from ganlib.models import count_parameters, mlp


@pytest.mark.parametrize("env, expected", [
    ({}, False),
    ({"CI": "true"}, True),
    ({"GANLIB_QUICK": "1"}, True),
    ({"CI": "true", "GANLIB_QUICK": "0"}, False),
    ({"CI": "false"}, False),
])
def test_quick_mode_switch(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GANLIB_QUICK", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert config.is_quick() is expected
    assert config.pick(full=1000, quick=10) == (10 if expected else 1000)


def test_bad_quick_value_is_named(monkeypatch):
    monkeypatch.setenv("GANLIB_QUICK", "maybe")
    with pytest.raises(ValueError, match="GANLIB_QUICK='maybe'"):
        config.is_quick()


def test_device_override(monkeypatch):
    monkeypatch.setenv("GANLIB_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    monkeypatch.setenv("GANLIB_DEVICE", "toaster")
    with pytest.raises(ValueError, match="'toaster' .*GANLIB_DEVICE"):
        config.get_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            config.get_device("cuda")


def test_cpu_bf16_units_reads_torchs_cpu_capabilities(monkeypatch):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"amx_bf16": True, "avx512_bf16": False, "avx2": True},
                        raising=False)
    assert config.cpu_bf16_units() == ["amx_bf16"]
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx2": True}, raising=False)
    assert config.cpu_bf16_units() == []
    monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)  # an older torch: cannot tell
    assert config.cpu_bf16_units() == []


def test_seed_everything_seeds_all_three_generators():
    config.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    config.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_mlp_has_the_seeds_sizes():
    generator, discriminator = mlp.Generator(1024), mlp.Discriminator(1024)
    # 100*256+256 + 256*512+512 + 512*1024+1024 ; 1024*512+512 + 512*256+256 + 256+1
    assert count_parameters(generator) == 25856 + 131584 + 525312
    assert count_parameters(discriminator) == 524800 + 131328 + 257
    z = torch.randn(3, 100)
    fake = generator(z)
    assert fake.shape == (3, 1024) and fake.abs().max() <= 1
    assert discriminator(fake).shape == (3, 1)


def test_generator_without_tanh_reaches_beyond_one():
    torch.manual_seed(0)
    linear = mlp.Generator(2, latent_dim=8, output_activation=None)
    torch.manual_seed(0)
    bounded = mlp.Generator(2, latent_dim=8)
    z = 50 * torch.randn(64, 8)
    assert torch.allclose(torch.tanh(linear(z)), bounded(z))
    assert linear(z).abs().max() > 1
    assert count_parameters(linear) == count_parameters(bounded)
    with pytest.raises(ValueError, match="output_activation must be"):
        mlp.Generator(2, output_activation="relu")


def test_probability_discriminator_is_the_seeds_sigmoid():
    torch.manual_seed(0)
    logits = mlp.Discriminator(4)
    torch.manual_seed(0)
    probability = mlp.Discriminator(4, output="probability")
    x = torch.randn(5, 4)
    assert torch.allclose(probability(x), torch.sigmoid(logits(x)))
    with pytest.raises(ValueError, match="output must be"):
        mlp.Discriminator(4, output="softmax")


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    discriminator = mlp.Discriminator(8, spectral_norm=True)
    discriminator(torch.randn(16, 8))  # power iterations run in training mode
    for _ in range(20):
        discriminator(torch.randn(16, 8))
    weight = discriminator.main[0].weight
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_toy_distributions():
    torch.manual_seed(0)
    x = toy.gaussian_mixture_1d(20000)
    assert x.shape == (20000, 1)
    assert (x > 0).float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert x[x > 0].mean().item() == pytest.approx(0.5, abs=0.01)
    grid = torch.linspace(-2, 2, 4001)
    assert torch.trapezoid(toy.mixture_density_1d(grid), grid).item() == pytest.approx(1.0, abs=1e-3)

    centers = toy.ring_centers(8, radius=2.0)
    ring = toy.ring_of_gaussians(4000, std=0.05)
    assert centers.norm(dim=1).allclose(torch.full((8,), 2.0))
    coverage = toy.mode_coverage(ring, centers, std=0.05)
    assert coverage["modes_covered"] == 8 and coverage["high_quality"] > 0.98
    collapsed = centers[torch.zeros(500, dtype=torch.long)] + 0.01 * torch.randn(500, 2)
    assert toy.mode_coverage(collapsed, centers)["modes_covered"] == 1


def test_random_tones_have_the_asked_pitch_range():
    torch.manual_seed(0)
    tones = toy.random_tones(64, length=4096, sample_rate=16000, f_min=300, f_max=600)
    assert tones.shape == (64, 4096) and tones.abs().max() <= 0.8 + 1e-6
    peaks = np.abs(np.fft.rfft(tones.numpy(), axis=1)).argmax(axis=1) * 16000 / 4096
    assert peaks.min() >= 300 - 4 and peaks.max() <= 600 + 4
    with pytest.raises(ValueError, match="f_max=9000"):
        toy.random_tones(1, f_max=9000, sample_rate=16000)


def test_sampler_draws_fresh_batches_each_pass():
    sampler = toy.Sampler(lambda n: torch.randn(n, 2), batch_size=4, batches_per_epoch=3)
    first, second = list(sampler), list(sampler)
    assert len(first) == 3 and first[0].shape == (4, 2)
    assert not torch.equal(first[0], second[0])


def test_mel_spectrogram_matches_librosa():
    rng = np.random.default_rng(0)
    wave = rng.uniform(-0.5, 0.5, 22050).astype(np.float32)
    mel = audio.MelSpectrogram(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80, log=False)
    ours = mel(torch.from_numpy(wave)).numpy()
    reference = librosa.feature.melspectrogram(y=wave, sr=22050, n_fft=1024, hop_length=256,
                                               n_mels=80, power=1.0, pad_mode="reflect")
    assert ours.shape == reference.shape == (80, 1 + 22050 // 256)
    assert np.max(np.abs(ours - reference)) < 1e-4 * max(1.0, np.abs(reference).max())
    batch = mel(torch.from_numpy(np.stack([wave, wave])))
    assert batch.shape == (2, 80, 87) and torch.allclose(batch[1], torch.from_numpy(ours))
