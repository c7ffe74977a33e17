"""The bundled data/speech (the course's LJ Speech stand-in, made by data/make_speech.py)."""
import csv
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from repo_scripts import load_script
import soundfile
import torch
from torch.utils.data import DataLoader

from ganlib import datasets
from ganlib.audio import MelSpectrogram

# --- speech

ROOT = Path(__file__).resolve().parent.parent / "data" / "speech"
SAMPLE_RATE = 22050


def make_speech():
    return load_script("data/make_speech.py")


@pytest.fixture(scope="module")
def rows():
    with open(ROOT / "metadata.csv", encoding="utf-8", newline="") as file:
        return list(csv.reader(file, delimiter="|", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def clips(rows):
    return {clip_id: soundfile.read(str(ROOT / "wavs" / f"{clip_id}.flac"), dtype="float32") for clip_id, *_ in rows}


def test_layout_is_lj_speech_with_flac(rows):
    assert all(len(row) == 3 and all(row) for row in rows)
    ids = [row[0] for row in rows]
    assert len(set(ids)) == len(ids) >= 150
    assert all(re.fullmatch(r"GA\d{3}-\d{4}", clip_id) for clip_id in ids)
    assert sorted(p.name for p in (ROOT / "wavs").iterdir()) == sorted(f"{clip_id}.flac" for clip_id in ids)


def test_clips_are_22k_mono_finite_not_silent_1_to_10_s_and_10_minutes_in_all(clips):
    total = 0.0
    for clip_id, (waveform, rate) in clips.items():
        assert rate == SAMPLE_RATE and waveform.ndim == 1, clip_id
        assert np.isfinite(waveform).all(), clip_id
        assert 1.0 <= len(waveform) / rate <= 10.0, clip_id
        assert 0.5 < np.abs(waveform).max() <= 0.95 and waveform.std() > 0.01, clip_id
        total += len(waveform) / rate
    assert total >= 600


def test_normalized_text_has_no_digits_or_abbreviations(rows):
    assert any(re.search(r"\d", written) for _, written, _ in rows)  # the written column keeps them
    assert any("Mr." in written or "Dr." in written for _, written, _ in rows)
    for _, written, spoken in rows:
        assert not re.search(r"\d|\$|%|\b(Mr|Mrs|Dr|St|Capt|Prof|Mt|No|Ave)\.", spoken), spoken


def test_normaliser():
    normalize = make_speech().normalize_text
    assert (normalize("In 1865, Dr. Reed moved to 14 Elm St. on the 4th of May and paid $12.50.")
            == "In eighteen sixty-five, Doctor Reed moved to fourteen Elm Street on the fourth of May "
               "and paid twelve dollars and fifty cents.")
    assert normalize("By 1905 Mr. Gale had 2,341 books, 40% new, at 7:05 or 9:00 on the 21st.") == (
        "By nineteen oh five Mister Gale had two thousand three hundred forty-one books, forty percent new, "
        "at seven oh five or nine o'clock on the twenty-first.")


def test_ljspeech_reads_it_with_hifigan_mels(rows):
    mel = MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=256, n_mels=80)
    data = datasets.LJSpeech(ROOT, sample_rate=SAMPLE_RATE, segment_length=8192, mel=mel,
                             generator=torch.Generator().manual_seed(0))
    assert len(data) == len(rows)
    item = data[0]
    assert item["id"] == rows[0][0] and item["text"] == rows[0][2] and item["transcription"] == rows[0][1]
    assert item["path"].endswith(".flac")
    pairs = datasets.LJSpeech(ROOT, sample_rate=SAMPLE_RATE, segment_length=8192, mel=mel, fields=("audio", "mel"))
    audio, mels = next(iter(DataLoader(pairs, batch_size=4, shuffle=True)))
    assert audio.shape == (4, 8192) and mels.shape == (4, 80, 1 + 8192 // 256)
    assert torch.isfinite(mels).all() and audio.abs().amax(dim=1).min() > 0


def test_regeneration_reproduces_the_text_and_audio(rows, clips):
    make = make_speech()
    assert [(w, s) for _, w, s in rows] == make.sentences(len(rows), make.SEED)
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed: the audio cannot be regenerated here")
    for index in (0, len(rows) // 2, len(rows) - 1):
        expected = clips[rows[index][0]][0]
        with tempfile.TemporaryDirectory() as work:
            made = make.synthesise(rows[index][2], Path(work) / f"{index}.wav")
        assert made.shape == expected.shape
        np.testing.assert_allclose(made, expected, atol=1.5 / 32768)
