"""Speed of ganlib.audio.MelSpectrogram against librosa.feature.melspectrogram, same settings.

    python benchmarks/mel_speed.py [--repeats 20] [--seconds 10] [--note "..."]

10 s of noise at 22.05 kHz, n_fft 1024, hop 256, 80 mels, power 1 (magnitude), centred frames
with reflect padding, no log. First the largest difference between the two (relative to the
largest value; it must be below 1e-4), then the median time of each with 1 and with 2 threads
(torch.set_num_threads for ganlib, threadpoolctl's limit on BLAS for librosa). The calls are
interleaved in one run, and which goes first alternates, so a change in machine load hits
both. The 1-minute load average before and after goes into the JSON's notes: on a 2-core
machine where another process holds a core, every multi-threaded torch op waits a scheduler
time slice for its second thread (see ganlib.audio.MelSpectrogram). Writes
benchmarks/results/mel_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import librosa
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ganlib import audio

RESULTS = Path(__file__).resolve().parent / "results" / "mel_speed.json"
SETTINGS = dict(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80, power=1.0)


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="a remark for the JSON's notes, e.g. what else ran")
    args = parser.parse_args()

    sample_rate = SETTINGS["sample_rate"]
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, int(args.seconds * sample_rate)).astype(np.float32)
    tensor = torch.from_numpy(wave)
    module = audio.MelSpectrogram(**SETTINGS, center=True, pad_mode="reflect", log=False)

    def ganlib_mel():
        with torch.inference_mode():
            return module(tensor)

    def librosa_mel():
        return librosa.feature.melspectrogram(y=wave, sr=sample_rate, n_fft=SETTINGS["n_fft"],
                                              hop_length=SETTINGS["hop_length"], n_mels=SETTINGS["n_mels"],
                                              power=SETTINGS["power"], center=True, pad_mode="reflect")

    ours, reference = ganlib_mel().numpy(), librosa_mel()
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    difference = float(np.abs(ours - reference).max())
    relative = difference / float(np.abs(reference).max())
    if relative >= 1e-4:
        raise SystemExit(f"ganlib and librosa disagree: max |difference| {difference:.3g} = {relative:.3g} of the max")

    load_before = os.getloadavg()[0]
    timings = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            for _ in range(3):  # warm up
                ganlib_mel(), librosa_mel()
            ganlib_times, librosa_times = [], []
            for repeat in range(args.repeats):
                if repeat % 2:
                    librosa_times.append(timed(librosa_mel))
                ganlib_times.append(timed(ganlib_mel))
                if not repeat % 2:
                    librosa_times.append(timed(librosa_mel))
        timings[threads] = {
            "ganlib_ms": [round(1000 * t, 3) for t in ganlib_times],
            "librosa_ms": [round(1000 * t, 3) for t in librosa_times],
            "ganlib_median_ms": 1000 * statistics.median(ganlib_times),
            "librosa_median_ms": 1000 * statistics.median(librosa_times),
            "ratio_librosa_over_ganlib": statistics.median(librosa_times) / statistics.median(ganlib_times),
        }
    load_after = os.getloadavg()[0]
    notes = (f"1-minute load average {load_before:.2f} before, {load_after:.2f} after, on {os.cpu_count()} "
             f"CPUs (this benchmark adds up to 1 while it runs). librosa's FFT (numpy's) runs on one thread "
             f"whatever the limit; only its mel matmul can use BLAS threads.")
    if args.note:
        notes += " " + args.note
    result = {
        "benchmark": "ganlib.audio.MelSpectrogram vs librosa.feature.melspectrogram",
        "seconds": args.seconds, **SETTINGS, "center": True, "pad_mode": "reflect", "repeats": args.repeats,
        "frames": ours.shape[-1], "max_abs_difference": difference, "max_abs_difference_relative": relative,
        "threads": timings, "notes": notes,
        "torch": torch.__version__, "librosa": librosa.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.seconds:g} s at {sample_rate} Hz -> {ours.shape} mel; max |difference| {difference:.3g} "
          f"({relative:.3g} of the max)")
    for threads, timing in timings.items():
        print(f"{threads} thread(s): ganlib {timing['ganlib_median_ms']:.2f} ms, librosa "
              f"{timing['librosa_median_ms']:.2f} ms (medians of {args.repeats}); librosa/ganlib "
              f"{timing['ratio_librosa_over_ganlib']:.2f}")
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
