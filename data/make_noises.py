"""Make data/noises/: the course's noise set, to corrupt speech for enhancement (chapter 08).

What: short noise clips, 16 kHz mono, 16-bit FLAC, and a table data/noises/noises.csv with one
row per clip (file, kind, stationary, description):

    stationary      white, pink (-3 dB/octave), brown (-6 dB/octave), hum_50hz and hum_60hz
                    (mains hum with harmonics), fan (low-passed noise with a broad resonance
                    and a faint blade tone), babble (eight synthetic voices talking at once)
    non-stationary  clicks (keyboard-like bursts at random times), tones (intermittent beeps
                    of random pitch and length), modulated (pink noise whose level swings
                    slowly), car (a vehicle passing by: low-passed noise whose level and
                    brightness rise and fall)

Mix them with speech with `ganlib.audio.mix_at_snr(speech, noise, snr_db)`, which loops or
crops a clip to the speech's length and sets the SNR exactly.

How: every clip is synthesised here with numpy and scipy. Babble is the sum of eight voices,
each a stream of our own synthetic speech: four from data/speech/wavs (flite's slt voice,
22.05 kHz; each stream played at a different speed, 0.85x..1.2x, so the four sound like
different speakers) and four from data/digits (four different synthetic speakers counting),
all resampled to 16 kHz, each set to the same RMS, overlapped at random offsets. So no
recording of a person is used anywhere. Each clip is set to a fixed RMS level (LEVEL_DB dBFS,
babble and the others alike) except the non-stationary ones, which are set so that their loud
parts have about that level; all peaks stay below 1.

Everything random comes from numpy's default_rng seeded with (SEED, clip number), so re-running
writes the same samples (FLAC files' bytes may differ in metadata; decoded samples are identical).
Clips are DURATION seconds long: noise compresses badly in FLAC, and the set must stay under
4 MB (measure with `du -sh data/noises`).

Licence: all the audio is synthesised by us (the babble from our own synthetic speech in
data/speech and data/digits, itself synthesised with flite and espeak-ng; no recordings of
people), so data/noises/ is released under CC0 1.0 (public domain dedication), or the
repository's licence, whichever the user prefers.

Regenerate (a few seconds; needs data/speech and data/digits):

    .venv/bin/python data/make_noises.py            # writes data/noises/ (replacing it)
    .venv/bin/python data/make_noises.py --out /tmp/noises
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ganlib import audio  # noqa: E402

SEED = 20241125
RATE = 16000
DURATION = 10.0             # seconds per clip
LENGTH = int(RATE * DURATION)
LEVEL_DB = -24.0            # RMS level of the stationary clips, dBFS
HERE = Path(__file__).resolve().parent


def rms_to(waveform: np.ndarray, level_db: float = LEVEL_DB) -> np.ndarray:
    """Scale to an RMS of `level_db` dBFS."""
    return waveform * (10 ** (level_db / 20) / np.sqrt(np.mean(waveform ** 2)))


def coloured(rng: np.random.Generator, exponent: float, fmin: float = 20.0) -> np.ndarray:
    """Gaussian noise whose power spectrum is proportional to 1 / f ** exponent above `fmin`
    (0: white, 1: pink, -3 dB/octave; 2: brown, -6 dB/octave), shaped in the frequency domain
    (exact slope, no filter ripple), nothing below fmin."""
    spectrum = np.fft.rfft(rng.standard_normal(LENGTH))
    frequency = np.fft.rfftfreq(LENGTH, 1 / RATE)
    shape = np.zeros_like(frequency)
    above = frequency >= fmin
    shape[above] = frequency[above] ** (-exponent / 2)
    return np.fft.irfft(spectrum * shape, LENGTH)


def white(rng):
    return rms_to(rng.standard_normal(LENGTH))


def pink(rng):
    return rms_to(coloured(rng, 1.0))


def brown(rng):
    return rms_to(coloured(rng, 2.0))


def hum(rng, mains: float):
    """Mains hum: the fundamental and odd/even harmonics falling off, slight wander, a faint hiss."""
    t = np.arange(LENGTH) / RATE
    wander = 0.002 * mains * np.cumsum(rng.standard_normal(LENGTH)) / np.sqrt(LENGTH)
    phase = 2 * np.pi * (mains * t + np.cumsum(wander) / RATE)
    amplitudes = [1.0, 0.5, 0.7, 0.25, 0.35, 0.12, 0.15, 0.06]
    waveform = sum(a * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k, a in enumerate(amplitudes, start=1))
    waveform = rms_to(waveform)
    return waveform + rms_to(rng.standard_normal(LENGTH), LEVEL_DB - 40)


def fan(rng):
    """Fan-like: low-passed noise, a broad resonance near 300 Hz, a faint blade-rate tone."""
    noise = rng.standard_normal(LENGTH)
    low = scipy.signal.sosfilt(scipy.signal.butter(2, 1200, "lowpass", fs=RATE, output="sos"), noise)
    body = scipy.signal.sosfilt(scipy.signal.butter(2, [220, 420], "bandpass", fs=RATE, output="sos"),
                                rng.standard_normal(LENGTH))
    t = np.arange(LENGTH) / RATE
    blade = np.sin(2 * np.pi * 117 * t) + 0.4 * np.sin(2 * np.pi * 234 * t)
    return rms_to(rms_to(low) + 0.7 * rms_to(body) + 0.15 * rms_to(blade))


def voice_stream(rng: np.random.Generator, clips: list[np.ndarray]) -> np.ndarray:
    """One talker: clips in random order with short random pauses, LENGTH samples, at a random start."""
    pieces, total = [], 0
    while total < 2 * LENGTH:
        clip = clips[rng.integers(len(clips))]
        pause = np.zeros(int(rng.uniform(0.05, 0.3) * RATE))
        pieces += [clip, pause]
        total += len(clip) + len(pause)
    stream = np.concatenate(pieces)
    start = rng.integers(0, len(stream) - LENGTH)
    return rms_to(stream[start:start + LENGTH])


def babble(rng):
    """Eight synthetic talkers at once: four slt streams at different speeds, four digit speakers."""
    sentences = sorted((HERE / "speech" / "wavs").glob("*.flac"))
    if not sentences:
        raise FileNotFoundError(f"no speech in {HERE / 'speech' / 'wavs'}: babble is made from data/speech")
    voices = []
    for speed in (0.85, 0.95, 1.08, 1.2):
        chosen = rng.choice(len(sentences), 12, replace=False)
        # read at 22.05 kHz, resampled as if it were speed * 22.05 kHz: faster/higher or slower/lower
        clips = [audio.load(sentences[i], sample_rate=int(round(RATE / speed)))[0] for i in chosen]
        voices.append(voice_stream(rng, [audio.trim_silence(c, top_db=35)[0] for c in clips]))
    speakers = sorted({p.name.split("_")[0] for p in (HERE / "digits").glob("*/*.flac")})
    if len(speakers) < 4:
        raise FileNotFoundError(f"too few speakers in {HERE / 'digits'}: babble is made from data/digits")
    for index in rng.choice(len(speakers), 4, replace=False):
        files = sorted((HERE / "digits").glob(f"*/{speakers[index]}_nohash_*.flac"))
        clips = [audio.trim_silence(audio.load(f, sample_rate=RATE)[0], top_db=35)[0] for f in files]
        voices.append(voice_stream(rng, clips))
    return rms_to(np.sum(voices, axis=0))


def burst_envelope(length: int, decay: float) -> np.ndarray:
    return np.exp(-np.arange(length) / (decay * RATE))


def clicks(rng):
    """Keyboard-like: short high-passed noise bursts (a key's press, sometimes its release), in
    typing runs with pauses between them."""
    waveform = np.zeros(LENGTH)
    highpass = scipy.signal.butter(2, 1500, "highpass", fs=RATE, output="sos")
    time = rng.uniform(0, 0.3)
    while time < DURATION - 0.05:
        for _ in range(rng.integers(3, 12)):             # a typing run
            start = int(time * RATE)
            length = int(rng.uniform(0.004, 0.015) * RATE)
            burst = rng.standard_normal(length) * burst_envelope(length, rng.uniform(0.001, 0.004))
            burst = scipy.signal.sosfilt(highpass, burst) * rng.uniform(0.5, 1.0)
            waveform[start:start + length] += burst[:LENGTH - start]
            time += rng.uniform(0.08, 0.25)
            if time >= DURATION - 0.05:
                break
        time += rng.uniform(0.4, 1.5)                    # a pause
    return waveform * (0.5 / np.abs(waveform).max())


def tones(rng):
    """Intermittent beeps: sine tones of random pitch (400-3000 Hz) and length, with silences."""
    waveform = np.zeros(LENGTH)
    time = rng.uniform(0, 0.5)
    while time < DURATION - 0.1:
        length = int(min(rng.uniform(0.1, 0.7), DURATION - time) * RATE)
        start = int(time * RATE)
        t = np.arange(length) / RATE
        tone = np.sin(2 * np.pi * rng.uniform(400, 3000) * t)
        fade = np.minimum(1, np.minimum(t, t[::-1]) / 0.005)      # 5 ms fades, no clicks
        waveform[start:start + length] += tone * fade * 10 ** (rng.uniform(-6, 0) / 20)
        time += length / RATE + rng.uniform(0.2, 1.2)
    return waveform * 10 ** ((LEVEL_DB + 3) / 20) * np.sqrt(2)


def modulated(rng):
    """Pink noise whose level swings slowly: a sum of slow sines (0.3-3 Hz), 0 to -30 dB."""
    t = np.arange(LENGTH) / RATE
    swing = sum(np.sin(2 * np.pi * rng.uniform(0.3, 3.0) * t + rng.uniform(0, 2 * np.pi)) for _ in range(3)) / 3
    gain_db = -15 + 15 * swing
    return rms_to(coloured(rng, 1.0)) * 10 ** (gain_db / 20)


def car(rng):
    """A car passing: low-passed noise plus a faint engine tone; the level rises about 30 dB to a
    peak at a random time, then falls, and the noise brightens as it gets close."""
    t = np.arange(LENGTH) / RATE
    peak = rng.uniform(0.4, 0.6) * DURATION
    closeness = 1 / (1 + ((t - peak) / 0.9) ** 2)                 # 1 when passing, ~0 far away
    rumble = scipy.signal.sosfilt(scipy.signal.butter(3, 300, "lowpass", fs=RATE, output="sos"),
                                  rng.standard_normal(LENGTH))
    hiss = scipy.signal.sosfilt(scipy.signal.butter(2, [500, 3000], "bandpass", fs=RATE, output="sos"),
                                rng.standard_normal(LENGTH))
    doppler = 1 + 0.05 * np.tanh((peak - t) / 0.5)                 # the engine's pitch falls as it passes
    engine = np.sin(2 * np.pi * np.cumsum(90 * doppler) / RATE)
    sound = rms_to(rumble) + closeness * rms_to(hiss) + 0.3 * rms_to(engine)
    gain_db = -30 + 30 * closeness
    return sound * 10 ** (gain_db / 20) * 10 ** (6 / 20)


# (file stem, kind, stationary, maker, description)
NOISES = [
    ("white", "white", True, white, "white Gaussian noise, flat spectrum"),
    ("pink", "pink", True, pink, "pink noise, power falling 3 dB per octave (1/f), from 20 Hz"),
    ("brown", "brown", True, brown, "brown (red) noise, power falling 6 dB per octave (1/f^2), from 20 Hz"),
    ("hum_50hz", "hum", True, lambda rng: hum(rng, 50.0), "50 Hz mains hum with 7 harmonics and a faint hiss"),
    ("hum_60hz", "hum", True, lambda rng: hum(rng, 60.0), "60 Hz mains hum with 7 harmonics and a faint hiss"),
    ("fan", "fan", True, fan, "fan-like: low-passed noise, a resonance near 300 Hz, a faint 117 Hz blade tone"),
    ("babble", "babble", True, babble,
     "babble: eight synthetic talkers at once (data/speech at four speeds, four data/digits speakers)"),
    ("clicks", "clicks", False, clicks, "keyboard-like clicks: short high-passed bursts in typing runs with pauses"),
    ("tones", "tones", False, tones, "intermittent beeps: sine tones of random pitch and length between silences"),
    ("modulated", "modulated", False, modulated,
     "amplitude-modulated pink noise, level swinging 0 to -30 dB at 0.3-3 Hz"),
    ("car", "car", False, car, "a car passing: low-passed noise and engine tone swelling ~30 dB and fading"),
]


def make(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = []
    for number, (stem, kind, stationary, maker, description) in enumerate(NOISES):
        rng = np.random.default_rng([SEED, number])
        waveform = maker(rng).astype(np.float32)
        peak = np.abs(waveform).max()
        if peak >= 0.99:
            waveform *= 0.95 / peak
        audio.save(out / f"{stem}.flac", waveform, RATE)
        rows.append({"file": f"{stem}.flac", "kind": kind, "stationary": stationary, "description": description})
    with open(out / "noises.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "kind", "stationary", "description"])
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "noises", help="output folder (replaced)")
    args = parser.parse_args()
    make(args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {len(NOISES)} clips of {DURATION:g} s to {args.out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
