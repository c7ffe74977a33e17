"""Speed of the Fourier-head vocoder (ganlib.models.fourier) beside HiFi-GAN's CPU preset.

    python benchmarks/fourier_speed.py [--repeats 5] [--threads 1 2]

Synthesis: the real-time factor (seconds of audio per second of wall time) of turning a 10 s
mel spectrogram (862 frames, benchmarks/hifigan_speed.py's buzz) into audio, for the "cpu" and
"vocos" presets of ganlib.models.fourier.Vocoder and for HiFi-GAN's CPU preset
(hifigan.Vocoder, its fast path), with random seeded weights (speed does not depend on
training), on 1 and on 2 threads. The Vocos preset reads 100 mels at 24 kHz: its 10 s are 938
frames of its own mel.
Training: one step of each recipe as tools/train_vocoder.py runs it (ganlib.train.Trainer),
at each preset's batch (the Fourier CPU preset: 16 x 8192 samples; HiFi-GAN's: 8 x 4096):
  fourier_warm_up    the generator alone (the discriminator-free warm-up, and the baseline)
  fourier_gan        with MPD + MRD (hinge, feature matching)
  hifigan_cpu        HiFi-GAN's CPU preset (MPD + MSD at 1/8 width)
reported as seconds a step and as seconds of audio trained on per second.

Every repeat runs each case once, in turn, so a change in the machine's load hits all of them;
medians and ratios come from the same run. Writes benchmarks/results/fourier_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hifigan_speed import speechlike, timed  # noqa: E402

from ganlib import audio, metrics, train  # noqa: E402
from ganlib.models import fourier, hifigan  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fourier_speed.json"


def synthesisers(seconds: float) -> dict:
    """{name: (vocode, mel)} with seeded random weights."""
    torch.manual_seed(0)
    cases = {}
    for preset in ("cpu", "vocos"):
        vocoder = fourier.Vocoder(fourier.generator(preset), device="cpu", copy_generator=False)
        wave = metrics.resample_to(speechlike(seconds)[None], 22050, vocoder.sample_rate)[0]
        cases[f"fourier_{preset}"] = (vocoder, vocoder.mel(wave))
    hifi = hifigan.Vocoder(hifigan.generator("cpu"), device="cpu")
    cases["hifigan_cpu"] = (hifi, hifi.mel(speechlike(seconds)))
    return cases


def trainers() -> dict:
    """{name: (Trainer, seconds of audio a step)} as tools/train_vocoder.py builds them."""
    torch.manual_seed(0)
    cases = {}
    for name, after in (("fourier_warm_up", 10**9), ("fourier_gan", 0)):
        preset = fourier.PRESETS["cpu"]
        generator, discriminator = fourier.build("cpu")
        batch = _batch(preset["batch_size"], preset["segment_length"])
        options = fourier.trainer_options(generator, discriminator, adversarial_after=after,
                                          discriminator_batch=preset["discriminator_batch"])
        trainer = train.Trainer(generator, discriminator, [batch], progress=False, device="cpu", log_every=10**6,
                                **options)
        cases[name] = (trainer, preset["batch_size"] * preset["segment_length"] / 22050)
    preset = hifigan.PRESETS["cpu"]
    generator, discriminator = hifigan.build("cpu")
    trainer = train.Trainer(generator, discriminator, [_batch(preset["batch_size"], preset["segment_length"])],
                            progress=False, device="cpu", log_every=10**6,
                            **hifigan.trainer_options(generator, discriminator, "cpu"))
    cases["hifigan_cpu"] = (trainer, preset["batch_size"] * preset["segment_length"] / 22050)
    return cases


def _batch(batch_size: int, samples: int):
    real = torch.stack([speechlike(samples / 22050 + 0.01, seed)[:samples] for seed in range(batch_size)])
    return real, audio.MelSpectrogram(**hifigan.MEL)(real)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": platform.machine(),
              "torch": torch.__version__, "load_before": os.getloadavg()[0], "synthesis": {}, "training": {}}
    cases = synthesisers(args.seconds)
    for threads in args.threads:
        torch.set_num_threads(threads)
        times = {name: [] for name in cases}
        with torch.inference_mode():
            for name, (vocode, mel) in cases.items():
                vocode(mel)  # warm-up
            for _ in range(args.repeats):
                for name, (vocode, mel) in cases.items():
                    times[name].append(timed(lambda: vocode(mel)))
        for name, values in times.items():
            entry = result["synthesis"].setdefault(name, {"audio_seconds": args.seconds, "threads": {}})
            entry["threads"][str(threads)] = {"seconds": [round(v, 4) for v in values],
                                              "rtf": round(args.seconds / statistics.median(values), 1)}
            print(f"synthesis {name:14s} {threads} thread(s): {entry['threads'][str(threads)]['rtf']:7.1f} x real time",
                  flush=True)
    for threads in args.threads:
        torch.set_num_threads(threads)
        steps = trainers()
        times = {name: [] for name in steps}
        for trainer, _ in steps.values():
            trainer.fit(1)  # warm-up
        for _ in range(args.repeats):
            for name, (trainer, _) in steps.items():
                times[name].append(timed(lambda: trainer.fit(trainer.step + 1)))
        for name, values in times.items():
            audio_seconds = steps[name][1]
            median = statistics.median(values)
            result["training"].setdefault(name, {"audio_seconds_a_step": round(audio_seconds, 3), "threads": {}})
            result["training"][name]["threads"][str(threads)] = {
                "seconds_a_step": round(median, 3), "audio_seconds_per_second": round(audio_seconds / median, 2),
                "all": [round(v, 3) for v in values]}
            print(f"training  {name:16s} {threads} thread(s): {median:.3f} s a step, "
                  f"{audio_seconds / median:.2f} s of audio a second", flush=True)
        hifi = result["training"]["hifigan_cpu"]["threads"][str(threads)]["audio_seconds_per_second"]
        for name in ("fourier_warm_up", "fourier_gan"):
            entry = result["training"][name]["threads"][str(threads)]
            entry["audio_throughput_over_hifigan_cpu"] = round(entry["audio_seconds_per_second"] / hifi, 2)
    result["load_after"] = os.getloadavg()[0]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
