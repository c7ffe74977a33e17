"""The small data sets the course bundles under data/ (made by data/make_*.py): present,
small, in their real layouts, readable by ganlib.datasets, and sound like what they claim."""
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ganlib import datasets

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_bundled_data_sets_stay_within_their_40_mb_budget():
    # data/checkpoints/ holds trained models, not data: each has its own 10 MB limit
    # (tests/test_checkpoints.py)
    tracked = [p for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts
               and "checkpoints" not in p.relative_to(DATA).parts]
    assert sum(p.stat().st_size for p in tracked) <= 40 * 10**6


# --- digits: data/digits, the SC09 stand-in (data/make_digits.py) -----------------------------

DIGITS_ROOT = DATA / "digits"
SUBSETS = ("training", "validation", "testing")


@pytest.fixture(scope="module")
def digits():
    assert DIGITS_ROOT.is_dir(), "data/digits is missing: run .venv/bin/python data/make_digits.py"
    return {subset: datasets.SpeechCommands(DIGITS_ROOT, subset=subset, sc09=True) for subset in SUBSETS}


def test_digits_folder_is_small_and_in_the_speech_commands_layout():
    files = [p for p in DIGITS_ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 12 * 2**20
    assert {p.name for p in DIGITS_ROOT.iterdir()} == set(datasets.DIGITS) | {"validation_list.txt", "testing_list.txt"}
    clips = [p for p in files if p.suffix == ".flac"]
    assert len(clips) == len(files) - 2
    for path in clips:
        speaker, n = path.stem.split("_nohash_")
        assert len(speaker) == 8 and int(speaker, 16) >= 0 and n.isdigit()


def test_digits_subsets_load_with_all_words_and_disjoint_speakers(digits):
    speakers = {}
    for subset, data in digits.items():
        assert len(data) > 0 and data.classes == list(datasets.DIGITS)
        assert {e["word"] for e in data.examples} == set(datasets.DIGITS)
        speakers[subset] = {e["speaker"] for e in data.examples}
    assert len(set().union(*speakers.values())) >= 30
    assert not speakers["training"] & speakers["validation"]
    assert not speakers["training"] & speakers["testing"]
    assert not speakers["validation"] & speakers["testing"]
    assert len(speakers["validation"]) >= 3 and len(speakers["testing"]) >= 3
    listed = set()
    for name in ("validation", "testing"):
        lines = (DIGITS_ROOT / f"{name}_list.txt").read_text(encoding="utf-8").split()
        assert all((DIGITS_ROOT / line).is_file() for line in lines)
        assert set(lines) == {e["id"] for e in digits[name].examples}
        listed |= set(lines)
    assert len(listed) + len(digits["training"]) == sum(len(d) for d in digits.values())


def test_digits_clips_are_one_second_of_speech(digits):
    low_band = []
    for data in digits.values():
        for example in data.examples:
            path = example["files"]["audio"]
            info = soundfile.info(str(path))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16"), path
            waveform, _ = soundfile.read(str(path), dtype="float32")
            assert np.isfinite(waveform).all()
            peak, rms = np.abs(waveform).max(), np.sqrt(np.mean(waveform ** 2))
            assert 0.5 < peak <= 0.91 and rms > 0.02, path
            loud = np.nonzero(np.abs(waveform) > 0.01)[0]
            assert 0.1 < (loud[-1] - loud[0]) / 16000 < 0.96, path  # a word, not a click, not a drone
            power = np.abs(np.fft.rfft(waveform)) ** 2  # 1 Hz bins
            low_band.append(power[:4000].sum() / power.sum())
    low_band = np.array(low_band)
    assert np.mean(low_band > 0.5) > 0.95 and np.median(low_band) > 0.8  # most energy below 4 kHz


def test_digits_items_are_trainer_ready(digits):
    data = datasets.SpeechCommands(DIGITS_ROOT, subset="validation", sc09=True, segment_length=16384,
                                   fields=("audio", "label"))
    waveform, label = data[0]
    assert waveform.shape == (16384,) and 0 <= label < 10
    assert waveform[16000:].abs().max() == 0  # zero-padded past the 1 s clip
