"""A small spoken-digit classifier on log-mel features: the judge of chapters 04-06.

Inception Score needs p(digit | clip) and Fréchet distance needs an embedding; the papers use
an Inception network for images and, for SC09, a classifier trained on the real digits
(Donahue et al., 2019). Ours is the same idea, small enough to train on a laptop in minutes:

    waveform (batch, samples) at 16 kHz
      -> log-mel (64 bands, 10 ms hop), floored 60 dB below the clip's peak (digital silence
         and a faint noise floor then look alike), minus the clip's mean (loudness does not matter)
      -> 4 x [conv 3x3 -> batch norm -> ReLU -> max pool 2]  (32, 64, 128, 128 channels)
      -> global average pool -> 128 features (the Fréchet embedding)
      -> dropout -> linear -> 10 logits

Any clip length works (the pool is global). `fit_classifier` trains it with augmentation
(time shift, gain, background noise) so that it judges generated audio by its words, not by
level or small offsets. The shipped one is data/checkpoints/digit_classifier.pt.

Notebook: 06_evaluating_audio_gans.ipynb
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from .. import audio

SAMPLE_RATE = 16000


class DigitClassifier(nn.Module):
    """waveform (batch, samples) at `sample_rate` -> logits (batch, num_classes).

    features(waveform) -> (batch, channels[-1]), the embedding for the Fréchet distance;
    probabilities(waveform) -> softmax over the classes.
    """

    def __init__(self, num_classes: int = 10, sample_rate: int = SAMPLE_RATE, n_mels: int = 64,
                 channels: tuple[int, ...] = (32, 64, 128, 128), dropout: float = 0.3,
                 dynamic_range_db: float = 60.0):
        super().__init__()
        self.num_classes, self.sample_rate = num_classes, sample_rate
        self.dynamic_range = dynamic_range_db / 20 * math.log(10)  # in natural-log units
        self.mel = audio.MelSpectrogram(sample_rate=sample_rate, n_fft=512, hop_length=sample_rate // 100,
                                        n_mels=n_mels, fmin=20.0, fmax=sample_rate / 2)
        blocks: list[nn.Module] = []
        width = 1
        for size in channels:
            blocks += [nn.Conv2d(width, size, 3, padding=1, bias=False), nn.BatchNorm2d(size),
                       nn.ReLU(), nn.MaxPool2d(2)]
            width = size
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)
        self.feature_dim = width

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 1, n_mels, frames): floored, each clip's mean removed."""
        if waveform.dim() == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.dim() == 3 and waveform.shape[1] == 1:  # (batch, 1, samples) from a generator
            waveform = waveform.squeeze(1)
        if waveform.dim() != 2:
            raise ValueError(f"expected waveforms (batch, samples), got shape {tuple(waveform.shape)}")
        features = self.mel(waveform)
        peak = features.amax(dim=(1, 2), keepdim=True)
        features = torch.maximum(features, peak - self.dynamic_range)
        features = features - features.mean(dim=(1, 2), keepdim=True)
        return features.unsqueeze(1)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.log_mel(waveform)).mean(dim=(2, 3))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(waveform)))

    @torch.no_grad()
    def probabilities(self, waveform: torch.Tensor) -> torch.Tensor:
        return F.softmax(self(waveform), dim=-1)


def augment(waveform: torch.Tensor, max_shift: int = 1600, noise_snr_db: tuple[float, float] = (15.0, 40.0),
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Random time shift (zero-filled, up to max_shift samples), gain (-12..0 dB) and white
    noise at a random SNR, per clip. waveform (batch, samples) -> same shape."""
    batch, samples = waveform.shape
    out = torch.zeros_like(waveform)
    shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=generator).tolist()
    for i, shift in enumerate(shifts):
        if shift >= 0:
            out[i, shift:] = waveform[i, :samples - shift]
        else:
            out[i, :shift] = waveform[i, -shift:]
    gain = 10 ** (-12 * torch.rand(batch, 1, generator=generator) / 20)
    snr = noise_snr_db[0] + (noise_snr_db[1] - noise_snr_db[0]) * torch.rand(batch, 1, generator=generator)
    power = out.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-10)
    noise = torch.randn(out.shape, generator=generator) * torch.sqrt(power / 10 ** (snr / 10))
    return (out + noise) * gain


def accuracy(classifier: nn.Module, batches: Iterable) -> float:
    """Fraction of (waveform, label) pairs in `batches` classified right (eval mode)."""
    was_training = classifier.training
    classifier.eval()
    right = total = 0
    with torch.no_grad():
        for waveform, label in batches:
            right += int((classifier(waveform).argmax(-1) == label).sum())
            total += len(label)
    classifier.train(was_training)
    if total == 0:
        raise ValueError("accuracy() got no examples")
    return right / total


def fit_classifier(classifier: DigitClassifier, train_batches: Iterable, epochs: int = 30,
                   lr: float = 2e-3, weight_decay: float = 1e-2, seed: int = 0,
                   progress: bool = True) -> list[float]:
    """Train with AdamW, a cosine learning-rate schedule and `augment`. train_batches: a
    re-iterable of (waveform (batch, samples), label (batch,)). Returns the mean loss per epoch."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * len(train_batches)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    from tqdm.auto import tqdm

    losses = []
    classifier.train()
    for _ in (bar := tqdm(range(epochs), desc="classifier", disable=not progress)):
        total, count = 0.0, 0
        for waveform, label in train_batches:
            loss = F.cross_entropy(classifier(augment(waveform, generator=generator)), label)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total, count = total + float(loss) * len(label), count + len(label)
        losses.append(total / count)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    classifier.eval()
    return losses


def load_classifier(path: str | Path, device="cpu") -> DigitClassifier:
    """The classifier saved at `path` (a dict with "config" and "model"), in eval mode."""
    from ..train import load_checkpoint, load_state

    checkpoint = load_checkpoint(path, map_location=device)
    classifier = DigitClassifier(**checkpoint["config"])
    load_state(classifier, {k: v.float() for k, v in checkpoint["model"].items()}, "classifier", str(path))
    return classifier.to(device).eval()
