"""The bundled data/parallel (two voices reading the same sentences, made by data/make_parallel.py)."""
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from repo_scripts import load_script
import soundfile

from ganlib import datasets

ROOT = Path(__file__).resolve().parent.parent / "data" / "parallel"
SPEAKERS = ["p901", "p902"]
RATE = 16000


def make_parallel():
    return load_script("data/make_parallel.py")


@pytest.fixture(scope="module")
def data():
    return datasets.VCTK(ROOT)


def by_speaker(data):
    out = {speaker: {} for speaker in SPEAKERS}
    for example in data.examples:
        out[example["speaker"]][example["id"].split("_", 1)[1]] = example
    return out


def test_vctk_loads_both_speakers(data):
    assert data.classes == SPEAKERS
    assert len(data) == 2 * len(by_speaker(data)["p901"]) >= 120
    item = data[0]
    assert item["speaker"] == "p901" and item["label"] == 0 and item["id"] == "p901_001"
    assert item["path"].endswith("wav48_silence_trimmed/p901/p901_001_mic1.flac")
    assert item["has_text"] and item["text"]
    assert datasets.VCTK(ROOT, speakers=["p902"], sample_rate=RATE)[0]["speaker"] == "p902"


def test_same_sentence_ids_and_equal_transcripts(data):
    examples = by_speaker(data)
    assert sorted(examples["p901"]) == sorted(examples["p902"])
    assert sorted(examples["p901"]) == [f"{n:03d}" for n in range(1, len(examples["p901"]) + 1)]
    for n, example in examples["p901"].items():
        assert example["text"] == examples["p902"][n]["text"], n
        assert not re.search(r"\d|\$|%", example["text"]), example["text"]  # the spoken form
    texts = [example["text"] for example in examples["p901"].values()]
    assert len(set(texts)) == len(texts)


def test_clips_are_16k_mono_trimmed_normalised_plausible_durations(data):
    totals = {speaker: 0.0 for speaker in SPEAKERS}
    for example in data.examples:
        waveform, rate = soundfile.read(str(example["files"]["audio"]), dtype="float32")
        assert rate == RATE and waveform.ndim == 1, example["id"]
        seconds = len(waveform) / rate
        assert 0.8 <= seconds <= 8.0, example["id"]
        assert 0.85 < np.abs(waveform).max() <= 0.95 and waveform.std() > 0.01, example["id"]
        # roughly 0.15-0.8 s per word: the clip holds the sentence, not silence
        words = len(example["text"].split())
        assert 0.15 * words <= seconds <= 0.8 * words + 0.5, example["id"]
        totals[example["speaker"]] += seconds
    assert all(60 <= total <= 300 for total in totals.values()), totals


def test_size_at_most_5_mb():
    files = [p for p in ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5_000_000
    assert sum(p.stat().st_blocks * 512 for p in files) <= 5 * 2**20  # what `du -sh` counts


def test_regeneration_reproduces_the_text_and_audio(data):
    make = make_parallel()
    examples = by_speaker(data)
    rows = make.sentences()
    assert [spoken for _, spoken in rows] == [examples["p901"][n]["text"] for n in sorted(examples["p901"])]
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed: the audio cannot be regenerated here")
    for speaker, voice in make.VOICES.items():
        for n in (1, len(rows)):
            example = examples[speaker][f"{n:03d}"]
            expected, _ = soundfile.read(str(example["files"]["audio"]), dtype="float32")
            with tempfile.TemporaryDirectory() as work:
                made = make.synthesise(rows[n - 1][1], voice, Path(work) / "clip.wav")
            assert made.shape == expected.shape
            np.testing.assert_allclose(made, expected, atol=1.5 / 32768)
