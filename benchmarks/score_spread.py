"""How far a vocoder's held-out scores move with another machine's rounding: the spread that
ganlib.speech.SCORE_TOLERANCE is taken from.

    python benchmarks/score_spread.py [--clips 15] [--vocoders griffin_lim hifigan_cpu fourier_cpu ...]

A test that recomputes a shipped vocoder's scores (mel L1, MR-STFT, PESQ, STOI, pitch error,
voicing F1) must pass on every x86-64 CPU, yet CPUs round differently: another vector width or
another FFT or convolution kernel changes the last bits, and Griffin-Lim's 32 iterations
amplify them. So each vocoder is scored on the held-out sentences as the tests score it, and
again with the rounding changed in the ways a machine changes it:

  nudged-1..3   every log-mel value moved by one float32 step (up or down at random, three
                draws): the smallest input change there is
  output-1..2   every sample of the vocoder's output moved by one float32 step: what another
                kernel's rounding of the last layer does to the scores (pYIN's and PESQ's
                decisions included)
  float64       Griffin-Lim (or the network) computed in float64: the float32 result's
                distance from the exact one, which every machine's float32 result shares
  threads-2     2 intra-op threads instead of 1 (other reduction orders and kernels)
  plain         HiFi-GAN's plain network instead of its fast CPU arrangement (other kernels)

For each score it reports the largest change of any clip's value under any variant and writes
benchmarks/results/score_spread.json, with the tolerance it implies (that spread times
ganlib.speech.SPREAD_MARGIN, rounded up to two significant digits: two machines can each
stray that far, in opposite directions; at least ganlib.speech.SCORE_RESOLUTION, the step in
which a score is stored or moves).

Not a variant: added noise. White noise even 110 dB below the speech moves Griffin-Lim's MR-STFT
distance by up to 0.68, since it fills the band above the mel's 8 kHz, which Griffin-Lim leaves
empty and the distance's log-magnitude term (floored at 1e-7) weighs as much as the speech;
rounding leaves that band as empty as it was (the one-step output nudges move it by 0.02). tests/test_vocoder_scores.py checks that
SCORE_TOLERANCE is at least that.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganlib import audio, speech
from ganlib.models import hifigan

RESULTS = Path(__file__).resolve().parent / "results" / "score_spread.json"


def nudged(mel: torch.Tensor, seed: int) -> torch.Tensor:
    """Every value of `mel` moved by one float32 step, up or down at random."""
    up = torch.rand(mel.shape, generator=torch.Generator().manual_seed(seed)) < 0.5
    return torch.nextafter(mel, torch.where(up, torch.tensor(math.inf), torch.tensor(-math.inf)))


def with_threads(vocode, threads: int):
    def run(mel):
        with audio._cpu_threads(threads):
            return vocode(mel)
    return run


def variants(name: str, mel_spectrogram: audio.MelSpectrogram) -> dict:
    """{variant: vocode(log-mel) -> waveform} for one vocoder, the first being the tests' way."""
    if name == "griffin_lim":
        base = speech.griffin_lim_vocoder(mel_spectrogram)
        exact = lambda mel: base(mel.double()).float()  # noqa: E731
        extra = {"float64": exact}
    elif name.startswith("hifigan"):
        preset = json.loads((speech.CHECKPOINTS / f"{name}.json").read_text())["preset"]
        base = hifigan.Vocoder.from_checkpoint(speech.CHECKPOINTS / f"{name}.pt", preset=preset, device="cpu")
        plain = hifigan.Vocoder(base.generator, device="cpu", fast=False)
        generator64 = hifigan.Vocoder(base.generator, device="cpu", fast=False).generator.double()

        def exact(mel):
            with torch.inference_mode():
                return generator64(mel.double()[None]).reshape(-1).float()
        extra = {"plain": plain, "float64": exact}
    else:
        from ganlib.models import fourier
        base = fourier.Vocoder.from_checkpoint(speech.CHECKPOINTS / f"{name}.pt", device="cpu")
        generator64 = fourier.Vocoder.from_checkpoint(speech.CHECKPOINTS / f"{name}.pt", device="cpu").generator.double()

        def exact(mel):  # padded with one hop of zeros, as Vocoder's output
            with torch.inference_mode():
                return torch.nn.functional.pad(generator64(mel.double()[None]).reshape(-1).float(), (0, base.hop_length))
        extra = {"float64": exact}
    return {"as tested": base, **{f"nudged-{seed}": (lambda mel, seed=seed: base(nudged(mel, seed)))
                                  for seed in (1, 2, 3)},
            **{f"output-{seed}": (lambda mel, seed=seed: nudged(torch.as_tensor(base(mel)).float(), seed))
               for seed in (1, 2)},
            **extra, "threads-2": with_threads(base, 2)}


variants_of_any_vocoder = ("nudged-1", "nudged-2", "nudged-3", "output-1", "output-2", "float64", "threads-2", "plain")


def round_up(value: float, digits: int = 2) -> float:
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=speech.HELD_OUT)
    parser.add_argument("--vocoders", nargs="+",
                        default=["griffin_lim", "hifigan_cpu", "fourier_cpu", "fourier_cpu_no_discriminator"])
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other vocoders' spreads already in --output (measured with the same clips)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the tests and chapter 07 score

    mel_spectrogram = audio.MelSpectrogram(**hifigan.MEL)
    clips = speech.load_sentences("held_out", limit=args.clips)
    loss_mel = hifigan.loss_mel_spectrogram()
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "cpu": _cpu_name(), "torch": torch.__version__, "clips": len(clips), "margin": speech.SPREAD_MARGIN,
              "vocoders": {}}
    if args.merge and args.output.is_file():
        earlier = json.loads(args.output.read_text())
        if earlier["clips"] != len(clips):
            raise SystemExit(f"--merge: {args.output} was measured on {earlier['clips']} clips, not {len(clips)}")
        known = set(variants_of_any_vocoder)
        result["vocoders"] = {name: {variant: changes for variant, changes in entry.items() if variant in known}
                              for name, entry in earlier["vocoders"].items() if name not in args.vocoders}
        result["merged_from"] = sorted({*earlier.get("merged_from", []), earlier["date"] + " " + earlier["cpu"]})
    for name in args.vocoders:
        scored = speech.score_clips(variants(name, mel_spectrogram), clips, mel_spectrogram, loss_mel)
        reference = scored.pop("as tested")
        entry = {}
        for variant, summary in scored.items():
            changes = {key: max(abs(a[key] - b[key]) for a, b in zip(summary["per_clip"], reference["per_clip"]))
                       for key in speech.SCORES}
            entry[variant] = {key: round(value, 5) for key, value in changes.items()}
            print(f"{name:12s} {variant:10s} " + "  ".join(f"{k} {v:.4g}" for k, v in changes.items()), flush=True)
        result["vocoders"][name] = entry
    spread = {key: max(changes[key] for entry in result["vocoders"].values() for changes in entry.values())
              for key in speech.SCORES}
    result["largest_change"] = {key: round(value, 5) for key, value in spread.items()}
    result["resolution"] = speech.SCORE_RESOLUTION
    result["tolerance"] = {key: max(round_up(speech.SPREAD_MARGIN * value), speech.SCORE_RESOLUTION[key])
                           for key, value in spread.items()}
    print("largest change:", result["largest_change"])
    print("tolerance:     ", result["tolerance"], "(ganlib.speech.SCORE_TOLERANCE:", speech.SCORE_TOLERANCE, ")")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
