"""Speed of HiFi-GAN synthesis and training in ganlib against the official network run eagerly.

    python benchmarks/hifigan_speed.py [--repeats 5] [--threads 1 2] [--only v3 cpu griffin_lim train]

Synthesis: the real-time factor (seconds of audio per second of wall time) of turning a 10 s
mel spectrogram at 22.05 kHz (862 frames, of a buzz with a moving formant) into audio, for V1,
V3 and the CPU preset, with random seeded weights (speed does not depend on training):
  reference  the official generator (benchmarks/reference_hifigan.py) as the official
             inference.py runs it: eval, weight norm removed, torch.no_grad
  ganlib     ganlib.models.hifigan.Vocoder(generator), its default fast path (FastGenerator)
  plain      Vocoder(generator, fast=False): weight norm folded, inference_mode, nothing else
all three with the same weights; max |reference - ganlib| over the 10 s is checked (< 1e-4).
Griffin-Lim: ganlib.audio.mel_to_audio (32 iterations) on the same mel, for comparison.
Training: one full step (D step, then G step: LSGAN + 2 x feature matching + 45 x mel L1,
AdamW) of the V3 generator with the paper's MPD + MSD, batch 2, segments of 8192 samples, on
2 threads, then 1 (--train-threads): ganlib.train.Trainer with hifigan.trainer_options against the
official train.py step written plainly (reference_hifigan.OfficialTraining). On a CPU with bf16
matrix units (AMX, avx512_bf16), also ganlib's step in bf16 autocast (trainer_options(precision=
"bf16")): faster, but the recipe trains in fp32, because bf16 costs the vocoder quality (see
hifigan.trainer_options).

Every repeat runs each implementation once, alternating which goes first, so a change in the
machine's load hits all of them; medians and their ratios come from the same run. The 1-minute
load average before and after goes into the JSON (on a 2-core machine where other processes
hold the cores, every op on 2 threads waits a scheduler time slice for its second thread).
Writes benchmarks/results/hifigan_speed.json (merged with what is there when --only is given).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import ganlib
from ganlib import audio
from ganlib.models import count_parameters, hifigan

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_hifigan as reference  # noqa: E402  (a script beside this one)

RESULTS = Path(__file__).resolve().parent / "results" / "hifigan_speed.json"
PRESETS = ("v1", "v3", "cpu")
SAMPLE_RATE = hifigan.MEL["sample_rate"]


def speechlike(seconds: float, seed: int = 0) -> torch.Tensor:
    """A buzz with a moving formant: a few harmonics of a gliding pitch, enveloped."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 110 + 40 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return torch.from_numpy(0.3 * wave).float()


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(functions: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds of each function over `repeats` rounds, the order rotating every round."""
    for function in functions.values():  # warm up (allocator, oneDNN's primitive cache)
        function()
    names, times = list(functions), {name: [] for name in functions}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(functions[name]))
    return times


def synthesis(preset: str, mel: torch.Tensor, thread_counts, repeats: int) -> dict:
    official = reference.official_generator(hifigan.PRESETS[preset]["generator"], seed=0)
    state = hifigan.convert_official_state_dict(official.state_dict())
    reference.prepare_for_inference(official)
    fast = hifigan.Vocoder(hifigan.load_generator_state(hifigan.generator(preset), state), device="cpu")
    plain = hifigan.Vocoder(hifigan.load_generator_state(hifigan.generator(preset), state), device="cpu", fast=False)
    assert isinstance(fast.synthesiser, hifigan.FastGenerator), "the fast path fell back"
    seconds = mel.shape[-1] * hifigan.MEL["hop_length"] / SAMPLE_RATE
    expected = reference.synthesise(official, mel[None])
    difference = float((fast(mel) - expected).abs().max())
    assert difference < 1e-4, f"{preset}: the fast path differs from the reference by {difference:.3g}"
    result = {"generator_parameters": count_parameters(fast.generator, trainable_only=False), "audio_seconds": seconds,
              "max_abs_difference": difference,
              "max_abs_difference_plain": float((plain(mel) - expected).abs().max()), "threads": {}}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        times = interleaved({"reference": lambda: reference.synthesise(official, mel[None]),
                             "ganlib": lambda: fast(mel), "plain": lambda: plain(mel)}, repeats)
        medians = {name: statistics.median(values) for name, values in times.items()}
        result["threads"][threads] = {
            **{f"{name}_s": [round(t, 4) for t in values] for name, values in times.items()},
            **{f"{name}_median_s": round(m, 4) for name, m in medians.items()},
            **{f"{name}_rtf": round(seconds / m, 2) for name, m in medians.items()},
            "ratio_reference_over_ganlib": round(medians["reference"] / medians["ganlib"], 3),
            "ratio_plain_over_ganlib": round(medians["plain"] / medians["ganlib"], 3),
        }
    return result


def griffin_lim(mel: torch.Tensor, thread_counts, repeats: int) -> dict:
    mel_spectrogram = audio.MelSpectrogram(**hifigan.MEL)
    seconds = mel.shape[-1] * hifigan.MEL["hop_length"] / SAMPLE_RATE
    result = {"n_iter": 32, "audio_seconds": seconds, "threads": {}}
    for threads in thread_counts:
        torch.set_num_threads(threads)

        def run():
            with torch.inference_mode():
                audio.mel_to_audio(mel, mel_spectrogram, n_iter=32, generator=torch.Generator().manual_seed(0))
        times = interleaved({"griffin_lim": run}, repeats)["griffin_lim"]
        median = statistics.median(times)
        result["threads"][threads] = {"griffin_lim_s": [round(t, 4) for t in times],
                                      "griffin_lim_median_s": round(median, 4),
                                      "griffin_lim_rtf": round(seconds / median, 2)}
    return result


def training(thread_counts, repeats: int, batch_size: int = 2, segment_length: int = 8192) -> dict:
    real = torch.stack([speechlike(segment_length / SAMPLE_RATE, seed) for seed in range(batch_size)])
    # ganlib: centred mel frames (33 for 8192 samples), the fakes cut to the crops
    mel = audio.MelSpectrogram(**hifigan.MEL)(real)

    def ganlib_trainer(precision: str):
        ganlib.config.seed_everything(0)
        generator, discriminator = hifigan.build("v3")
        return ganlib.train.Trainer(generator, discriminator, [(real, mel)], progress=False, device="cpu",
                                    log_every=10**6,
                                    **hifigan.trainer_options(generator, discriminator, "v3", precision=precision))

    trainer = ganlib_trainer("fp32")
    generator, discriminator = trainer.generator, trainer.discriminator
    # the official: its own mel (32 frames), the loss mel of the real audio computed by its loader
    torch.manual_seed(0)
    official = reference.OfficialTraining(reference.official_generator(hifigan.PRESETS["v3"]["generator"]))
    x = reference.official_mel_spectrogram(real, fmax=8000.0)
    y, y_mel = real.unsqueeze(1), reference.official_mel_spectrogram(real)

    steps = {"reference": lambda: official.step(x, y, y_mel), "ganlib": lambda: trainer.fit(trainer.step + 1)}
    if ganlib.config.cpu_bf16_units():  # AMX / avx512_bf16: ganlib's loop in bf16 autocast as well
        bf16 = ganlib_trainer("bf16")
        steps["ganlib_bf16"] = lambda: bf16.fit(bf16.step + 1)

    result = {"preset": "v3", "batch_size": batch_size, "segment_length": segment_length,
              "generator_parameters": count_parameters(generator),
              "discriminator_parameters": count_parameters(discriminator),
              "cpu_bf16_units": ganlib.config.cpu_bf16_units(), "threads": {}}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        times = interleaved(steps, repeats)
        medians = {name: statistics.median(values) for name, values in times.items()}
        result["threads"][threads] = {
            **{f"{name}_s": [round(t, 3) for t in values] for name, values in times.items()},
            **{f"{name}_median_s": round(m, 3) for name, m in medians.items()},
            "ratio_reference_over_ganlib": round(medians["reference"] / medians["ganlib"], 3)}
        if "ganlib_bf16" in medians:
            result["threads"][threads]["ratio_reference_over_ganlib_bf16"] = round(
                medians["reference"] / medians["ganlib_bf16"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="for synthesis and Griffin-Lim")
    parser.add_argument("--train-threads", type=int, nargs="+", default=[2, 1],
                        help="2: the issue's setting; 1: less noisy on a busy machine")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", nargs="+", choices=[*PRESETS, "griffin_lim", "train"],
                        help="run only these parts (the JSON keeps the others' last results)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="a remark for the JSON's notes, e.g. what else ran")
    args = parser.parse_args()
    parts = args.only or [*PRESETS, "griffin_lim", "train"]

    mel = audio.MelSpectrogram(**hifigan.MEL)(speechlike(args.seconds))  # (80, 862) for 10 s
    result = json.loads(args.output.read_text()) if args.only and args.output.exists() else {}
    result.setdefault("synthesis", {})
    load_before = os.getloadavg()[0]
    for part in parts:
        if part in PRESETS:
            result["synthesis"][part] = synthesis(part, mel, args.threads, args.repeats)
        elif part == "griffin_lim":
            result["griffin_lim"] = griffin_lim(mel, args.threads, args.repeats)
        else:
            result["training_step"] = training(args.train_threads, args.repeats)
    load_after = os.getloadavg()[0]
    notes = (f"1-minute load average {load_before:.2f} before, {load_after:.2f} after, on {os.cpu_count()} CPUs "
             f"(this benchmark adds up to its thread count while it runs); parts run: {', '.join(parts)}.")
    if args.note:
        notes += " " + args.note
    if args.only and result.get("notes"):  # the parts not re-run keep the account of their own run
        notes += f" Other parts are from the run of {result['date']}: {result['notes']}"
    result.update({
        "benchmark": "HiFi-GAN synthesis (real-time factor) and training step: ganlib vs the official network, eager",
        "seconds": args.seconds, "frames": mel.shape[-1], "sample_rate": SAMPLE_RATE, "repeats": args.repeats,
        "load_average_before": load_before, "load_average_after": load_after, "notes": notes,
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"-> {args.output}")


def print_table(result: dict) -> None:
    print(f"{result['seconds']:g} s mel at {SAMPLE_RATE} Hz; real-time factors (audio s / wall s), medians of "
          f"{result['repeats']}")
    print(f"{'':12s}{'threads':>8s}{'reference':>11s}{'ganlib':>9s}{'plain':>8s}{'ref/ganlib':>12s}{'max |diff|':>12s}")
    for preset, entry in result["synthesis"].items():
        for threads, timing in entry["threads"].items():
            print(f"{preset:12s}{threads:>8}{timing['reference_rtf']:>11.2f}{timing['ganlib_rtf']:>9.2f}"
                  f"{timing['plain_rtf']:>8.2f}{timing['ratio_reference_over_ganlib']:>11.2f}x"
                  f"{entry['max_abs_difference']:>12.2g}")
    if "griffin_lim" in result:
        for threads, timing in result["griffin_lim"]["threads"].items():
            print(f"{'griffin-lim':12s}{threads:>8}{'':>11s}{timing['griffin_lim_rtf']:>9.2f}")
    if "training_step" in result:
        step = result["training_step"]
        for threads, timing in step["threads"].items():
            print(f"training step (V3 + MPD + MSD, batch {step['batch_size']}, {step['segment_length']} samples, "
                  f"{threads} threads): reference {timing['reference_median_s']:.2f} s, ganlib "
                  f"{timing['ganlib_median_s']:.2f} s, reference/ganlib {timing['ratio_reference_over_ganlib']:.2f}x"
                  + (f"; ganlib in bf16 {timing['ganlib_bf16_median_s']:.2f} s, reference/ganlib_bf16 "
                     f"{timing['ratio_reference_over_ganlib_bf16']:.2f}x" if "ganlib_bf16_median_s" in timing else ""))


if __name__ == "__main__":
    main()
