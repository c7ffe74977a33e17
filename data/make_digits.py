"""Make data/digits/: the course's small stand-in for SC09 (the ten digits of Speech Commands).

What: one-second clips of the words zero..nine, 16 kHz mono, 16-bit FLAC, in exactly the
Speech Commands v0.02 layout, so `ganlib.datasets.SpeechCommands(root, sc09=True)` reads it
as it reads the real download:

    data/digits/<word>/<speaker>_nohash_<n>.flac      word: zero one two ... nine
    data/digits/validation_list.txt                    "word/file" lines, about 10% of speakers
    data/digits/testing_list.txt                       about 10% of speakers; the rest: training

How: every clip is synthesised on this machine by two open-source speech synthesisers, flite
(its voices kal, kal16, awb, rms, slt) and espeak-ng (English accents x voice variants m1..m8,
f1..f5, klatt.., and others). A "speaker" is one voice recipe (engine, voice, accent/variant,
pitch, speed); its id is the first 8 hex digits of the SHA-1 of the recipe written as JSON, so
ids are stable. Each speaker says each word TAKES times (n = 0..TAKES-1), each take with a
small random speed and pitch jitter. Each take is resampled to 16 kHz, trimmed of leading and
trailing silence, faded in/out over 5 ms, sped up (time-stretched, pitch kept) if longer than
0.95 s, peak-normalised to 0.9 times a random gain of -3..0 dB, and placed in a 1 s canvas of
zeros, centred with a small random offset. The validation and testing lists split BY SPEAKER
(no speaker is in two subsets), as Speech Commands does.

Everything random comes from numpy's default_rng seeded with SEED (per clip: SEED, speaker,
word, take), and both synthesisers are deterministic, so re-running writes the same samples
(FLAC files' bytes may differ in metadata; the decoded samples are identical).

Licence: the audio is synthesised by us from flite and espeak-ng voices (no recordings of
people are included), so data/digits/ is released under CC0 1.0 (public domain dedication),
or the repository's licence, whichever the user prefers.

Regenerate (about a minute on 2 cores; needs the Debian packages flite and espeak-ng):

    .venv/bin/python data/make_digits.py            # writes data/digits/ (replacing it)
    .venv/bin/python data/make_digits.py --out /tmp/digits --workers 2
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ganlib import audio  # noqa: E402

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SEED = 20240509
RATE = 16000
LENGTH = RATE              # 1 s
MAX_WORD = int(0.95 * RATE)  # longer words are time-stretched to this
TAKES = 2
PEAK = 0.9
SPLIT_FRACTION = 0.1       # of speakers, for each of validation and testing

FLITE_VOICES = {"kal": (95, 120), "kal16": (95, 125), "awb": (100, 130), "rms": (90, 120), "slt": (165, 205)}
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
                  "en-gb-x-gbclan", "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "klatt4", "Andy", "Annie", "steph")


def recipes() -> list[dict]:
    """The voice recipes, one per speaker, in a fixed order (drawn from default_rng(SEED))."""
    rng = np.random.default_rng(SEED)
    found = []
    for voice, f0s in FLITE_VOICES.items():          # 5 voices x 2 pitches
        for f0 in f0s:
            found.append({"engine": "flite", "voice": voice, "f0": f0,
                          "stretch": round(float(rng.uniform(0.9, 1.1)), 3)})
    for i, variant in enumerate(ESPEAK_VARIANTS):     # each variant in 2 accents
        for j in range(2):
            accent = ESPEAK_ACCENTS[(2 * i + j * 3) % len(ESPEAK_ACCENTS)]
            found.append({"engine": "espeak-ng", "voice": f"{accent}+{variant}",
                          "pitch": int(rng.integers(25, 76)), "speed": int(rng.integers(140, 191))})
    return found


def speaker_id(recipe: dict) -> str:
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def synthesise(recipe: dict, word: str, rng: np.random.Generator, folder: str) -> np.ndarray:
    """One take of `word` by `recipe`, with speed/pitch jitter: float32 (samples,) at RATE."""
    path = os.path.join(folder, "take.wav")
    speed, pitch = rng.uniform(0.92, 1.08), rng.uniform(0.94, 1.06)
    if recipe["engine"] == "flite":
        command = ["flite", "-voice", recipe["voice"],
                   "--setf", f"duration_stretch={recipe['stretch'] / speed:.4f}",
                   "--setf", f"int_f0_target_mean={recipe['f0'] * pitch:.2f}", "-t", word, "-o", path]
    else:
        command = ["espeak-ng", "-v", recipe["voice"], "-s", str(int(round(recipe["speed"] * speed))),
                   "-p", str(int(np.clip(round(recipe["pitch"] * pitch), 0, 99))), "-w", path, word]
    subprocess.run(command, check=True, capture_output=True)
    waveform, rate = audio.load(path, RATE)
    return waveform.astype(np.float32)


def place(waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trim, fade, shorten if needed, normalise, and place `waveform` in a 1 s canvas."""
    import librosa
    waveform, _ = audio.trim_silence(waveform, top_db=40, frame_length=512, hop_length=128)
    if len(waveform) > MAX_WORD:
        waveform = librosa.effects.time_stretch(waveform, rate=len(waveform) / MAX_WORD)[:MAX_WORD]
    fade = int(0.005 * RATE)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    waveform = waveform.copy()
    waveform[:fade] *= ramp
    waveform[-fade:] *= ramp[::-1]
    gain = 10 ** (rng.uniform(-3.0, 0.0) / 20)
    waveform = audio.normalize(waveform, peak=PEAK * gain)
    room = LENGTH - len(waveform)
    jitter = min(room // 2, int(0.1 * RATE))
    start = room // 2 + int(rng.integers(-jitter, jitter + 1))
    canvas = np.zeros(LENGTH, dtype=np.float32)
    canvas[start:start + len(waveform)] = waveform
    return canvas


def make_speaker(job) -> list[str]:
    """Write every word and take of one speaker into `out`; return the relative paths."""
    recipe, out = job
    speaker = speaker_id(recipe)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        for w, word in enumerate(WORDS):
            for n in range(TAKES):
                rng = np.random.default_rng([SEED, int(speaker, 16), w, n])
                clip = place(synthesise(recipe, word, rng, folder), rng)
                relative = f"{word}/{speaker}_nohash_{n}.flac"
                audio.save(Path(out) / relative, clip, RATE, subtype="PCM_16")
                written.append(relative)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "digits"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    out = Path(args.out)
    for tool in ("flite", "espeak-ng"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install flite espeak-ng")
    began = time.time()
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for word in WORDS:
        (staging / word).mkdir(parents=True)
    voices = recipes()
    speakers = [speaker_id(r) for r in voices]
    assert len(set(speakers)) == len(speakers), "two recipes hash to the same speaker id"
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        files = sorted(f for written in pool.map(make_speaker, [(r, staging) for r in voices]) for f in written)
    order = np.random.default_rng(SEED).permutation(sorted(speakers))
    held = max(1, round(SPLIT_FRACTION * len(speakers)))
    splits = {"validation": set(order[:held]), "testing": set(order[held:2 * held])}
    for name, chosen in splits.items():
        lines = [f for f in files if f.split("/")[1].split("_nohash_")[0] in chosen]
        (staging / f"{name}_list.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    print(f"{len(speakers)} speakers x {len(WORDS)} words x {TAKES} takes = {len(files)} clips in {out} "
          f"({len(speakers) - 2 * held} training, {held} validation, {held} testing speakers) "
          f"in {time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
