"""Training speed of ganlib.train on the chapter 02 MLP, against a plain loop in the same run.

    python benchmarks/train_speed.py [--steps 300] [--repeats 5] [--batch-size 64] [--threads N]

The plain loop is the seed's algorithm written directly (logits, Adam, no history, no
progress bar, no gradient norms): the overhead of the course's loop is the ratio of the two.
Runs alternate (plain, ganlib, plain, ...) and medians are reported, because the machine is
shared and noisy. Writes benchmarks/results/train_speed.json.
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
import torch.nn.functional as F

import ganlib
from ganlib.models import mlp

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.json"


def make_models(frame: int):
    ganlib.config.seed_everything(0)
    return mlp.Generator(frame), mlp.Discriminator(frame)


def plain_loop(frames: list[torch.Tensor], steps: int, frame: int) -> float:
    generator, discriminator = make_models(frame)
    g_opt = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    start = time.perf_counter()
    for step in range(steps):
        real = frames[step % len(frames)]
        fake = generator(torch.randn(real.shape[0], 100))
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake.detach())).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = F.softplus(-discriminator(fake)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
    return steps / (time.perf_counter() - start)


def ganlib_loop(frames: list[torch.Tensor], steps: int, frame: int) -> float:
    generator, discriminator = make_models(frame)
    trainer = ganlib.train.Trainer(generator, discriminator, frames, loss="nonsaturating",
                                   progress=False, device="cpu")
    start = time.perf_counter()
    trainer.fit(steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--frame", type=int, default=1024, help="samples per audio frame (chapter 02)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    ganlib.config.seed_everything(0)
    frames = [ganlib.toy.random_tones(args.batch_size, length=args.frame) for _ in range(16)]
    plain_loop(frames, 20, args.frame)  # warm up allocator and kernels
    plain, ours = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(frames, args.steps, args.frame))
        ours.append(ganlib_loop(frames, args.steps, args.frame))
    result = {
        "benchmark": "ganlib.train on the chapter 02 MLP (1024-sample frames)",
        "batch_size": args.batch_size, "frame": args.frame, "steps": args.steps, "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "plain_steps_per_s": plain, "ganlib_steps_per_s": ours,
        "plain_median": statistics.median(plain), "ganlib_median": statistics.median(ours),
        "ratio_ganlib_over_plain": statistics.median(ours) / statistics.median(plain),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": torch.get_num_threads(),
        "machine": platform.machine(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"plain loop   : median {result['plain_median']:.1f} steps/s  {[round(v, 1) for v in plain]}")
    print(f"ganlib.train : median {result['ganlib_median']:.1f} steps/s  {[round(v, 1) for v in ours]}")
    print(f"ratio ganlib/plain: {result['ratio_ganlib_over_plain']:.3f}  "
          f"(batch {args.batch_size}, {result['threads']} threads) -> {args.output}")


if __name__ == "__main__":
    main()
