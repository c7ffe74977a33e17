"""The shipped checkpoints (data/checkpoints/): small, documented, loadable with weights_only,
and as good as their JSON says, recomputed here (issue bars: IS ratio >= 0.6, conditional
accuracy >= 0.8, classifier >= 95 % on held-out speakers; the HiFi-GAN vocoder's mel L1 and
MR-STFT distance >= 30 % below Griffin-Lim's and PESQ above it, on the held-out sentences)."""
import json

import pytest
import torch

from ganlib import digits, metrics, speech
from ganlib.models import classifier as classifier_module
from ganlib.models import hifigan, wavegan

CHECKPOINTS = digits.CHECKPOINTS
GENERATORS = ["wavegan_cpu", "conditional_wavegan_cpu", "conditional_specgan_cpu", "self_conditioned_specgan_cpu"]
CONDITIONAL = ["conditional_wavegan_cpu", "conditional_specgan_cpu"]


def report(name: str) -> dict:
    return json.loads((CHECKPOINTS / f"{name}.json").read_text())


def test_every_checkpoint_is_at_most_10_mb_and_has_its_json_with_the_command():
    shipped = sorted(CHECKPOINTS.glob("*.pt"))
    assert {p.stem for p in shipped} >= {"digit_classifier", *GENERATORS, "hifigan_cpu"}
    for path in shipped:
        assert path.stat().st_size <= 10 * 10**6, path
        info = report(path.stem)
        tool = "train_vocoder" if path.stem.startswith("hifigan") else "train_digits"
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


@pytest.fixture(scope="module")
def vocoder_scores():
    """The shipped HiFi-GAN against Griffin-Lim on the 15 held-out sentences, recomputed."""
    vocoder = hifigan.Vocoder.from_checkpoint(speech.VOCODER, preset=report("hifigan_cpu")["preset"], device="cpu")
    return speech.score_vocoder(vocoder)


def test_vocoder_scores_are_what_its_json_says(vocoder_scores):
    shipped = report("hifigan_cpu")
    assert shipped["held_out"] == [clip_id for clip_id, _ in speech.load_sentences("held_out")]
    for name in ("vocoder", "griffin_lim"):
        assert vocoder_scores[name]["clips"] == shipped["scores"][name]["clips"] == 15
        for key, tolerance in (("mel_l1", 1e-3), ("mr_stft", 1e-3), ("pesq", 0.02)):
            assert vocoder_scores[name][key] == pytest.approx(shipped["scores"][name][key], abs=tolerance), (name, key)
    assert speech.meets_bar(vocoder_scores) == shipped["meets_bar"]
    assert shipped["size_mb"] <= 10 and shipped["steps"] > 0


# Issue 4's bar. Met: the MR-STFT distance. Not: mel L1, which Griffin-Lim keeps low by construction
# (its pseudo-inverse reproduces the mel) and which even a hiss 60 dB down fails (test_vocoder_scores.py),
# and PESQ, which grows slowly with CPU training. To go on from the shipped generator in a fresh checkout:
# python tools/train_vocoder.py train --run hifigan_cpu --init-generator-from data/checkpoints/hifigan_cpu.pt
@pytest.mark.xfail(strict=True, reason="issue 4: mel L1 and PESQ not below / above Griffin-Lim's (blocked: see the issue)")
def test_vocoder_meets_the_bar(vocoder_scores):
    below = vocoder_scores["below_griffin_lim"]
    assert below["mel_l1"] >= 0.3, vocoder_scores["below_griffin_lim"]
    assert below["mr_stft"] >= 0.3, vocoder_scores["below_griffin_lim"]
    assert vocoder_scores["pesq_gain"] > 0, vocoder_scores["pesq_gain"]


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
