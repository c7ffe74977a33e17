"""The shipped checkpoints (data/checkpoints/): small, documented, loadable with weights_only,
and as good as their JSON says, recomputed here (bars: IS ratio >= 0.6, conditional accuracy
>= 0.8, classifier >= 95 % on held-out speakers; every vocoder against Griffin-Lim on the
held-out sentences: ganlib.speech.BAR)."""
import json

import pytest
import torch

from ganlib import digits, metrics, speech
from ganlib.models import classifier as classifier_module
from ganlib.models import fourier, hifigan, wavegan

CHECKPOINTS = digits.CHECKPOINTS
GENERATORS = ["wavegan_cpu", "conditional_wavegan_cpu", "conditional_specgan_cpu", "self_conditioned_specgan_cpu"]
CONDITIONAL = ["conditional_wavegan_cpu", "conditional_specgan_cpu"]


def report(name: str) -> dict:
    return json.loads((CHECKPOINTS / f"{name}.json").read_text())


def test_every_checkpoint_is_at_most_10_mb_and_has_its_json_with_the_command():
    shipped = sorted(CHECKPOINTS.glob("*.pt"))
    assert {p.stem for p in shipped} >= {"digit_classifier", *GENERATORS, "hifigan_cpu", "fourier_cpu"}
    for path in shipped:
        assert path.stat().st_size <= 10 * 10**6, path
        info = report(path.stem)
        tool = "train_vocoder" if path.stem.startswith(("hifigan", "fourier")) else "train_digits"
        assert f"python tools/{tool}.py" in json.dumps(info), f"{path.stem}.json lacks the training command"
        torch.load(path, weights_only=True)  # plain tensors and data, nothing executable


def test_the_classifier_recognises_held_out_speakers():
    classifier = classifier_module.load_classifier(digits.CLASSIFIER)
    correct = total = 0
    for subset in ("validation", "testing"):
        audio, labels = digits.load_digits(subset)
        predicted = torch.cat([classifier(chunk).argmax(-1) for chunk in torch.split(audio, 100)])
        correct, total = correct + int((predicted == labels).sum()), total + len(labels)
    assert correct / total >= 0.95
    assert correct / total == pytest.approx(report("digit_classifier")["accuracy_held_out_speakers"], abs=0.01)


@pytest.fixture(scope="module")
def judge():
    return digits.DigitJudge()


@pytest.fixture(scope="module")
def rescored(judge):
    """Each shipped generator's scores, recomputed as its JSON says they were computed."""
    scores = {}
    for name in GENERATORS:
        pretrained = wavegan.load_pretrained(CHECKPOINTS / f"{name}.pt")
        assert pretrained.conditional == report(name)["conditional"]
        with torch.no_grad():
            scores[name] = digits.score_pretrained(pretrained, judge, n=report(name)["scores"]["n"], seed=0)
    return scores


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_scores_are_what_its_json_says(name, rescored):
    shipped, scores = report(name)["scores"], rescored[name]
    assert scores["n"] == 1000
    for key in ("inception_score", "frechet_distance", "nearest_neighbour_ratio", "accuracy"):
        if key in shipped:
            assert scores[key] == pytest.approx(shipped[key], rel=0.02, abs=0.01), key
    assert scores["classes_covered"] == shipped["classes_covered"]


# The bars. The conditional and the self-conditioned (unconditional) SpecGAN meet them;
# the WaveGANs not yet (their CPU runs are resumed over several sessions, runs/, see
# data/checkpoints/README.md). strict=True turns a pass into a failure, so a marker has to come
# off the day its file meets the bars.
@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_generator_says_the_digit_asked_for(name, rescored):
    # the accuracy half of issue 5's bar for a conditional model
    assert rescored[name]["accuracy"] >= 0.8, rescored[name]


NOT_YET = pytest.mark.xfail(strict=True, reason="issue 5: this generator does not reach an Inception Score ratio "
                                                "of 0.6 (and all ten digits) yet")


@pytest.mark.parametrize("name", [pytest.param("wavegan_cpu", marks=NOT_YET),
                                  pytest.param("conditional_wavegan_cpu", marks=NOT_YET),
                                  "conditional_specgan_cpu",
                                  "self_conditioned_specgan_cpu"])
def test_generator_meets_the_bar(name, rescored):
    scores = rescored[name]
    assert scores["inception_score_ratio"] >= 0.6, scores
    assert scores["classes_covered"] == 10
    if report(name)["conditional"]:
        assert scores["accuracy"] >= 0.8, scores


def test_the_self_conditioned_generator_draws_the_clusters_it_was_trained_on():
    # its clusters' shares ride in the checkpoint; ganlib.digits.pseudo_labels finds the same clusters again
    model = wavegan.load_pretrained(CHECKPOINTS / "self_conditioned_specgan_cpu.pt")
    clusters = report("self_conditioned_specgan_cpu")["self_conditioned"]
    assert not model.conditional and len(model.cluster_prior) == model.generator.num_classes == clusters
    audio, _ = digits.load_digits("training", 16000, 16384)
    found = digits.pseudo_labels(audio, 16000, clusters=clusters)
    torch.testing.assert_close(model.cluster_prior, torch.bincount(found, minlength=clusters) / len(found),
                               atol=1e-3, rtol=0)


VOCODERS = ["hifigan_cpu", "fourier_cpu", "fourier_cpu_no_discriminator"]


def load_vocoder(name: str):
    vocoder = speech.load_vocoder(name, device="cpu")
    assert type(vocoder) is {"fourier": fourier.Vocoder, "hifigan": hifigan.Vocoder}[report(name)["model"]]
    return vocoder


def score_against_griffin_lim(clips, names=tuple(VOCODERS)) -> dict:
    """Each shipped vocoder's score_vocoder report on `clips`, recomputed; Griffin-Lim's scores
    once for all (the vocoders share hifigan.MEL, so Griffin-Lim inverts the same mels)."""
    vocoders = {name: load_vocoder(name) for name in names}
    assert all(v.mel_spectrogram.n_mels == 80 and v.sample_rate == 22050 for v in vocoders.values())
    first = vocoders[names[0]]
    baseline = speech.score_clips({"griffin_lim": speech.griffin_lim_vocoder(first.mel_spectrogram)}, clips,
                                  first.mel_spectrogram, hifigan.loss_mel_spectrogram())["griffin_lim"]
    reports = {}
    for name, vocoder in vocoders.items():
        ours = speech.score_vocoder(vocoder, clips, baseline=False)["vocoder"]
        reports[name] = {"vocoder": ours, "griffin_lim": baseline, **speech.compare_with_baseline(ours, baseline)}
    return reports


@pytest.fixture(scope="module")
def vocoder_scores():
    """Each shipped vocoder against Griffin-Lim on the 15 held-out sentences, recomputed."""
    return score_against_griffin_lim(speech.load_sentences("held_out"))


@pytest.fixture(scope="module")
def unheard_voice_scores():
    """The same on the first 15 clips of each voice of data/parallel."""
    names = ("fourier_cpu", "fourier_cpu_no_discriminator")
    return {speaker: score_against_griffin_lim(speech.load_voice(speaker), names) for speaker in ("p901", "p902")}


@pytest.mark.parametrize("name", VOCODERS)
def test_vocoder_scores_are_what_its_json_says(name, vocoder_scores):
    """Clip by clip, every score within ganlib.speech.SCORE_TOLERANCE: the spread that another
    CPU's rounding makes, measured by benchmarks/score_spread.py (tests/test_vocoder_scores.py)."""
    shipped, recomputed = report(name), vocoder_scores[name]
    assert shipped["held_out"] == [clip_id for clip_id, _ in speech.load_sentences("held_out")]
    for which in ("vocoder", "griffin_lim"):
        assert recomputed[which]["clips"] == shipped["scores"][which]["clips"] == 15
        assert speech.disagreements(recomputed[which], shipped["scores"][which]) == [], which
    assert speech.meets_bar(recomputed) == shipped["meets_bar"]
    assert shipped["size_mb"] <= 10 and shipped["steps"] > 0


# The bar every vocoder of the course meets (ganlib.speech.BAR). The shipped HiFi-GAN does not: its
# PESQ grows slowly with CPU training (see data/checkpoints/README.md); to go on from it in a fresh
# checkout: python tools/train_vocoder.py train --run hifigan_cpu --init-generator-from data/checkpoints/hifigan_cpu.pt
# strict=True turns a pass into a failure, so the marker has to come off the day its file meets the bar.
# The shipped Fourier GAN met the bar during its discriminator-free warm-up (first_met_bar, tested below);
# after as long again with its discriminators its voicing F1 ends 0.004 below Griffin-Lim's, while its twin
# trained without them meets the whole bar (chapter 07, section 16, says what the discriminators buy).
@pytest.mark.parametrize("name", [pytest.param("hifigan_cpu", marks=pytest.mark.xfail(
    strict=True, reason="the CPU-trained HiFi-GAN's PESQ is below Griffin-Lim's")),
    pytest.param("fourier_cpu", marks=pytest.mark.xfail(
        strict=True, reason="the GAN's voicing F1 ends just below Griffin-Lim's; the rest of the bar is met")),
    "fourier_cpu_no_discriminator"])
def test_vocoder_meets_the_bar(name, vocoder_scores):
    checks = speech.bar_check(vocoder_scores[name])
    assert all(met for _, met in checks.values()), checks


def test_the_fourier_gan_misses_only_the_voicing_part_of_the_bar(vocoder_scores):
    checks = speech.bar_check(vocoder_scores["fourier_cpu"])
    assert [key for key, (_, met) in checks.items() if not met] == ["vuv_f1_gain"], checks
    assert checks["vuv_f1_gain"][0] > -0.01, checks


@pytest.mark.parametrize("name", ["fourier_cpu", "fourier_cpu_no_discriminator"])
def test_the_fourier_vocoder_met_the_bar_within_half_an_hour_of_training(name):
    shipped = report(name)
    first = shipped["first_met_bar"]["bar"]
    assert first is not None and first["train_hours"] <= 0.5, first
    row = next(r for r in shipped["history"] if r["step"] == first["step"])
    assert speech.meets_bar(row), row  # the history's margins, scored during training
    assert "python tools/train_vocoder.py train --model fourier" in " ".join(shipped["commands"])


@pytest.mark.xfail(strict=True, reason="not reached in the 1.45 CPU-hours trained so far: PESQ flattens near 3.2 "
                                        "without the discriminators and 2.95 with them (the JSONs' histories)")
@pytest.mark.parametrize("name", ["fourier_cpu", "fourier_cpu_no_discriminator"])
def test_the_fourier_vocoder_reached_pesq_3_5_within_two_hours(name):
    first = report(name)["first_met_bar"]["pesq_3.5"]
    assert first is not None and first["train_hours"] <= 2.0, first


def test_the_json_compares_the_gan_with_the_same_generator_trained_without_a_discriminator(vocoder_scores):
    gan, alone = report("fourier_cpu"), report("fourier_cpu_no_discriminator")
    assert alone["no_discriminator"] and not gan["no_discriminator"]
    assert gan["without_discriminator"]["name"] == "fourier_cpu_no_discriminator"
    assert gan["without_discriminator"]["scores"] == alone["scores"]
    assert abs(gan["train_hours"] - alone["train_hours"]) <= 0.1 * alone["train_hours"]  # as long, within 10 %


@pytest.mark.parametrize("name", ["fourier_cpu", "fourier_cpu_no_discriminator"])
def test_the_fourier_vocoder_scores_on_unheard_voices_are_what_its_json_says(name, unheard_voice_scores):
    shipped = report(name)["unheard_voices"]
    assert sorted(shipped) == ["p901", "p902"]
    for speaker, recomputed in unheard_voice_scores.items():
        for which in ("vocoder", "griffin_lim"):
            assert recomputed[name][which]["clips"] == shipped[speaker]["scores"][which]["clips"] == 15
            assert speech.disagreements(recomputed[name][which], shipped[speaker]["scores"][which]) == [], \
                (speaker, which)
        assert speech.meets_bar(recomputed[name]) == shipped[speaker]["meets_bar"]


def test_bf16_rounding_noise_is_loud_to_the_vocoders_log_mel_loss():
    """Why hifigan.trainer_options trains in fp32: the shipped generator run in bf16 autocast
    makes nearly the same waveform (rounding noise some 40 dB down), yet its log-mel error on a
    held-out sentence grows by more than half, in the bands the voice leaves empty."""
    generator = hifigan.Vocoder.from_checkpoint(speech.VOCODER, preset="cpu", device="cpu", fast=False).generator
    clip_id, waveform = speech.load_sentences("held_out", limit=1)[0]
    mel = hifigan.Vocoder(generator, device="cpu").mel(waveform)[None]
    with torch.no_grad():
        fp32 = generator(mel).reshape(-1)[: len(waveform)]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = generator(mel).float().reshape(-1)[: len(waveform)]
    snr_db = 10 * torch.log10(fp32.pow(2).sum() / (fp32 - bf16).pow(2).sum())
    assert snr_db > 35, snr_db
    loss_mel = hifigan.loss_mel_spectrogram("cpu")
    errors = [metrics.mel_l1_distance(x, waveform, loss_mel) for x in (fp32, bf16)]
    assert errors[1] > 1.5 * errors[0], (clip_id, errors)
