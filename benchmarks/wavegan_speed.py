"""Training speed of WaveGAN and SpecGAN through ganlib.train: generator steps per second for
each preset with its recipe (ganlib.models.wavegan.RECIPES), at the recipe's batch size.

    python benchmarks/wavegan_speed.py [--steps 3] [--threads 2] [--only cpu] [--device cuda]

A "step" is one generator update with its n_critic discriminator updates (5 with gradient
penalty for the paper's recipe, 1 for the CPU recipe). The first step is a warm-up and not
timed; the median of the timed steps is reported. Writes benchmarks/results/wavegan_speed.json
(on a GPU, also with bf16 mixed precision, and the GPU's name; on a CPU with bf16 matrix units,
AMX or avx512_bf16 (ganlib.config.cpu_bf16_units), also bf16, with the ratio to fp32).
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

import torch

import ganlib
from ganlib.models import count_parameters, wavegan

RESULTS = Path(__file__).resolve().parent / "results" / "wavegan_speed.json"

#: (name, model, preset, recipe): the paper's WaveGAN with the paper's WGAN-GP recipe, the
#: course's CPU preset with the CPU recipe, both crossed, and SpecGAN's two sizes.
CASES = [
    ("wavegan paper preset, paper recipe", "wavegan", "paper", "paper"),
    ("wavegan cpu preset, paper recipe", "wavegan", "cpu", "paper"),
    ("wavegan cpu preset, cpu recipe", "wavegan", "cpu", "cpu"),
    ("specgan cpu preset, cpu recipe", "specgan", "cpu", "cpu"),
    ("specgan paper preset, paper recipe", "specgan", "paper", "paper"),
]


def real_batch(model: str, preset: str, batch_size: int) -> torch.Tensor:
    if model == "specgan":
        return torch.rand(batch_size, 1, 128, 128) * 2 - 1
    length = wavegan.WAVEGAN_PRESETS[preset]["length"]
    return 0.1 * torch.randn(batch_size, 1, length)  # the generator's output shape


def time_case(model: str, preset: str, recipe: str, steps: int, device: str, precision: str) -> dict:
    ganlib.config.seed_everything(0)
    generator, discriminator = wavegan.build(model, preset, recipe=recipe)
    settings = wavegan.RECIPES[recipe]
    batch = real_batch(model, preset, settings["batch_size"])
    trainer = ganlib.train.Trainer(generator, discriminator, [batch] * 4, progress=False, device=device,
                                   precision=precision, log_every=10**6, **settings["trainer"])
    trainer.fit(1)  # warm-up
    times = []
    for step in range(2, steps + 2):
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.fit(step)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"model": model, "preset": preset, "recipe": recipe, "batch_size": settings["batch_size"],
            "n_critic": settings["trainer"]["n_critic"], "generator_parameters": count_parameters(generator),
            "precision": trainer.precision, "seconds_per_step": round(seconds, 4),
            "steps_per_second": round(1 / seconds, 4), "timed_steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("cpu", "paper"), help="only the cases with this preset")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: ganlib.config.get_device)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = ganlib.config.get_device(args.device)
    bf16_units = ganlib.config.cpu_bf16_units() if device.type == "cpu" else []
    precisions = ["fp32", "bf16"] if device.type == "cuda" or bf16_units else ["fp32"]
    results = []
    for name, model, preset, recipe in CASES:
        if args.only and preset != args.only:
            continue
        for precision in precisions:
            result = {"name": name, **time_case(model, preset, recipe, args.steps, str(device), precision)}
            print(f"{name:40s} {precision}  {result['seconds_per_step']:8.3f} s/step  "
                  f"{result['steps_per_second']:7.3f} steps/s", flush=True)
            results.append(result)
        if len(precisions) == 2:
            fp32, bf16 = results[-2:]
            bf16["fp32_over_bf16"] = round(fp32["seconds_per_step"] / bf16["seconds_per_step"], 3)
            print(f"{'':40s} bf16 is {bf16['fp32_over_bf16']:.2f}x as fast", flush=True)
    record = {
        "benchmark": "WaveGAN/SpecGAN training steps through ganlib.train",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.machine()} CPU",
        "threads": args.threads, "torch": torch.__version__, "cpu_bf16_units": bf16_units,
        "load_average_before": os.getloadavg()[0], "results": results,
    }
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
