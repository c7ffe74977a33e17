"""Make data/notes/: the course's small stand-in for NSynth (four-second instrument notes).

What: four-second notes of 10 General MIDI instruments (one per NSynth instrument family)
over a pitch range, 16 kHz mono, 16-bit FLAC, in NSynth's layout, so
`ganlib.datasets.NSynth(root, subset=...)` reads it as it reads the real download:

    data/notes/nsynth-<subset>/audio/<instrument_str>-<pitch:03d>-<velocity:03d>.flac
    data/notes/nsynth-<subset>/examples.json     {note name: NSynth's keys, see below}

    subset "train": MIDI pitches 36, 44, 52, 60, 68, 76, 84 (every 8 semitones, C2..C6)
    subset "test":  MIDI pitches 40, 56, 72 (pitches the train subset does not have)

each at velocity 100, for every instrument: 10 x (7 + 3) = 100 notes, about 4.4 MB (the
pitch step is what keeps it under the course's 5 MB budget for it). examples.json holds, per note, the keys of the
real NSynth: note, note_str, pitch, velocity, instrument, instrument_str, instrument_family,
instrument_family_str, instrument_source, instrument_source_str, qualities (10 zeros: not
annotated), qualities_str ([]), sample_rate (16000).

How: for every note this script writes a tiny one-track MIDI file (program change, note on at
0 s, note off at 3 s, end of track at 4 s) with the small writer below, renders it with
FluidSynth (`fluidsynth -ni -q -R 0 -C 0 -g GAIN -r 16000 -F out.wav FluidR3_GM.sf2 note.mid`:
no reverb, no chorus, so the "reverb" quality 0 is true), averages the two channels to
mono and pads/crops to exactly 64,000 samples (4 s: 3 s held, 1 s of release, as NSynth).
Levels are not normalised per note (so velocity and instrument loudness show), only FluidSynth's
fixed gain (peaks around 0.1-0.2). Nothing is random and
FluidSynth is deterministic, so re-running writes the same samples (FLAC bytes may differ in
metadata; the decoded samples are identical).

Licence: the soundfont FluidR3_GM.sf2 (Debian package fluid-soundfont-gm, by Frank Wen) is
MIT-licensed; /usr/share/doc/fluid-soundfont-gm/copyright says: 'From README: "I hereby
release Fluid under the MIT license, as described in COPYING."' The notes in data/notes/ are
rendered by us from it, so data/notes/ is released under CC0 1.0 (public domain dedication),
or the repository's licence, whichever the user prefers. (Courtesy credit: FluidR3_GM
soundfont, Copyright (c) 2000-2002, 2008 Frank Wen, MIT licence.)

Regenerate (about 20 s on 2 cores; needs the Debian packages fluidsynth and fluid-soundfont-gm):

    .venv/bin/python data/make_notes.py            # writes data/notes/ (replacing it)
    .venv/bin/python data/make_notes.py --out /tmp/notes --workers 2
"""
from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ganlib import audio  # noqa: E402

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RATE = 16000
LENGTH = 4 * RATE          # 4 s, as NSynth
HOLD_SECONDS = 3           # note on for 3 s, then 1 s of release
GAIN = 0.5                 # FluidSynth's master gain
VELOCITIES = (100,)
SUBSETS = {"train": tuple(range(36, 85, 8)), "test": (40, 56, 72)}

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
            "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
QUALITIES = 10

# (General MIDI program, 0-based; NSynth family; NSynth source; the GM name)
INSTRUMENTS = (
    (33, "bass", "electronic", "Electric Bass (finger)"),
    (56, "brass", "acoustic", "Trumpet"),
    (73, "flute", "acoustic", "Flute"),
    (24, "guitar", "acoustic", "Acoustic Guitar (nylon)"),
    (0, "keyboard", "acoustic", "Acoustic Grand Piano"),
    (11, "mallet", "acoustic", "Vibraphone"),
    (16, "organ", "electronic", "Drawbar Organ"),
    (65, "reed", "acoustic", "Alto Sax"),
    (40, "string", "acoustic", "Violin"),
    (52, "vocal", "acoustic", "Choir Aahs"),
)


def midi_note(program: int, pitch: int, velocity: int) -> bytes:
    """A format-0 Standard MIDI File: program change, note on at 0 s, off at HOLD_SECONDS, end at 4 s."""
    division = 480                      # ticks per quarter note; the default tempo is 120 bpm
    per_second = 2 * division

    def delta(ticks: int) -> bytes:     # variable-length quantity
        out = [ticks & 0x7F]
        ticks >>= 7
        while ticks:
            out.append(0x80 | (ticks & 0x7F))
            ticks >>= 7
        return bytes(reversed(out))

    track = (delta(0) + bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")   # tempo 120 bpm
             + delta(0) + bytes([0xC0, program])
             + delta(0) + bytes([0x90, pitch, velocity])
             + delta(HOLD_SECONDS * per_second) + bytes([0x80, pitch, 0])
             + delta((LENGTH // RATE - HOLD_SECONDS) * per_second) + bytes([0xFF, 0x2F, 0x00]))
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
            + b"MTrk" + struct.pack(">I", len(track)) + track)


def render(program: int, pitch: int, velocity: int, scratch: Path) -> "numpy.ndarray":
    """One note as (LENGTH,) float32 mono at RATE."""
    stem = scratch / f"{program}-{pitch}-{velocity}"
    mid, wav = stem.with_suffix(".mid"), stem.with_suffix(".wav")
    mid.write_bytes(midi_note(program, pitch, velocity))
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(GAIN), "-r", str(RATE),
                    "-F", str(wav), SOUNDFONT, str(mid)], check=True, capture_output=True)
    samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    if rate != RATE:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, expected {RATE}")
    mono = samples.mean(axis=1)
    return audio.pad_or_crop(mono, LENGTH)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "notes"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if shutil.which("fluidsynth") is None or not Path(SOUNDFONT).is_file():
        sys.exit("needs fluidsynth and the soundfont FluidR3_GM.sf2: apt-get install fluidsynth fluid-soundfont-gm")
    out = Path(args.out)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    jobs = []
    counts = {}
    for number, (program, family, source, _) in enumerate(INSTRUMENTS):
        counts[family] = counts.get(family, 0) + 1
        instrument_str = f"{family}_{source}_{counts[family]:03d}"
        for subset, pitches in SUBSETS.items():
            for pitch in pitches:
                for velocity in VELOCITIES:
                    jobs.append((subset, number, instrument_str, program, family, source, pitch, velocity))
    examples = {subset: {} for subset in SUBSETS}
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(args.workers) as pool:
        waves = pool.map(lambda job: render(job[3], job[6], job[7], Path(scratch)), jobs)
        for (subset, number, instrument_str, program, family, source, pitch, velocity), wave in zip(jobs, waves):
            name = f"{instrument_str}-{pitch:03d}-{velocity:03d}"
            folder = staging / f"nsynth-{subset}" / "audio"
            folder.mkdir(parents=True, exist_ok=True)
            audio.save(folder / f"{name}.flac", wave, RATE)
            examples[subset][name] = {
                "note": len(examples[subset]), "note_str": name, "pitch": pitch, "velocity": velocity,
                "instrument": number, "instrument_str": instrument_str,
                "instrument_family": FAMILIES.index(family), "instrument_family_str": family,
                "instrument_source": SOURCES.index(source), "instrument_source_str": source,
                "qualities": [0] * QUALITIES, "qualities_str": [], "sample_rate": RATE}
    for subset, notes in examples.items():
        (staging / f"nsynth-{subset}" / "examples.json").write_text(json.dumps(notes, indent=1) + "\n",
                                                                    encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {sum(map(len, examples.values()))} notes "
          f"({', '.join(f'{s} {len(n)}' for s, n in examples.items())}), {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
