"""The vocoder task of chapter 07: the bundled sentences, their held-out split, and the scores
that compare a vocoder with Griffin-Lim on the same mel spectrograms.

    training = speech_dataset("training", segment_length=4096, mel=MelSpectrogram(**hifigan.MEL))
    clips = load_sentences("held_out")                 # [(id, waveform (samples,)), ...] at 22.05 kHz
    report = score_vocoder(vocoder, clips)             # mel L1, MR-STFT, PESQ: the vocoder, Griffin-Lim

The data is the course's data/speech (LJ Speech layout, one voice, 195 sentences); with the
real LJ Speech pass root="path/to/LJSpeech-1.1" (or set GANLIB_SPEECH). The held-out split is
the last HELD_OUT rows of metadata.csv (for LJ Speech too: its last 15 clips, LJ050-0264 ...),
never seen in training. tools/train_vocoder.py trains and exports data/checkpoints/hifigan_cpu.pt.

Notebook: 07_gan_vocoders.ipynb
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import audio, datasets, metrics

DATA = Path(__file__).resolve().parents[1] / "data"
CHECKPOINTS = DATA / "checkpoints"
VOCODER = CHECKPOINTS / "hifigan_cpu.pt"
HELD_OUT = 15  # sentences, the last rows of metadata.csv
SUBSETS = ("training", "held_out", "all")


def speech_root(root=None) -> Path:
    return Path(root or os.environ.get("GANLIB_SPEECH") or DATA / "speech")


def speech_dataset(subset: str = "training", root=None, **options) -> torch.utils.data.Dataset:
    """ganlib.datasets.LJSpeech over the bundled sentences (or `root`), restricted to a subset:
    "training" (all but the last HELD_OUT rows), "held_out" (those) or "all". options go to
    LJSpeech (segment_length, mel, fields, cache...)."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    data = datasets.LJSpeech(speech_root(root), **options)
    if len(data) <= HELD_OUT:
        raise ValueError(f"{speech_root(root)} has {len(data)} sentences; the held-out split alone takes {HELD_OUT}")
    cut = len(data) - HELD_OUT
    indices = {"training": range(cut), "held_out": range(cut, len(data)), "all": range(len(data))}[subset]
    return torch.utils.data.Subset(data, list(indices))


def load_sentences(subset: str = "held_out", root=None, sample_rate: int = 22050,
                   limit: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """Whole sentences of a subset: [(id, waveform (samples,) float32 at sample_rate), ...]."""
    data = speech_dataset(subset, root, sample_rate=sample_rate, fields=("id", "audio"))
    count = len(data) if limit is None else min(limit, len(data))
    return [data[i] for i in range(count)]


def griffin_lim_vocoder(mel_spectrogram: audio.MelSpectrogram, n_iter: int = 32, seed: int = 0):
    """The baseline: a callable log-mel (n_mels, frames) -> waveform (samples,) by
    ganlib.audio.mel_to_audio (pseudo-inverse of the filterbank, then `n_iter` iterations of
    fast Griffin-Lim), its random starting phases seeded."""
    def vocode(mel: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            return audio.mel_to_audio(mel, mel_spectrogram, n_iter=n_iter, generator=generator)

    return vocode


def score_clips(vocoders: dict, clips, mel_spectrogram: audio.MelSpectrogram, loss_mel: audio.MelSpectrogram,
                pesq: bool = True) -> dict:
    """Resynthesise each clip from its mel (mel_spectrogram, taken once per clip) with each of
    `vocoders` ({name: log-mel (n_mels, frames) -> waveform}) and compare it with the original:
    {name: the means over the clips of mel L1 (under loss_mel), multi-resolution STFT distance
    and wide-band PESQ, with "clips" and "per_clip"}."""
    rows = {name: [] for name in vocoders}
    for clip_id, waveform in clips:
        with torch.inference_mode():
            mel = mel_spectrogram(waveform)
        for name, vocode in vocoders.items():
            made = torch.as_tensor(vocode(mel)).reshape(-1)[: len(waveform)]
            row = {"id": clip_id,
                   "mel_l1": metrics.mel_l1_distance(made, waveform, loss_mel),
                   "mr_stft": metrics.multi_resolution_stft_distance(made, waveform)}
            if pesq:
                row["pesq"] = metrics.pesq_wideband(made, waveform, mel_spectrogram.sample_rate)
            rows[name].append(row)
    return {name: _summary(table) for name, table in rows.items()}


def _summary(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k != "id"]
    summary = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}
    return {**summary, "clips": len(rows), "per_clip": [{k: (round(v, 4) if k != "id" else v) for k, v in r.items()}
                                                         for r in rows]}


def score_vocoder(vocoder, clips=None, n_iter: int = 32, pesq: bool = True, baseline: bool = True) -> dict:
    """A ganlib.models.hifigan.Vocoder against Griffin-Lim (`n_iter` iterations) on the same
    mels of the held-out sentences (or `clips`): {"vocoder": scores, "griffin_lim": scores,
    "below_griffin_lim": {"mel_l1": 1 - vocoder / GL, "mr_stft": ...}, "pesq_gain": vocoder -
    GL}. The bar of chapter 07's shipped checkpoint: mel L1 and MR-STFT at least 30 % below
    Griffin-Lim's, PESQ above it."""
    from .models import hifigan

    clips = load_sentences("held_out", sample_rate=vocoder.sample_rate) if clips is None else clips
    vocoders = {"vocoder": vocoder}
    if baseline:
        vocoders["griffin_lim"] = griffin_lim_vocoder(vocoder.mel_spectrogram, n_iter)
    report = score_clips(vocoders, clips, vocoder.mel_spectrogram, hifigan.loss_mel_spectrogram(), pesq)
    if baseline:
        ours, theirs = report["vocoder"], report["griffin_lim"]
        report["below_griffin_lim"] = {k: round(1 - ours[k] / theirs[k], 4) for k in ("mel_l1", "mr_stft")}
        if pesq:
            report["pesq_gain"] = round(ours["pesq"] - theirs["pesq"], 4)
    return report


def meets_bar(report: dict) -> bool:
    """Chapter 07's bar for a shipped vocoder (see score_vocoder)."""
    below = report["below_griffin_lim"]
    return below["mel_l1"] >= 0.3 and below["mr_stft"] >= 0.3 and report.get("pesq_gain", 0) > 0
