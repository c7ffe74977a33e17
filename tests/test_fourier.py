"""The Fourier-head vocoder (ganlib.models.fourier): the paper preset's size, shapes, the
pseudo-inverse magnitude prior, the phase and consistency losses against hand computations,
the trainer's discriminator-free warm-up, a few steps that learn, and the shared Vocoder
interface."""
import math

import numpy as np
import pytest
import soundfile
import torch

from ganlib import audio, losses, speech, train
from ganlib.models import count_parameters, fourier, hifigan

torch.set_num_threads(1)


def _speechlike(samples: int, seed: int) -> torch.Tensor:
    """A buzz with a gliding pitch and a few formants: something a vocoder can learn."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 22050
    f0 = 110 + 40 * rng.random() + 30 * t
    phase = 2 * np.pi * np.cumsum(f0) / 22050
    wave = sum(np.sin(k * phase) / k * np.exp(-((k * f0 - 700 * (1 + seed % 3)) / 600) ** 2) for k in range(1, 40))
    return torch.tensor(0.3 * wave / np.abs(wave).max(), dtype=torch.float32)


# --- sizes and shapes -----------------------------------------------------------------------
def test_the_vocos_preset_has_the_papers_parameter_count():
    generator = fourier.generator("vocos")
    assert count_parameters(generator) == 13_531_650  # Vocos (mel, 24 kHz): "13.5 M"
    assert round(count_parameters(generator) / 1e6, 1) == 13.5
    assert generator.n_mels == 100 and generator.sample_rate == 24000 and generator.phase == "angle"
    assert count_parameters(fourier.generator("cpu")) == 2_826_895
    discriminator = fourier.discriminator("vocos")
    assert count_parameters(discriminator.mpd) == count_parameters(hifigan.MultiPeriodDiscriminator()) == 41_105_770


@pytest.mark.parametrize("preset", ["cpu", "vocos"])
def test_output_is_one_hop_per_frame_after_the_first(preset):
    generator = fourier.generator(preset)
    with torch.no_grad():
        assert generator(torch.randn(2, generator.n_mels, 33)).shape == (2, 1, 32 * 256)
        assert generator(torch.randn(generator.n_mels, 5)).shape == (1, 1, 4 * 256)  # an unbatched mel
    with pytest.raises(ValueError, match=r"expected a log-mel spectrogram \(batch, 80, frames\), got shape \(2, 64, 5\)"):
        fourier.generator("cpu")(torch.randn(2, 64, 5))
    with pytest.raises(ValueError, match="magnitude must be"):
        fourier.Generator(magnitude="free")


def test_the_prior_magnitude_below_fmax_is_the_mels_pseudo_inverse():
    generator = fourier.generator("cpu").eval()
    mel_spectrogram = audio.MelSpectrogram(**hifigan.MEL)
    mel = mel_spectrogram(_speechlike(8192, 0))
    with torch.no_grad():
        magnitude = generator.spectrum(mel[None]).abs()[0]
    pseudo_inverse = torch.clamp(torch.linalg.pinv(mel_spectrogram.mel_basis) @ torch.exp(mel), min=1e-5)
    below = int(8000 * 1024 / 22050) + 1  # bins 0..371 lie at or below fmax = 8 kHz
    torch.testing.assert_close(magnitude[:below], pseudo_inverse[:below], rtol=1e-4, atol=1e-6)
    assert generator.head.out_features == (513 - below) + 2 * 513  # learned: the band above fmax and the phase


def test_the_vocoder_with_the_true_phase_and_its_magnitude_rebuilds_the_signal():
    """The inverse STFT the head feeds is the exact inverse of the mel's STFT: fed the true
    spectrum, it gives the waveform back."""
    generator = fourier.generator("cpu")
    wave = _speechlike(8192, 1)[None]
    spectrum = torch.stft(wave, 1024, 256, 1024, torch.hann_window(1024), center=True, return_complex=True)
    torch.testing.assert_close(generator.istft(spectrum), wave, atol=1e-5, rtol=0)


# --- losses ---------------------------------------------------------------------------------
def test_anti_wrapping_measures_the_distance_to_the_nearest_turn():
    x = torch.tensor([0.1, -0.1, 2 * math.pi - 0.1, math.pi + 0.1, 4 * math.pi, -3 * math.pi + 0.2])
    expected = torch.tensor([0.1, 0.1, 0.1, math.pi - 0.1, 0.0, math.pi - 0.2])
    torch.testing.assert_close(losses.anti_wrap(x), expected, atol=1e-5, rtol=0)


def test_phase_losses_match_a_hand_computation():
    true = torch.tensor([[[0.0, 1.0, 2.0], [0.5, 3.0, -3.0]]])  # (batch 1, 2 bins, 3 frames)
    shifted = true + 2 * math.pi * torch.tensor([[[1.0, -1.0, 2.0], [0.0, 3.0, -1.0]]])  # whole turns
    assert all(v.item() < 1e-5 for v in losses.phase_losses(shifted, true).values())

    predicted = true + torch.tensor([[[0.1, 0.1, 0.1], [0.1, 0.4, 0.1]]])
    terms = losses.phase_losses(predicted, true)
    assert terms["instantaneous_phase"].item() == pytest.approx((5 * 0.1 + 0.4) / 6, abs=1e-6)
    # group delay: differences along frequency, per frame: 0.0, 0.3, 0.0
    assert terms["group_delay"].item() == pytest.approx(0.3 / 3, abs=1e-6)
    # instantaneous frequency: along time, per bin: (0, 0) and (0.3, 0.3)
    assert terms["instantaneous_frequency"].item() == pytest.approx(0.6 / 4, abs=1e-6)

    # a wrapped difference counts by its short way round: 3.0 -> -3.0 is 0.28 rad, not 6
    wrapped = losses.phase_losses(torch.tensor([[[3.0]]]), torch.tensor([[[-3.0]]]))["instantaneous_phase"]
    assert wrapped.item() == pytest.approx(2 * math.pi - 6.0, abs=1e-6)

    weight = torch.tensor([[[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]]])  # the 0.4 error sits in a silent bin
    weighted = losses.phase_losses(predicted, true, weight)
    assert weighted["instantaneous_phase"].item() == pytest.approx(0.1, abs=1e-6)
    assert weighted["group_delay"].item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        losses.phase_losses(true[..., :2], true)


def test_the_consistency_loss_is_zero_for_a_signals_stft_only():
    window = torch.hann_window(256)
    spectrum = torch.stft(_speechlike(4096, 2)[None], 256, 64, 256, window, center=True, return_complex=True)
    assert losses.stft_consistency_loss(spectrum, 256, 64, 256, window).item() < 1e-10
    scrambled = spectrum * torch.exp(1j * torch.rand(spectrum.shape, generator=torch.Generator().manual_seed(0)) * 6.28)
    assert losses.stft_consistency_loss(scrambled, 256, 64, 256, window).item() > 1e-4


# --- training -------------------------------------------------------------------------------
def _small_trainer(tmp_path, adversarial_after, **loss_options):
    torch.manual_seed(0)
    generator = fourier.Generator(hifigan.MEL, dim=32, intermediate_dim=64, num_layers=2, magnitude="prior")
    discriminator = fourier.Discriminator(mpd_width=0.125, mrd_width=0.25)
    real = torch.stack([_speechlike(4096, seed) for seed in range(2)])
    mel = audio.MelSpectrogram(**hifigan.MEL)(real)
    options = fourier.trainer_options(generator, discriminator, adversarial_after=adversarial_after, **loss_options)
    return train.Trainer(generator, discriminator, [(real, mel)], progress=False, log_every=1, device="cpu",
                         checkpoint_dir=tmp_path, **options), mel, real


def test_a_warm_up_trains_the_generator_alone_then_the_discriminator_joins(tmp_path):
    trainer, _, _ = _small_trainer(tmp_path, adversarial_after=4)
    before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    trainer.fit(4)
    assert all(torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in before.items())
    assert "d_loss" not in trainer.history and "feature_matching" not in trainer.history
    trainer.fit(6)
    assert not all(torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in before.items())
    d_loss = trainer.history["d_loss"]
    assert all(math.isnan(v) for v in d_loss[:4]) and all(math.isfinite(v) for v in d_loss[4:])
    assert len(trainer.history["feature_matching"]) == len(trainer.history) == 6
    assert trainer.state_dict()["settings"]["adversarial_after"] == 4


def test_a_few_steps_reduce_the_phase_and_mel_losses_and_the_checkpoint_vocodes(tmp_path):
    trainer, mel, real = _small_trainer(tmp_path, adversarial_after=0, phase_weights={"instantaneous_phase": 1.0},
                                        consistency_weight=1.0)
    history = trainer.fit(12)
    for key in ("mel_l1", "group_delay", "instantaneous_frequency", "instantaneous_phase", "consistency",
                "feature_matching", "d_loss"):
        assert key in history, key
    assert np.mean(history["mel_l1"][-3:]) < 0.95 * np.mean(history["mel_l1"][:3])  # about 0.91
    phase = np.add(history["group_delay"], history["instantaneous_frequency"])
    assert np.mean(phase[-3:]) < np.mean(phase[:3])

    with pytest.raises(ValueError, match="no preset recorded"):
        fourier.Vocoder.from_checkpoint(tmp_path / "last.pt")
    with pytest.raises(train.CheckpointMismatchError, match="last.pt"):  # the small test generator is no preset
        fourier.Vocoder.from_checkpoint(tmp_path / "last.pt", preset="cpu")
    torch.save({"info": {"preset": "cpu", "generator": {"dim": 32, "intermediate_dim": 64, "num_layers": 2}},
                "generator": trainer.generator.state_dict()}, tmp_path / "small.pt")
    vocoder = fourier.Vocoder.from_checkpoint(tmp_path / "small.pt", device="cpu")
    with torch.no_grad():
        expected = trainer.generator.eval()(mel)[:, 0]
    made = vocoder(mel)
    assert made.shape == (2, 4096 + 256)  # frames * hop_length, as HiFi-GAN's Vocoder
    torch.testing.assert_close(made[:, :4096], expected, atol=1e-6, rtol=0)
    soundfile.write(tmp_path / "clip.wav", real[0].numpy(), 22050)
    assert vocoder.from_wav(tmp_path / "clip.wav").shape == (4096,) and vocoder.sample_rate == 22050


def test_trainer_refuses_a_warm_up_without_a_loss_to_warm_up_on():
    with pytest.raises(ValueError, match="adversarial_after > 0 trains the generator on extra_generator_loss"):
        train.Trainer(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1), [torch.zeros(1, 2)], adversarial_after=5)
    with pytest.raises(ValueError, match="adversarial_after must be an int >= 0"):
        train.Trainer(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1), [torch.zeros(1, 2)], adversarial_after=-1)


def test_both_vocoders_score_through_the_same_interface():
    clips = speech.load_sentences("held_out", limit=1)
    clips = [(clips[0][0], clips[0][1][:22050])]
    for vocoder in (fourier.Vocoder(fourier.generator("cpu"), device="cpu"),
                    hifigan.Vocoder(hifigan.generator("cpu"), device="cpu")):
        report = speech.score_vocoder(vocoder, clips, pesq=False, pitch=False)
        assert report["vocoder"]["clips"] == 1 and report["griffin_lim"]["mr_stft"] > 0
        assert not speech.meets_bar(report)  # untrained, and without PESQ the bar cannot be met


def test_the_discriminators_judge_the_first_crops_only():
    seen = []
    trainer = type("T", (), {"discriminator": lambda self, x: seen.append(x.shape[0]) or x.sum()})()
    batch = torch.zeros(16, 1, 64)
    fourier.first_crops(4)(trainer, batch, None)
    fourier.first_crops(None)(trainer, batch, None)
    assert seen == [4, 16]
    assert fourier.trainer_options(*fourier.build("cpu"), discriminator_batch=4)["discriminate"] is not None


def test_a_shipped_vocoder_loads_by_name_whichever_kind_it_is(tmp_path):
    assert isinstance(speech.load_vocoder("hifigan_cpu", device="cpu"), hifigan.Vocoder)
    generator = fourier.generator("cpu")
    torch.save({"info": {"model": "fourier", "preset": "cpu"}, "generator": generator.state_dict()}, tmp_path / "f.pt")
    (tmp_path / "f.json").write_text('{"model": "fourier", "preset": "cpu"}')
    vocoder = speech.load_vocoder(tmp_path / "f.pt", device="cpu")
    assert isinstance(vocoder, fourier.Vocoder) and vocoder.sample_rate == 22050
    with pytest.raises(FileNotFoundError, match=r"no vocoder 'no_such'.*shipped vocoders: \[.*'hifigan_cpu'"):
        speech.load_vocoder("no_such")
    (tmp_path / "f.json").write_text('{"model": "wavegan"}')
    with pytest.raises(ValueError, match="f.json: model 'wavegan' is not a vocoder"):
        speech.load_vocoder(tmp_path / "f.pt")


def test_loud_bins_of_the_prior_are_not_clipped():
    generator = fourier.generator("cpu").eval()
    mel_spectrogram = audio.MelSpectrogram(**hifigan.MEL)
    loud = 0.9 * torch.sin(2 * math.pi * 300 * torch.arange(8192) / 22050)  # |S| about 230 at 300 Hz
    mel = mel_spectrogram(loud)
    with torch.no_grad():
        log_magnitude = generator.forward_spectrum(mel[None])[0][0]
    prior = generator.pseudo_inverse_log_magnitude(mel[None])[0]
    assert prior.max() > generator.max_log_magnitude  # a bin louder than |S| = 100
    torch.testing.assert_close(log_magnitude[:372], prior[:372])
