"""Make data/parallel/: the course's small, bundled parallel corpus for voice conversion.

What: two synthetic voices reading the SAME 60 short English sentences (parallel data, as
voice-conversion models such as CycleGAN-VC / StarGAN-VC evaluations use), in exactly
VCTK 0.92's layout, so that `ganlib.datasets.VCTK` reads it with the same code as the real
download:

    data/parallel/wav48_silence_trimmed/<spk>/<spk>_<nnn>_mic1.flac   one clip per sentence
    data/parallel/txt/<spk>/<spk>_<nnn>.txt                           its transcript (one line)

Speakers: p901 (flite's "rms", a US English male voice) and p902 (flite's "slt", a US English
female voice). Real VCTK speaker ids run p225..p376 (and s5), so p9xx cannot collide with them
when the two folders are used together. Sentence <nnn> (001..060) is the same sentence for
both speakers: p901_017 and p902_017 say the same words (at each voice's own pace, so frames
are not aligned: align with DTW if a method needs it).

The folder is called wav48_silence_trimmed because that is VCTK 0.92's layout, but the files are
16 kHz (flite's rate), mono, 16-bit FLAC; the loader resamples to the sample_rate it is given.
Each clip is trimmed of leading/trailing silence (ganlib.audio.trim_silence, top_db 40, keeping
50 ms on each side, as VCTK's "silence_trimmed") and peak-normalised to 0.9
(ganlib.audio.normalize). The transcript is the text the voices read: the normalised spelling
("fourteen Elm Street", not "14 Elm St."). 1.2-2.3 s a clip, 1.9 min (p901) and 1.7 min (p902)
of audio; 4.3 MB of files (du -sh: 4.9 MB with 4 KB file-system blocks). 16 kHz audio holds
nothing above 8 kHz.

How: the sentences come from data/make_speech.py's seeded grammar and normaliser (imported,
not copied), with another seed (SEED below) so they differ from data/speech's; of those,
the first COUNT whose spoken form has at most MAX_WORDS words and that are not among
data/speech's sentences are kept (short clips keep the corpus small). Each is synthesised with
`flite -voice rms` and `flite -voice slt`.

Deterministic: the same seed gives the same sentences and flite is deterministic, so re-running
reproduces the same decoded samples (the FLAC bytes may differ with the encoder's version);
tests/test_bundled_parallel.py checks this on a few clips where flite is installed. A few
seconds.

Licence: the sentences are original text written for this course by the generator in
data/make_speech.py (no copyrighted corpus was used), and the audio is synthesised from them by
us with flite, Carnegie Mellon University's free synthesiser, whose program and voices (rms,
slt: CMU ARCTIC) come under permissive BSD-style licences allowing any use. The data set
(wav48_silence_trimmed/ and txt/) is dedicated to the public domain under CC0 1.0; it may
equally be used under the repository's licence.

Regenerate (from the repository root; needs the `flite` program, e.g. apt-get install flite):

    .venv/bin/python data/make_parallel.py                      # writes data/parallel/
    .venv/bin/python data/make_parallel.py --out /tmp/parallel  # elsewhere (e.g. to compare)
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ganlib import audio  # noqa: E402


def _load_make_speech():
    """data/make_speech.py as a module (data/ is not a package): its grammar and normaliser."""
    spec = importlib.util.spec_from_file_location("make_speech", Path(__file__).resolve().parent / "make_speech.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_speech = _load_make_speech()

SEED = 1892             # data/speech uses make_speech.SEED (1865)
COUNT = 60              # sentences, each read by both voices
MAX_WORDS = 6           # keep sentences whose spoken form has at most this many words
SAMPLE_RATE = 16000     # flite's own rate; no resampling
VOICES = {"p901": "rms", "p902": "slt"}   # VCTK-style speaker id -> flite voice
MIC = "mic1"


def sentences(count: int = COUNT, seed: int = SEED, max_words: int = MAX_WORDS) -> list[tuple[str, str]]:
    """The first `count` distinct (written, spoken) sentences of make_speech's grammar with this
    seed whose spoken form has at most `max_words` words and that are not among data/speech's."""
    taken = {written for written, _ in make_speech.sentences()}   # data/speech's candidates
    pool = make_speech.sentences(count * 20, seed)
    rows = [row for row in pool if len(row[1].split()) <= max_words and row[0] not in taken][:count]
    if len(rows) < count:
        raise ValueError(f"only {len(rows)} sentences of at most {max_words} words: raise the pool")
    return rows


def synthesise(text: str, voice: str, path: Path) -> np.ndarray:
    """flite's `voice` reading `text` -> float32 at 16 kHz (flite's own rate), trimmed, peak 0.9:
    make_speech.synthesise with this set's voice and rate."""
    return make_speech.synthesise(text, path, voice=voice, sample_rate=SAMPLE_RATE)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "parallel", help="output folder (replaced)")
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if shutil.which("flite") is None:
        sys.exit("flite not found: install it (apt-get install flite)")
    began = time.time()
    rows = sentences(args.count, args.seed)
    jobs = [(speaker, voice, n) for speaker, voice in VOICES.items() for n in range(1, len(rows) + 1)]
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(4) as pool:
        clips = list(pool.map(lambda job: synthesise(rows[job[2] - 1][1], job[1],
                                                     Path(work) / f"{job[0]}_{job[2]}.wav"), jobs))
    durations = [len(c) / SAMPLE_RATE for c in clips]
    if min(durations) < 0.8 or max(durations) > 8.0:
        sys.exit(f"a clip is outside 0.8-8 s ({min(durations):.2f}-{max(durations):.2f} s)")
    if args.out.exists():
        shutil.rmtree(args.out)
    for speaker in VOICES:
        (args.out / "wav48_silence_trimmed" / speaker).mkdir(parents=True)
        (args.out / "txt" / speaker).mkdir(parents=True)
    for (speaker, _, n), clip in zip(jobs, clips):
        clip_id = f"{speaker}_{n:03d}"
        # 16-bit PCM in FLAC at its strongest compression (lossless: the level changes only the size)
        soundfile.write(str(args.out / "wav48_silence_trimmed" / speaker / f"{clip_id}_{MIC}.flac"), clip,
                        SAMPLE_RATE, subtype="PCM_16", format="FLAC", compression_level=1.0)
        (args.out / "txt" / speaker / f"{clip_id}.txt").write_text(rows[n - 1][1] + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    for speaker, voice in VOICES.items():
        mine = [d for (s, _, _), d in zip(jobs, durations) if s == speaker]
        print(f"{speaker} ({voice}): {len(mine)} clips, {sum(mine) / 60:.2f} min "
              f"({min(mine):.1f}-{max(mine):.1f} s each)")
    print(f"{size / 1e6:.2f} MB in {args.out}, {time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
