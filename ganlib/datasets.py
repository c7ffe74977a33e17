"""The public audio data sets, read from their own on-disk layouts, as torch Datasets.

The same classes read the real downloads and the course's small bundled copies:

    LJSpeech(root)          single-speaker speech, 22.05 kHz, with transcripts     (vocoders, TTS)
    VCTK(root)              110 speakers, 48 kHz FLAC (VCTK 0.92), with transcripts (multi-speaker)
    SpeechCommands(root)    one-second words, 16 kHz; sc09=True keeps zero..nine   (WaveGAN, SpecGAN)
    VoiceBankDEMAND(root)   noisy/clean speech pairs, 48 kHz                       (SEGAN, enhancement)
    NSynth(root)            four-second notes, 16 kHz, pitch and instrument labels (GANSynth)
    ESC50(root)             five-second environmental sounds, 44.1 kHz, 50 classes

Every item is a dict (DataLoader's default collate stacks its tensors and ints and lists its
strings): the audio, float32 (samples,) in [-1, 1], plus what the set knows about the clip
(labels, text, ids, and "path"). The options every set shares (see AudioDataset):

    sample_rate=16000       resample on load (None: the files' own rate)
    segment_length=16384    a random crop of that many samples (torch's RNG, or `generator`);
                            shorter clips are zero-padded. None: whole clips (batch_size=1 then)
    mel=MelSpectrogram(...) adds "mel": (n_mels, 1 + segment_length // hop_length), for vocoders
    fields=("audio", "mel") items as that tuple instead of a dict: batches the trainer takes as
                            (real, condition), e.g. ("audio", "label") for a conditional GAN,
                            ("clean", "noisy") for enhancement
    cache=True              keep decoded audio in memory after the first read
    skip_bad_files=True     unreadable files are left out with a warning, counted in .skipped
                            (default: an error naming the file)

With DataLoader(num_workers > 0) each worker crops with its own torch seed (leave `generator`
None there: a shared generator would repeat the same crops in every worker), and keeps its own
cache (persistent_workers=True keeps it between epochs).

    data = LJSpeech("data/LJSpeech-1.1", segment_length=8192, mel=MelSpectrogram(), fields=("audio", "mel"))
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, drop_last=True)

"""
from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Sequence

import soundfile
import torch
from torch.utils.data import Dataset

from . import audio

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
BACKGROUND_NOISE = "_background_noise_"


def select_fields(item: dict, fields: str | Sequence[str] | None, owner: str = "the data set"):
    """An item dict as the trainer takes it: the whole dict (fields None), one value (a name),
    or the tuple of the named values, e.g. ("audio", "label"). Unknown names: a KeyError
    listing the item's fields."""
    if fields is None:
        return item
    names = [fields] if isinstance(fields, str) else list(fields)
    unknown = [name for name in names if name not in item]
    if unknown:
        raise KeyError(f"fields {unknown} are not in {owner}'s items, which have {list(item)}")
    return item[fields] if isinstance(fields, str) else tuple(item[name] for name in names)


class SampleRateError(ValueError):
    """The files' sample rate is not the mel spectrogram's (a setting to fix, not a bad file)."""


def _problem(path: Path) -> str | None:
    """Why `path` cannot be read as audio (from its header only, so cheap), or None."""
    if not path.is_file():
        return "file not found"
    if path.stat().st_size == 0:
        return "empty (0 bytes)"
    try:
        soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        return f"not readable as audio ({error})"
    return None


class AudioDataset(Dataset):
    """What the data sets share: loading, resampling, cropping, mel, caching, bad files.

    A subclass fills `self.examples`, one dict per item: its metadata (ints, strings, bools)
    and, under "files", {field name: path} for the audio it reads ({"audio": ...}, or
    {"noisy": ..., "clean": ...}); then calls self._check_files(). `mel_source` names the
    audio field the mel spectrogram is computed from.

    Items: a dict with each audio field as a float32 tensor (samples,) (= segment_length when
    set, the same crop for every field), "mel" (n_mels, frames) when `mel` is set, "path" (the
    first audio file) and the example's metadata; or, with `fields`, the tuple of those fields
    (just the value when `fields` is one name).
    """

    mel_source = "audio"

    def __init__(self, sample_rate: int | None = None, segment_length: int | None = None,
                 mel=None, fields: str | Sequence[str] | None = None, cache: bool = False,
                 skip_bad_files: bool = False, generator: torch.Generator | None = None):
        if segment_length is not None and segment_length < 1:
            raise ValueError(f"segment_length must be >= 1 or None, got {segment_length}")
        if mel is True:
            if sample_rate is None:
                raise ValueError("mel=True needs sample_rate (the mel filterbank depends on it); "
                                 "or pass mel=MelSpectrogram(sample_rate=...)")
            mel = audio.MelSpectrogram(sample_rate=sample_rate)
        if mel is not None and sample_rate is not None and mel.sample_rate != sample_rate:
            raise ValueError(f"mel.sample_rate={mel.sample_rate} differs from the data set's sample_rate={sample_rate}")
        self.sample_rate, self.segment_length, self.mel = sample_rate, segment_length, mel or None
        self.fields = fields
        self.cache, self.skip_bad_files, self.generator = cache, skip_bad_files, generator
        self.skipped = 0
        self.examples: list[dict] = []
        self._cached: dict[int, dict] = {}
        self._bad: set[int] = set()

    # -- building ------------------------------------------------------------------------
    @staticmethod
    def _require(path: Path, what: str) -> Path:
        """`path` must exist; else an error naming it and what was expected there."""
        if not path.exists():
            raise FileNotFoundError(f"{path.name} not found in {path.parent}: {what}")
        return path

    def _check_files(self) -> None:
        """With skip_bad_files, leave out (with one warning) the examples whose files are
        missing, empty or unreadable; count them in .skipped."""
        if not self.skip_bad_files:
            return
        kept, bad = [], []
        for example in self.examples:
            problems = [f"{path} ({why})" for path in example["files"].values() if (why := _problem(Path(path)))]
            (bad if problems else kept).append(problems or example)
        if bad:
            shown = "; ".join(p for problems in bad[:5] for p in problems)
            warnings.warn(f"{type(self).__name__}: skipped {len(bad)} bad file(s): {shown}"
                          + (" ..." if len(bad) > 5 else ""), stacklevel=3)
        self.examples, self.skipped = kept, self.skipped + len(bad)

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.examples)

    def _decode(self, index: int) -> dict:
        if index in self._cached:
            return self._cached[index]
        waveforms = {}
        for name, path in self.examples[index]["files"].items():
            waveform, rate = audio.load(path, self.sample_rate)
            if self.mel is not None and rate != self.mel.sample_rate:
                raise SampleRateError(f"{path} is at {rate} Hz but mel.sample_rate={self.mel.sample_rate}; "
                                 f"set sample_rate={self.mel.sample_rate} to resample")
            waveforms[name] = torch.from_numpy(waveform)
        if self.cache:
            self._cached[index] = waveforms
        return waveforms

    def _crop(self, waveforms: dict) -> dict:
        if self.segment_length is None:
            return waveforms
        length = min(w.shape[-1] for w in waveforms.values())
        offset = 0
        if length > self.segment_length:
            offset = int(torch.randint(0, length - self.segment_length + 1, (1,), generator=self.generator))
        return {name: audio.pad_or_crop(w[offset:offset + self.segment_length], self.segment_length)
                for name, w in waveforms.items()}

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {type(self).__name__} of {len(self)} items")
        index %= len(self)
        for _ in range(len(self)):
            try:
                waveforms = self._decode(index)
                break
            except (ValueError, FileNotFoundError) as error:
                if not self.skip_bad_files or isinstance(error, SampleRateError):
                    raise
                # bad in a way the header did not show (truncated, NaN...): the next item instead
                if index not in self._bad:
                    self._bad.add(index)
                    self.skipped += 1
                    warnings.warn(f"{type(self).__name__}: skipped a bad file: {error}", stacklevel=2)
                index = (index + 1) % len(self)
        else:
            raise ValueError(f"{type(self).__name__}: every file is bad")
        example = self.examples[index]
        item = dict(self._crop(waveforms))
        if self.mel is not None:
            with torch.no_grad():
                item["mel"] = self.mel(item[self.mel_source])
        item["path"] = str(next(iter(example["files"].values())))
        item.update((k, v) for k, v in example.items() if k != "files")
        return select_fields(item, self.fields, type(self).__name__)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} items, sample_rate={self.sample_rate}, "
                f"segment_length={self.segment_length}, mel={self.mel is not None}, skipped={self.skipped})")


def _check_root(root, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: expected {what}")
    return root


class LJSpeech(AudioDataset):
    """LJ Speech 1.1 (Ito and Johnson, 2017): 13,100 clips of one speaker, 22.05 kHz.

    root: the LJSpeech-1.1 folder, holding metadata.csv (id|transcription|normalized
    transcription, no header, quotes are text) and wavs/<id>.wav (or wavs/<id>.flac where
    the .wav is absent, as in the course's bundled data/speech).
    Items: "audio" (samples,), "text" (the normalized transcription), "transcription" (as
    read), "id" ("LJ001-0001"), "path"; "mel" with `mel`.
    """

    def __init__(self, root, **options):
        super().__init__(**options)
        root = _check_root(root, "the LJ Speech folder (LJSpeech-1.1) holding metadata.csv and wavs/")
        what = "is this the LJ Speech folder (LJSpeech-1.1)?"
        metadata = self._require(root / "metadata.csv", what)
        wavs = self._require(root / "wavs", what)
        with open(metadata, encoding="utf-8", newline="") as file:
            for row in csv.reader(file, delimiter="|", quoting=csv.QUOTE_NONE):
                if not row:
                    continue
                if len(row) < 2:
                    raise ValueError(f"{metadata}: expected id|transcription|normalized transcription, got {'|'.join(row)!r}")
                text = row[2] if len(row) > 2 and row[2] else row[1]
                path = wavs / f"{row[0]}.wav"
                if not path.exists() and (wavs / f"{row[0]}.flac").exists():
                    path = wavs / f"{row[0]}.flac"  # the course's bundled data/speech is FLAC
                self.examples.append({"files": {"audio": path}, "id": row[0],
                                      "text": text, "transcription": row[1]})
        self._check_files()


class VCTK(AudioDataset):
    """CSTR VCTK Corpus 0.92 (Yamagishi et al., 2019): 110 English speakers, 48 kHz FLAC.

    root: the folder holding wav48_silence_trimmed/<speaker>/<speaker>_<n>_<mic>.flac and
    txt/<speaker>/<speaker>_<n>.txt. mic: "mic1" or "mic2". speakers: keep only these
    (e.g. ["p225", "p226"]). Clips without a transcript (all of p315's) get text "" and
    has_text False; transcribed_only=True leaves them out.
    Items: "audio" (samples,), "speaker" ("p225"), "label" (the speaker's index in
    self.classes, for conditional models), "text", "has_text", "id" ("p225_001"), "path".
    """

    def __init__(self, root, mic: str = "mic1", speakers: Sequence[str] | None = None,
                 transcribed_only: bool = False, **options):
        super().__init__(**options)
        if mic not in ("mic1", "mic2"):
            raise ValueError(f"mic must be 'mic1' or 'mic2', got {mic!r}")
        root = _check_root(root, "the VCTK 0.92 folder holding wav48_silence_trimmed/ and txt/")
        wavs = self._require(root / "wav48_silence_trimmed",
                             "is this the VCTK 0.92 folder (VCTK-Corpus-0.92)? (older releases with wav48/ differ)")
        texts = root / "txt"
        found = sorted(p.name for p in wavs.iterdir() if p.is_dir())
        if speakers is not None:
            missing = sorted(set(speakers) - set(found))
            if missing:
                raise ValueError(f"speakers {missing} not found in {wavs}")
            found = sorted(speakers)
        self.classes = found
        for label, speaker in enumerate(found):
            for path in sorted((wavs / speaker).glob(f"{speaker}_*_{mic}.flac")):
                clip = path.name[: -len(f"_{mic}.flac")]
                text_file = texts / speaker / f"{clip}.txt"
                text = text_file.read_text(encoding="utf-8").strip() if text_file.is_file() else ""
                if transcribed_only and not text:
                    continue
                self.examples.append({"files": {"audio": path}, "speaker": speaker, "label": label,
                                      "text": text, "has_text": bool(text), "id": clip})
        if not self.examples:
            raise FileNotFoundError(f"no <speaker>_<n>_{mic}.flac files under {wavs}")
        self._check_files()


class SpeechCommands(AudioDataset):
    """Speech Commands v0.02 (Warden, 2018): one-second words, 16 kHz.

    root: the folder holding <word>/<speaker>_nohash_<n>.wav (or .flac, as in the course's
    bundled data/digits), validation_list.txt and testing_list.txt. subset: "training" (every
    clip in neither list, _background_noise_ left out), "validation" or "testing". words: keep
    only these, labelled 0.. in that order (None: every word folder, alphabetical).
    sc09=True: the SC09 digits zero..nine, labels 0-9.
    Items: "audio" (samples,), "label", "word", "speaker", "id" ("yes/0a7c2a8d_nohash_0.wav"),
    "path". Most clips are 16,000 samples; a few are shorter: segment_length=16000 pads them.
    """

    def __init__(self, root, subset: str = "training", words: Sequence[str] | None = None,
                 sc09: bool = False, **options):
        super().__init__(**options)
        if subset not in ("training", "validation", "testing"):
            raise ValueError(f"subset must be 'training', 'validation' or 'testing', got {subset!r}")
        if sc09 and words is not None and tuple(words) != DIGITS:
            raise ValueError("give either sc09=True or words, not both")
        root = _check_root(root, "the Speech Commands folder holding <word>/ folders and the split lists")
        what = "is this the Speech Commands folder (speech_commands_v0.02)?"
        lists = {name: {line.strip() for line in self._require(root / f"{name}_list.txt", what)
                        .read_text(encoding="utf-8").splitlines() if line.strip()}
                 for name in ("validation", "testing")}
        folders = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != BACKGROUND_NOISE
                         and not p.name.startswith("."))
        words = list(DIGITS if sc09 else words if words is not None else folders)
        missing = sorted(set(words) - set(folders))
        if missing:
            raise FileNotFoundError(f"no folder for the word(s) {missing} in {root}: {what}")
        self.classes = words
        for label, word in enumerate(words):
            for path in sorted(f for f in (root / word).iterdir() if f.suffix.lower() in (".wav", ".flac")):
                relative = f"{word}/{path.name}"
                split = next((name for name, names in lists.items() if relative in names), "training")
                if split == subset:
                    self.examples.append({"files": {"audio": path}, "label": label, "word": word,
                                          "speaker": path.name.split("_nohash_")[0], "id": relative})
        self._check_files()


class VoiceBankDEMAND(AudioDataset):
    """VoiceBank-DEMAND (Valentini-Botinhao et al., 2016): noisy/clean speech pairs, 48 kHz.

    root: the folder holding clean_trainset_28spk_wav/ and noisy_trainset_28spk_wav/ (or the
    56spk ones), clean_testset_wav/ and noisy_testset_wav/; pairs share a file name (p226_001.wav).
    subset: "train" or "test". Files without a partner are left out with a warning.
    Items: "noisy" and "clean" (samples,) (the same crop of both), "id", "speaker", "path";
    "mel" of the clean speech with `mel`. For the trainer: fields=("clean", "noisy"), i.e.
    (real, condition): the generator maps noisy to clean.
    """

    mel_source = "clean"

    def __init__(self, root, subset: str = "train", **options):
        super().__init__(**options)
        if subset not in ("train", "test"):
            raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
        root = _check_root(root, "the VoiceBank-DEMAND folder holding clean_/noisy_ trainset and testset folders")
        if subset == "train":
            names = [("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"),
                     ("clean_trainset_56spk_wav", "noisy_trainset_56spk_wav")]
        else:
            names = [("clean_testset_wav", "noisy_testset_wav")]
        pair = next(((root / c, root / n) for c, n in names if (root / c).is_dir() and (root / n).is_dir()), None)
        if pair is None:
            expected = " or ".join(f"{c}/ and {n}/" for c, n in names)
            raise FileNotFoundError(f"{expected} not found in {root}: is this the VoiceBank-DEMAND folder (DS_10283_2791)?")
        clean_dir, noisy_dir = pair
        clean = {p.name for p in clean_dir.glob("*.wav")}
        noisy = {p.name for p in noisy_dir.glob("*.wav")}
        unpaired = sorted(clean ^ noisy)
        if unpaired:
            warnings.warn(f"VoiceBankDEMAND: {len(unpaired)} file(s) without a partner left out: "
                          f"{', '.join(unpaired[:5])}" + (" ..." if len(unpaired) > 5 else ""), stacklevel=2)
        for name in sorted(clean & noisy):
            self.examples.append({"files": {"noisy": noisy_dir / name, "clean": clean_dir / name},
                                  "id": Path(name).stem, "speaker": name.split("_")[0]})
        self._check_files()


class NSynth(AudioDataset):
    """NSynth (Engel et al., 2017): four-second notes, 16 kHz, with pitch and instrument labels.

    root: the folder holding nsynth-<subset>/audio/<note>.wav (or <note>.flac where the .wav is
    absent, as in the course's bundled data/notes) and nsynth-<subset>/examples.json, or that
    nsynth-<subset> folder itself. subset: "train", "valid" or "test".
    Filters: instrument_families (names like "keyboard" or their numbers), instrument_sources
    ("acoustic", "electronic", "synthetic" or 0-2), pitch_range (lowest, highest) MIDI, inclusive.
    Items: "audio" (samples,), "label" (= pitch, GANSynth's condition), "pitch", "velocity",
    "instrument_family", "instrument_family_str", "instrument_source", "instrument_source_str",
    "instrument", "id" (the note's name), "path".
    """

    SOURCES = ("acoustic", "electronic", "synthetic")

    def __init__(self, root, subset: str = "train", instrument_families: Sequence | None = None,
                 instrument_sources: Sequence | None = None, pitch_range: tuple[int, int] | None = None,
                 **options):
        super().__init__(**options)
        if subset not in ("train", "valid", "test"):
            raise ValueError(f"subset must be 'train', 'valid' or 'test', got {subset!r}")
        root = _check_root(root, f"the NSynth folder holding nsynth-{subset}/ (or nsynth-{subset}/ itself)")
        folder = root if (root / "examples.json").is_file() else root / f"nsynth-{subset}"
        what = f"expected nsynth-{subset}/audio/ and nsynth-{subset}/examples.json in {root}, or root pointing at nsynth-{subset}/"
        if not folder.is_dir():
            raise FileNotFoundError(f"nsynth-{subset} not found in {root}: {what}")
        notes = json.loads(self._require(folder / "examples.json", what).read_text(encoding="utf-8"))
        audio_dir = self._require(folder / "audio", what)
        families = None if instrument_families is None else set(instrument_families)
        sources = None if instrument_sources is None else set(instrument_sources)
        for name in sorted(notes):
            note = notes[name]
            source = int(note["instrument_source"])
            source_str = note.get("instrument_source_str", self.SOURCES[source])
            if families is not None and not {note["instrument_family"], note["instrument_family_str"]} & families:
                continue
            if sources is not None and not {source, source_str} & sources:
                continue
            if pitch_range is not None and not pitch_range[0] <= note["pitch"] <= pitch_range[1]:
                continue
            path = audio_dir / f"{name}.wav"
            if not path.exists() and (audio_dir / f"{name}.flac").exists():
                path = audio_dir / f"{name}.flac"  # the course's bundled data/notes is FLAC
            self.examples.append({
                "files": {"audio": path}, "label": int(note["pitch"]),
                "pitch": int(note["pitch"]), "velocity": int(note["velocity"]),
                "instrument_family": int(note["instrument_family"]),
                "instrument_family_str": note["instrument_family_str"], "instrument_source": source,
                "instrument_source_str": source_str, "instrument": int(note.get("instrument", -1)), "id": name})
        self._check_files()


class ESC50(AudioDataset):
    """ESC-50 (Piczak, 2015): 2,000 five-second environmental sounds, 50 classes, 5 folds, 44.1 kHz.

    root: the folder holding audio/*.wav and meta/esc50.csv (filename,fold,target,category,
    esc10,src_file,take). folds: keep these folds (1-5; None: all). esc10=True: only the
    ESC-10 subset (labels stay the ESC-50 targets).
    Items: "audio" (samples,), "label" (target, 0-49), "category", "fold", "esc10", "id"
    (the file name), "path". self.classes: the 50 categories, indexed by label.
    """

    def __init__(self, root, folds: Sequence[int] | None = None, esc10: bool = False, **options):
        super().__init__(**options)
        root = _check_root(root, "the ESC-50 folder (ESC-50-master) holding audio/ and meta/esc50.csv")
        what = "is this the ESC-50 folder (ESC-50-master)?"
        table = self._require(self._require(root / "meta", what) / "esc50.csv", what)
        audio_dir = self._require(root / "audio", what)
        with open(table, encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        categories = {int(row["target"]): row["category"] for row in rows}
        self.classes = [categories.get(target, "") for target in range(max(categories, default=-1) + 1)]
        for row in rows:
            if folds is not None and int(row["fold"]) not in folds:
                continue
            is_esc10 = row["esc10"].strip().lower() == "true"
            if esc10 and not is_esc10:
                continue
            self.examples.append({"files": {"audio": audio_dir / row["filename"]}, "label": int(row["target"]),
                                  "category": row["category"], "fold": int(row["fold"]), "esc10": is_esc10,
                                  "id": row["filename"]})
        self._check_files()


__all__ = ["AudioDataset", "DIGITS", "ESC50", "LJSpeech", "NSynth", "SampleRateError", "SpeechCommands", "VCTK",
           "VoiceBankDEMAND"]
