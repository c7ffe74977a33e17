"""data/notes: the course's bundled NSynth stand-in (General MIDI notes rendered with FluidSynth
by data/make_notes.py): in NSynth's layout, read by ganlib.datasets.NSynth, small, four
seconds at 16 kHz, and the pitch labels are the pitches one hears."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ganlib import datasets

ROOT = Path(__file__).resolve().parents[1] / "data" / "notes"
SUBSETS = ("train", "test")
FAMILIES = {"bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "vocal"}
KEYS = {"note", "note_str", "pitch", "velocity", "instrument", "instrument_str", "instrument_family",
        "instrument_family_str", "instrument_source", "instrument_source_str", "qualities", "qualities_str",
        "sample_rate"}


@pytest.fixture(scope="module")
def notes():
    assert ROOT.is_dir(), "data/notes is missing: run .venv/bin/python data/make_notes.py"
    return {subset: datasets.NSynth(ROOT, subset=subset) for subset in SUBSETS}


def test_notes_folder_is_small_and_in_the_nsynth_layout():
    files = [p for p in ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5 * 10**6
    assert {p.name for p in ROOT.iterdir()} == {f"nsynth-{s}" for s in SUBSETS}
    for subset in SUBSETS:
        folder = ROOT / f"nsynth-{subset}"
        examples = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
        assert {p.stem for p in (folder / "audio").iterdir()} == set(examples)
        assert all(p.suffix == ".flac" for p in (folder / "audio").iterdir())
        for name, note in examples.items():
            assert set(note) == KEYS and note["note_str"] == name and note["sample_rate"] == 16000
            assert name == f"{note['instrument_str']}-{note['pitch']:03d}-{note['velocity']:03d}"
            assert note["instrument_str"].startswith(f"{note['instrument_family_str']}_{note['instrument_source_str']}_")
            assert len(note["qualities"]) == 10


def test_nsynth_reads_both_subsets_with_every_family_and_disjoint_pitches(notes):
    for data in notes.values():
        assert len(data) >= 30
        assert {e["instrument_family_str"] for e in data.examples} == FAMILIES
        assert all(e["files"]["audio"].suffix == ".flac" for e in data.examples)
    train_pitches = {e["pitch"] for e in notes["train"].examples}
    assert min(train_pitches) <= 36 and max(train_pitches) >= 84
    assert not train_pitches & {e["pitch"] for e in notes["test"].examples}
    flutes = datasets.NSynth(ROOT, subset="train", instrument_families=["flute"], pitch_range=(50, 70))
    assert {e["pitch"] for e in flutes.examples} == {52, 60, 68}


def test_an_item_is_four_seconds_at_16_khz_with_its_labels(notes):
    item = notes["train"][0]
    assert item["audio"].shape == (64000,) and item["label"] == item["pitch"]
    assert item["id"] == "bass_electronic_001-036-100" and item["velocity"] == 100
    info = soundfile.info(str(notes["test"].examples[-1]["files"]["audio"]))
    assert info.samplerate == 16000 and info.channels == 1 and info.frames == 64000 and info.subtype == "PCM_16"
    audio = item["audio"].numpy()
    assert 0.01 < np.abs(audio).max() < 1.0                    # audible, not clipped
    assert np.abs(audio[: 16000]).max() > 10 * np.abs(audio[-1600:]).max()  # note on, then released


def strongest_pitch(waveform, rate=16000):
    """MIDI pitch of the strongest spectral peak of the held part (0.25-2.25 s)."""
    segment = waveform[rate // 4: rate // 4 + 2 * rate] * np.hanning(2 * rate)
    spectrum = np.abs(np.fft.rfft(segment, 4 * len(segment)))
    frequencies = np.fft.rfftfreq(4 * len(segment), 1 / rate)
    band = frequencies > 40
    return 69 + 12 * np.log2(frequencies[band][np.argmax(spectrum[band])] / 440)


@pytest.mark.parametrize("family", ["flute", "keyboard", "mallet"])
def test_pitch_labels_match_the_fundamental_of_clearly_pitched_instruments(family):
    data = datasets.NSynth(ROOT, subset="train", instrument_families=[family])
    assert len(data) >= 7
    for example in data.examples:
        waveform, _ = soundfile.read(str(example["files"]["audio"]), dtype="float32")
        assert abs(strongest_pitch(waveform) - example["pitch"]) < 1, example["id"]


def test_nsynth_prefers_wav_and_falls_back_to_flac(tmp_path):
    folder = tmp_path / "nsynth-valid"
    (folder / "audio").mkdir(parents=True)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000).astype(np.float32)
    note = {"pitch": 69, "velocity": 100, "instrument": 0, "instrument_str": "flute_acoustic_000",
            "instrument_family": 2, "instrument_family_str": "flute", "instrument_source": 0,
            "instrument_source_str": "acoustic", "qualities": [0] * 10, "qualities_str": [], "sample_rate": 16000}
    names = ["flute_acoustic_000-069-100", "flute_acoustic_000-069-127"]
    (folder / "examples.json").write_text(json.dumps({n: dict(note, note_str=n) for n in names}))
    soundfile.write(str(folder / "audio" / f"{names[0]}.flac"), tone, 16000, subtype="PCM_16")
    soundfile.write(str(folder / "audio" / f"{names[1]}.wav"), tone, 16000, subtype="PCM_16")
    soundfile.write(str(folder / "audio" / f"{names[1]}.flac"), tone, 16000, subtype="PCM_16")
    data = datasets.NSynth(tmp_path, subset="valid")
    assert [e["files"]["audio"].suffix for e in data.examples] == [".flac", ".wav"]
    assert data[0]["audio"].shape == (1600,)
