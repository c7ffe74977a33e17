"""Train and export the course's vocoders (chapter 07) on the bundled sentences, resumably:
HiFi-GAN (ganlib.models.hifigan) and the Fourier-head vocoder (--model fourier, ganlib.models.fourier).

    python tools/train_vocoder.py train --preset cpu --minutes 60      # resumes runs/hifigan_cpu/
    python tools/train_vocoder.py export --run hifigan_cpu --name hifigan_cpu   # -> data/checkpoints/, scored
    python tools/train_vocoder.py readme             # data/checkpoints/README.md's vocoder table
    python tools/train_vocoder.py train --preset cpu --discriminator-width 0.25 --init-generator-from hifigan_cpu
                                                     # -> runs/hifigan_cpu_dw0.25/: that generator, wider MPD + MSD
    python tools/train_vocoder.py train --run hifigan_cpu --init-generator-from data/checkpoints/hifigan_cpu.pt
                                                     # a fresh checkout: go on from the shipped generator
    python tools/train_vocoder.py train --model fourier --no-discriminator --minutes 95         # runs/fourier_cpu_nod/
    python tools/train_vocoder.py train --model fourier --run fourier_cpu --init-generator-from fourier_cpu_nod
                           --adversarial-after 7500 --minutes 55   # the GAN, branched from it after 7,500 steps
    python tools/train_vocoder.py export --run fourier_cpu --name fourier_cpu --baseline fourier_cpu_no_discriminator
    python tools/train_vocoder.py rescore --name hifigan_cpu    # recompute a shipped JSON's scores

`train` uses the paper's recipe through ganlib.train (hifigan.trainer_options, or Vocos' with
fourier.trainer_options) on all but the last 15 sentences, and every --eval-every steps scores
the generator on those 15 held-out sentences against Griffin-Lim (ganlib.speech.score_vocoder,
the bar's margins with them) into runs/<run>/scores.jsonl; the time those records add up is
training time alone, without the scoring.
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
from ganlib.models import fourier, hifigan  # noqa: E402
from ganlib.train import Trainer, atomic_save, load_state, stop_on_signals  # noqa: E402


def model_module(args):
    """ganlib.models.hifigan or ganlib.models.fourier, as --model says."""
    return fourier if getattr(args, "model", "hifigan") == "fourier" else hifigan


def make_trainer(args, run_dir: Path) -> Trainer:
    settings = model_module(args).PRESETS[args.preset]
    data = speech.speech_dataset("training", segment_length=settings["segment_length"],
                                 mel=audio.MelSpectrogram(**settings["mel"]), fields=("audio", "mel"), cache=True,
                                 generator=torch.Generator().manual_seed(args.seed))
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size or settings["batch_size"], shuffle=True,
                                         drop_last=True, generator=torch.Generator().manual_seed(args.seed))
    if model_module(args) is fourier:
        generator, discriminator = fourier.build(args.preset)
        adversarial_after = 10**9 if args.no_discriminator else args.adversarial_after
        return Trainer(generator, discriminator, loader, checkpoint_dir=run_dir, checkpoint_every=250,
                       progress=False, log_every=50, device="cpu",
                       **fourier.trainer_options(generator, discriminator, adversarial_after=adversarial_after,
                                                 discriminator_batch=settings["discriminator_batch"]))
    generator, discriminator = hifigan.build(args.preset, getattr(args, "discriminator_width", None))
    return Trainer(generator, discriminator, loader, checkpoint_dir=run_dir, checkpoint_every=250,
                   progress=False, log_every=50, device="cpu",
                   **hifigan.trainer_options(generator, discriminator, args.preset,
                                             stft_weight=getattr(args, "stft_loss", None) or 0.0,
                                             precision=getattr(args, "precision", "fp32")))


def train(args) -> None:
    if args.preset not in model_module(args).PRESETS:
        raise SystemExit(f"--preset {args.preset}: --model {args.model} has the presets {sorted(model_module(args).PRESETS)}")
    stop_on_signals()  # kill / Ctrl-C: checkpoint, then stop
    config.seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    run_dir = ROOT / "runs" / (args.run or run_name(args))
    settings = {k: getattr(args, k) for k in ("preset", "batch_size", "seed")}
    if args.model != "hifigan":  # hifigan runs keep their settings files as they were
        settings.update(model=args.model, adversarial_after=args.adversarial_after,
                        no_discriminator=args.no_discriminator)
    for key in ("discriminator_width", "stft_loss", "init_generator_from"):  # only when given: older runs resume as they were
        if getattr(args, key):
            settings[key] = getattr(args, key)
    open_run(run_dir, settings, "train_vocoder.py")
    trainer = make_trainer(args, run_dir)
    if args.init_generator_from:
        start_generator_from(trainer, run_dir, args.init_generator_from, args.preset)
    clips = speech.load_sentences("held_out")

    def evaluate() -> dict:
        vocoder = model_module(args).Vocoder(trainer.generator, device="cpu")
        report = speech.score_vocoder(vocoder, clips, baseline=False)
        scores = {f"held_out_{k}": v for k, v in report["vocoder"].items() if k not in ("clips", "per_clip")}
        return {**scores, **speech.compare_with_baseline(report["vocoder"], griffin_lim)}

    mel_spectrogram = audio.MelSpectrogram(**model_module(args).PRESETS[args.preset]["mel"])
    griffin_lim = speech.score_clips({"griffin_lim": speech.griffin_lim_vocoder(mel_spectrogram)}, clips,
                                     mel_spectrogram, hifigan.loss_mel_spectrogram())["griffin_lim"]

    for _ in train_in_chunks(trainer, run_dir, args.minutes, args.steps, args.eval_every, evaluate, digits=4):
        pass


def run_name(args) -> str:
    """runs/hifigan_<preset>, with _dw<width> for another discriminator width, _stft<weight>
    with the multi-resolution STFT loss; runs/fourier_<preset>, _nod without a discriminator."""
    if getattr(args, "model", "hifigan") == "fourier":
        return f"fourier_{args.preset}" + ("_nod" if args.no_discriminator else "")
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


def load_shipped(path: Path, report: dict):
    """The Vocoder of a file being exported, hifigan or fourier as `report` says (its JSON is
    not written yet; a shipped one loads with speech.load_vocoder)."""
    if report.get("model") == "fourier":
        return fourier.Vocoder.from_checkpoint(path, device="cpu")
    return hifigan.Vocoder.from_checkpoint(path, preset=report["preset"], device="cpu")


def score_report(vocoder, clips) -> dict:
    """score_vocoder's report as the JSONs keep it: the scores, the margins, meets_bar."""
    report = speech.score_vocoder(vocoder, clips)
    return {"scores": {k: report[k] for k in ("vocoder", "griffin_lim")},
            **{k: v for k, v in report.items() if k not in ("vocoder", "griffin_lim")},
            "bar": {k: {"margin": v, "met": met} for k, (v, met) in speech.bar_check(report).items()},
            "meets_bar": speech.meets_bar(report)}


def score_unheard_voices(vocoder) -> dict:
    """score_report on the first 15 clips of each voice of data/parallel."""
    return {speaker: score_report(vocoder, speech.load_voice(speaker)) for speaker in ("p901", "p902")}


def export(args) -> None:
    """Ship a run's generator to data/checkpoints/<name>.pt with its scores in <name>.json;
    with --baseline NAME (fourier), the scores of that shipped generator, trained as long
    without a discriminator, beside them. The weights are stored in float32, or in float16
    where float32 would pass the course's 10 MB a file (the scores are those of the file)."""
    run_dir = ROOT / "runs" / args.run
    settings = json.loads((run_dir / "settings.json").read_text())
    model = settings.get("model", "hifigan")
    module = fourier if model == "fourier" else hifigan
    preset = module.PRESETS[settings["preset"]]
    torch.set_num_threads(args.threads)
    checkpoint = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    records = [json.loads(line) for line in (run_dir / "scores.jsonl").read_text().splitlines()]
    info = {"model": model, "preset": settings["preset"], "steps": checkpoint["step"],
            "batch_size": settings["batch_size"] or preset["batch_size"], "segment_length": preset["segment_length"]}
    if model == "fourier":
        info.update(adversarial_after=settings["adversarial_after"], no_discriminator=settings["no_discriminator"],
                    mpd_width=preset["mpd_width"], mrd_width=preset["mrd_width"],
                    discriminator_batch=preset["discriminator_batch"])
    else:
        info.update(discriminator_width=settings.get("discriminator_width", preset["discriminator_width"]),
                    stft_loss=settings.get("stft_loss", 0.0))
    info["commands"] = run_commands(run_dir)
    path = speech.CHECKPOINTS / f"{args.name or args.run}.pt"
    state = checkpoint["generator"]
    if sum(v.numel() * 4 for v in state.values()) > 10 * 10**6:
        state, info["stored_as"] = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}, "float16"
    atomic_save({"info": info, "generator": state}, path)
    vocoder = load_shipped(path, info)  # what was shipped
    clips = speech.load_sentences("held_out")
    result = {**info, "train_hours": round(sum(r["seconds"] for r in records) / 3600, 2),
              "machine": f"{platform.machine()}, {args.threads} thread(s), torch {torch.__version__}",
              "held_out": [clip_id for clip_id, _ in clips], **score_report(vocoder, clips),
              "score_command": "ganlib.speech.score_vocoder(" + (
                  "ganlib.models.fourier.Vocoder.from_checkpoint(path))" if model == "fourier"
                  else "Vocoder.from_checkpoint(path, preset='cpu'))"),
              "export_command": "python tools/train_vocoder.py " + " ".join(sys.argv[1:]),
              "history": history(records),
              "size_mb": round(path.stat().st_size / 1e6, 2)}
    result["first_met_bar"] = first_met_bar(result["history"])
    if model == "fourier":
        result["unheard_voices"] = score_unheard_voices(vocoder)
    if getattr(args, "baseline", None):
        result["without_discriminator"] = baseline_summary(args.baseline)
    path.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("scores", "unheard_voices")}, indent=2))


HISTORY_KEYS = ("step", "seconds", "held_out_mel_l1", "held_out_mr_stft", "held_out_pesq", "held_out_stoi",
                "held_out_pitch_cents", "held_out_vuv_f1", "below_griffin_lim", "pesq_gain", "stoi_gain",
                "pitch_cents_gain", "vuv_f1_gain")


def history(records: list[dict]) -> list[dict]:
    """scores.jsonl's evaluations as the JSON keeps them, each with the training hours so far."""
    rows, seconds = [], 0.0
    for record in records:
        seconds += record["seconds"]
        rows.append({**{k: record[k] for k in HISTORY_KEYS if k in record}, "train_hours": round(seconds / 3600, 3)})
    return rows


def first_met_bar(rows: list[dict]) -> dict:
    """The first evaluation at which the bar (speech.BAR) was met, and the first with PESQ >= 3.5:
    {"bar": {"step", "train_hours"} or None, "pesq_3.5": ...}."""
    def first(condition):
        row = next((r for r in rows if condition(r)), None)
        return {"step": row["step"], "train_hours": row["train_hours"]} if row else None
    return {"bar": first(lambda r: "stoi_gain" in r and speech.meets_bar(r)),
            "pesq_3.5": first(lambda r: r.get("held_out_pesq", 0) >= 3.5)}


def baseline_summary(name: str) -> dict:
    """What a Fourier vocoder's JSON says of the same generator trained without a
    discriminator: that shipped file's name, steps, hours, scores and margins (see export)."""
    report = json.loads((speech.CHECKPOINTS / f"{name}.json").read_text())
    if not report.get("no_discriminator"):
        raise SystemExit(f"--baseline {name}: {name}.json is not a run trained without a discriminator")
    keep = ("steps", "train_hours", "scores", "below_griffin_lim", "pesq_gain", "stoi_gain", "pitch_cents_gain",
            "vuv_f1_gain", "meets_bar", "first_met_bar")
    return {"name": name, **{k: report[k] for k in keep if k in report},
            "unheard_voices": {speaker: {"vocoder": voice["scores"]["vocoder"]}
                               for speaker, voice in report.get("unheard_voices", {}).items()}}


def rescore(args) -> None:
    """Recompute a shipped vocoder's scores (the held-out sentences, and for a Fourier vocoder
    the unheard voices) into its JSON, keeping how it was trained: after the scores or the bar
    change."""
    torch.set_num_threads(args.threads)
    path = speech.CHECKPOINTS / f"{args.name}.pt"
    report = json.loads(path.with_suffix(".json").read_text())
    vocoder = speech.load_vocoder(path, device="cpu")
    for key in ("below_griffin_lim", "pesq_gain", "stoi_gain", "pitch_cents_gain", "vuv_f1_gain", "bar", "meets_bar"):
        report.pop(key, None)
    report.update(score_report(vocoder, speech.load_sentences("held_out")))
    if report.get("model") == "fourier":
        report["unheard_voices"] = score_unheard_voices(vocoder)
    report["rescore_command"] = "python tools/train_vocoder.py " + " ".join(sys.argv[1:])
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("bar", "meets_bar")}, indent=2))


def readme(args) -> None:
    """Rewrite the vocoder table of data/checkpoints/README.md from the vocoders' JSON files."""
    rows = ["| vocoder | steps | hours | PESQ (wide band) | STOI | MR-STFT | pitch error (cents) | V/UV F1 | mel L1 "
            "| meets the bar |", "|---|---|---|---|---|---|---|---|---|---|"]
    columns = (("pesq", ".2f"), ("stoi", ".3f"), ("mr_stft", ".3f"), ("pitch_cents", ".1f"), ("vuv_f1", ".3f"),
               ("mel_l1", ".3f"))
    reports = {path.stem: json.loads(path.read_text()) for path in sorted(speech.CHECKPOINTS.glob("*.json"))
               if json.loads(path.read_text()).get("model") in ("hifigan", "fourier")}
    baseline = next(iter(reports.values()))["scores"]["griffin_lim"]
    rows.append("| Griffin-Lim, 32 iterations, same mels | | | "
                + " | ".join(f"{baseline[k]:{f}}" for k, f in columns) + " | |")
    for name, report in reports.items():
        scores = report["scores"]["vocoder"]
        rows.append(f"| `{name}` | {report['steps']:,} | {report['train_hours']} | "
                    + " | ".join(f"{scores[k]:{f}}" for k, f in columns)
                    + f" | {'yes' if report['meets_bar'] else 'no'} |")
    write_readme_block(speech.CHECKPOINTS / "README.md", "vocoder", rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train (or resume) HiFi-GAN on the bundled sentences")
    t.add_argument("--model", choices=("hifigan", "fourier"), default="hifigan",
                   help="hifigan (ganlib.models.hifigan) or the Fourier-head vocoder (ganlib.models.fourier)")
    t.add_argument("--preset", choices=sorted(set(hifigan.PRESETS) | set(fourier.PRESETS)), default="cpu")
    t.add_argument("--adversarial-after", type=int, default=0, metavar="STEPS",
                   help="fourier: train this many steps without the discriminator first (a warm-up)")
    t.add_argument("--no-discriminator", action="store_true",
                   help="fourier: never use the discriminator (the baseline that shows what the GAN buys)")
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
    e.add_argument("--baseline", metavar="RUN",
                   help="fourier: a shipped name (exported before) of the same generator trained as long without "
                        "a discriminator, whose scores the JSON then repeats beside this one's")
    r = commands.add_parser("rescore", help="recompute a shipped vocoder's scores into its JSON")
    r.add_argument("--name", required=True, help="a file name under data/checkpoints/, e.g. hifigan_cpu")
    r.add_argument("--threads", type=int, default=1)
    commands.add_parser("readme", help="rewrite data/checkpoints/README.md's vocoder table from the JSONs")
    args = parser.parse_args(argv)
    {"train": train, "export": export, "rescore": rescore, "readme": readme}[args.command](args)


if __name__ == "__main__":
    main()
