"""The spoken-digit task of chapters 04-06: the data, the judge and the shipped models.

    audio, labels = load_digits("training", sample_rate=8000, length=8192)   # tensors, padded
    judge = DigitJudge()                 # the shipped classifier + real clips' features
    judge.real_scores                    # IS etc. of the real training clips, the yardstick
    judge.score(generated, 8000)         # IS, coverage, Fréchet distance, NN ratio (+ accuracy)
    clusters = pseudo_labels(audio, 8000, clusters=40)   # word-like groups found without labels

The data is the course's data/digits (Speech Commands layout); with the real SC09 pass
root="path/to/speech_commands_v0.02" (or set GANLIB_DIGITS). The classifier and the GAN
checkpoints live in data/checkpoints/ (tools/train_digits.py trains and exports them).

Notebooks: 04_wavegan.ipynb, 05_specgan_and_conditional_gans.ipynb, 06_evaluating_audio_gans.ipynb
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import datasets, metrics
from .models import classifier as classifier_module

DATA = Path(__file__).resolve().parents[1] / "data"
CHECKPOINTS = DATA / "checkpoints"
CLASSIFIER = CHECKPOINTS / "digit_classifier.pt"
WORDS = datasets.DIGITS


def digits_root(root=None) -> Path:
    return Path(root or os.environ.get("GANLIB_DIGITS") or DATA / "digits")


def load_digits(subset: str = "training", sample_rate: int = 16000, length: int = 16000,
                root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every clip of a split, resampled and zero-padded (or cropped) to `length`:
    (audio (n, length) float32, labels (n,) int64), ordered word by word."""
    data = datasets.SpeechCommands(digits_root(root), subset=subset, sc09=True, sample_rate=sample_rate,
                                   segment_length=length, fields=("audio", "label"))
    if len(data) == 0:
        raise ValueError(f"no {subset} clips in {digits_root(root)}")
    audio, labels = zip(*(data[i] for i in range(len(data))))
    return torch.stack(audio), torch.tensor(labels)


def word_templates(audio: torch.Tensor, sample_rate: int, frames: int = 12, n_mfcc: int = 13) -> torch.Tensor:
    """A fixed-size description of each spoken word, made without labels, as the template
    matchers of isolated-word recognition did: trim the silence around the word (samples
    quieter than 2 % of the clip's peak), take 13 MFCCs (32 ms windows, 8 ms hop), remove the
    clip's mean MFCC (cepstral mean normalisation: the voice and the microphone, not the word)
    and stretch the word to `frames` frames. (n, frames x n_mfcc) float32."""
    import librosa

    n_fft, hop = round(0.032 * sample_rate), round(0.008 * sample_rate)
    out = []
    for clip in audio.detach().cpu().float().numpy():
        # a per-sample threshold, not audio.trim_silence's frame energies: the shipped
        # self-conditioned model's clusters were found with it
        loud = np.flatnonzero(np.abs(clip) > 0.02 * max(np.abs(clip).max(), 1e-8))
        word = clip[loud[0]:loud[-1] + 1] if len(loud) else clip
        word = np.pad(word, (0, max(0, n_fft - len(word))))
        mfcc = librosa.feature.mfcc(y=word, sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop)
        mfcc = torch.from_numpy(mfcc - mfcc.mean(1, keepdims=True)).float()
        out.append(torch.nn.functional.interpolate(mfcc[None], size=frames, mode="linear", align_corners=False)[0].flatten())
    return torch.stack(out)


def pseudo_labels(audio: torch.Tensor, sample_rate: int, clusters: int = 40, seed: int = 0,
                  dims: int = 50) -> torch.Tensor:
    """Cluster ids (n,) int64 for clips, found without their labels: k-means (k-means++ starts,
    the best of 10 by inertia) on word_templates, standardised and reduced to `dims` principal
    components. The self-conditioned GAN (Liu et al., 2020) trains a conditional GAN on such
    clusters; with more clusters than words each cluster is purer (chapter 05 measures it)."""
    from scipy.cluster.vq import kmeans2

    if not 2 <= clusters <= len(audio):
        raise ValueError(f"clusters must be between 2 and the number of clips ({len(audio)}), got {clusters}")
    x = word_templates(audio, sample_rate).double()
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    x = (x @ v[:min(dims, v.shape[0])].T).numpy()
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(10):
        centres, ids = kmeans2(x, clusters, minit="++", seed=rng, iter=50)
        inertia = ((x - centres[ids]) ** 2).sum()
        if inertia < best_inertia and len(np.unique(ids)) == clusters:
            best, best_inertia = ids, inertia
    if best is None:
        raise RuntimeError(f"k-means left a cluster empty in 10 tries: ask for fewer than {clusters}")
    # number the clusters by their first clip, so the ids do not depend on k-means' internal order
    _, first = np.unique(best, return_index=True)
    order = np.argsort(first)
    renumber = np.empty(clusters, dtype=np.int64)
    renumber[order] = np.arange(clusters)
    return torch.from_numpy(renumber[best])


def cluster_purity(clusters: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of clips whose cluster's most common label is their own label (1: each
    cluster holds one word; 0.1 for ten words met at random)."""
    return sum(int(torch.bincount(labels[clusters == c]).max()) for c in clusters.unique()) / len(labels)


class DigitJudge:
    """Scores generated digits with the classifier: everything ganlib.metrics.evaluate_generator
    reports, with the real clips' features as the reference (Fréchet distance to the
    validation speakers, nearest-neighbour ratio against training vs held-out speakers)."""

    def __init__(self, classifier_path=CLASSIFIER, root=None):
        self.classifier = classifier_module.load_classifier(classifier_path)
        rate = self.classifier.sample_rate
        self.real = {subset: load_digits(subset, rate, rate, root) for subset in ("training", "validation", "testing")}
        outputs = {subset: metrics.classify(self.classifier, audio) for subset, (audio, _) in self.real.items()}
        self.probabilities = {subset: probs for subset, (probs, _) in outputs.items()}
        self.features = {subset: features for subset, (_, features) in outputs.items()}
        self.held_out_features = torch.cat([self.features["validation"], self.features["testing"]])
        self.real_scores = metrics.score_predictions(
            self.probabilities["training"], self.features["training"], real_features=self.features["validation"],
            training_features=self.features["training"], held_out_features=self.held_out_features)

    def score(self, generated: torch.Tensor, sample_rate: int, labels=None, splits: int = 10) -> dict:
        """Scores of waveforms (n, samples) at sample_rate; labels: the digits asked for."""
        return metrics.evaluate_generator(self.classifier, generated, sample_rate,
                                          real_features=self.features["validation"],
                                          training_features=self.features["training"],
                                          held_out_features=self.held_out_features, labels=labels,
                                          splits=splits)


def describe_recipe(settings: dict) -> str:
    """A training run's discriminator and extra losses in words, from the settings that
    tools/train_digits.py records (a checkpoint's JSON, or its "compared_with" runs):
    e.g. "projection + mel D" for a conditional run, "waveform D + mel D + diversity" otherwise,
    "projection on 40 clusters + AC" for a self-conditioned one."""
    clusters = settings.get("self_conditioned")
    parts = [f"projection on {clusters} clusters" if clusters else "projection" if settings.get("conditional")
             else "waveform D",
             "AC" if settings.get("auxiliary_classifier") else "",
             "mel D" if settings.get("mel_discriminator") else "",
             "minibatch std" if settings.get("minibatch_std") else "",
             "diversity" if settings.get("diversity") else ""]
    return " + ".join(part for part in parts if part)


def generate_for_scoring(pretrained, n: int = 1000, seed: int = 0, chunk: int = 250) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n clips from a shipped generator, reproducibly (chunk i drawn with seed + i), and the
    digits asked for (0, 1, ..., 9, 0, ... for a conditional one; None otherwise)."""
    labels = torch.arange(n) % 10 if pretrained.conditional else None
    clips = []
    for i, start in enumerate(range(0, n, chunk)):
        size = min(chunk, n - start)
        if labels is not None:
            clips.append(pretrained.generate(labels=labels[start:start + size], seed=seed + i))
        else:
            clips.append(pretrained.generate(size, seed=seed + i))
    return torch.cat(clips), labels


def score_pretrained(pretrained, judge: DigitJudge | None = None, n: int = 1000, seed: int = 0) -> dict:
    """The scores a shipped checkpoint's JSON records, recomputed: generate_for_scoring, then
    judge.score; adds inception_score_ratio (to the real training clips')."""
    judge = judge or DigitJudge()
    clips, labels = generate_for_scoring(pretrained, n, seed)
    scores = judge.score(clips, pretrained.sample_rate, labels)
    scores["inception_score_ratio"] = round(scores["inception_score"] / judge.real_scores["inception_score"], 4)
    return scores
