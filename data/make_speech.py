"""Make data/speech/: the course's small, bundled stand-in for LJ Speech 1.1.

What: 195 short English sentences (1-6 s each, 10.3 minutes in all: the first sentences
that add up to MINUTES = 10.2) read by one synthetic voice, 22.05 kHz mono 16-bit, 13.7 MB,
in exactly LJ Speech's layout, so that `ganlib.datasets.LJSpeech`
reads it with the same code as the real download:

    data/speech/metadata.csv    id|transcription|normalized transcription  (no header, UTF-8)
    data/speech/wavs/<id>.flac  one clip per row, ids GA001-0001 .. GA004-0045 (50 per "chapter")

The clips are FLAC (lossless 16-bit PCM, about half the size of WAV); LJSpeech reads
wavs/<id>.flac when wavs/<id>.wav is absent. (16-bit speech FLAC is about 1.3 MB a minute
at 22.05 kHz, hence about 10 minutes to stay under 14 MB.)

How: sentences come from a seeded generator (random.Random(SEED)) over a hand-written grammar
and word lists below: statements, questions, lists, dates, sums of money, addresses, times.
The transcription column keeps numbers, ordinals and abbreviations as written ("Dr. Reed
moved to 14 Elm St. in 1867", "$12", "the 4th"); the normalized column spells them out with
the small normaliser below ("Doctor Reed moved to fourteen Elm Street in eighteen sixty-seven"),
as LJ Speech's third column does. The NORMALIZED text is synthesised with flite's "slt" voice
(a US English female voice, like LJ Speech's reader; flite writes 16 kHz), resampled to
22.05 kHz with librosa (soxr_hq), trimmed of leading/trailing silence (librosa.effects.trim,
top_db 40, keeping 50 ms on each side) and peak-normalised to 0.9. Because flite's output is
16 kHz, the clips hold nothing above 8 kHz (the top mel bands of a 22.05 kHz vocoder stay
empty): fine for learning the pipeline, unlike real LJ Speech recordings.

Deterministic: the same seed gives the same sentences, and flite and soxr are deterministic,
so re-running reproduces the same decoded samples (the FLAC bytes may differ with the
encoder's version); tests/test_bundled_speech.py checks this on a few clips. About 10 s on
two cores.

Licence: the sentences are original text written for this course by its generator below
(no copyrighted corpus was used), and the audio is synthesised from them by flite, Carnegie
Mellon University's free synthesiser, whose program and voices (slt: CMU ARCTIC) come under
permissive BSD-style licences allowing any use. The data set (metadata.csv and wavs/) is
dedicated to the public domain under CC0 1.0; it may equally be used under the repository's
licence.

Regenerate (from the repository root; needs the `flite` program, e.g. apt-get install flite):

    .venv/bin/python data/make_speech.py            # writes data/speech/
    .venv/bin/python data/make_speech.py --out /tmp/speech   # elsewhere (e.g. to compare)
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ganlib import audio  # noqa: E402

SEED = 1865
MINUTES = 10.2          # stop at the first clip that brings the total to this
MAX_SENTENCES = 400
PER_CHAPTER = 50
SAMPLE_RATE = 22050
VOICE = "slt"
PEAK = 0.9
KEEP_SECONDS = 0.05
TOP_DB = 40
PREFIX = "GA"

# --- the normaliser: numbers, ordinals, money, times, abbreviations -> words ------------------

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}
ABBREVIATIONS = {"Mr.": "Mister", "Mrs.": "Missus", "Dr.": "Doctor", "St.": "Street", "Capt.": "Captain",
                 "Prof.": "Professor", "Mt.": "Mount", "No.": "number", "Ave.": "Avenue"}


def cardinal(n: int) -> str:
    """0..999999 in words: 342 -> 'three hundred forty-two'."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + cardinal(n % 100))
    return cardinal(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + cardinal(n % 1000))


def ordinal(n: int) -> str:
    """4 -> 'fourth', 21 -> 'twenty-first'."""
    words = cardinal(n)
    head, _, last = words.rpartition("-") if "-" in words else words.rpartition(" ")
    sep = "-" if "-" in words else " "
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return (head + sep if head else "") + last


def year(n: int) -> str:
    """1865 -> 'eighteen sixty-five', 1900 -> 'nineteen hundred', 2004 -> 'two thousand four'."""
    if 2000 <= n < 2010 or n % 1000 == 0:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    return cardinal(high) + " " + ("oh " + ONES[low] if low < 10 else cardinal(low))


def money(match: re.Match) -> str:
    dollars, cents = int(match.group(1)), int(match.group(2) or 0)
    words = cardinal(dollars) + (" dollar" if dollars == 1 else " dollars")
    if cents:
        words += " and " + cardinal(cents) + (" cent" if cents == 1 else " cents")
    return words


def clock(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    return cardinal(hours) + (" o'clock" if minutes == 0 else
                              " oh " + ONES[minutes] if minutes < 10 else " " + cardinal(minutes))


def normalize_text(text: str) -> str:
    """The written sentence -> the words read aloud (LJ Speech's 'normalized transcription')."""
    for short, long in ABBREVIATIONS.items():
        text = re.sub(r"(?<![A-Za-z])" + re.escape(short), long, text)
    text = re.sub(r"\$(\d+)(?:\.(\d\d))?", money, text)
    text = re.sub(r"\b(\d{1,2}):(\d\d)\b", clock, text)
    text = re.sub(r"\b(\d+)%", lambda m: cardinal(int(m.group(1))) + " percent", text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), text)
    text = re.sub(r"\b([Ii]n|[Bb]y) (1[1-9]\d\d|20\d\d)\b", lambda m: m.group(1) + " " + year(int(m.group(2))), text)
    text = re.sub(r"\b(\d{1,3}(?:,\d{3})+|\d+)\b", lambda m: cardinal(int(m.group(1).replace(",", ""))), text)
    if re.search(r"\d", text):
        raise ValueError(f"digits left after normalising: {text!r}")
    return text


# --- the grammar: hand-written word lists, combined by a seeded generator ---------------------

FIRST = ("Ada Ben Clara Daniel Edith Felix Grace Henry Iris Jonah Katherine Leo Martha Nathan Olive "
         "Peter Rosa Samuel Tessa Victor Wendy Arthur Beatrice Walter").split()
LAST = ("Harper Lowell Finch Marsh Whitaker Quill Ashby Fenwick Carrow Dunmore Ellery Gale Holloway "
        "Kettering Lindqvist Morrow Pembrook Radley Stroud Thorne Upton Vance Winslow Yardley").split()
TITLES = ("Mr.", "Mrs.", "Dr.", "Capt.", "Prof.")
STREETS = ("Elm St.", "Mill St.", "Orchard St.", "Harbor St.", "Chestnut St.", "Maple Ave.", "Bridge St.",
           "Cedar Ave.", "Church St.", "Water St.")
TOWNS = ("Ashford", "Bramble Cove", "Dunmore Falls", "Easton", "Fairhaven", "Glenwood", "Holt", "Kingsbridge",
         "Larkspur", "Millbrook", "Northfield", "Oakridge", "Redwater", "Stonehill", "Westmere")
PLACES = ("the harbor", "the old mill", "the railway station", "the town hall", "the market square",
          "the lighthouse", "the public library", "the bakery on the corner", "the river bank",
          "the school yard", "the print shop", "the county court", "the post office", "the orchard",
          "the ferry landing", "the top floor of the hotel")
THINGS = ("a wooden box", "the brass key", "a bundle of letters", "the morning paper", "a basket of apples",
          "the silver watch", "an old map", "a pair of boots", "the ledger", "a loaf of bread",
          "the blue umbrella", "a jar of honey", "the telegram", "a small lantern", "the spare wheel",
          "a box of candles", "the green notebook", "a sack of flour")
COUNTABLE = ("rooms", "windows", "horses", "chairs", "boats", "barrels", "lamps", "clocks", "trees",
             "bridges", "wagons", "books", "bells", "crates", "students", "workers")
VERBS_PAST = ("found", "carried", "painted", "repaired", "sold", "borrowed", "hid", "returned", "weighed",
              "wrapped", "counted", "measured", "cleaned", "lost", "mended", "delivered")
MOVES = ("walked to", "drove to", "hurried to", "wandered past", "rode to", "returned to", "waited near",
         "climbed up to", "looked for", "arrived at")
TIMES = ("early in the morning", "just before noon", "late that evening", "after supper", "at dawn",
         "in the middle of the night", "on a rainy afternoon", "the following week", "soon after",
         "before the storm")
WEATHER = ("It rained", "The wind blew hard", "Snow fell quietly", "A thick fog rolled in", "The sun shone",
           "Thunder rolled over the hills", "A cold mist hung low")
ADJECTIVES = ("quiet", "crowded", "narrow", "bright", "cold", "busy", "dusty", "peaceful", "noisy",
              "empty", "warm", "tidy")
MONTHS = ("January February March April May June July August September October November "
          "December").split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
JOBS = ("the clerk", "the baker", "the engineer", "the teacher", "the judge", "the sailor", "the doctor",
        "the carpenter", "the mayor", "the printer", "the gardener", "the stationmaster")
FEELINGS = ("pleased", "surprised", "tired", "worried", "delighted", "puzzled", "relieved", "certain")


def nth(n: int) -> str:
    """4 -> '4th', 21 -> '21st' (as written in the transcription column)."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def generate(rng: random.Random) -> str:
    """One written sentence, drawn from the grammar."""
    c = rng.choice
    name = lambda: c(FIRST) + " " + c(LAST)  # noqa: E731
    person = lambda: c(TITLES) + " " + c(LAST) if rng.random() < 0.5 else name()  # noqa: E731
    number = lambda lo=2, hi=40: rng.randint(lo, hi)  # noqa: E731
    templates = [
        lambda: f"{person()} {c(MOVES)} {c(PLACES)} {c(TIMES)}.",
        lambda: f"In {rng.randint(1820, 1999)}, {person()} moved to {number(1, 250)} {c(STREETS)} in {c(TOWNS)}.",
        lambda: f"The house had {number()} {c(COUNTABLE)} and a garden behind it.",
        lambda: f"{c(JOBS).capitalize()} {c(VERBS_PAST)} {c(THINGS)} for ${number(1, 90)}.",
        lambda: f"It cost ${number(1, 60)}.{rng.choice(['25', '50', '75', '10', '05'])} to send "
                  f"{c(THINGS)} to {c(TOWNS)}.",
        lambda: f"On the {nth(rng.randint(1, 31))} of {c(MONTHS)}, {c(WEATHER).lower()} in {c(TOWNS)}.",
        lambda: f"The train left {c(TOWNS)} at {rng.randint(1, 12)}:"
                  f"{c(['00', '15', '30', '45', '05', '20'])} on {c(DAYS)}.",
        lambda: f"Did {person()} really leave {c(THINGS)} at {c(PLACES)}?",
        lambda: f"Why was {c(PLACES)} so {c(ADJECTIVES)} {c(TIMES)}?",
        lambda: f"Where did {c(JOBS)} put {c(THINGS)}?",
        lambda: "They bought {}, {}, and {}.".format(*rng.sample(THINGS, 3)),
        lambda: f"{c(WEATHER)}, so {name()} stayed inside and read.",
        lambda: f"Her office was on the {nth(rng.randint(2, 22))} floor of No. {number(3, 90)} {c(STREETS)}.",
        lambda: f"About {rng.choice([10, 15, 20, 25, 30, 40, 60, 75, 80, 90])}% of the "
                  f"{c(COUNTABLE)} in {c(TOWNS)} were new.",
        lambda: f"{person()} was {c(FEELINGS)} to see {number()} {c(COUNTABLE)} near {c(PLACES)}.",
        lambda: f"By {rng.randint(1850, 1990)}, the town of {c(TOWNS)} had "
                  f"{rng.choice([1, 2, 3, 4, 6, 8, 12])},{rng.randint(100, 999)} people.",
        lambda: f"We climbed Mt. {c(LAST)} {c(TIMES)} and saw {c(PLACES)} below.",
        lambda: f"{c(JOBS).capitalize()} said that {c(PLACES)} would open at {rng.randint(6, 11)}:00 on {c(DAYS)}.",
        lambda: f"Please bring {c(THINGS)} and {number(2, 12)} {c(COUNTABLE)} to {c(PLACES)}.",
        lambda: f"{name()} finished {nth(rng.randint(1, 5))} in the race, ahead of {name()}.",
        lambda: f"Is it true that {c(JOBS)} {c(VERBS_PAST)} {c(THINGS)}?",
        lambda: "The {} road from {} to {} was {} miles long.".format(c(ADJECTIVES), *rng.sample(TOWNS, 2),
                                                                     number(3, 95)),
        lambda: f"In {rng.randint(1700, 2019)}, {c(JOBS)} wrote a letter about {c(THINGS)}.",
        lambda: f"{person()} and {person()} met at {c(PLACES)} on {c(DAYS)}.",
        # short ones
        lambda: f"Where is {c(PLACES)}?",
        lambda: f"It was almost {rng.randint(1, 12)} o'clock.",
        lambda: f"{person()} seemed {c(FEELINGS)}.",
        lambda: f"The {c(ADJECTIVES)} {c(COUNTABLE)} were gone.",
        lambda: f"We paid ${number(2, 99)} for it.",
        lambda: f"Call {name()} at once!",
        lambda: f"Come back on the {nth(rng.randint(1, 31))} of {c(MONTHS)}.",
        lambda: f"{c(WEATHER)} {c(TIMES)}.",
        lambda: f"Who {c(VERBS_PAST)} {c(THINGS)}?",
        lambda: f"{c(JOBS).capitalize()} was never late.",
    ]
    text = c(templates)()
    return text[:-1] if text.endswith("..") else text  # "... Bridge St.." -> "... Bridge St."


def sentences(count: int = MAX_SENTENCES, seed: int = SEED) -> list[tuple[str, str]]:
    """`count` distinct (written, normalized) sentences, the same for the same seed."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < count:
        text = generate(rng)
        if text not in seen:
            seen.add(text)
            out.append((text, normalize_text(text)))
    return out


# --- synthesis --------------------------------------------------------------------------------

def synthesise(text: str, path: Path, voice: str = VOICE, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """flite's `voice` reading `text` (its wav written to `path`) -> float32 at `sample_rate`,
    trimmed to KEEP_SECONDS of silence at each end, peak PEAK. make_parallel.py uses it too."""
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    waveform, rate = audio.load(path)
    if rate != sample_rate:
        waveform = librosa.resample(waveform, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    _, (start, end) = audio.trim_silence(waveform, top_db=TOP_DB)
    keep = int(KEEP_SECONDS * sample_rate)
    waveform = waveform[max(0, start - keep):min(len(waveform), end + keep)]
    return audio.normalize(waveform, PEAK).astype(np.float32)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "speech", help="output folder (replaced)")
    parser.add_argument("--minutes", type=float, default=MINUTES, help="stop once this much audio is made")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if shutil.which("flite") is None:
        sys.exit("flite not found: install it (apt-get install flite)")
    began = time.time()
    rows = sentences(MAX_SENTENCES, args.seed)
    clips: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(4) as pool:
        # in order, a batch at a time, until the clips add up to args.minutes
        while sum(map(len, clips)) < args.minutes * 60 * SAMPLE_RATE:
            if len(clips) == len(rows):
                sys.exit(f"{len(rows)} sentences make less than {args.minutes} minutes: raise MAX_SENTENCES")
            batch = range(len(clips), min(len(clips) + 16, len(rows)))
            clips += pool.map(lambda i: synthesise(rows[i][1], Path(work) / f"{i}.wav"), batch)
        total = 0
        for count, clip in enumerate(clips, 1):
            total += len(clip)
            if total >= args.minutes * 60 * SAMPLE_RATE:
                break
    clips, rows = clips[:count], rows[:count]
    ids = [f"{PREFIX}{i // PER_CHAPTER + 1:03d}-{i % PER_CHAPTER + 1:04d}" for i in range(count)]
    durations = [len(c) / SAMPLE_RATE for c in clips]
    if min(durations) < 1.0 or max(durations) > 10.0:
        sys.exit(f"a clip is outside 1-10 s ({min(durations):.2f}-{max(durations):.2f} s): change the grammar")
    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "wavs").mkdir(parents=True)
    for clip_id, clip in zip(ids, clips):
        # 16-bit PCM in FLAC at its strongest compression (lossless: the level changes only the size)
        soundfile.write(str(args.out / "wavs" / f"{clip_id}.flac"), clip, SAMPLE_RATE, subtype="PCM_16",
                        format="FLAC", compression_level=1.0)
    with open(args.out / "metadata.csv", "w", encoding="utf-8", newline="\n") as file:
        file.writelines(f"{clip_id}|{written}|{spoken}\n" for clip_id, (written, spoken) in zip(ids, rows))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{count} clips, {sum(durations) / 60:.2f} min ({min(durations):.1f}-{max(durations):.1f} s each), "
          f"{size / 1e6:.1f} MB in {args.out}, {time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
