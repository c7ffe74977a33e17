"""Environmental sounds from a seeded procedural generator: labelled clips with nothing on disk.

Each class is a short recipe (filtered noise, decaying sinusoids, chirps, pulses) whose
parameters are drawn from a random generator, so every call gives a different example that
still sounds like its class: a stand-in for ESC-50 when training class-conditional GANs.

    audio = soundscapes.synthesize("rain", duration=2.0, sample_rate=16000, seed=0)  # (32000,)
    data = soundscapes.SoundscapeDataset(n_per_class=100, duration=1.024, fields=("audio", "label"))
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)

Classes (label = index in CLASSES): rain, wind, birdsong, footsteps, engine, thunder,
crickets, water_drops.

Notebook: 10_music_and_environmental_sounds.ipynb
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .datasets import select_fields

CLASSES = ("rain", "wind", "birdsong", "footsteps", "engine", "thunder", "crickets", "water_drops")


# --- building blocks (numpy, float64 inside) ----------------------------------------------------

def _shaped_noise(rng: np.random.Generator, n: int, sample_rate: int, low: float = 0.0,
                  high: float | None = None, slope: float = 0.0) -> np.ndarray:
    """n samples of Gaussian noise band-limited to [low, high] Hz (soft edges), with spectral
    slope `slope` (0: white, -0.5: pink, -1: brown in amplitude per frequency), unit RMS."""
    high = sample_rate / 2 if high is None else high
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    f_safe = np.maximum(f, 1.0)
    gain = f_safe ** slope
    gain *= 1.0 / (1.0 + (low / f_safe) ** 4) if low > 0 else 1.0  # 2nd-order-like edges
    gain *= 1.0 / (1.0 + (f / high) ** 4)
    noise = np.fft.irfft(spectrum * gain, n)
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def _convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Linear convolution of x with kernel via FFT, cropped to len(x)."""
    size = len(x) + len(kernel) - 1
    fft_size = 1 << (size - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, fft_size) * np.fft.rfft(kernel, fft_size), fft_size)[:len(x)]


def _decay(n: int, sample_rate: int, seconds: float) -> np.ndarray:
    """An exponential decay exp(-t / seconds) of n samples."""
    return np.exp(-np.arange(n) / (sample_rate * seconds))


def _slow_curve(rng: np.random.Generator, n: int, sample_rate: int, rate: float) -> np.ndarray:
    """A smooth random curve in about [-1, 1] varying at about `rate` Hz (sum of slow sines)."""
    t = np.arange(n) / sample_rate
    curve = sum(np.sin(2 * np.pi * rate * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 2 * np.pi))
                for _ in range(3))
    return curve / 3.0


# --- the recipes: (rng, n samples, sample_rate) -> waveform ------------------------------------

def _rain(rng, n, sr):
    """Many short high-passed noise drops (150-500 per second) over a bed of pink noise."""
    bed = _shaped_noise(rng, n, sr, low=400, high=min(8000, sr / 2), slope=-0.5)
    impulses = np.zeros(n)
    count = rng.poisson(rng.uniform(150, 500) * n / sr)
    impulses[rng.integers(0, n, count)] = rng.lognormal(0, 0.6, count) * rng.choice([-1, 1], count)
    kernel_len = int(0.006 * sr)
    kernel = rng.standard_normal(kernel_len) * _decay(kernel_len, sr, 0.0015)
    drops = _convolve(impulses, kernel)
    drops = np.fft.irfft(np.fft.rfft(drops) * (np.fft.rfftfreq(n, 1 / sr) > 1500), n)
    drops /= np.sqrt(np.mean(drops ** 2)) + 1e-12
    return rng.uniform(0.4, 0.8) * bed + drops


def _wind(rng, n, sr):
    """Low band-passed noise whose loudness and brightness drift slowly (gusts)."""
    low = _shaped_noise(rng, n, sr, low=60, high=rng.uniform(300, 500), slope=-0.5)
    high = _shaped_noise(rng, n, sr, low=300, high=rng.uniform(900, 1400), slope=-0.5)
    brightness = 0.5 + 0.5 * _slow_curve(rng, n, sr, rng.uniform(0.2, 0.6))
    gust = 0.6 + 0.4 * _slow_curve(rng, n, sr, rng.uniform(0.15, 0.5))
    return gust * ((1 - brightness) * low + brightness * high)


def _birdsong(rng, n, sr):
    """Frequency-modulated chirps (40-200 ms) between 2 and 6 kHz with a weaker 2nd harmonic."""
    out = np.zeros(n)
    top = min(6000.0, 0.4 * sr)
    t_start = rng.uniform(0, 0.15) * n / sr
    while t_start < n / sr:
        length = int(rng.uniform(0.04, 0.2) * sr)
        start = int(t_start * sr)
        length = min(length, n - start)
        if length > 8:
            t = np.arange(length) / sr
            f0 = rng.uniform(2000, top)
            sweep = rng.uniform(-0.4, 0.4) * f0          # a rising or falling glide
            trill = rng.uniform(0, 0.15) * f0 * np.sin(2 * np.pi * rng.uniform(20, 60) * t)
            freq = np.clip(f0 + sweep * t / t[-1] + trill, 1500, 0.45 * sr)
            phase = 2 * np.pi * np.cumsum(freq) / sr
            envelope = np.hanning(length)
            tone = np.sin(phase) + rng.uniform(0.1, 0.4) * np.sin(2 * phase) * (2 * freq < 0.5 * sr)
            out[start:start + length] += rng.uniform(0.5, 1.0) * envelope * tone
        t_start += rng.uniform(0.06, 0.4) * (3 if rng.random() < 0.15 else 1)
    return out + 0.01 * _shaped_noise(rng, n, sr)


def _footsteps(rng, n, sr):
    """Low thumps (a falling 50-130 Hz sine) with a short scuff of noise, at a random walking
    tempo of 1.5-2.8 steps per second with a little jitter."""
    out = np.zeros(n)
    period = 1.0 / rng.uniform(1.5, 2.8)
    thump_len, scuff_len = int(0.12 * sr), int(0.05 * sr)
    scuff_noise = _shaped_noise(rng, n, sr, low=200, high=2500)
    t_step = rng.uniform(0, period)
    while t_step < n / sr:
        start = int(t_step * sr)
        length = min(thump_len, n - start)
        t = np.arange(length) / sr
        f = rng.uniform(50, 130) * (1 + 0.8 * np.exp(-t / 0.01))  # pitch drops on impact
        thump = np.sin(2 * np.pi * np.cumsum(f) / sr) * _decay(length, sr, rng.uniform(0.02, 0.04))
        out[start:start + length] += rng.uniform(0.7, 1.0) * thump
        s_len = min(scuff_len, n - start)
        out[start:start + s_len] += (rng.uniform(0.1, 0.3) * scuff_noise[start:start + s_len]
                                     * _decay(s_len, sr, 0.012))
        t_step += period * rng.uniform(0.93, 1.07)
    return out + 0.005 * _shaped_noise(rng, n, sr)


def _engine(rng, n, sr):
    """A harmonic series on a 30-80 Hz fundamental with slow drift and jitter, amplitude-pulsed
    at the firing rate, plus a little low rumble."""
    f0 = rng.uniform(30, 80) * (1 + 0.03 * _slow_curve(rng, n, sr, 0.3)) * (
        1 + 0.004 * _shaped_noise(rng, n, sr, high=40))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(n)
    rolloff = rng.uniform(0.6, 1.4)
    for k in range(1, 25):
        if k * f0.max() < 0.45 * sr:
            out += rng.uniform(0.3, 1.0) / k ** rolloff * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    pulse = 1 + rng.uniform(0.1, 0.4) * np.sin(phase / rng.choice([1, 2]))
    return out * pulse + 0.1 * _shaped_noise(rng, n, sr, low=20, high=300)


def _thunder(rng, n, sr):
    """A sharp broadband crack early on, then a long low rumble (< ~250 Hz) that swells and
    fades with random rolls."""
    onset = int(rng.uniform(0.02, 0.25) * n)
    rest = n - onset
    crack = _shaped_noise(rng, rest, sr, low=300, slope=-0.3) * _decay(rest, sr, rng.uniform(0.03, 0.08))
    rumble = _shaped_noise(rng, rest, sr, low=20, high=rng.uniform(120, 250), slope=-0.5)
    t = np.arange(rest) / sr
    swell = (1 - np.exp(-t / 0.08)) * np.exp(-t / rng.uniform(0.6, 1.5) * (2.0 * sr / n))
    rolls = 0.6 + 0.4 * _slow_curve(rng, rest, sr, rng.uniform(1.5, 4.0))
    out = np.zeros(n)
    out[onset:] = rng.uniform(0.6, 1.0) * crack + swell * rolls * rumble
    return out + 0.01 * _shaped_noise(rng, n, sr, high=500)


def _crickets(rng, n, sr):
    """Pulsed narrowband tones near 4-5 kHz: chirps of 3-6 pulses at 25-45 pulses per second,
    2-5 chirps per second, from one or two crickets."""
    out = np.zeros(n)
    t = np.arange(n) / sr
    for cricket in range(rng.integers(1, 3)):
        carrier = np.sin(2 * np.pi * min(rng.uniform(4000, 5000), 0.45 * sr) * t + rng.uniform(0, 2 * np.pi))
        pulse_rate, chirp_rate = rng.uniform(25, 45), rng.uniform(2, 5)
        pulses_per_chirp = rng.integers(3, 7)
        pulse_on = (np.sin(2 * np.pi * pulse_rate * t) > 0.2).astype(float)
        chirp_phase = (t * chirp_rate + rng.random()) % 1.0
        chirp_on = chirp_phase * (1.0 / chirp_rate) < pulses_per_chirp / pulse_rate
        gate = _convolve(pulse_on * chirp_on, np.hanning(int(0.004 * sr) + 2))  # soften clicks
        out += rng.uniform(0.5, 1.0) * (0.4 if cricket else 1.0) * gate * carrier
    return out + 0.01 * _shaped_noise(rng, n, sr, low=200, high=3000)


def _water_drops(rng, n, sr):
    """Sparse drops (3-9 per second): resonant decaying sinusoids whose pitch rises quickly
    (500-1500 Hz up by 1.5-2.5x), the 'plink' of a drop into water."""
    out = np.zeros(n)
    count = max(1, rng.poisson(rng.uniform(3, 9) * n / sr))
    for start in rng.integers(0, max(1, n - int(0.02 * sr)), count):
        length = min(int(rng.uniform(0.03, 0.08) * sr), n - start)
        t = np.arange(length) / sr
        f_start = rng.uniform(500, 1500)
        f = f_start * (1 + rng.uniform(0.5, 1.5) * (1 - np.exp(-t / rng.uniform(0.005, 0.02))))
        drop = np.sin(2 * np.pi * np.cumsum(np.minimum(f, 0.45 * sr)) / sr)
        drop *= _decay(length, sr, rng.uniform(0.008, 0.02)) * np.minimum(1, t / 0.001 + 1e-3)
        out[start:start + length] += rng.uniform(0.3, 1.0) * drop
    return out + 0.005 * _shaped_noise(rng, n, sr, high=4000)


RECIPES: dict[str, Callable] = {"rain": _rain, "wind": _wind, "birdsong": _birdsong, "footsteps": _footsteps,
                                "engine": _engine, "thunder": _thunder, "crickets": _crickets,
                                "water_drops": _water_drops}


# --- public API -----------------------------------------------------------------------------

def _rng(seed, generator) -> np.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both")
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        return np.random.default_rng(int(torch.randint(2 ** 62, (1,), generator=generator)))
    if generator is not None:
        raise TypeError(f"generator must be a numpy or torch Generator, got {type(generator).__name__}")
    if seed is None:  # torch's global RNG, so ganlib.config.seed_everything makes it reproducible
        seed = int(torch.randint(2 ** 62, (1,)))
    return np.random.default_rng(seed)


def synthesize(name: str, duration: float = 2.0, sample_rate: int = 16000, seed: int | Sequence[int] | None = None,
               generator: np.random.Generator | torch.Generator | None = None, peak: float | None = None) -> torch.Tensor:
    """One example of class `name` (one of CLASSES): float32 (samples,) in [-1, 1], with
    samples = round(duration * sample_rate).

    seed (an int or a sequence of ints) or generator (numpy or torch) fixes the example; with
    neither, it is drawn from torch's global RNG. The clip is scaled to `peak` (default: a
    random peak in [0.5, 0.9], so loudness varies a little like real recordings).
    Notebook: 10_music_and_environmental_sounds.ipynb
    """
    if name not in RECIPES:
        raise ValueError(f"unknown sound class {name!r}; the classes are {', '.join(CLASSES)}")
    n = int(round(duration * sample_rate))
    if n < 1:
        raise ValueError(f"duration * sample_rate must give at least one sample, got {duration} s at {sample_rate} Hz")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000 Hz (crickets and birds sing at 4-6 kHz), got {sample_rate}")
    rng = _rng(seed, generator)
    waveform = RECIPES[name](rng, n, sample_rate)
    ramp = min(n // 2, int(0.005 * sample_rate))  # 5 ms fades: no clicks at the edges
    if ramp > 0:
        fade = np.linspace(0, 1, ramp)
        waveform[:ramp] *= fade
        waveform[n - ramp:] *= fade[::-1]
    peak = rng.uniform(0.5, 0.9) if peak is None else peak
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1], got {peak}")
    waveform = waveform * (peak / (np.abs(waveform).max() + 1e-12))
    return torch.from_numpy(np.clip(waveform, -1.0, 1.0).astype(np.float32))


class SoundscapeDataset(Dataset):
    """n_per_class procedural examples of each class, made on the fly, labelled like ESC-50.

    Item i is class CLASSES[i // n_per_class] (or of `classes`), synthesised with the seed
    (seed, i), so it is the same on every read, in every worker and every epoch; another `seed`
    gives other examples (e.g. seed=0 for training, seed=1 for held-out data).
    Items: {"audio": float32 (samples,), "label": int, "class_name": str}; with `fields`, the
    tuple of those fields (just the value when `fields` is one name), e.g.
    fields=("audio", "label") for a class-conditional GAN. self.classes: the class names by label.
    Notebook: 10_music_and_environmental_sounds.ipynb
    """

    def __init__(self, n_per_class: int = 100, duration: float = 2.0, sample_rate: int = 16000, seed: int = 0,
                 fields: str | Sequence[str] | None = None, classes: Sequence[str] | None = None):
        if n_per_class < 1:
            raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
        classes = tuple(CLASSES if classes is None else classes)
        unknown = [c for c in classes if c not in RECIPES]
        if unknown or not classes:
            raise ValueError(f"unknown sound class(es) {unknown}; the classes are {', '.join(CLASSES)}")
        select_fields(dict.fromkeys(("audio", "label", "class_name")), fields, "SoundscapeDataset")  # fail early
        self.n_per_class, self.duration, self.sample_rate, self.seed = n_per_class, duration, sample_rate, seed
        self.fields, self.classes = fields, classes

    def __len__(self) -> int:
        return self.n_per_class * len(self.classes)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for SoundscapeDataset of {len(self)} items")
        index %= len(self)
        label = index // self.n_per_class
        name = self.classes[label]
        item = {"audio": synthesize(name, self.duration, self.sample_rate, seed=(self.seed, index)),
                "label": label, "class_name": name}
        return select_fields(item, self.fields, "SoundscapeDataset")

    def __repr__(self) -> str:
        return (f"SoundscapeDataset({len(self)} items, {len(self.classes)} classes, duration={self.duration}, "
                f"sample_rate={self.sample_rate}, seed={self.seed})")


__all__ = ["CLASSES", "RECIPES", "SoundscapeDataset", "synthesize"]
