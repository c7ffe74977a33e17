"""The training scripts' bookkeeping: tools/train_digits.py keeps the best-scoring generator of a
run, since GAN training does not improve steadily."""
import json

import pytest
import torch
from torch import nn

from ganlib.models import wavegan
from ganlib.train import CheckpointMismatchError

from repo_scripts import load_script


def test_keep_if_best_keeps_only_improvements(tmp_path):
    tool = load_script("tools/train_digits.py")
    generator = nn.Linear(2, 2)

    def evaluate(step, inception_score):
        with torch.no_grad():
            generator.weight.add_(1.0)  # weights that changed since the last evaluation
        tool.keep_if_best(tmp_path, generator, {"step": step, "inception_score": inception_score}, False)
        return generator.weight.detach().clone()
    first = evaluate(500, 2.0)
    evaluate(1000, 1.5)  # worse: not kept
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["step"] == 500 and torch.equal(best["generator"]["weight"], first)
    third = evaluate(1500, 2.5)  # better: kept
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["step"] == 1500 and torch.equal(best["generator"]["weight"], third)
    assert json.loads((tmp_path / "best.json").read_text()) == {"step": 1500, "inception_score": 2.5}


def test_conditional_snapshots_rank_by_accuracy_up_to_the_bar_then_by_inception_score(tmp_path):
    tool = load_script("tools/train_digits.py")
    order = [{"step": 500, "accuracy": 0.5, "inception_score": 4.0},
             {"step": 1000, "accuracy": 0.7, "inception_score": 3.0},  # more accurate: better
             {"step": 1500, "accuracy": 0.7, "inception_score": 3.5},  # same accuracy, higher IS: better
             {"step": 2000, "accuracy": 0.95, "inception_score": 3.0},  # past the bar: better
             {"step": 2500, "accuracy": 0.85, "inception_score": 5.0},  # both past the bar: IS decides
             {"step": 3000, "accuracy": 1.0, "inception_score": 4.9}]  # not better
    kept = []
    for record in order:
        tool.keep_if_best(tmp_path, nn.Linear(2, 2), record, True)
        kept.append(json.loads((tmp_path / "best.json").read_text())["step"])
    assert kept == [500, 1000, 1500, 2000, 2500, 2500]
    # a best.json from before the tie-break (accuracy only) still compares
    (tmp_path / "best.json").write_text(json.dumps({"step": 7000, "key": "accuracy", "accuracy": 0.9}))
    tool.keep_if_best(tmp_path, nn.Linear(2, 2), {"step": 7500, "accuracy": 0.8, "inception_score": 3.3}, True)
    assert json.loads((tmp_path / "best.json").read_text())["step"] == 7500  # same at the bar, an IS beats none


def test_export_names_a_missing_run_before_writing_anything(tmp_path, monkeypatch):
    tool = load_script("tools/train_digits.py")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "CHECKPOINTS", tmp_path / "checkpoints")
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "runs" / "mine" / "settings.json").write_text("{}")
    for argv, missing in ((["export", "--run", "absent"], "absent"),
                          (["export", "--run", "mine", "--compare-run", "mine", "--compare-run", "gone"], "gone")):
        with pytest.raises(SystemExit, match=f"no run '{missing}': .*runs/{missing}/settings.json does not exist"):
            tool.main(argv)
    assert not (tmp_path / "checkpoints").exists()


def test_diversity_term_is_capped_at_the_real_clips_spread():
    tool = load_script("tools/train_digits.py")
    torch.manual_seed(0)
    real = 0.1 * torch.randn(40, 8192)
    term = tool.diversity_term(2.0, real, wavegan.mel_features(8000))
    step = type("Step", (), {})()
    step.fake = torch.zeros(8, 1, 8192)  # collapsed: all alike
    assert term(step)["diversity"].item() == 0.0
    step.fake = 0.1 * torch.randn(8, 1, 8192)  # as spread as the real clips: about -weight x cap
    spread = term(step)["diversity"].item()
    step.fake = torch.randn(8, 1, 8192)  # far more spread than the real clips: clipped at the same cap
    assert spread < 0 and term(step)["diversity"].item() == pytest.approx(spread, rel=0.1)


def test_specgan_diversity_term_measures_the_spectrograms_themselves():
    tool = load_script("tools/train_digits.py")
    torch.manual_seed(0)
    real = torch.rand(40, 1, 16, 16) * 2 - 1  # (n, 1, bins, frames) in [-1, 1], as SpecGAN's transform
    term = tool.diversity_term(1.0, real, nn.Identity())
    step = type("Step", (), {})()
    step.fake = -torch.ones(8, 1, 16, 16)  # all silent: collapsed
    assert term(step)["diversity"].item() == 0.0
    step.fake = torch.rand(8, 1, 16, 16) * 2 - 1  # spread like the real ones: -(mean |a - b|) = -2/3
    assert term(step)["diversity"].item() == pytest.approx(-2 / 3, abs=0.1)


def test_init_from_copies_the_parents_checkpoint_once_and_chains_the_commands(tmp_path, monkeypatch):
    tool = load_script("tools/train_digits.py")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    parent, child = tmp_path / "runs" / "parent", tmp_path / "runs" / "child"
    parent.mkdir(parents=True), child.mkdir()
    (parent / "settings.json").write_text("{}")
    (parent / "commands.txt").write_text("python tools/train_digits.py gan --first\n")
    (parent / "last.pt").write_bytes(b"parent weights")
    (parent / "scores.jsonl").write_text('{"step": 500}\n')
    (child / "settings.json").write_text(json.dumps({"init_from": "parent"}))
    (child / "commands.txt").write_text("python tools/train_digits.py gan --init-from parent\n")
    tool.start_from(child, "parent")
    assert (child / "last.pt").read_bytes() == b"parent weights"
    assert (child / "scores.jsonl").read_text() == '{"step": 500}\n'
    (child / "last.pt").write_bytes(b"child weights")  # trained on: a second start must not overwrite it
    tool.start_from(child, "parent")
    assert (child / "last.pt").read_bytes() == b"child weights"
    assert tool.run_commands(child) == ["python tools/train_digits.py gan --first",
                                        "python tools/train_digits.py gan --init-from parent"]
    with pytest.raises(SystemExit, match="--init-from nowhere: .*runs/nowhere/last.pt does not exist"):
        tool.start_from(child, "nowhere")


def test_conditional_diversity_term_compares_two_draws_of_the_same_digit():
    tool = load_script("tools/train_digits.py")
    torch.manual_seed(0)
    labels = torch.arange(40) % 2
    real = 0.1 * torch.randn(40, 8192) * (1 + labels[:, None])  # digit 1 twice as loud as digit 0
    term = tool.diversity_term(1.0, real, wavegan.mel_features(8000), labels)
    asked = torch.tensor([0, 0, 1, 1])  # paired as i, i + 2 these would be different digits

    class Generator(nn.Module):  # ignores z: every draw of a digit alike
        latent_dim = 100

        def forward(self, z, label):
            return (0.1 * (1 + label.float()))[:, None, None] * torch.ones(len(z), 1, 8192)
    step = type("Step", (), {})()
    step.trainer = type("Trainer", (), {"generator": Generator(), "latent_dim": 100})()
    step.condition, step.fake = asked, step.trainer.generator(torch.randn(4, 100), asked)
    assert term(step)["diversity"].item() == 0.0  # the pairs share a digit, and z changes nothing


def test_self_conditioned_run_trains_on_clusters_and_never_sees_the_digits(tmp_path, monkeypatch):
    import argparse
    tool = load_script("tools/train_digits.py")
    seen = {}

    def every_fifth(audio, sample_rate, clusters):  # stands in for k-means: clusters unlike the digits
        seen["rate"] = sample_rate
        return torch.arange(len(audio)) % clusters
    monkeypatch.setattr(tool, "pseudo_labels", every_fifth)
    args = argparse.Namespace(model="specgan", preset="cpu", recipe="cpu", conditional=False, batch_size=8,
                              self_conditioned=5, auxiliary_classifier=1.0)
    assert tool.run_name(args) == "specgan_cpu_cpu_sc5_ac1"
    trainer, transform, rate, prior = tool.make_trainer(args, tmp_path)
    assert seen["rate"] == rate == 16000 and transform is not None
    assert trainer.generator.num_classes == 5 and trainer.discriminator.classifier.out_features == 5
    torch.testing.assert_close(prior, torch.full((5,), 0.2))
    kept = torch.load(tmp_path / "clusters.pt", weights_only=True)
    assert torch.equal(kept, torch.arange(800) % 5)
    spectrograms, clusters = next(iter(trainer.data))
    assert spectrograms.shape == (8, 1, 128, 128) and clusters.max() < 5
    # a second start (resume, export) reads the kept clusters instead of clustering again
    monkeypatch.setattr(tool, "pseudo_labels", None)
    assert torch.equal(tool.make_trainer(args, tmp_path)[3], prior)
    with pytest.raises(SystemExit, match="drop --conditional"):
        tool.make_trainer(argparse.Namespace(**{**vars(args), "conditional": True}), tmp_path)


def test_precision_reaches_the_trainer_and_every_score_record(tmp_path, monkeypatch):
    import argparse
    tool = load_script("tools/train_digits.py")
    args = argparse.Namespace(model="specgan", preset="cpu", recipe="cpu", conditional=False, batch_size=4)
    assert tool.make_trainer(args, tmp_path)[0].precision == "fp32"  # the default, and any older command
    trainer = tool.make_trainer(argparse.Namespace(**vars(args), precision="bf16"), tmp_path / "bf16")[0]
    assert trainer.precision == "bf16"
    for script, command in (("tools/train_digits.py", "gan"), ("tools/train_vocoder.py", "train")):
        with pytest.raises(SystemExit, match="2"):  # argparse refuses it, naming the choices
            load_script(script).main([command, "--precision", "fp16"])
    # runlog.train_in_chunks writes the precision of every chunk into scores.jsonl
    runlog = load_script("tools/runlog.py")
    records = list(runlog.train_in_chunks(trainer, tmp_path, minutes=5, steps=2, eval_every=1,
                                          evaluate=lambda: {}))
    assert [r["precision"] for r in records] == ["bf16", "bf16"]
    lines = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert [json.loads(line)["precision"] for line in lines] == ["bf16", "bf16"]


def test_vocoder_run_can_start_from_another_runs_generator_with_wider_discriminators(tmp_path, monkeypatch):
    import argparse
    tool = load_script("tools/train_vocoder.py")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    parent_dir, child_dir = tmp_path / "runs" / "hifigan_cpu", tmp_path / "runs" / "hifigan_cpu_dw0.25"
    for folder in (parent_dir, child_dir):
        folder.mkdir(parents=True)
    base = dict(preset="cpu", batch_size=2, seed=0, precision="fp32")
    parent = tool.make_trainer(argparse.Namespace(**base), parent_dir)
    parent.fit(2)
    (parent_dir / "scores.jsonl").write_text('{"step": 2}\n')
    (parent_dir / "settings.json").write_text(json.dumps({"preset": "cpu"}))
    (parent_dir / "commands.txt").write_text("python tools/train_vocoder.py train\n")
    args = argparse.Namespace(**base, discriminator_width=0.25, init_generator_from="hifigan_cpu")
    assert tool.run_name(args) == "hifigan_cpu_dw0.25"
    child = tool.make_trainer(args, child_dir)
    assert child.discriminator.mpd.discriminators[0].convs[0].out_channels == 8  # 32 x 0.25; the parent's: 4
    tool.start_generator_from(child, child_dir, "hifigan_cpu", "cpu")
    assert child.step == 2 and (child_dir / "last.pt").is_file()
    assert (child_dir / "scores.jsonl").read_text() == '{"step": 2}\n'
    for mine, theirs in zip(child.generator.state_dict().values(), parent.generator.state_dict().values()):
        assert torch.equal(mine, theirs)
    # once: a started run resumes from its own checkpoint
    child.fit(3)
    child.save_checkpoint()
    saved = torch.load(child_dir / "last.pt", weights_only=True)["step"]
    tool.start_generator_from(tool.make_trainer(args, child_dir), child_dir, "hifigan_cpu", "cpu")
    assert saved == 3 == torch.load(child_dir / "last.pt", weights_only=True)["step"]
    (child_dir / "settings.json").write_text(json.dumps({"preset": "cpu", "init_generator_from": "hifigan_cpu"}))
    (child_dir / "commands.txt").write_text("python tools/train_vocoder.py train --init-generator-from hifigan_cpu\n")
    assert tool.run_commands(child_dir) == ["python tools/train_vocoder.py train",
                                            "python tools/train_vocoder.py train --init-generator-from hifigan_cpu"]
    with pytest.raises(SystemExit, match="does not exist"):
        tool.start_generator_from(child, tmp_path / "runs" / "new", "no_such_run", "cpu")
    # a child with discriminators as wide as the parent's continues them too, and adds the STFT loss
    same = argparse.Namespace(**base, discriminator_width=None, stft_loss=10.0, init_generator_from="hifigan_cpu")
    assert tool.run_name(same) == "hifigan_cpu_stft10"
    (tmp_path / "runs" / "stft").mkdir()
    stft_child = tool.make_trainer(same, tmp_path / "runs" / "stft")
    tool.start_generator_from(stft_child, tmp_path / "runs" / "stft", "hifigan_cpu", "cpu")
    for mine, theirs in zip(stft_child.discriminator.state_dict().values(), parent.discriminator.state_dict().values()):
        assert torch.equal(mine, theirs)
    stft_child.fit(3)
    assert "stft" in stft_child.history.keys()


def test_vocoder_run_can_start_from_a_shipped_generator(tmp_path, monkeypatch):
    """A fresh checkout has no runs/: --init-generator-from data/checkpoints/<name>.pt goes on
    from the exported generator, its step and learning-rate decay, and inherits its JSON's
    commands and history so that the next export reports the whole training."""
    import argparse
    tool = load_script("tools/train_vocoder.py")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    base = dict(preset="cpu", batch_size=2, seed=0, precision="fp32")
    parent = tool.make_trainer(argparse.Namespace(**base), tmp_path / "parent")
    parent.fit(2)
    shipped = tmp_path / "data" / "checkpoints" / "voc.pt"
    shipped.parent.mkdir(parents=True)
    steps = 3 * len(parent.data) + 1  # three epochs' decay behind it
    history = [{"step": 1, "seconds": 10.0, "held_out_pesq": 1.1}, {"step": steps, "seconds": 20.0, "held_out_pesq": 1.2}]
    torch.save({"info": {"model": "hifigan", "preset": "cpu", "steps": steps}, "generator": parent.generator.state_dict()},
               shipped)
    shipped.with_suffix(".json").write_text(json.dumps(
        {"preset": "cpu", "steps": steps, "commands": ["python tools/train_vocoder.py train --minutes 60"],
         "history": history}))
    run_dir = tmp_path / "runs" / "hifigan_cpu"
    run_dir.mkdir(parents=True)
    (run_dir / "settings.json").write_text(json.dumps({"preset": "cpu", "init_generator_from": "data/checkpoints/voc.pt"}))
    (run_dir / "commands.txt").write_text("python tools/train_vocoder.py train --init-generator-from data/checkpoints/voc.pt\n")
    child = tool.make_trainer(argparse.Namespace(**base), run_dir)
    tool.start_generator_from(child, run_dir, "data/checkpoints/voc.pt", "cpu")
    for mine, theirs in zip(child.generator.state_dict().values(), parent.generator.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert child.step == steps and child.epoch == 3
    for optimizer in (child.g_optimizer, child.d_optimizer):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.999 ** 3)
    assert [json.loads(line) for line in (run_dir / "scores.jsonl").read_text().splitlines()] == history
    assert tool.run_commands(run_dir) == ["python tools/train_vocoder.py train --minutes 60",
                                          "python tools/train_vocoder.py train --init-generator-from data/checkpoints/voc.pt"]
    # resuming reads the run's own checkpoint: the step, and the decayed learning rate, carry on
    resumed = tool.make_trainer(argparse.Namespace(**base), run_dir)
    tool.start_generator_from(resumed, run_dir, "data/checkpoints/voc.pt", "cpu")
    resumed.fit(steps + 1)
    assert resumed.step == steps + 1
    assert resumed.g_optimizer.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.999 ** 3)
    with pytest.raises(SystemExit, match="'cpu' generator, this run trains 'v1'"):
        tool.start_generator_from(child, tmp_path / "runs" / "other", "data/checkpoints/voc.pt", "v1")
    with pytest.raises(SystemExit, match="needs none.pt and none.json"):
        tool.start_generator_from(child, tmp_path / "runs" / "other", "data/checkpoints/none.pt", "cpu")
    # a file that is not this preset's generator: an error naming the file and the keys
    broken = {k: v for k, v in parent.generator.state_dict().items() if not k.startswith("conv_post")}
    torch.save({"info": {}, "generator": broken}, shipped.with_name("broken.pt"))
    shipped.with_name("broken.json").write_text(shipped.with_suffix(".json").read_text())
    with pytest.raises(CheckpointMismatchError, match=r"broken\.pt.*conv_post"):
        tool.start_generator_from(child, tmp_path / "runs" / "other", "data/checkpoints/broken.pt", "cpu")


def test_fourier_vocoder_runs_warm_up_then_train_with_the_discriminator_or_never(tmp_path):
    import argparse
    tool = load_script("tools/train_vocoder.py")
    base = dict(model="fourier", preset="cpu", batch_size=2, seed=0)
    gan = tool.make_trainer(argparse.Namespace(**base, adversarial_after=3000, no_discriminator=False), tmp_path / "a")
    alone = tool.make_trainer(argparse.Namespace(**base, adversarial_after=0, no_discriminator=True), tmp_path / "b")
    assert gan.adversarial_after == 3000 and alone.adversarial_after >= 10**9 and gan.loss == "hinge"
    assert tool.run_name(argparse.Namespace(**base, no_discriminator=True)) == "fourier_cpu_nod"
    assert tool.run_name(argparse.Namespace(**base, no_discriminator=False)) == "fourier_cpu"
    assert type(gan.generator).__module__ == "ganlib.models.fourier"


def test_the_exported_history_says_when_the_bar_and_pesq_3_5_were_first_met():
    tool = load_script("tools/train_vocoder.py")
    passing = {"below_griffin_lim": {"mel_l1": -1.0, "mr_stft": 0.5}, "pesq_gain": 0.5, "stoi_gain": 0.01,
               "pitch_cents_gain": 1.0, "vuv_f1_gain": 0.0}
    records = [{"step": 500, "seconds": 900.0, "held_out_pesq": 2.0, **passing, "pesq_gain": 0.1},
               {"step": 1000, "seconds": 900.0, "held_out_pesq": 2.9, **passing},
               {"step": 1500, "seconds": 1800.0, "held_out_pesq": 3.6, **passing}]
    rows = tool.history(records)
    assert [r["train_hours"] for r in rows] == [0.25, 0.5, 1.0]
    assert tool.first_met_bar(rows) == {"bar": {"step": 1000, "train_hours": 0.5},
                                        "pesq_3.5": {"step": 1500, "train_hours": 1.0}}
    assert tool.first_met_bar(rows[:1]) == {"bar": None, "pesq_3.5": None}
