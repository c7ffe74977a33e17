"""Train and export the course's spoken-digit models (chapters 04-06), resumably.

    python tools/train_digits.py classifier                      # the judge, ~5 min on 2 cores
    python tools/train_digits.py gan --model wavegan --preset cpu --minutes 60   # resumes runs/wavegan_cpu
    python tools/train_digits.py gan --model wavegan --preset cpu --conditional --minutes 60
    python tools/train_digits.py gan --model specgan --conditional --auxiliary-classifier 1 --augment-shift 16
    python tools/train_digits.py gan --model specgan --self-conditioned 10 --auxiliary-classifier 1 --augment-shift 16 --diversity 10
    python tools/train_digits.py export --run wavegan_cpu_cpu --name wavegan_cpu   # -> data/checkpoints/, scored

The shipped files' exact commands are in their JSON files and in data/checkpoints/README.md.

Every checkpoint under data/checkpoints/ has a JSON beside it with the command that trained
it, the steps and time it took, and its scores (see ganlib.metrics.evaluate_generator).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import runlog  # noqa: E402
from runlog import add_precision_argument, open_run, train_in_chunks, write_readme_block  # noqa: E402

from ganlib import config, datasets, losses  # noqa: E402
from ganlib.digits import (CHECKPOINTS, DigitJudge, cluster_purity, digits_root, load_digits,  # noqa: E402
                           pseudo_labels, score_pretrained)
from ganlib.models import classifier as classifier_module  # noqa: E402
from ganlib.models import wavegan  # noqa: E402
from ganlib.train import Trainer, atomic_save, stop_on_signals  # noqa: E402



def digit_batches(subset: str, batch_size: int, shuffle: bool, sample_rate: int = 16000,
                  segment_length: int = 16000, seed: int = 0):
    data = datasets.SpeechCommands(digits_root(), subset=subset, sc09=True, sample_rate=sample_rate,
                                   segment_length=segment_length, fields=("audio", "label"), cache=True)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle,
                                       generator=torch.Generator().manual_seed(seed))


def train_classifier(args) -> None:
    config.seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    model = classifier_module.DigitClassifier()
    train = digit_batches("training", 32, shuffle=True, seed=args.seed)
    start = time.time()
    losses = classifier_module.fit_classifier(model, train, epochs=args.epochs, seed=args.seed)
    minutes = (time.time() - start) / 60
    scores = {subset: classifier_module.accuracy(model, digit_batches(subset, 100, shuffle=False))
              for subset in ("training", "validation", "testing")}
    print(f"accuracy {scores}, {minutes:.1f} min")
    path = CHECKPOINTS / "digit_classifier.pt"
    atomic_save({"config": {"num_classes": 10}, "model": {k: v.half() if v.is_floating_point() else v
                                                          for k, v in model.state_dict().items()}}, path)
    held_out = classifier_module.accuracy(model_from(path), digit_batches("validation", 100, False))
    report = {"command": "python tools/train_digits.py " + " ".join(sys.argv[1:]),
              "epochs": args.epochs, "seed": args.seed, "threads": args.threads,
              "train_minutes": round(minutes, 2), "final_loss": round(losses[-1], 4),
              "accuracy": {k: round(v, 4) for k, v in scores.items()},
              "accuracy_held_out_speakers": round((scores["validation"] + scores["testing"]) / 2, 4),
              "validation_accuracy_after_fp16_save": round(held_out, 4),
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__}
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def model_from(path):
    return classifier_module.load_classifier(path)


def run_name(args) -> str:
    shift = f"_shift{args.augment_shift}" if getattr(args, "augment_shift", 0) else ""
    ac = f"_ac{args.auxiliary_classifier:g}" if getattr(args, "auxiliary_classifier", 0) else ""
    mel = "_mel" if getattr(args, "mel_discriminator", False) else ""
    mbstd = "_mbstd" if getattr(args, "minibatch_std", False) else ""
    diversity = f"_div{args.diversity:g}" if getattr(args, "diversity", 0) else ""
    lr = f"_lr{args.lr:g}" if getattr(args, "lr", None) else ""
    clusters = f"_sc{args.self_conditioned}" if getattr(args, "self_conditioned", 0) else ""
    return (f"{'c' if args.conditional else ''}{args.model}_{args.preset}_{args.recipe}"
            f"{clusters}{shift}{ac}{mel}{mbstd}{diversity}{lr}")


def make_trainer(args, run_dir: Path):
    """(Trainer, SpecGAN transform or None, sample rate, cluster prior or None) for a run's settings."""
    recipe = wavegan.RECIPES[args.recipe]
    ac_weight = getattr(args, "auxiliary_classifier", 0)
    clusters = getattr(args, "self_conditioned", 0)
    if clusters and args.conditional:
        raise SystemExit("--self-conditioned trains on clusters instead of labels: drop --conditional")
    conditional = args.conditional or bool(clusters)  # the networks take a label: a digit, or a cluster
    if ac_weight and not conditional:
        raise SystemExit("--auxiliary-classifier is for a conditional model (--conditional or --self-conditioned)")
    switches = {"auxiliary_classifier": bool(ac_weight), "mel_discriminator": getattr(args, "mel_discriminator", False),
                "minibatch_std": getattr(args, "minibatch_std", False)}  # discriminator options, off by default
    for name in ("mel_discriminator", "minibatch_std"):
        if switches[name] and args.model != "wavegan":
            raise SystemExit(f"--{name.replace('_', '-')} is for WaveGAN (--model wavegan)")
    generator, discriminator = wavegan.build(args.model, args.preset, conditional, args.recipe,
                                             num_classes=clusters or 10,
                                             **{name: True for name, on in switches.items() if on})
    if args.model == "wavegan":
        sample_rate, length = generator.sample_rate, generator.length
        audio, labels = load_digits("training", sample_rate, length)
        real, transform = audio.unsqueeze(1), None  # (n, 1, length): the generator's output shape
    else:
        sample_rate, length = 16000, 16384
        audio, labels = load_digits("training", sample_rate, length)
        transform = wavegan.SpecGANTransform().fit(audio)
        real = transform(audio)
    prior = None
    if clusters:  # the labels are put away: the clips' own clusters take their place
        labels = cached_pseudo_labels(run_dir, audio, sample_rate, clusters, labels)
        prior = torch.bincount(labels, minlength=clusters).float() / len(labels)
    tensors = (real, labels) if conditional else (real,)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors),
                                         batch_size=args.batch_size or recipe["batch_size"], shuffle=True,
                                         drop_last=True)
    if not conditional:
        loader = _Unwrap(loader)
    shift = getattr(args, "augment_shift", 0)
    if shift:
        recipe = {**recipe, "trainer": {**recipe["trainer"], "discriminate": wavegan.shifted_discriminate(shift)}}
    if ac_weight:
        recipe = {**recipe, "trainer": {**recipe["trainer"], "classifier_weight": ac_weight}}
    if getattr(args, "lr", None):  # both networks' Adam learning rate, e.g. lower to fine-tune (--init-from)
        recipe = {**recipe, "trainer": {**recipe["trainer"], "lr": args.lr}}
    diversity = getattr(args, "diversity", 0)
    if diversity:  # WaveGAN: on the clips' log-mel; SpecGAN: on its normalised spectrograms themselves
        features = wavegan.mel_features(sample_rate) if args.model == "wavegan" else nn.Identity()
        recipe = {**recipe, "trainer": {**recipe["trainer"],
                                        "extra_generator_loss": diversity_term(
                                            diversity, real, features, labels if conditional else None)}}
    trainer = Trainer(generator, discriminator, loader, checkpoint_dir=run_dir, checkpoint_every=500,
                      progress=False, log_every=50, precision=getattr(args, "precision", "fp32"), **recipe["trainer"])
    return trainer, transform, sample_rate, prior


def cached_pseudo_labels(run_dir: Path, audio: torch.Tensor, sample_rate: int, clusters: int,
                         labels: torch.Tensor) -> torch.Tensor:
    """ganlib.digits.pseudo_labels of the training clips, computed once per run and kept in
    runs/<run>/clusters.pt (resume and export see the same clusters). The true labels only
    measure the clusters' purity, which is printed; training never sees them."""
    path = run_dir / "clusters.pt"
    if path.is_file():
        found = torch.load(path, map_location="cpu", weights_only=True)
        if len(found) != len(audio) or int(found.max()) + 1 != clusters:
            raise SystemExit(f"{path} holds {len(found)} clips' clusters, not {len(audio)} clips in {clusters}")
        return found
    found = pseudo_labels(audio, sample_rate, clusters)
    atomic_save(found, path)
    print(f"{clusters} clusters found without labels; purity {cluster_purity(found, labels):.3f}", flush=True)
    return found


def diversity_term(weight: float, real: torch.Tensor, features, labels: torch.Tensor | None = None):
    """extra_generator_loss for Trainer: weight x losses.diversity_sensitive_loss on
    features(fakes flattened to (batch, -1)) (WaveGAN: wavegan.mel_features, the MelDiscriminator's
    log-mel; SpecGAN: its spectrograms as they are), capped at the median distance between two
    real training examples (1,000 seeded random pairs of `real`, the generator's targets). With
    `labels` (a conditional model) the pairs share a digit, as in Yang et al.: the first half of
    the batch's fakes against a second draw of z for the same labels, and the cap is measured
    between real examples of one digit."""
    examples = real.flatten(1)
    rng = torch.Generator().manual_seed(0)
    first = torch.randint(len(examples), (1000,), generator=rng)
    if labels is None:
        second = torch.randint(len(examples), (1000,), generator=rng)
    else:  # a random clip of the same digit
        clips_of = {int(digit): (labels == digit).nonzero().flatten() for digit in labels.unique()}
        second = []
        for i in first:
            same = clips_of[int(labels[i])]
            second.append(same[torch.randint(len(same), (1,), generator=rng)[0]])
        second = torch.stack(second)
    with torch.no_grad():
        cap = float((features(examples[first]) - features(examples[second])).abs().flatten(1).mean(1).median())
    print(f"diversity: weight {weight}, capped at the real examples' median distance {cap:.3f}", flush=True)

    def term(step) -> dict:
        fake = step.fake.flatten(1)
        if labels is not None:
            half = fake.shape[0] // 2
            trainer = step.trainer
            z = torch.randn(half, trainer.latent_dim, device=fake.device)
            fake = torch.cat([fake[:half], trainer.generator(z, step.condition[:half]).flatten(1)])
        return {"diversity": weight * losses.diversity_sensitive_loss(features(fake), cap)}
    return term


class _Unwrap:
    """A DataLoader of 1-tuples as a re-iterable of tensors."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        return (batch[0] for batch in self.loader)

    def __len__(self):
        return len(self.loader)


def train_gan(args) -> None:
    stop_on_signals()  # kill / Ctrl-C: checkpoint, then stop
    config.seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    run_dir = ROOT / "runs" / run_name(args)
    settings = {k: getattr(args, k) for k in ("model", "preset", "recipe", "conditional", "batch_size", "seed")}
    if args.augment_shift:
        settings["augment_shift"] = args.augment_shift
    if args.auxiliary_classifier:
        settings["auxiliary_classifier"] = args.auxiliary_classifier
    if args.mel_discriminator:
        settings["mel_discriminator"] = True
    if args.minibatch_std:
        settings["minibatch_std"] = True
    if args.diversity:
        settings["diversity"] = args.diversity
    if args.lr:
        settings["lr"] = args.lr
    if args.init_from:
        settings["init_from"] = args.init_from
    if args.self_conditioned:
        settings["self_conditioned"] = args.self_conditioned
    open_run(run_dir, settings, "train_digits.py")
    if args.init_from:
        start_from(run_dir, args.init_from)
    trainer, transform, sample_rate, prior = make_trainer(args, run_dir)
    if transform is not None:
        atomic_save(transform.state_dict(), run_dir / "transform.pt")
    judge = DigitJudge()
    print(f"real training clips: {judge.real_scores}", flush=True)

    def generator():
        return trainer.generator_ema if trainer.generator_ema is not None else trainer.generator

    def evaluate() -> dict:
        snapshot = wavegan.Pretrained(generator(), sample_rate, transform, {}, prior)
        return score_pretrained(snapshot, judge, n=500, seed=0)  # seeded: leaves training's RNG alone

    for record in train_in_chunks(trainer, run_dir, args.minutes, args.steps, args.eval_every, evaluate):
        keep_if_best(run_dir, generator(), record, args.conditional)


def start_from(run_dir: Path, parent_name: str) -> None:
    """--init-from: a new run (another recipe) starts where another run stopped: its last.pt
    (weights, optimisers, moving average, step) and its score history are copied, once."""
    parent = ROOT / "runs" / parent_name
    if not (parent / "last.pt").is_file():
        raise SystemExit(f"--init-from {parent_name}: {parent / 'last.pt'} does not exist")
    if (run_dir / "last.pt").is_file():
        return  # started before: resume as usual
    shutil.copyfile(parent / "last.pt", run_dir / "last.pt")
    if (parent / "scores.jsonl").is_file():
        shutil.copyfile(parent / "scores.jsonl", run_dir / "scores.jsonl")
    print(f"starting from {parent / 'last.pt'}", flush=True)


def run_commands(run_dir: Path) -> list[str]:
    """The commands that trained a run, its --init-from parent's first."""
    return runlog.run_commands(run_dir, "init_from")


ACCURACY_BAR = 0.8  # issue 5: a conditional generator says the digit asked for at least this often


def snapshot_rank(record: dict, conditional: bool) -> tuple:
    """How keep_if_best orders evaluations, the bar's order: an unconditional generator by its
    Inception Score; a conditional one by its accuracy up to ACCURACY_BAR, then (among snapshots
    at or past the bar, or tied below it) by its Inception Score."""
    if conditional:
        return min(record["accuracy"], ACCURACY_BAR), record["inception_score"]
    return (record["inception_score"],)


def keep_if_best(run_dir: Path, generator, record: dict, conditional: bool) -> None:
    """Keep the generator of the best evaluation so far (snapshot_rank) in runs/<run>/best.pt:
    GAN training does not improve monotonically, and the last step is not always the best one."""
    best_file = run_dir / "best.json"
    keys = ("accuracy", "inception_score") if conditional else ("inception_score",)
    if best_file.is_file():
        best = json.loads(best_file.read_text())
        best = {key: best.get(key, 0.0) for key in keys}  # runs from before the IS tie-break: 0
        if snapshot_rank(best, conditional) >= snapshot_rank(record, conditional):
            return
    atomic_save({"step": record["step"], "generator": generator.state_dict()}, run_dir / "best.pt")
    best_file.write_text(json.dumps({"step": record["step"], **{key: record[key] for key in keys}}) + "\n")


_HISTORY_KEYS = ("step", "seconds", "d_loss", "g_loss", "d_class", "g_class", "diversity", "inception_score",
                 "classes_covered", "frechet_distance", "accuracy")


def export(args) -> None:
    """Ship a run's moving-average generator (fp16) to data/checkpoints/<run>.pt, scored."""
    run_dir = ROOT / "runs" / args.run
    for name in [args.run, *(args.compare_run or [])]:  # before anything is written
        if not (ROOT / "runs" / name / "settings.json").is_file():
            raise SystemExit(f"no run {name!r}: {ROOT / 'runs' / name / 'settings.json'} does not exist")
    settings = argparse.Namespace(**json.loads((run_dir / "settings.json").read_text()), threads=args.threads)
    torch.set_num_threads(args.threads)
    trainer, transform, sample_rate, prior = make_trainer(settings, run_dir)
    trainer.fit(0)  # loads last.pt
    generator = trainer.generator_ema or trainer.generator
    steps = trainer.step
    if args.snapshot == "best":  # the best evaluation's generator (keep_if_best), not the last step's
        best = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
        generator.load_state_dict(best["generator"])
        steps = best["step"]
    scores_file = run_dir / "scores.jsonl"
    records = [json.loads(line) for line in scores_file.read_text().splitlines()] if scores_file.is_file() else []
    records = [r for r in records if r["step"] <= steps]
    train_seconds = sum(r["seconds"] for r in records)
    info = {"model": settings.model, "preset": settings.preset, "recipe": settings.recipe,
            "conditional": settings.conditional, "augment_shift": getattr(settings, "augment_shift", 0),
            "auxiliary_classifier": getattr(settings, "auxiliary_classifier", 0),
            "mel_discriminator": getattr(settings, "mel_discriminator", False),
            "minibatch_std": getattr(settings, "minibatch_std", False),
            "diversity": getattr(settings, "diversity", 0),
            "self_conditioned": getattr(settings, "self_conditioned", 0),
            "lr": getattr(settings, "lr", None) or wavegan.RECIPES[settings.recipe]["trainer"]["lr"],
            "steps": steps, "snapshot": args.snapshot,
            "batch_size": settings.batch_size or wavegan.RECIPES[settings.recipe]["batch_size"],
            "init_from": getattr(settings, "init_from", None),
            "commands": run_commands(run_dir)}
    path = CHECKPOINTS / f"{args.name or args.run}.pt"
    state = {"info": info, "generator": {k: v.half() for k, v in generator.state_dict().items()}}
    if transform is not None:
        state["transform"] = transform.state_dict()
    if prior is not None:
        state["cluster_prior"] = prior
    atomic_save(state, path)
    pretrained = wavegan.load_pretrained(path)  # score what was shipped, fp16 rounding included
    judge = DigitJudge()
    scores = score_pretrained(pretrained, judge, n=args.n, seed=args.seed)
    report = {**info, "train_hours": round(train_seconds / 3600, 2),
              "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
              "scores": scores, "real_training_clips": judge.real_scores,
              "score_command": f"ganlib.digits.score_pretrained(load_pretrained(path), n={args.n}, seed={args.seed})",
              "export_command": "python tools/train_digits.py " + " ".join(sys.argv[1:]),
              "history": [{k: r[k] for k in _HISTORY_KEYS if k in r} for r in records],
              "size_mb": round(path.stat().st_size / 1e6, 2)}
    if args.compare_run:  # other runs' score histories, for the chapter that compares the recipes
        report["compared_with"] = []
        for name in args.compare_run:
            other = ROOT / "runs" / name
            report["compared_with"].append({
                "run": name, "settings": json.loads((other / "settings.json").read_text()),
                "commands": (other / "commands.txt").read_text().splitlines(),
                "history": [{k: r[k] for k in _HISTORY_KEYS if k in r}
                            for r in map(json.loads, (other / "scores.jsonl").read_text().splitlines())]})
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def readme(args) -> None:
    """Rewrite the scores table of data/checkpoints/README.md from the checkpoints' JSON files."""
    rows = ["| checkpoint | steps | hours | Inception Score | real clips | ratio | accuracy | classes | Fréchet distance | NN ratio |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(CHECKPOINTS.glob("*.json")):
        report = json.loads(path.read_text())
        if "real_training_clips" not in report:  # the classifier, or not a digit generator (hifigan_cpu)
            continue
        s, real = report["scores"], report["real_training_clips"]
        accuracy = f"{s['accuracy']:.1%}" if "accuracy" in s else "-"
        rows.append(f"| `{path.stem}` | {report['steps']:,} | {report['train_hours']} | {s['inception_score']:.2f} "
                    f"| {real['inception_score']:.2f} | {s['inception_score_ratio']:.2f} | {accuracy} "
                    f"| {s['classes_covered']} | {s['frechet_distance']:.1f} | {s['nearest_neighbour_ratio']:.2f} |")
    classifier = json.loads((CHECKPOINTS / "digit_classifier.json").read_text())
    rows.append("")
    rows.append(f"The classifier: {classifier['accuracy_held_out_speakers']:.1%} on the 10 held-out speakers "
                f"({classifier['epochs']} epochs, {classifier['train_minutes']} min).")
    write_readme_block(CHECKPOINTS / "README.md", "scores", rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("classifier", help="train the digit classifier")
    c.add_argument("--epochs", type=int, default=30)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--threads", type=int, default=1)
    g = commands.add_parser("gan", help="train (or resume) a WaveGAN / SpecGAN on the digits")
    g.add_argument("--model", choices=("wavegan", "specgan"), default="wavegan")
    g.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    g.add_argument("--recipe", choices=tuple(wavegan.RECIPES), default="cpu")
    g.add_argument("--conditional", action="store_true")
    g.add_argument("--minutes", type=float, default=60)
    g.add_argument("--steps", type=int, default=10**9)
    g.add_argument("--eval-every", type=int, default=500)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--augment-shift", type=int, default=0,
                   help="DiffAugment: shift real and fake clips by up to this many samples (SpecGAN: frames) before D")
    g.add_argument("--auxiliary-classifier", type=float, default=0.0, metavar="WEIGHT",
                   help="AC-GAN: the conditional discriminator also classifies, with this loss weight")
    g.add_argument("--mel-discriminator", action="store_true",
                   help="a second discriminator on the log-mel spectrogram beside the waveform one "
                        "(ganlib.models.wavegan.WaveMelDiscriminator)")
    g.add_argument("--minibatch-std", action="store_true",
                   help="the discriminators see each batch's feature spread (ProGAN), against mode collapse")
    g.add_argument("--diversity", type=float, default=0.0, metavar="WEIGHT",
                   help="diversity-sensitive loss on the fakes' log-mel (ganlib.losses), against mode collapse")
    g.add_argument("--lr", type=float, default=None,
                   help="Adam's learning rate for both networks (default: the recipe's)")
    g.add_argument("--self-conditioned", type=int, default=0, metavar="CLUSTERS",
                   help="unconditional, without labels: train on CLUSTERS clusters of the clips found by "
                        "k-means (ganlib.digits.pseudo_labels), as the self-conditioned GAN")
    g.add_argument("--init-from", metavar="RUN",
                   help="start a new run from another run's last checkpoint (fine-tune with another recipe)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=1)
    add_precision_argument(g)
    e = commands.add_parser("export", help="ship a run's generator to data/checkpoints/, scored")
    e.add_argument("--run", required=True, help="a folder name under runs/, e.g. wavegan_cpu_cpu")
    e.add_argument("--name", help="file name under data/checkpoints/ (default: the run's)")
    e.add_argument("--n", type=int, default=1000, help="clips generated for the scores")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--snapshot", choices=("last", "best"), default="last",
                   help="the last step's generator, or the best-scoring one (runs/<run>/best.pt)")
    e.add_argument("--compare-run", action="append", metavar="RUN",
                   help="a run under runs/ whose score history goes into the JSON too (repeatable)")
    e.add_argument("--threads", type=int, default=1)
    commands.add_parser("readme", help="rewrite data/checkpoints/README.md's scores table from the JSONs")
    args = parser.parse_args(argv)
    {"classifier": train_classifier, "gan": train_gan, "export": export, "readme": readme}[args.command](args)


if __name__ == "__main__":
    main()
