"""Solutions to the exercises of 00_audio_basics.ipynb, for instructors.

tests/test_exercises.py runs each one through its check in ganlib/exercises/ch00.py.
"""
import math

import numpy as np


def hz_to_mel(frequency):
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    if frequency < 1000:
        return frequency / (200 / 3)
    return 15 + 27 * math.log(frequency / 1000) / math.log(6.4)


def n_frames(n_samples, n_fft, hop_length, center=True):
    """STFT frames: centred frames every hop from sample 0, or only the frames that fit."""
    if center:
        return 1 + n_samples // hop_length
    return 1 + (n_samples - n_fft) // hop_length


def linear_chirp(f_start, f_end, duration, sample_rate):
    """sin(phase), phase(t) = 2 pi * integral of f(t) = 2 pi (f_start t + (f_end - f_start) t^2 / (2 T))."""
    t = np.arange(round(duration * sample_rate)) / sample_rate
    return np.sin(2 * np.pi * (f_start * t + (f_end - f_start) * t ** 2 / (2 * duration)))


SOLUTIONS = {
    "00.hz_to_mel": hz_to_mel,
    "00.n_frames": n_frames,
    "00.linear_chirp": linear_chirp,
}
