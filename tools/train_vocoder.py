"""Train and export the course's HiFi-GAN (chapter 07) on the bundled sentences, resumably.

    python tools/train_vocoder.py train --preset cpu --minutes 60      # resumes runs/hifigan_cpu/
    python tools/train_vocoder.py export --run hifigan_cpu --name hifigan_cpu   # -> data/checkpoints/, scored
    python tools/train_vocoder.py readme             # data/checkpoints/README.md's vocoder table
    python tools/train_vocoder.py train --preset cpu --discriminator-width 0.25 --init-generator-from hifigan_cpu
                                                     # -> runs/hifigan_cpu_dw0.25/: that generator, wider MPD + MSD
    python tools/train_vocoder.py train --run hifigan_cpu --init-generator-from data/checkpoints/hifigan_cpu.pt
                                                     # a fresh checkout: go on from the shipped generator

`train` uses the paper's recipe through ganlib.train (hifigan.trainer_options) on all but the
last 15 sentences, and every --eval-every steps scores the generator on those 15 held-out
sentences against Griffin-Lim (ganlib.speech.score_vocoder) into runs/<run>/scores.jsonl.
`export` ships the generator (weight norm kept, float32) with a JSON beside it: the commands
that trained it, the steps and hours, and its held-out scores next to Griffin-Lim's.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import runlog  # noqa: E402
from runlog import add_precision_argument, open_run, train_in_chunks, write_readme_block  # noqa: E402

from ganlib import audio, config, speech  # noqa: E402
from ganlib.models import hifigan  # noqa: E402
from ganlib.train import Trainer, atomic_save, load_state, stop_on_signals  # noqa: E402


def make_trainer(args, run_dir: Path) -> Trainer:
    settings = hifigan.PRESETS[args.preset]
    data = speech.speech_dataset("training", segment_length=settings["segment_length"],
                                 mel=audio.MelSpectrogram(**settings["mel"]), fields=("audio", "mel"), cache=True,
                                 generator=torch.Generator().manual_seed(args.seed))
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size or settings["batch_size"], shuffle=True,
                                         drop_last=True, generator=torch.Generator().manual_seed(args.seed))
    generator, discriminator = hifigan.build(args.preset, getattr(args, "discriminator_width", None))
    return Trainer(generator, discriminator, loader, checkpoint_dir=run_dir, checkpoint_every=250,
                   progress=False, log_every=50, device="cpu",
                   **hifigan.trainer_options(generator, discriminator, args.preset,
                                             stft_weight=getattr(args, "stft_loss", None) or 0.0,
                                             precision=getattr(args, "precision", "fp32")))


def train(args) -> None:
    stop_on_signals()  # kill / Ctrl-C: checkpoint, then stop
    config.seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    run_dir = ROOT / "runs" / (args.run or run_name(args))
    settings = {k: getattr(args, k) for k in ("preset", "batch_size", "seed")}
    for key in ("discriminator_width", "stft_loss", "init_generator_from"):  # only when given: older runs resume as they were
        if getattr(args, key):
            settings[key] = getattr(args, key)
    open_run(run_dir, settings, "train_vocoder.py")
    trainer = make_trainer(args, run_dir)
    if args.init_generator_from:
        start_generator_from(trainer, run_dir, args.init_generator_from, args.preset)
    clips = speech.load_sentences("held_out")

    def evaluate() -> dict:
        report = speech.score_vocoder(hifigan.Vocoder(trainer.generator, device="cpu"), clips)
        return {**{f"held_out_{k}": report["vocoder"][k] for k in ("mel_l1", "mr_stft", "pesq")},
                "below_griffin_lim": report["below_griffin_lim"], "pesq_gain": report["pesq_gain"]}

    for _ in train_in_chunks(trainer, run_dir, args.minutes, args.steps, args.eval_every, evaluate, digits=4):
        pass


def run_name(args) -> str:
    """runs/hifigan_<preset>, with _dw<width> for another discriminator width, _stft<weight>
    with the multi-resolution STFT loss."""
    width, stft = getattr(args, "discriminator_width", None), getattr(args, "stft_loss", None)
    return f"hifigan_{args.preset}" + (f"_dw{width:g}" if width else "") + (f"_stft{stft:g}" if stft else "")


def start_generator_from(trainer: Trainer, run_dir: Path, parent_name: str, preset: str) -> None:
    """--init-generator-from: a new run (another recipe) starts with another run's generator
    where it stopped: its weights, optimiser, learning-rate schedule and step; the discriminators
    too if they have the same width, else fresh ones. The parent's score history is copied.
    Once: a started run resumes from its own checkpoint.

    parent_name may also be a shipped checkpoint (a path ending in .pt, e.g.
    data/checkpoints/hifigan_cpu.pt), for a checkout that has no runs/: see start_from_shipped."""
    if (run_dir / "last.pt").is_file():
        return
    if parent_name.endswith(".pt"):
        start_from_shipped(trainer, run_dir, ROOT / parent_name, preset)
        return
    parent = ROOT / "runs" / parent_name
    if not (parent / "last.pt").is_file():
        raise SystemExit(f"--init-generator-from {parent_name}: {parent / 'last.pt'} does not exist")
    checkpoint = torch.load(parent / "last.pt", map_location="cpu", weights_only=True)
    trainer.generator.load_state_dict(checkpoint["generator"])
    trainer.g_optimizer.load_state_dict(checkpoint["g_optimizer"])
    trainer.g_scheduler.load_state_dict(checkpoint["g_scheduler"])
    same_width = all(mine.shape == checkpoint["discriminator"][key].shape
                     for key, mine in trainer.discriminator.state_dict().items())
    if same_width:
        trainer.discriminator.load_state_dict(checkpoint["discriminator"])
        trainer.d_optimizer.load_state_dict(checkpoint["d_optimizer"])
        trainer.d_scheduler.load_state_dict(checkpoint["d_scheduler"])
    trainer.step, trainer.epoch = checkpoint["step"], checkpoint["epoch"]
    if (parent / "scores.jsonl").is_file():
        shutil.copyfile(parent / "scores.jsonl", run_dir / "scores.jsonl")
    trainer.save_checkpoint()
    print(f"generator {'and discriminators ' if same_width else ''}from {parent / 'last.pt'} at step {trainer.step}"
          f"{'' if same_width else '; discriminators fresh'}", flush=True)


def start_from_shipped(trainer: Trainer, run_dir: Path, path: Path, preset: str) -> None:
    """Start a run from an exported generator (data/checkpoints/<name>.pt and its JSON), which
    keeps the generator's weights but neither optimiser nor discriminators: those start fresh,
    the step count and the learning-rate decay go on from the JSON's steps, and the JSON's
    commands and score history become the run's past (so a later export reports them all)."""
    report_path = path.with_suffix(".json")
    if not path.is_file() or not report_path.is_file():
        raise SystemExit(f"--init-generator-from {path}: needs {path.name} and {report_path.name} there")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    report = json.loads(report_path.read_text())
    if report.get("preset") != preset:
        raise SystemExit(f"--init-generator-from {path}: a {report.get('preset')!r} generator, this run trains {preset!r}")
    load_state(trainer.generator, checkpoint["generator"], "generator", str(path))
    trainer.step = report["steps"]
    trainer.epoch = report["steps"] // len(trainer.data)
    for scheduler in (trainer.g_scheduler, trainer.d_scheduler):  # the per-epoch decay the parent went through
        scheduler.last_epoch = trainer.epoch
        for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base * scheduler.gamma ** trainer.epoch
    (run_dir / "inherited_commands.txt").write_text("".join(f"{c}\n" for c in report["commands"]))
    (run_dir / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in report["history"]))
    trainer.save_checkpoint()
    print(f"generator from {path} at step {trainer.step} (epoch {trainer.epoch}, learning rate "
          f"{trainer.g_optimizer.param_groups[0]['lr']:.3g}); optimisers and discriminators fresh", flush=True)


def run_commands(run_dir: Path) -> list[str]:
    """The commands that trained a run's generator, its --init-generator-from parent's first."""
    return runlog.run_commands(run_dir, "init_generator_from")


def export(args) -> None:
    """Ship a run's generator to data/checkpoints/<name>.pt with its scores in <name>.json."""
    run_dir = ROOT / "runs" / args.run
    settings = json.loads((run_dir / "settings.json").read_text())
    torch.set_num_threads(args.threads)
    checkpoint = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    records = [json.loads(line) for line in (run_dir / "scores.jsonl").read_text().splitlines()]
    info = {"model": "hifigan", "preset": settings["preset"], "steps": checkpoint["step"],
            "batch_size": settings["batch_size"] or hifigan.PRESETS[settings["preset"]]["batch_size"],
            "segment_length": hifigan.PRESETS[settings["preset"]]["segment_length"],
            "discriminator_width": settings.get("discriminator_width",
                                                hifigan.PRESETS[settings["preset"]]["discriminator_width"]),
            "stft_loss": settings.get("stft_loss", 0.0),
            "commands": run_commands(run_dir)}
    path = speech.CHECKPOINTS / f"{args.name or args.run}.pt"
    atomic_save({"info": info, "generator": checkpoint["generator"]}, path)
    vocoder = hifigan.Vocoder.from_checkpoint(path, preset=settings["preset"], device="cpu")  # what was shipped
    clips = speech.load_sentences("held_out")
    report = speech.score_vocoder(vocoder, clips)
    result = {**info, "train_hours": round(sum(r["seconds"] for r in records) / 3600, 2),
              "machine": f"{platform.machine()}, {args.threads} thread(s), torch {torch.__version__}",
              "held_out": [clip_id for clip_id, _ in clips],
              "scores": {k: report[k] for k in ("vocoder", "griffin_lim")},
              "below_griffin_lim": report["below_griffin_lim"], "pesq_gain": report["pesq_gain"],
              "meets_bar": speech.meets_bar(report),
              "score_command": "ganlib.speech.score_vocoder(Vocoder.from_checkpoint(path, preset='cpu'))",
              "export_command": "python tools/train_vocoder.py " + " ".join(sys.argv[1:]),
              "history": [{k: r[k] for k in ("step", "seconds", "held_out_mel_l1", "held_out_mr_stft", "held_out_pesq")
                          if k in r} for r in records],
              "size_mb": round(path.stat().st_size / 1e6, 2)}
    path.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def readme(args) -> None:
    """Rewrite the vocoder table of data/checkpoints/README.md from the hifigan_*.json files."""
    rows = ["| vocoder | steps | hours | mel L1 | MR-STFT | PESQ (wide band) | meets the bar |",
            "|---|---|---|---|---|---|---|"]
    for path in sorted(speech.CHECKPOINTS.glob("hifigan_*.json")):
        report = json.loads(path.read_text())
        for name, label in (("vocoder", f"`{path.stem}`"), ("griffin_lim", "Griffin-Lim, 32 iterations, same mels")):
            s = report["scores"][name]
            steps, hours = (f"{report['steps']:,}", report["train_hours"]) if name == "vocoder" else ("", "")
            bar = ("yes" if report["meets_bar"] else "no") if name == "vocoder" else ""
            rows.append(f"| {label} | {steps} | {hours} | {s['mel_l1']:.3f} | {s['mr_stft']:.3f} | {s['pesq']:.2f} | {bar} |")
        below = report["below_griffin_lim"]
        rows.append(f"| below Griffin-Lim | | | {below['mel_l1']:.0%} | {below['mr_stft']:.0%} | {report['pesq_gain']:+.2f} | |")
    write_readme_block(speech.CHECKPOINTS / "README.md", "vocoder", rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train (or resume) HiFi-GAN on the bundled sentences")
    t.add_argument("--preset", choices=tuple(hifigan.PRESETS), default="cpu")
    t.add_argument("--run", help="folder name under runs/ (default hifigan_<preset>)")
    t.add_argument("--minutes", type=float, default=60)
    t.add_argument("--steps", type=int, default=10**9)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    add_precision_argument(t, "For HiFi-GAN bf16 costs quality: see hifigan.trainer_options.")
    t.add_argument("--discriminator-width", type=float, default=None, metavar="W",
                   help="MPD and MSD channels as a multiple of the paper's (default: the preset's, 0.125 for cpu)")
    t.add_argument("--stft-loss", type=float, default=None, metavar="WEIGHT",
                   help="add the multi-resolution STFT loss at this weight (not in the paper; see hifigan.generator_losses)")
    t.add_argument("--init-generator-from", metavar="RUN",
                   help="start with this run's generator (weights, optimiser, step), and its discriminators if as wide;"
                        " or with a shipped generator (a path ending in .pt: its weights and step)")
    e = commands.add_parser("export", help="ship a run's generator to data/checkpoints/, scored")
    e.add_argument("--run", required=True, help="a folder name under runs/, e.g. hifigan_cpu")
    e.add_argument("--name", help="file name under data/checkpoints/ (default: the run's)")
    e.add_argument("--threads", type=int, default=1)
    commands.add_parser("readme", help="rewrite data/checkpoints/README.md's vocoder table from the JSONs")
    args = parser.parse_args(argv)
    {"train": train, "export": export, "readme": readme}[args.command](args)


if __name__ == "__main__":
    main()
