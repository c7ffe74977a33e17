"""WaveGAN and SpecGAN: the paper's sizes, shapes, phase shuffle, conditioning, and learning."""
import pytest
import torch

from ganlib import audio, losses
from ganlib.train import Trainer
from ganlib.models import count_parameters, wavegan
from ganlib.models.wavegan import (SpecGANDiscriminator, SpecGANGenerator, SpecGANTransform,
                                   WaveGANDiscriminator, WaveGANGenerator, phase_shuffle)


def test_paper_wavegan_has_the_papers_parameter_count():
    generator, discriminator = wavegan.wavegan("paper")
    # dense 100 -> 16 x 1024, then 1024->512->256->128->64->1 with 25 taps: 19.07 M (paper: 19.1 M)
    assert count_parameters(generator) == 19_065_345
    assert count_parameters(discriminator) == 17_427_969
    assert generator.sample_rate == 16000 and generator.length == 16384


def test_specgan_mirrors_wavegan_in_two_dimensions():
    # 5 x 5 = 25 taps and 4 x 4 = 16 positions: the same counts as WaveGAN (the paper's point)
    assert count_parameters(SpecGANGenerator(d=64)) == 19_065_345
    assert count_parameters(SpecGANDiscriminator(d=64)) == 17_427_969


@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_wavegan_shapes(preset):
    generator, discriminator = wavegan.wavegan(preset)
    z = torch.randn(2, 100)
    with torch.no_grad():
        x = generator(z)
        assert x.shape == (2, 1, wavegan.WAVEGAN_PRESETS[preset]["length"])
        assert x.abs().max() <= 1.0
        assert discriminator(x).shape == (2, 1)
        assert discriminator(x.squeeze(1)).shape == (2, 1)  # (batch, samples) is accepted too


def test_nearest_upsampling_generator_has_the_same_shape():
    generator = WaveGANGenerator(d=4, length=1024, num_layers=5, upsample="nearest")
    assert generator(torch.randn(3, 100)).shape == (3, 1, 1024)


def test_length_that_is_not_a_multiple_of_the_upsampling_is_refused():
    with pytest.raises(ValueError, match="length=16000 must be a multiple of stride"):
        WaveGANGenerator(length=16000)
    with pytest.raises(ValueError, match="upsample"):
        WaveGANGenerator(upsample="bilinear")


def test_discriminator_names_the_expected_shape():
    _, discriminator = wavegan.wavegan("cpu")
    with pytest.raises(ValueError, match=r"expected waveforms \(batch, 1, 8192\)"):
        discriminator(torch.zeros(2, 1, 16384))


def test_phase_shuffle_shifts_each_example_by_at_most_n_with_reflection():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 50)
    y = phase_shuffle(x, 2)
    assert y.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2), mode="reflect")
    seen = set()
    for i in range(len(x)):
        matches = [k for k in range(-2, 3) if torch.equal(y[i], padded[i, :, 2 - k:2 - k + 50])]
        assert len(matches) == 1  # exactly one shift explains it, the same for every channel
        seen.add(matches[0])
    assert seen == {-2, -1, 0, 1, 2}
    assert torch.equal(phase_shuffle(x, 0), x)


def test_phase_shuffle_only_while_training():
    _, discriminator = wavegan.wavegan("cpu", d=4)
    x = torch.randn(4, 1, 8192)
    discriminator.eval()
    assert torch.equal(discriminator(x), discriminator(x))
    discriminator.train()
    torch.manual_seed(1)
    first = discriminator(x)
    assert not torch.equal(first, discriminator(x))


def test_conditional_models_need_their_labels():
    generator, discriminator = wavegan.wavegan("cpu", conditional=True, d=4)
    z, labels = torch.randn(4, 100), torch.tensor([0, 3, 7, 9])
    x = generator(z, labels)
    assert x.shape == (4, 1, 8192)
    assert discriminator(x, labels).shape == (4, 1)
    with pytest.raises(ValueError, match="conditional"):
        generator(z)
    with pytest.raises(ValueError, match="conditional"):
        discriminator(x)
    unconditional, _ = wavegan.wavegan("cpu", d=4)
    with pytest.raises(ValueError, match="unconditional"):
        unconditional(z, labels)


def test_the_label_changes_the_conditional_output():
    torch.manual_seed(0)
    generator, discriminator = wavegan.wavegan("cpu", conditional=True, d=4)
    z = torch.randn(1, 100)
    with torch.no_grad():
        assert not torch.allclose(generator(z, torch.tensor([1])), generator(z, torch.tensor([2])))


def test_a_few_steps_reduce_each_networks_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    generator, discriminator = wavegan.build("wavegan", "cpu", d=4, recipe="cpu")
    real = 0.5 * torch.sin(torch.linspace(0, 400, 8192)).repeat(4, 1, 1)
    z = torch.randn(4, 100)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    fake = generator(z).detach()

    def d_loss():
        return losses.discriminator_loss(discriminator(real), discriminator(fake), "hinge")
    before = d_loss().item()
    for _ in range(10):
        d_optimizer.zero_grad()
        d_loss().backward()
        d_optimizer.step()
    assert d_loss().item() < before
    discriminator.eval().requires_grad_(False)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3)

    def g_loss():
        return losses.generator_loss(discriminator(generator(z)), "hinge")
    before = g_loss().item()
    for _ in range(10):
        g_optimizer.zero_grad()
        g_loss().backward()
        g_optimizer.step()
    assert g_loss().item() < before


def test_specgan_shapes_and_conditioning():
    generator = SpecGANGenerator(d=4, num_classes=10)
    discriminator = SpecGANDiscriminator(d=4, num_classes=10, spectral_norm=True)
    labels = torch.tensor([0, 9])
    x = generator(torch.randn(2, 100), labels)
    assert x.shape == (2, 1, 128, 128)
    assert discriminator(x, labels).shape == (2, 1)


def test_specgan_transform_normalises_per_bin_and_inverts_to_the_right_pitch():
    sample_rate = 16000
    t = torch.arange(16384) / sample_rate
    tones = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) for f in (440.0, 880.0, 1500.0, 3000.0)])
    transform = SpecGANTransform().fit(tones + 0.01 * torch.randn_like(tones))
    spectrogram = transform(tones)
    assert spectrogram.shape == (4, 1, 128, 128)
    assert spectrogram.abs().max() <= 1.0 + 1e-6
    # per-bin statistics: over the fitted set, each bin is centred
    assert transform.mean.shape == (128, 1) and (transform.std > 0).all()
    back = transform.inverse(spectrogram, n_iter=16)
    assert back.shape == (4, 16384)
    for waveform, f in zip(back, (440.0, 880.0, 1500.0, 3000.0)):
        assert abs(audio.dominant_frequency(waveform, sample_rate) - f) < sample_rate / 256


def test_random_shift_moves_each_clip_with_zeros_shifted_in_and_passes_gradients():
    torch.manual_seed(0)
    x = torch.randn(16, 1, 100, requires_grad=True)
    y = wavegan.random_shift(x, 10)
    assert y.shape == x.shape
    for i in range(len(x)):
        k = next(k for k in range(-10, 11)
                 if torch.equal(y[i], torch.nn.functional.pad(x[i].detach(), (10, 10))[:, 10 - k:110 - k]))
        if k > 0:
            assert (y[i, :, :k] == 0).all()
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert wavegan.random_shift(torch.randn(4, 100), 5).shape == (4, 100)  # (batch, samples) too


def test_random_frame_shift_moves_whole_spectrogram_frames_with_silence_shifted_in():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 50) * 2 - 1  # SpecGAN's layout: (batch, 1, bins, frames) in [-1, 1]
    y = wavegan.random_frame_shift(x, 6)
    assert y.shape == x.shape
    shifts = set()
    for i in range(len(x)):
        padded = torch.nn.functional.pad(x[i], (6, 6), value=-1.0)  # silence is the normalised floor
        k = next(k for k in range(-6, 7) if torch.allclose(y[i], padded[..., 6 - k:56 - k]))
        shifts.add(k)
        if k > 0:  # every bin of the frames shifted in is silent
            assert (y[i, ..., :k] == -1).all()
    assert len(shifts) > 3  # each example gets its own shift
    # the hook shifts spectrograms by frames and waveforms by samples
    seen = []
    trainer = type("T", (), {"discriminator": staticmethod(lambda h: seen.append(h) or h.mean())})()
    wavegan.shifted_discriminate(6)(trainer, x, None)
    silent_frame = (seen[0] == -1).flatten(1, 2).all(1).any(1)  # per example: a frame shifted in?
    assert seen[0].shape == x.shape and silent_frame.sum() > len(x) // 2


def test_auxiliary_classifier_discriminator_returns_logits_and_class_logits():
    generator, discriminator = wavegan.build("wavegan", "cpu", conditional=True, d=4, auxiliary_classifier=True)
    labels = torch.tensor([0, 3, 9])
    out = discriminator(generator(torch.randn(3, 100), labels), labels)
    assert set(out) == {"logits", "classes"}
    assert out["logits"].shape == (3, 1) and out["classes"].shape == (3, 10)
    with pytest.raises(ValueError, match="auxiliary_classifier needs a conditional discriminator"):
        wavegan.build("wavegan", "cpu", conditional=False, d=4, auxiliary_classifier=True)


def test_specgan_auxiliary_classifier_trains_through_the_trainer():
    torch.manual_seed(0)
    generator, discriminator = wavegan.build("specgan", "cpu", conditional=True, d=2, auxiliary_classifier=True)
    labels = torch.tensor([0, 3, 9])
    out = discriminator(generator(torch.randn(3, 100), labels), labels)
    assert out["logits"].shape == (3, 1) and out["classes"].shape == (3, 10)
    with pytest.raises(ValueError, match="auxiliary_classifier needs a conditional discriminator"):
        wavegan.build("specgan", "cpu", conditional=False, d=2, auxiliary_classifier=True)
    # Trainer's classifier loss: D learns to name the digit of real spectrograms
    real = torch.rand(8, 1, 128, 128) * 2 - 1
    real_labels = torch.arange(8) % 4
    trainer = Trainer(generator, discriminator, [(real, real_labels)], loss="hinge", classifier_weight=1.0,
                      lr=2e-3, progress=False)
    trainer.fit(30)
    d_class = trainer.history["d_class"]
    assert sum(d_class[-5:]) < sum(d_class[:5])


def test_mel_discriminator_reads_the_log_mel_and_pairs_with_the_waveform_one():
    torch.manual_seed(0)
    generator, discriminator = wavegan.build("wavegan", "cpu", conditional=True, d=4, mel_discriminator=True)
    assert isinstance(discriminator, wavegan.WaveMelDiscriminator)
    labels = torch.tensor([0, 3, 9])
    out = discriminator(generator(torch.randn(3, 100), labels), labels)
    assert isinstance(out, list) and [o.shape for o in out] == [(3, 1), (3, 1)]
    mel = discriminator.mel
    assert mel.mel.sample_rate == 8000 and mel.mel.hop_length == 64
    with pytest.raises(ValueError, match="expected waveforms \\(batch, 1, 8192\\)"):
        mel(torch.randn(2, 1, 4096), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="pass labels"):
        mel(torch.randn(2, 1, 8192))
    # the mel branch judges the spectrum, not the phase: a clip and its polarity flip look alike
    x = 0.5 * torch.sin(torch.linspace(0, 900, 8192)).repeat(2, 1, 1)
    with torch.no_grad():  # eval: spectral norm's power iteration would move between the calls
        assert torch.allclose(mel.eval()(x, labels[:2]), mel(-x, labels[:2]), atol=1e-5)
    # with an auxiliary classifier on the waveform side, the class logits come through
    _, both = wavegan.build("wavegan", "cpu", conditional=True, d=4, mel_discriminator=True,
                            auxiliary_classifier=True)
    out = both(torch.zeros(3, 1, 8192), labels)
    assert len(out["logits"]) == 2 and out["classes"].shape == (3, 10)


def test_mel_discriminator_learns_to_tell_a_tone_from_noise():
    torch.manual_seed(0)
    mel = wavegan.MelDiscriminator(d=2, spectral_norm=True)
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * torch.arange(8192) / 8000).repeat(4, 1, 1)
    noise = 0.3 * torch.randn(4, 1, 8192)
    optimizer = torch.optim.Adam(mel.parameters(), lr=1e-3)
    for _ in range(30):
        optimizer.zero_grad()
        loss = losses.discriminator_loss(mel(tone), mel(noise), "hinge")
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert (mel(tone) > mel(noise).max()).all()


def test_minibatch_stddev_sees_a_collapsed_batch():
    torch.manual_seed(0)
    diverse = torch.randn(8, 3, 5)
    collapsed = torch.randn(1, 3, 5).repeat(8, 1, 1)
    out = wavegan.minibatch_stddev(diverse)
    assert out.shape == (8, 4, 5) and torch.equal(out[:, :3], diverse)
    # the channel: per group of 4 (examples 0, 2, 4, 6 and 1, 3, 5, 7 for a batch of 8, as
    # ProGAN's reshape groups them), the mean over features of the spread across the group
    for start in (0, 1):
        spread = diverse[start::2].std(dim=0, unbiased=False).mean()
        assert torch.allclose(out[start::2, 3], spread.expand(4, 5), atol=1e-6)
    assert wavegan.minibatch_stddev(collapsed)[:, 3].max() < 1e-3 < out[:, 3].min()
    assert wavegan.minibatch_stddev(torch.randn(6, 3, 5)).shape == (6, 4, 5)  # 4 does not divide 6: one group
    with pytest.raises(ValueError, match="batch of 2 or more, got 1"):
        wavegan.minibatch_stddev(torch.randn(1, 3, 5))
    _, discriminator = wavegan.build("wavegan", "cpu", d=4, minibatch_std=True, mel_discriminator=True)
    assert [o.shape for o in discriminator(torch.randn(4, 1, 8192))] == [(4, 1), (4, 1)]


def test_describe_recipe_names_a_runs_discriminator_and_losses():
    from ganlib.digits import describe_recipe
    assert describe_recipe({"conditional": True, "mel_discriminator": True}) == "projection + mel D"
    assert describe_recipe({"conditional": True, "auxiliary_classifier": 1.0}) == "projection + AC"
    assert describe_recipe({"conditional": False, "mel_discriminator": True, "minibatch_std": True}) == \
        "waveform D + mel D + minibatch std"
    assert describe_recipe({"mel_discriminator": True, "diversity": 1.0}) == "waveform D + mel D + diversity"
    assert describe_recipe({"conditional": False, "self_conditioned": 40, "auxiliary_classifier": 1.0}) == \
        "projection on 40 clusters + AC"


def _self_conditioned(prior):
    generator = WaveGANGenerator(d=2, latent_dim=8, length=1024, num_classes=len(prior)).eval()
    return wavegan.Pretrained(generator, 8000, None, {}, torch.tensor(prior))


def test_a_self_conditioned_generator_is_unconditional_and_draws_clusters_from_its_prior():
    torch.manual_seed(0)
    only_cluster_2 = _self_conditioned([0.0, 0.0, 1.0, 0.0])
    assert not only_cluster_2.conditional
    clips = only_cluster_2.generate(6, seed=3)
    assert clips.shape == (6, 1024)
    # the prior puts every clip in cluster 2: the same clips as asking for cluster 2 outright
    torch.testing.assert_close(clips, only_cluster_2.generate(clusters=[2] * 6, seed=3))
    assert not torch.allclose(clips, only_cluster_2.generate(clusters=[1] * 6, seed=3))
    # an even prior draws several clusters, reproducibly for a seed
    even = _self_conditioned([0.25] * 4)
    even.generator.load_state_dict(only_cluster_2.generator.state_dict())
    torch.testing.assert_close(even.generate(6, seed=3), even.generate(6, seed=3))
    assert not torch.allclose(even.generate(6, seed=3), clips)


def test_a_self_conditioned_generator_refuses_digits_and_a_prior_of_the_wrong_size():
    model = _self_conditioned([0.5, 0.5])
    with pytest.raises(ValueError, match="unconditional.*clusters="):
        model.generate(labels=[1, 2])
    with pytest.raises(ValueError, match="3 shares for a generator of 2 classes"):
        wavegan.Pretrained(model.generator, 8000, None, {}, torch.ones(3) / 3)
    plain = wavegan.Pretrained(WaveGANGenerator(d=2, latent_dim=8, length=1024), 8000, None, {})
    with pytest.raises(ValueError, match="clusters= is for a self-conditioned generator"):
        plain.generate(clusters=[0])


@pytest.fixture(scope="module")
def training_digits():
    from ganlib.digits import load_digits
    return load_digits("training", 16000, 16384)


def test_pseudo_labels_find_the_spoken_words_without_their_labels(training_digits):
    from ganlib.digits import cluster_purity, pseudo_labels
    audio, labels = training_digits
    clusters = pseudo_labels(audio, 16000, clusters=40)
    assert clusters.dtype == torch.int64 and clusters.shape == labels.shape
    assert sorted(clusters.unique().tolist()) == list(range(40)) and clusters[0] == 0  # numbered by first clip
    # 40 clusters of 800 clips of ten words: most clusters hold one word (0.1 if met at random)
    assert cluster_purity(clusters, labels) > 0.85
    assert torch.equal(clusters, pseudo_labels(audio, 16000, clusters=40))  # seeded
    assert cluster_purity(pseudo_labels(audio, 16000, clusters=10), labels) > 0.5
    assert cluster_purity(torch.arange(800) % 40, labels) < 0.2  # the measure itself: chance is low


def test_pseudo_labels_refuse_an_impossible_number_of_clusters():
    from ganlib.digits import pseudo_labels
    with pytest.raises(ValueError, match="clusters must be between 2 and the number of clips \\(5\\), got 6"):
        pseudo_labels(torch.randn(5, 4000), 8000, clusters=6)
