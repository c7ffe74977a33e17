"""ganlib.datasets: each data set read from a tiny fake copy in its real on-disk layout."""
import json
import warnings

import numpy as np
import pytest
import soundfile
import torch
from torch.utils.data import DataLoader

from ganlib import datasets
from ganlib.audio import MelSpectrogram

RATE = 8000


def clip(path, seconds=0.25, frequency=440.0, sample_rate=RATE, noise=False):
    """A short sine (or noise) clip written with soundfile, its folder made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = int(sample_rate * seconds)
    if noise:
        waveform = np.random.default_rng(len(str(path))).uniform(-0.5, 0.5, samples)
    else:
        waveform = 0.5 * np.sin(2 * np.pi * frequency * np.arange(samples) / sample_rate)
    soundfile.write(str(path), waveform.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


# --- fake copies, one per data set, in the exact layout of the real download -----------------

def make_ljspeech(root):
    rows = [("LJ001-0001", 'He said "hi," then left.', 'He said "hi," then left.'),
            ("LJ001-0002", "In 1850 it was 3 ft.", "In eighteen fifty it was three feet."),
            ("LJ002-0001", "Mr. Smith's \"dog\"", "Mister Smith's \"dog\"")]
    (root / "wavs").mkdir(parents=True)
    for i, (clip_id, _, _) in enumerate(rows):
        clip(root / "wavs" / f"{clip_id}.wav", seconds=0.2 + 0.1 * i, frequency=200 + 100 * i)
    (root / "metadata.csv").write_text("".join("|".join(r) + "\n" for r in rows), encoding="utf-8")
    return root


def make_vctk(root):
    for speaker, clips in (("p225", 3), ("p226", 2), ("p315", 2)):
        for n in range(1, clips + 1):
            for mic in ("mic1", "mic2"):
                clip(root / "wav48_silence_trimmed" / speaker / f"{speaker}_{n:03d}_{mic}.flac", seconds=0.2)
            if speaker != "p315":  # p315 has no transcripts in VCTK 0.92
                text = root / "txt" / speaker / f"{speaker}_{n:03d}.txt"
                text.parent.mkdir(parents=True, exist_ok=True)
                text.write_text(f"Please call Stella {n}.\n", encoding="utf-8")
    return root


def make_speech_commands(root):
    words = {"zero": 3, "one": 2, "nine": 1, "yes": 2, "two": 1, "three": 1, "four": 1, "five": 1,
             "six": 1, "seven": 1, "eight": 1}
    for word, count in words.items():
        for n in range(count):
            clip(root / word / f"spk{n}_nohash_0.wav", seconds=0.5 if n else 0.3, sample_rate=16000)
    clip(root / datasets.BACKGROUND_NOISE / "white_noise.wav", seconds=1.0, noise=True, sample_rate=16000)
    (root / "validation_list.txt").write_text("zero/spk1_nohash_0.wav\nyes/spk1_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("zero/spk2_nohash_0.wav\none/spk1_nohash_0.wav\n")
    return root


def make_voicebank(root, train="28spk"):
    for clean, noisy, names in ((f"clean_trainset_{train}_wav", f"noisy_trainset_{train}_wav", ("p226_001", "p226_002", "p287_001")),
                                ("clean_testset_wav", "noisy_testset_wav", ("p232_001", "p257_001"))):
        for i, name in enumerate(names):
            clip(root / clean / f"{name}.wav", seconds=0.2 + 0.05 * i)
            clip(root / noisy / f"{name}.wav", seconds=0.2 + 0.05 * i, noise=True)
    return root


NOTES = {  # name -> (family, family_str, source, pitch)
    "keyboard_acoustic_004-060-025": (4, "keyboard", 0, 60),
    "keyboard_electronic_001-021-127": (4, "keyboard", 1, 21),
    "guitar_acoustic_010-072-050": (3, "guitar", 0, 72),
    "bass_synthetic_033-040-100": (0, "bass", 2, 40),
}


def make_nsynth(root, subset="valid"):
    folder = root / f"nsynth-{subset}"
    examples = {}
    for i, (name, (family, family_str, source, pitch)) in enumerate(NOTES.items()):
        clip(folder / "audio" / f"{name}.wav", seconds=0.25, frequency=440 * 2 ** ((pitch - 69) / 12))
        examples[name] = {"note": i, "note_str": name, "pitch": pitch, "velocity": int(name[-3:]),
                          "instrument": i, "instrument_str": name.rsplit("-", 2)[0],
                          "instrument_family": family, "instrument_family_str": family_str,
                          "instrument_source": source,
                          "instrument_source_str": ("acoustic", "electronic", "synthetic")[source],
                          "qualities": [0] * 10, "qualities_str": [], "sample_rate": 16000}
    (folder / "examples.json").write_text(json.dumps(examples))
    return root


def make_esc50(root):
    rows = [("1-100032-A-0.wav", 1, 0, "dog", True), ("1-100038-A-14.wav", 1, 14, "chirping_birds", False),
            ("2-100648-A-43.wav", 2, 43, "car_horn", False), ("3-100024-B-0.wav", 3, 0, "dog", True),
            ("5-103415-A-1.wav", 5, 1, "rooster", True)]
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for filename, fold, target, category, esc10 in rows:
        clip(root / "audio" / filename, seconds=0.3, noise=True)
        lines.append(f"{filename},{fold},{target},{category},{esc10},{filename.split('-')[1]},{filename[-7]}")
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


# (builder, class, keyword arguments for the subset the builder populates, number of items, audio field)
SETS = {
    "ljspeech": (make_ljspeech, datasets.LJSpeech, {}, 3, "audio"),
    "vctk": (make_vctk, datasets.VCTK, {}, 7, "audio"),
    "speech_commands": (make_speech_commands, datasets.SpeechCommands, {}, 11, "audio"),
    "voicebank": (make_voicebank, datasets.VoiceBankDEMAND, {}, 3, "clean"),
    "nsynth": (make_nsynth, datasets.NSynth, {"subset": "valid"}, 4, "audio"),
    "esc50": (make_esc50, datasets.ESC50, {}, 5, "audio"),
}


@pytest.fixture(params=list(SETS))
def fake(request, tmp_path):
    build, cls, kwargs, length, field = SETS[request.param]
    return build(tmp_path / request.param), cls, kwargs, length, field


# --- what every data set does ------------------------------------------------------------

def test_length_and_whole_clips(fake):
    root, cls, kwargs, length, field = fake
    data = cls(root, **kwargs)
    assert len(data) == length
    item = data[0]
    assert item[field].dtype == torch.float32 and item[field].dim() == 1 and item[field].shape[0] > 1000
    assert isinstance(item["path"], str) and isinstance(item["id"], str)


def test_short_clips_padded_and_batched_with_mel(fake):
    root, cls, kwargs, length, field = fake
    mel = MelSpectrogram(sample_rate=RATE, n_fft=256, hop_length=64, n_mels=20)
    data = cls(root, sample_rate=RATE, segment_length=4096, mel=mel, **kwargs)  # longer than every clip
    item = data[0]
    assert item[field].shape == (4096,) and item["mel"].shape == (20, 1 + 4096 // 64)
    assert item[field][-100:].abs().max() == 0  # zero-padded at the end
    batch = next(iter(DataLoader(data, batch_size=2)))
    assert batch[field].shape == (2, 4096) and batch["mel"].shape == (2, 20, 65) and len(batch["id"]) == 2


def test_random_crop_uses_torch_generator_and_fields_give_trainer_tuples(fake):
    root, cls, kwargs, length, field = fake
    crops = [cls(root, segment_length=500, generator=torch.Generator().manual_seed(3), fields=field, **kwargs)[0]
             for _ in range(2)]
    assert crops[0].shape == (500,) and torch.equal(crops[0], crops[1])
    pair = cls(root, segment_length=1500, mel=True, sample_rate=RATE, fields=(field, "mel"), **kwargs)[0]
    assert isinstance(pair, tuple) and pair[0].shape == (1500,) and pair[1].shape == (80, 1 + 1500 // 256)


def test_cache_keeps_decoded_audio(fake):
    root, cls, kwargs, length, field = fake
    data, uncached = cls(root, cache=True, **kwargs), cls(root, **kwargs)
    first = data[0]
    for path in data.examples[0]["files"].values():
        path.unlink()
    assert torch.equal(data[0][field], first[field])
    with pytest.raises(FileNotFoundError):
        uncached[0]


def test_corrupt_file_named_in_error_or_skipped_with_warning(fake):
    root, cls, kwargs, length, field = fake
    bad = cls(root, **kwargs).examples[1]["files"][field]
    bad.write_bytes(b"RIFF\x00\x00not audio at all")
    with pytest.raises(ValueError, match=bad.name):
        cls(root, **kwargs)[1]
    with pytest.warns(UserWarning, match=bad.name):
        data = cls(root, skip_bad_files=True, **kwargs)
    assert data.skipped == 1 and len(data) == length - 1
    assert str(bad) not in [str(p) for e in data.examples for p in e["files"].values()]


def test_truncated_file_found_on_load_is_skipped(fake):
    root, cls, kwargs, length, field = fake
    data = cls(root, skip_bad_files=True, **kwargs)
    bad = data.examples[0]["files"][field]
    bad.write_bytes(bad.read_bytes()[:-200])  # the header is fine, the data is short
    with pytest.warns(UserWarning, match=bad.name):
        item = data[0]
    assert data.skipped == 1 and item["id"] == data.examples[1]["id"]


def test_missing_or_wrong_root_names_the_folder(fake, tmp_path):
    root, cls, kwargs, length, field = fake
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cls(tmp_path / "nowhere", **kwargs)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="empty_folder"):
        cls(empty, **kwargs)


# --- what each data set adds -------------------------------------------------------------

def test_ljspeech_texts_keep_their_quotes(tmp_path):
    data = datasets.LJSpeech(make_ljspeech(tmp_path))
    assert [e["id"] for e in data.examples] == ["LJ001-0001", "LJ001-0002", "LJ002-0001"]
    assert data[0]["text"] == 'He said "hi," then left.'
    assert data[1]["text"] == "In eighteen fifty it was three feet." and data[1]["transcription"] == "In 1850 it was 3 ft."
    assert data[2]["text"] == 'Mister Smith\'s "dog"'
    with pytest.raises(FileNotFoundError, match="metadata.csv not found in .*LJ Speech"):
        (tmp_path / "metadata.csv").unlink() or datasets.LJSpeech(tmp_path)


def test_ljspeech_reads_flac_where_the_wav_is_absent(tmp_path):
    # the course's bundled data/speech is LJ Speech's layout with wavs/<id>.flac
    root = make_ljspeech(tmp_path)
    wav = root / "wavs" / "LJ001-0002.wav"
    soundfile.write(str(root / "wavs" / "LJ001-0002.flac"), soundfile.read(str(wav))[0], RATE, subtype="PCM_16")
    wav.unlink()
    clip(root / "wavs" / "LJ001-0001.flac", seconds=1.0)  # a .wav beside it wins
    data = datasets.LJSpeech(root)
    paths = [str(e["files"]["audio"]) for e in data.examples]
    assert paths[0].endswith("LJ001-0001.wav") and paths[1].endswith("LJ001-0002.flac")
    assert data[1]["audio"].shape == (int(RATE * 0.3),) and data[1]["text"] == "In eighteen fifty it was three feet."


def test_vctk_speakers_mics_and_missing_transcripts(tmp_path):
    root = make_vctk(tmp_path)
    data = datasets.VCTK(root)
    assert data.classes == ["p225", "p226", "p315"]
    assert [e["label"] for e in data.examples] == [0, 0, 0, 1, 1, 2, 2]
    first = data[0]
    assert first["speaker"] == "p225" and first["id"] == "p225_001" and first["text"] == "Please call Stella 1."
    assert first["path"].endswith("p225_001_mic1.flac")
    p315 = data[5]
    assert p315["text"] == "" and not p315["has_text"]
    assert len(datasets.VCTK(root, transcribed_only=True)) == 5
    assert datasets.VCTK(root, mic="mic2")[0]["path"].endswith("_mic2.flac")
    assert len(datasets.VCTK(root, speakers=["p226"])) == 2


def test_speech_commands_splits_words_and_sc09(tmp_path):
    root = make_speech_commands(tmp_path)
    training = datasets.SpeechCommands(root)
    assert len(training) == 11 and "eight" in training.classes and datasets.BACKGROUND_NOISE not in training.classes
    assert all(not e["id"].startswith(datasets.BACKGROUND_NOISE) for e in training.examples)
    validation = datasets.SpeechCommands(root, subset="validation")
    assert sorted(e["id"] for e in validation.examples) == ["yes/spk1_nohash_0.wav", "zero/spk1_nohash_0.wav"]
    testing = datasets.SpeechCommands(root, subset="testing")
    assert sorted(e["id"] for e in testing.examples) == ["one/spk1_nohash_0.wav", "zero/spk2_nohash_0.wav"]
    sc09 = datasets.SpeechCommands(root, sc09=True, sample_rate=RATE, segment_length=RATE, fields=("audio", "label"))
    assert sc09.classes == list(datasets.DIGITS) and len(sc09) == 10  # yes, and the listed clips, left out
    labels = {e["word"]: e["label"] for e in sc09.examples}
    assert labels == {word: i for i, word in enumerate(datasets.DIGITS)}
    audio, label = next(iter(DataLoader(sc09, batch_size=10)))
    assert audio.shape == (10, RATE) and label.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    words = datasets.SpeechCommands(root, words=["yes", "zero"])
    assert [(e["word"], e["label"]) for e in words.examples] == [("yes", 0), ("zero", 1)]
    assert words[0]["speaker"] == "spk0"
    with pytest.raises(FileNotFoundError, match="maybe"):
        datasets.SpeechCommands(root, words=["maybe"])


def test_speech_commands_reads_flac_too(tmp_path):
    # the course's bundled data/digits is the same layout, stored as FLAC
    for word in datasets.DIGITS:
        clip(tmp_path / word / "spk0_nohash_0.flac", seconds=1.0, sample_rate=16000)
        clip(tmp_path / word / "spk1_nohash_0.wav", seconds=1.0, sample_rate=16000)
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "zero" / "README.txt").write_text("not audio either")
    (tmp_path / "validation_list.txt").write_text("zero/spk1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("one/spk0_nohash_0.flac\n")
    training = datasets.SpeechCommands(tmp_path, sc09=True)
    assert len(training) == 18 and "zero/spk0_nohash_0.flac" in {e["id"] for e in training.examples}
    assert {e["speaker"] for e in training.examples} == {"spk0", "spk1"}
    testing = datasets.SpeechCommands(tmp_path, subset="testing", sc09=True)
    assert [e["id"] for e in testing.examples] == ["one/spk0_nohash_0.flac"]
    item = testing[0]
    assert item["audio"].shape == (16000,) and item["path"].endswith(".flac") and item["label"] == 1


def test_voicebank_pairs_test_set_and_56spk(tmp_path):
    data = datasets.VoiceBankDEMAND(make_voicebank(tmp_path / "a"), segment_length=1000, fields=("clean", "noisy"))
    clean, noisy = data[2]
    assert clean.shape == noisy.shape == (1000,) and not torch.equal(clean, noisy)
    test = datasets.VoiceBankDEMAND(tmp_path / "a", subset="test")
    assert [e["id"] for e in test.examples] == ["p232_001", "p257_001"] and test[0]["speaker"] == "p232"
    item = test[1]
    assert item["noisy"].shape == item["clean"].shape and "noisy_testset_wav" in str(test.examples[1]["files"]["noisy"])
    assert len(datasets.VoiceBankDEMAND(make_voicebank(tmp_path / "b", train="56spk"))) == 3
    (tmp_path / "a" / "noisy_trainset_28spk_wav" / "p287_001.wav").unlink()
    with pytest.warns(UserWarning, match="p287_001.wav"):
        assert len(datasets.VoiceBankDEMAND(tmp_path / "a")) == 2


def test_voicebank_crops_noisy_and_clean_at_the_same_offset(tmp_path):
    root = make_voicebank(tmp_path)
    for folder in ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"):  # identical pair: equal crops
        ramp = np.linspace(-0.9, 0.9, 3000, dtype=np.float32)
        soundfile.write(str(root / folder / "p226_001.wav"), ramp, RATE, subtype="FLOAT")
    item = datasets.VoiceBankDEMAND(root, segment_length=100)[0]
    assert torch.equal(item["clean"], item["noisy"]) and item["clean"][0] != item["clean"][-1]


def test_nsynth_labels_filters_and_direct_folder(tmp_path):
    root = make_nsynth(tmp_path)
    data = datasets.NSynth(root, subset="valid")
    item = data[0]
    assert item["id"] == "bass_synthetic_033-040-100" and item["pitch"] == item["label"] == 40
    assert item["instrument_family_str"] == "bass" and item["instrument_source"] == 2 and item["velocity"] == 100
    keyboards = datasets.NSynth(root, subset="valid", instrument_families=["keyboard"])
    assert sorted(e["pitch"] for e in keyboards.examples) == [21, 60]
    assert len(datasets.NSynth(root, subset="valid", instrument_families=[3, 0])) == 2
    assert [e["pitch"] for e in datasets.NSynth(root, subset="valid", pitch_range=(24, 72)).examples] == [40, 72, 60]
    assert len(datasets.NSynth(root, subset="valid", instrument_sources=["acoustic"])) == 2
    assert len(datasets.NSynth(root / "nsynth-valid", subset="valid")) == 4
    with pytest.raises(FileNotFoundError, match="nsynth-train"):
        datasets.NSynth(root, subset="train")


def test_esc50_folds_labels_and_esc10(tmp_path):
    root = make_esc50(tmp_path)
    data = datasets.ESC50(root)
    assert data.classes[0] == "dog" and data.classes[43] == "car_horn" and len(data.classes) == 44
    item = data[1]
    assert item["label"] == 14 and item["category"] == "chirping_birds" and item["fold"] == 1 and not item["esc10"]
    assert [e["id"] for e in datasets.ESC50(root, folds=[2, 3]).examples] == ["2-100648-A-43.wav", "3-100024-B-0.wav"]
    assert len(datasets.ESC50(root, esc10=True)) == 3
    with pytest.raises(FileNotFoundError, match="esc50.csv not found"):
        (root / "meta" / "esc50.csv").unlink() or datasets.ESC50(root)


def test_resampling_and_mel_rate_mismatch(tmp_path):
    root = make_ljspeech(tmp_path)
    assert datasets.LJSpeech(root, sample_rate=16000)[0]["audio"].shape == (2 * 1600,)
    with pytest.raises(ValueError, match="sample_rate"):
        datasets.LJSpeech(root, mel=MelSpectrogram(sample_rate=22050), sample_rate=RATE)
    for skip in (False, True):  # a setting to fix, never a bad file to skip
        with pytest.raises(datasets.SampleRateError, match="mel.sample_rate=22050"):
            datasets.LJSpeech(root, mel=MelSpectrogram(sample_rate=22050), skip_bad_files=skip)[0]


def test_trainer_takes_the_loader(tmp_path):
    from ganlib import train
    data = datasets.SpeechCommands(make_speech_commands(tmp_path), sc09=True, segment_length=256, fields="audio")
    generator = torch.nn.Sequential(torch.nn.Linear(8, 256), torch.nn.Tanh())
    generator.latent_dim = 8
    discriminator = torch.nn.Linear(256, 1)
    trainer = train.Trainer(generator, discriminator, DataLoader(data, batch_size=4, drop_last=True),
                            progress=False, device="cpu")
    trainer.fit(3)
    assert trainer.step == 3


def test_unknown_field_names_what_items_have(tmp_path):
    data = datasets.ESC50(make_esc50(tmp_path), fields=("audio", "speaker"))
    with pytest.raises(KeyError, match="speaker.*category"):
        data[0]
