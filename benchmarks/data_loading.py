"""How long loading the bundled spoken digits into memory takes, cold and cached.

    python benchmarks/data_loading.py [--repeats 3]

Reads every clip of data/digits (all three subsets) through ganlib.datasets.SpeechCommands
with cache=True: the first pass decodes the FLAC files, the second is served from memory.
Also times one DataLoader epoch of 1-second crops in batches of 64, what a WaveGAN chapter
iterates over. Medians of the repeats; writes benchmarks/results/data_loading.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ganlib import datasets

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "data" / "digits"
RESULTS = ROOT / "benchmarks" / "results" / "data_loading.json"
SUBSETS = ("training", "validation", "testing")


def load_all(subsets: dict) -> tuple[float, int, int]:
    """Read every item once; return seconds, clips and samples read."""
    start = time.perf_counter()
    clips = samples = 0
    for data in subsets.values():
        for index in range(len(data)):
            samples += data[index]["audio"].numel()
            clips += 1
    return time.perf_counter() - start, clips, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    cold, cached, epoch = [], [], []
    for _ in range(args.repeats):
        subsets = {s: datasets.SpeechCommands(DIGITS, subset=s, sc09=True, cache=True) for s in SUBSETS}
        seconds, clips, samples = load_all(subsets)
        cold.append(seconds)
        cached.append(load_all(subsets)[0])
        loader = DataLoader(datasets.SpeechCommands(DIGITS, subset="training", sc09=True, segment_length=16000,
                                                    fields=("audio", "label")), batch_size=64, shuffle=True)
        start = time.perf_counter()
        batches = sum(1 for _ in loader)
        epoch.append(time.perf_counter() - start)

    result = {
        "benchmark": "load data/digits (all subsets) into memory through ganlib.datasets.SpeechCommands",
        "clips": clips, "audio_seconds": samples / 16000,
        "bytes_on_disk": sum(p.stat().st_size for p in DIGITS.rglob("*") if p.is_file()),
        "cold_s": cold, "cached_s": cached, "training_epoch_s": epoch, "training_batches": batches,
        "cold_median_s": statistics.median(cold), "cached_median_s": statistics.median(cached),
        "training_epoch_median_s": statistics.median(epoch),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{clips} clips ({samples / 16000:.0f} s of audio): cold load median {result['cold_median_s']:.2f} s "
          f"({clips / result['cold_median_s']:.0f} clips/s), cached {result['cached_median_s']:.3f} s; "
          f"one training epoch of {batches} batches {result['training_epoch_median_s']:.2f} s -> {args.output}")


if __name__ == "__main__":
    main()
