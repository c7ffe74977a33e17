"""HiFi-GAN: the paper's sizes, the official checkpoint layout, the discriminators, the losses,
inference, and a few training steps that learn."""
import math

import numpy as np
import pytest
import soundfile
import torch

from ganlib import audio, losses, train
from ganlib.models import count_parameters, hifigan
from ganlib.models.hifigan import Generator, Vocoder
from repo_scripts import load_script

torch.set_num_threads(1)


# --- a reference: the official release's generator, written the official way ---------------
# (benchmarks/reference_hifigan.py, old-style weight norm; benchmarks/hifigan_speed.py times it)
reference_hifigan = load_script("benchmarks/reference_hifigan.py")


def _official(preset, seed=0):
    return reference_hifigan.official_generator(hifigan.PRESETS[preset]["generator"], seed).eval()


# --- sizes and shapes -----------------------------------------------------------------------
def test_generators_have_the_papers_parameter_counts():
    # the paper's 13.92 M / 0.92 M / 1.46 M: the inference generators' counts cut to two decimals
    expected = {"v1": (13_936_130, 13_926_017, 13.92), "v2": (928_514, 925_985, 0.92),
                "v3": (1_464_322, 1_462_273, 1.46)}
    for preset, (training, inference, paper) in expected.items():
        generator = hifigan.generator(preset)
        assert count_parameters(generator) == training
        assert count_parameters(hifigan.fold_weight_norm(generator)) == inference
        assert math.floor(inference / 1e4) / 100 == paper
    assert count_parameters(hifigan.generator("cpu")) == 402_946


def test_paper_discriminators_and_cpu_sizes():
    discriminator = hifigan.discriminator("v1")
    assert count_parameters(discriminator.mpd) == 41_105_770
    assert count_parameters(discriminator.msd) == 29_618_821
    assert count_parameters(hifigan.discriminator("cpu")) == 1_113_707


@pytest.mark.parametrize("preset", ["v1", "v2", "v3", "cpu"])
def test_output_is_frames_times_hop_length_samples(preset):
    generator = hifigan.generator(preset)
    with torch.no_grad():
        out = generator(torch.randn(2, 80, 5))
        assert out.shape == (2, 1, 5 * 256)
        assert out.abs().max() <= 1.0
        assert generator(torch.randn(80, 3)).shape == (1, 1, 3 * 256)  # an unbatched mel


def test_upsampling_rates_that_do_not_multiply_to_the_hop_length_are_refused():
    with pytest.raises(ValueError, match=r"upsample_rates \(8, 8, 2, 2\) multiply to 256, but hop_length is 300"
                                         r".*upsample_rates=\(6, 5, 5, 2\)"):
        Generator(hop_length=300)  # 24 kHz with a 12.5 ms hop
    with pytest.raises(ValueError, match="one kernel size per upsampling rate"):
        Generator(upsample_kernel_sizes=(16, 16, 4))
    with pytest.raises(ValueError, match="differ from it by an even number"):
        Generator(upsample_kernel_sizes=(16, 16, 4, 5))
    with pytest.raises(ValueError, match="expected a mel spectrogram"):
        hifigan.generator("cpu")(torch.randn(1, 1, 256))


# --- weight norm and the official layout ------------------------------------------------------
@pytest.mark.parametrize("preset", ["v2", "v3"])
def test_an_official_checkpoint_loads_and_gives_the_same_audio(preset, tmp_path):
    reference = _official(preset)
    state = reference.state_dict()
    assert any(k.endswith("weight_g") for k in state)
    ours = hifigan.generator(preset)
    assert set(hifigan.convert_official_state_dict(state)) == set(ours.state_dict())
    assert set(hifigan.official_state_dict(ours)) == set(state)  # and back, for inference.py
    torch.save({"generator": state}, tmp_path / "generator_official")
    vocoder = Vocoder.from_checkpoint(tmp_path / "generator_official", preset=preset, device="cpu")
    mel = torch.randn(80, 12)
    with torch.no_grad():
        expected = reference(mel[None])[0, 0]
    torch.testing.assert_close(vocoder(mel), expected, atol=1e-5, rtol=0)
    assert not any(p.requires_grad for p in vocoder.generator.parameters())


def test_a_checkpoint_for_another_preset_names_the_one_it_fits(tmp_path):
    torch.save({"generator": _official("v3").state_dict()}, tmp_path / "g.pt")
    with pytest.raises(train.CheckpointMismatchError, match="It fits preset 'v3'"):
        Vocoder.from_checkpoint(tmp_path / "g.pt", preset="v2")


def test_folding_weight_norm_keeps_the_output():
    torch.manual_seed(0)
    generator = hifigan.generator("cpu").eval()
    mel = torch.randn(1, 80, 10)
    with torch.no_grad():
        before = generator(mel)
        hifigan.fold_weight_norm(generator)
        after = generator(mel)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    assert "conv_pre.weight" in generator.state_dict()
    assert not any("parametrizations" in k for k in generator.state_dict())


# --- discriminators and losses ------------------------------------------------------------
def test_discriminators_return_logits_and_feature_maps_the_trainer_takes():
    discriminator = hifigan.discriminator("cpu")
    x = torch.randn(2, 1, 1000)  # not a multiple of any period: reflect-padded
    logits, features = discriminator(x)
    assert len(logits) == len(features) == 8  # 5 periods, then 3 scales
    assert [len(f) for f in features] == [6] * 5 + [8] * 3
    assert [d.period for d in discriminator.mpd.discriminators] == [2, 3, 5, 7, 11]
    assert features[0][0].shape[-1] == 2 and features[0][0].shape[-2] == math.ceil(500 / 3)
    output = train.DiscriminatorOutput.of(discriminator(x.squeeze(1)))  # (batch, samples) too
    assert len(output.logits) == 8 and all(t.shape[0] == 2 for t in output.logits)

    def norm_of(layer):
        return type(layer.parametrizations.weight[0]).__name__
    scales = discriminator.msd.discriminators
    assert {norm_of(layer) for layer in [*scales[0].convs, scales[0].conv_post]} == {"_SpectralNorm"}
    assert {norm_of(layer) for layer in [*scales[1].convs, *scales[2].convs]} == {"_WeightNorm"}


def test_generator_losses_match_a_hand_computation():
    torch.manual_seed(0)
    real, fake = torch.randn(2, 2048) * 0.1, torch.randn(2, 2048) * 0.1
    real_features = [[torch.randn(2, 3, 4), torch.randn(2, 5)], [torch.randn(2, 7)]]
    fake_features = [[torch.randn(2, 3, 4), torch.randn(2, 5)], [torch.randn(2, 7)]]
    step = train.GeneratorStep(real, None, fake, train.DiscriminatorOutput([], fake_features), trainer=None,
                               _d_real=train.DiscriminatorOutput([], real_features))
    mel = hifigan.loss_mel_spectrogram("v1")
    terms = hifigan.generator_losses(mel)(step)
    # the official: 2 x sum over maps of mean |r - g|, 45 x mean |mel(x) - mel(G(s))|; halved
    # with ganlib's LSGAN, which carries 1/2 where the official has none
    hand_fm = 2 * sum((r - f).abs().mean() for rs, fs in zip(real_features, fake_features) for r, f in zip(rs, fs))
    hand_mel = 45 * (mel(real) - mel(fake)).abs().mean()
    torch.testing.assert_close(terms["feature_matching"], 0.5 * hand_fm)
    torch.testing.assert_close(terms["mel_l1"], 0.5 * hand_mel)
    assert mel.mel_basis.shape == (80, 513)  # fmax None: the loss mel reaches Nyquist
    assert "stft" not in terms  # the paper's recipe has no STFT loss
    generator, discriminator = hifigan.build("cpu")
    assert hifigan.trainer_options(generator, discriminator)["precision"] == "fp32"  # bf16 costs quality
    assert hifigan.trainer_options(generator, discriminator, precision="bf16")["precision"] == "bf16"
    with_stft = hifigan.generator_losses(mel, stft_weight=3.0)(step)
    torch.testing.assert_close(with_stft["stft"], 0.5 * 3.0 * losses.multi_resolution_stft_loss(fake, real))
    assert {k: v for k, v in with_stft.items() if k != "stft"} == terms


# --- training and inference ---------------------------------------------------------------
def _speechlike(samples, seed=0):
    """A buzz with a moving formant: a few harmonics of a gliding pitch, enveloped."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 22050
    pitch = 110 + 40 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / 22050
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return torch.from_numpy(0.3 * wave).float()


def test_a_few_steps_reduce_the_generators_mel_loss_and_the_checkpoint_vocodes(tmp_path):
    torch.manual_seed(0)
    generator, discriminator = hifigan.build("cpu")
    real = torch.stack([_speechlike(2048, seed) for seed in range(2)])
    mel = audio.MelSpectrogram(**hifigan.MEL)(real)
    assert mel.shape == (2, 80, 9)  # centred frames: G makes 9 * 256 samples, cut to the 2048
    trainer = train.Trainer(generator, discriminator, [(real, mel)], progress=False, log_every=1,
                            device="cpu", checkpoint_dir=tmp_path,
                            **hifigan.trainer_options(generator, discriminator, "cpu"))
    assert isinstance(trainer.g_optimizer, torch.optim.AdamW) and trainer.g_optimizer.defaults["betas"] == (0.8, 0.99)
    history = trainer.fit(10)
    mel_loss = history["mel_l1"]
    assert np.mean(mel_loss[-3:]) < 0.85 * np.mean(mel_loss[:3])  # about 0.8
    assert "feature_matching" in history
    assert trainer.epoch == 9  # one batch an epoch: the learning rate decayed 9 times
    assert trainer.g_scheduler.get_last_lr()[0] == pytest.approx(2e-4 * 0.999 ** 9)

    vocoder = Vocoder.from_checkpoint(tmp_path / "last.pt", preset="cpu", device="cpu")
    with torch.no_grad():
        expected = trainer.generator.eval()(mel)[:, 0]
    torch.testing.assert_close(vocoder(mel), expected, atol=1e-5, rtol=0)
    soundfile.write(tmp_path / "clip.wav", real[0].numpy(), 22050)
    waveform = vocoder.from_wav(tmp_path / "clip.wav")
    assert waveform.shape == (2048,) and vocoder.sample_rate == 22050
