"""The vocoder task of chapter 07: the bundled sentences, their held-out split, and the scores
that compare a vocoder with Griffin-Lim on the same mel spectrograms.

    training = speech_dataset("training", segment_length=4096, mel=MelSpectrogram(**hifigan.MEL))
    clips = load_sentences("held_out")                 # [(id, waveform (samples,)), ...] at 22.05 kHz
    vocoder = load_vocoder("fourier_cpu")              # or "hifigan_cpu": the same interface
    report = score_vocoder(vocoder, clips)             # PESQ, STOI, MR-STFT, pitch...: the vocoder, Griffin-Lim
    meets_bar(report)                                  # BAR: every vocoder of the course against Griffin-Lim
    voice = load_voice("p901")                         # a voice the vocoders never heard (data/parallel)

The data is the course's data/speech (LJ Speech layout, one voice, 195 sentences); with the
real LJ Speech pass root="path/to/LJSpeech-1.1" (or set GANLIB_SPEECH). The held-out split is
the last HELD_OUT rows of metadata.csv (for LJ Speech too: its last 15 clips, LJ050-0264 ...),
never seen in training. tools/train_vocoder.py trains and exports data/checkpoints/hifigan_cpu.pt
and fourier_cpu.pt. SCORE_TOLERANCE says how closely a recomputed score must agree with a
shipped JSON's on any CPU (measured by benchmarks/score_spread.py).

Notebook: 07_gan_vocoders.ipynb
"""
from __future__ import annotations

import json
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


def load_voice(speaker: str, limit: int = HELD_OUT, root=None, sample_rate: int = 22050) -> list[tuple[str, torch.Tensor]]:
    """The first `limit` clips of one voice of data/parallel (VCTK layout; or `root`), at
    sample_rate: [(id, waveform (samples,)), ...]. p902 is the bundled speech's voice reading
    other sentences, p901 another voice: voices a vocoder trained on data/speech never heard
    (their files are 16 kHz, so nothing lies above 8 kHz).
    Notebook: 07_gan_vocoders.ipynb"""
    data = datasets.VCTK(Path(root) if root else DATA / "parallel", speakers=[speaker], sample_rate=sample_rate,
                         fields=("id", "audio"))
    return [data[i] for i in range(min(limit, len(data)))]


def load_vocoder(name, device=None):
    """A shipped vocoder by name ("hifigan_cpu", "fourier_cpu", ...: data/checkpoints/<name>.pt)
    or by path (a .pt with its .json beside it), as ganlib.models.hifigan.Vocoder or
    ganlib.models.fourier.Vocoder as its JSON says: both take a log-mel (n_mels, frames) and give
    a waveform, and have .mel(waveform), .from_wav(path), .sample_rate, .mel_spectrogram, so a
    chapter swaps one for the other with this one argument.
    Notebook: 07_gan_vocoders.ipynb (chapter 09 vocodes with it)"""
    from .models import fourier, hifigan

    path = Path(name) if str(name).endswith(".pt") else CHECKPOINTS / f"{name}.pt"
    report_path = path.with_suffix(".json")
    if not path.is_file() or not report_path.is_file():
        shipped = sorted(p.stem for p in CHECKPOINTS.glob("*.json")
                         if json.loads(p.read_text()).get("model") in ("hifigan", "fourier"))
        raise FileNotFoundError(f"no vocoder {name!r}: needs {path} and {report_path.name} beside it "
                                f"(shipped vocoders: {shipped})")
    report = json.loads(report_path.read_text())
    if report.get("model") == "fourier":
        return fourier.Vocoder.from_checkpoint(path, preset=report.get("preset"), device=device)
    if report.get("model") == "hifigan":
        return hifigan.Vocoder.from_checkpoint(path, preset=report["preset"], device=device)
    raise ValueError(f"{report_path}: model {report.get('model')!r} is not a vocoder (hifigan or fourier)")


def griffin_lim_vocoder(mel_spectrogram: audio.MelSpectrogram, n_iter: int = 32, seed: int = 0):
    """The baseline: a callable log-mel (n_mels, frames) -> waveform (samples,) by
    ganlib.audio.mel_to_audio (pseudo-inverse of the filterbank, then `n_iter` iterations of
    fast Griffin-Lim), its random starting phases seeded."""
    def vocode(mel: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            return audio.mel_to_audio(mel, mel_spectrogram, n_iter=n_iter, generator=generator)

    return vocode


#: Every recomputed score of a vocoder on the held-out clips agrees with the JSON it shipped
#: with to within these, clip by clip, on any x86-64 CPU. Measured by benchmarks/score_spread.py
#: (results/score_spread.json): the largest change of any clip's score when the same sound is
#: made with the rounding of another machine (Griffin-Lim in float64 instead of float32, every
#: mel value or output sample moved by one float32 step, 2 threads instead of 1, HiFi-GAN's plain
#: instead of its fast network), times SPREAD_MARGIN: two machines can each stray that far, in
#: opposite directions; and at least SCORE_RESOLUTION. Griffin-Lim's MR-STFT distance moves most
#: (0.027 on one clip in float64; one step on each output sample: 0.023), because its log-magnitude
#: term weighs the empty band above 8 kHz, where rounding is all there is; the Fourier vocoders'
#: and HiFi-GAN's scores move by 1e-4 or less.
SCORE_TOLERANCE = {"mel_l1": 0.0002, "mr_stft": 0.054, "pesq": 0.0006, "stoi": 0.0001,
                   "pitch_cents": 5.0, "vuv_f1": 0.006}
SPREAD_MARGIN = 2.0
#: The smallest step a stored score can differ by: the JSONs keep 4 decimals (pitch errors 1),
#: so two values a hair apart can round 1e-4 apart; a pitch error in cents moves in pYIN's
#: 10-cent steps (one frame's voicing decision can move a median by 5), the voicing F1 by
#: about 0.005 a frame on a 2-second clip. No tolerance is smaller than this.
SCORE_RESOLUTION = {"mel_l1": 1e-4, "mr_stft": 1e-4, "pesq": 1e-4, "stoi": 1e-4, "pitch_cents": 5.0, "vuv_f1": 0.006}
SCORES = ("mel_l1", "mr_stft", "pesq", "stoi", "pitch_cents", "vuv_f1")


def score_clips(vocoders: dict, clips, mel_spectrogram: audio.MelSpectrogram, loss_mel: audio.MelSpectrogram,
                pesq: bool = True, pitch: bool | None = None) -> dict:
    """Resynthesise each clip from its mel (mel_spectrogram, taken once per clip) with each of
    `vocoders` ({name: log-mel (n_mels, frames) -> waveform}) and compare it with the original:
    {name: the means over the clips of mel L1 (under loss_mel), multi-resolution STFT distance,
    wide-band PESQ, STOI and, with `pitch`, the pitch error (median |cents| over the frames
    voiced in both, pYIN) and the F1 of the voiced/unvoiced decision (metrics.compare_pitch),
    with "clips" and "per_clip"}. pesq=False leaves out PESQ and STOI, and unless pitch=True the
    pitch scores too: the fast scores. A resynthesis with no voiced frame in common with the
    original (an untrained vocoder's noise) counts as an octave (1200 cents) off, voicing F1 0."""
    pitch = pesq if pitch is None else pitch
    rows = {name: [] for name in vocoders}
    rate = mel_spectrogram.sample_rate
    for clip_id, waveform in clips:
        with torch.inference_mode():
            mel = mel_spectrogram(waveform)
        true_pitch = audio.pitch_contour(waveform, rate) if pitch else None
        for name, vocode in vocoders.items():
            made = torch.as_tensor(vocode(mel)).reshape(-1)[: len(waveform)].float()
            row = {"id": clip_id,
                   "mel_l1": metrics.mel_l1_distance(made, waveform, loss_mel),
                   "mr_stft": metrics.multi_resolution_stft_distance(made, waveform)}
            if pesq:
                row["pesq"] = metrics.pesq_wideband(made, waveform, rate)
                row["stoi"] = metrics.stoi(made, waveform, rate)
            if pitch:
                made_pitch = audio.pitch_contour(made, rate)
                try:
                    compared = metrics.compare_pitch(made_pitch, true_pitch)
                except ValueError:  # no frame voiced in both
                    compared = {"median_abs_cents": 1200.0, "vuv_f1": 0.0}
                row["pitch_cents"], row["vuv_f1"] = compared["median_abs_cents"], compared["vuv_f1"]
            rows[name].append(row)
    return {name: _summary(table) for name, table in rows.items()}


def _summary(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k != "id"]
    summary = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}
    return {**summary, "clips": len(rows), "per_clip": [{k: (round(v, 4) if k != "id" else v) for k, v in r.items()}
                                                         for r in rows]}


def score_vocoder(vocoder, clips=None, n_iter: int = 32, pesq: bool = True, baseline: bool = True,
                  pitch: bool | None = None) -> dict:
    """A vocoder (any callable log-mel (n_mels, frames) -> waveform with .mel_spectrogram and
    .sample_rate: ganlib.models.hifigan.Vocoder, ganlib.models.fourier.Vocoder) against
    Griffin-Lim (`n_iter` iterations) on the same mels of the held-out sentences (or `clips`):
    {"vocoder": scores, "griffin_lim": scores (see score_clips), "below_griffin_lim":
    {"mel_l1": 1 - vocoder / GL, "mr_stft": ...}, "pesq_gain": vocoder - GL, "stoi_gain",
    "pitch_cents_gain": GL - vocoder (positive: a smaller error), "vuv_f1_gain"}. BAR and
    meets_bar say which of them a shipped vocoder must reach."""
    from .models import hifigan

    clips = load_sentences("held_out", sample_rate=vocoder.sample_rate) if clips is None else clips
    vocoders = {"vocoder": vocoder}
    if baseline:
        vocoders["griffin_lim"] = griffin_lim_vocoder(vocoder.mel_spectrogram, n_iter)
    report = score_clips(vocoders, clips, vocoder.mel_spectrogram, hifigan.loss_mel_spectrogram(), pesq, pitch)
    if baseline:
        report.update(compare_with_baseline(report["vocoder"], report["griffin_lim"]))
    return report


def compare_with_baseline(ours: dict, theirs: dict) -> dict:
    """The margins of score_vocoder between two score summaries (each with the keys it has)."""
    margins = {"below_griffin_lim": {k: round(1 - ours[k] / theirs[k], 4) for k in ("mel_l1", "mr_stft")}}
    for key, sign in (("pesq", 1), ("stoi", 1), ("pitch_cents", -1), ("vuv_f1", 1)):
        if key in ours and key in theirs:
            margins[f"{key}_gain"] = round(sign * (ours[key] - theirs[key]), 4)
    return margins


#: The bar every vocoder of the course meets on the held-out sentences, against Griffin-Lim on
#: the same mels (32 iterations): PESQ-wb at least 0.3 above, the MR-STFT distance at least 30 %
#: below, STOI not below, the pitch error (median cents) and the voicing F1 no worse. (The
#: mel L1 is reported, not judged: a hiss 60 dB down, inaudible, already doubles Griffin-Lim's.)
BAR = {"pesq_gain": 0.3, "below_griffin_lim.mr_stft": 0.3, "stoi_gain": 0.0, "pitch_cents_gain": 0.0,
       "vuv_f1_gain": 0.0}


def bar_check(report: dict) -> dict:
    """{criterion of BAR: (the report's margin, met?)}; a margin the report lacks is not met."""
    checks = {}
    for key, needed in BAR.items():
        value = report
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        checks[key] = (value, value is not None and value >= needed)
    return checks


def meets_bar(report: dict) -> bool:
    """Chapter 07's bar for a shipped vocoder (BAR, see score_vocoder)."""
    return all(met for _, met in bar_check(report).values())


def disagreements(recomputed: dict, shipped: dict, tolerance: dict | None = None) -> list[tuple]:
    """Clip by clip, the scores of `recomputed` (score_clips' summary of one vocoder) that differ
    from `shipped` (the same, from a JSON) by more than SCORE_TOLERANCE (or `tolerance`):
    [(clip id, key, recomputed, shipped), ...]; [] when all agree. Clips are matched by id."""
    tolerance = SCORE_TOLERANCE if tolerance is None else tolerance
    reference = {row["id"]: row for row in shipped["per_clip"]}
    return [(row["id"], key, row[key], reference[row["id"]][key])
            for row in recomputed["per_clip"] for key in SCORES
            if key in row and key in reference[row["id"]]
            and not abs(row[key] - reference[row["id"]][key]) <= tolerance[key]]
