"""ganlib.train: resume equals uninterrupted, NaN stops keep the checkpoint, interrupts, safe
loading, architecture mismatches, and the loop's options (n_critic, GP, R1, EMA, conditions,
feature-map discriminators, extra generator losses)."""
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ganlib
from ganlib import losses, toy
from ganlib.models import mlp
from ganlib.train import (CheckpointMismatchError, NonFiniteLossError, Trainer, load_checkpoint,
                          load_generator)


def small_gan(out_features=1, latent_dim=8):
    return (mlp.Generator(out_features, latent_dim=latent_dim, hidden=(16, 16)),
            mlp.Discriminator(out_features, hidden=(16, 16)))


def mixture_loader(n=96, batch_size=16):
    """A shuffled DataLoader whose epochs end mid-run, to exercise the data replay on resume.
    The data set itself is the same whatever the global seed."""
    state = torch.get_rng_state()
    torch.manual_seed(1234)
    points = toy.gaussian_mixture_1d(n)
    torch.set_rng_state(state)
    return DataLoader(TensorDataset(points), batch_size=batch_size, shuffle=True)


def make_trainer(tmp_path=None, seed=0, **options):
    ganlib.config.seed_everything(seed)
    generator, discriminator = small_gan()
    data = mixture_loader()
    defaults = dict(loss="wasserstein", n_critic=2, gp_weight=10.0, ema_decay=0.9, progress=False,
                    log_every=3, checkpoint_dir=tmp_path, device="cpu",
                    g_scheduler=None)
    defaults.update(options)
    return Trainer(generator, discriminator, data, **defaults)


def weights(trainer):
    modules = [trainer.generator, trainer.discriminator, trainer.generator_ema]
    return [t.clone() for m in modules if m is not None for t in m.state_dict().values()]


def test_resume_is_bit_for_bit_the_same_as_training_straight(tmp_path):
    k = 7  # the 96-sample loader has 6 batches; n_critic=2 crosses epoch ends at odd points
    straight = make_trainer()
    straight.fit(2 * k)

    first = make_trainer(tmp_path / "run")
    first.fit(k)
    assert (tmp_path / "run" / "last.pt").is_file()

    resumed = make_trainer(tmp_path / "run", seed=999)  # other init, other RNG: all restored
    resumed.fit(2 * k)
    assert resumed.step == 2 * k
    for a, b in zip(weights(straight), weights(resumed)):
        assert torch.equal(a, b)
    assert straight.history.state_dict() == resumed.history.state_dict()
    for a, b in zip(straight.d_optimizer.state_dict()["state"].values(),
                    resumed.d_optimizer.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_resume_with_an_endless_sampler_and_schedulers(tmp_path):
    def build(directory, seed):
        ganlib.config.seed_everything(seed)
        generator, discriminator = small_gan(2)
        g_opt = torch.optim.Adam(generator.parameters(), 1e-3)
        d_opt = torch.optim.Adam(discriminator.parameters(), 1e-3)
        return Trainer(generator, discriminator, toy.Sampler(toy.ring_of_gaussians, 32, batches_per_epoch=4),
                       g_optimizer=g_opt, d_optimizer=d_opt, loss="hinge", r1_weight=1.0,
                       g_scheduler=torch.optim.lr_scheduler.ExponentialLR(g_opt, 0.9),
                       d_scheduler=torch.optim.lr_scheduler.ExponentialLR(d_opt, 0.9),
                       progress=False, checkpoint_dir=directory, device="cpu")
    straight = build(None, 0)
    straight.fit(10)
    build(tmp_path, 0).fit(5)
    resumed = build(tmp_path, 1)
    resumed.fit(10)
    for a, b in zip(weights(straight), weights(resumed)):
        assert torch.equal(a, b)
    assert straight.g_optimizer.param_groups[0]["lr"] == resumed.g_optimizer.param_groups[0]["lr"] == 1e-3 * 0.9 ** 2


def test_resuming_at_another_learning_rate_uses_the_new_one(tmp_path):
    make_trainer(tmp_path, lr=1e-3).fit(4)
    fine_tune = make_trainer(tmp_path, lr=1e-4, lr_d=3e-4)  # the same run, resumed to fine-tune
    fine_tune.fit(6)
    assert fine_tune.step == 6
    assert [g["lr"] for g in fine_tune.g_optimizer.param_groups] == [1e-4]
    assert [g["lr"] for g in fine_tune.d_optimizer.param_groups] == [3e-4]
    assert fine_tune.g_optimizer.state_dict()["state"][0]["step"] == 6  # Adam's moments carried on


class ExplodingGenerator(nn.Module):
    """A generator whose output turns to NaN from a given call on."""

    latent_dim = 4

    def __init__(self, bad_from_call):
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.calls, self.bad_from_call = 0, bad_from_call

    def forward(self, z):
        self.calls += 1
        out = self.linear(z)
        return out * math.nan if self.calls >= self.bad_from_call else out


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    ganlib.config.seed_everything(0)
    data = toy.Sampler(lambda n: torch.randn(n, 1), batch_size=8)
    trainer = Trainer(ExplodingGenerator(bad_from_call=13), mlp.Discriminator(1, hidden=(8,)), data,
                      progress=False, log_every=4, checkpoint_dir=tmp_path, checkpoint_every=5, device="cpu")
    with pytest.raises(NonFiniteLossError, match=r"non-finite d_loss \(nan\) at step 13.*last good checkpoint .*step 10"):
        trainer.fit(30)
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    assert checkpoint["step"] == 10
    assert all(torch.isfinite(t).all() for t in checkpoint["generator"].values())
    assert len(checkpoint["history"]["g_loss"]) == 10


def test_interrupt_returns_what_was_trained_and_checkpoints(tmp_path, capsys):
    def press_stop(trainer):
        raise KeyboardInterrupt

    trainer = make_trainer(tmp_path, callbacks=[(6, press_stop)])
    history = trainer.fit(100)
    assert trainer.step == 6 and len(history) == 6 and trainer.interrupted
    assert "interrupted at step 6" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 6
    # and the training continues from there
    again = make_trainer(tmp_path)
    assert not again.interrupted
    again.fit(8)
    assert again.step == 8 and len(again.history) == 8 and not again.interrupted


def test_interrupt_without_a_checkpoint_folder_still_returns(capsys):
    def press_stop(trainer):
        raise KeyboardInterrupt

    trainer = make_trainer(None, callbacks=[(2, press_stop)])
    trainer.fit(10)
    assert trainer.step == 2 and "interrupted at step 2" in capsys.readouterr().out


def test_checkpoints_load_with_weights_only_and_refuse_pickled_code(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(3)
    path = tmp_path / "last.pt"
    checkpoint = torch.load(path, weights_only=True)  # what load_checkpoint does
    assert checkpoint["step"] == 3 and checkpoint["format"] == ganlib.train.CHECKPOINT_FORMAT

    class Payload:
        def __reduce__(self):
            return (print, ("this code must not run",))

    hostile = tmp_path / "hostile.pt"
    with open(hostile, "wb") as file:
        pickle.dump({"generator": Payload()}, file)
    with pytest.raises(ValueError, match="hostile.pt could not be read safely"):
        load_checkpoint(hostile)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    trainer.fit(3)
    before = (tmp_path / "last.pt").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint()
    assert (tmp_path / "last.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary left behind


def test_loading_another_architecture_names_the_mismatched_keys(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(2)
    bigger = mlp.Generator(1, latent_dim=8, hidden=(32, 16))
    with pytest.raises(CheckpointMismatchError, match=r"generator.*main\.0\.weight: checkpoint \(16, 8\) vs model \(32, 8\)"):
        load_generator(bigger, tmp_path / "last.pt")
    deeper = mlp.Generator(1, latent_dim=8, hidden=(16, 16, 16))
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: main\.6\.bias"):
        load_generator(deeper, tmp_path / "last.pt")
    other = Trainer(mlp.Generator(1, latent_dim=8, hidden=(16, 16)), mlp.Discriminator(1, hidden=(8,)),
                    mixture_loader(), checkpoint_dir=tmp_path, progress=False, device="cpu")
    with pytest.raises(CheckpointMismatchError, match="discriminator weights do not match"):
        other.fit(4)


def test_load_generator_prefers_the_moving_average(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(4)
    generator = load_generator(small_gan()[0], tmp_path / "last.pt")
    z = torch.randn(5, 8)
    assert torch.equal(generator(z), trainer.generator_ema(z))
    assert not generator.training


def test_missing_checkpoint_and_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    generator, discriminator = small_gan()
    with pytest.raises(TypeError, match="DataLoader\\(TensorDataset"):
        Trainer(generator, discriminator, torch.zeros(10, 1))
    with pytest.raises(ValueError, match="n_critic must be an int >= 1, got 0"):
        Trainer(generator, discriminator, mixture_loader(), n_critic=0)
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan-gp'"):
        Trainer(generator, discriminator, mixture_loader(), loss="wgan-gp")


def test_training_moves_the_generator_towards_the_data():
    ganlib.config.seed_everything(0)
    generator, discriminator = mlp.Generator(1, latent_dim=8, hidden=(64, 64)), mlp.Discriminator(1, hidden=(64, 64))
    data = toy.Sampler(toy.gaussian_mixture_1d, batch_size=128)
    real = toy.gaussian_mixture_1d(4000).sort(dim=0).values

    def distance():  # 1-D Wasserstein-1 distance between sorted samples
        with torch.no_grad():
            fake = generator(torch.randn(4000, 8)).sort(dim=0).values
        return (fake - real).abs().mean().item()

    before = distance()
    trainer = Trainer(generator, discriminator, data, lr=1e-3, progress=False, device="cpu")
    trainer.fit(400)
    assert distance() < 0.5 * before
    assert set(trainer.history.keys()) >= {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"}
    assert 0.0 < trainer.history.mean("d_real") < 1.0  # a probability for the minimax family


class ConditionalGenerator(nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.embed, self.net = nn.Embedding(3, 4), nn.Linear(8, 2)

    def forward(self, z, label):
        return self.net(torch.cat([z, self.embed(label)], dim=1))


class FeatureDiscriminator(nn.Module):
    """Two sub-discriminators that return (logits list, feature maps), as HiFi-GAN's do."""

    def __init__(self, conditional=True):
        super().__init__()
        self.conditional = conditional
        self.embed = nn.Embedding(3, 2)
        self.a, self.b = nn.Linear(2, 6), nn.Linear(2, 6)
        self.head_a, self.head_b = nn.Linear(6, 1), nn.Linear(6, 1)

    def forward(self, x, label=None):
        if self.conditional:
            x = x + self.embed(label)
        fa, fb = torch.relu(self.a(x)), torch.relu(self.b(x))
        return [self.head_a(fa), self.head_b(fb)], [[fa], [fb]]


def test_conditional_gan_with_feature_maps_and_an_extra_generator_loss():
    ganlib.config.seed_everything(0)
    labels = torch.randint(3, (60,))
    points = toy.ring_centers(3)[labels]
    data = DataLoader(TensorDataset(points, labels), batch_size=12, shuffle=True)
    seen = {}

    def feature_matching(step):
        seen["features"] = len(step.d_real.features)
        return {"fm": 2.0 * losses.feature_matching_loss(step.d_real.features, step.d_fake.features)}

    trainer = Trainer(ConditionalGenerator(), FeatureDiscriminator(), data, loss="lsgan", progress=False,
                      extra_generator_loss=feature_matching, device="cpu", log_every=5)
    trainer.fit(10)
    assert seen["features"] == 2 and len(trainer.history["fm"]) == 10
    samples = trainer.sample(condition=torch.tensor([0, 1, 2, 2]))
    assert samples.shape == (4, 2)


def test_a_vocoder_style_generator_maps_the_condition_without_noise():
    ganlib.config.seed_everything(0)
    mel = torch.randn(32, 2)
    audio = mel @ torch.randn(2, 8)  # a learnable mapping from 'mel' to 'audio'
    data = DataLoader(TensorDataset(audio, mel), batch_size=8)
    generator = nn.Linear(2, 8)  # "mel" (batch, 2) -> "audio" (batch, 8); no latent_dim
    discriminator = nn.Sequential(nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def mel_l1(step):
        return {"mel": 45.0 * (step.fake - step.real).abs().mean()}

    trainer = Trainer(generator, discriminator, data, loss="lsgan", extra_generator_loss=mel_l1,
                      progress=False, device="cpu", lr=5e-2)
    trainer.fit(60)
    assert trainer.history["mel"][-1] < 0.5 * trainer.history["mel"][0]
    assert trainer.sample(condition=mel[:3]).shape == (3, 8)


def test_callbacks_run_every_n_steps_with_a_current_history():
    calls = []
    trainer = make_trainer(None, callbacks=[(4, lambda t: calls.append((t.step, len(t.history))))])
    trainer.fit(12)
    assert calls == [(4, 4), (8, 8), (12, 12)]


def test_bf16_autocast_runs_on_cpu():
    trainer = make_trainer(None, precision="bf16", gp_weight=0.0, n_critic=1)
    trainer.fit(3)
    assert all(math.isfinite(v) for v in trainer.history["g_loss"])


def test_ema_warms_up_from_the_initial_weights():
    # decay at step t: min(ema_decay, (1 + t) / (10 + t)); at t = 0 that is 0.1
    trainer = make_trainer(None, ema_decay=0.75, n_critic=1, gp_weight=0.0)
    before = [p.clone() for p in trainer.generator_ema.parameters()]
    trainer.fit(1)
    for ema, start, now in zip(trainer.generator_ema.parameters(), before, trainer.generator.parameters()):
        assert torch.allclose(ema, 0.1 * start + 0.9 * now)
    trainer.fit(100)  # (1 + 100) / 110 > 0.75: the full decay from here on
    before = [p.clone() for p in trainer.generator_ema.parameters()]
    trainer.fit(101)
    for ema, start, now in zip(trainer.generator_ema.parameters(), before, trainer.generator.parameters()):
        assert torch.allclose(ema, 0.75 * start + 0.25 * now)


def test_ema_is_the_exponential_moving_average_of_the_generator():
    trainer = make_trainer(None, ema_decay=0.75, ema_warmup=False, n_critic=1, gp_weight=0.0)
    before = [p.clone() for p in trainer.generator_ema.parameters()]
    trainer.fit(1)
    for ema, start, now in zip(trainer.generator_ema.parameters(), before, trainer.generator.parameters()):
        assert torch.allclose(ema, 0.75 * start + 0.25 * now)
    assert not any(p.requires_grad for p in trainer.generator_ema.parameters())


def test_progress_bar_shows_live_losses(capsys):
    trainer = make_trainer(None, progress=True, log_every=2)
    trainer.fit(4)
    shown = capsys.readouterr().err
    assert "training" in shown and "4/4" in shown and "g_loss=" in shown


def test_gradient_clipping_bounds_the_update_and_the_history_logs_the_norm_before_it():
    trainer = make_trainer(None, grad_clip=1e-3, n_critic=1, gp_weight=0.0)
    before = [p.clone() for p in trainer.generator.parameters()]
    trainer.fit(1)
    norm_g = trainer.history["grad_norm_g"][0]
    assert norm_g > 1e-3  # the norm logged is the one before clipping
    # Adam's first step moves each weight by about lr whatever the gradient's size, so check the
    # clipped gradients themselves: their total norm is the clip value.
    clipped = torch.nn.utils.clip_grad_norm_([p for p in trainer.generator.parameters()], float("inf"))
    assert clipped.item() == pytest.approx(1e-3, rel=1e-3)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters()))


def test_a_training_step_reads_nothing_back_from_the_device(monkeypatch):
    """On a GPU each read-back (item, tolist, cpu, bool, ...) waits for the device. ganlib's own
    code may only do that at logging intervals (_flush), never inside train_step."""
    import sys
    from pathlib import Path

    package = str(Path(ganlib.__file__).parent)
    reads = []

    def trap(name, original):
        def wrapper(self, *args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(package):
                reads.append((name, caller, sys._getframe(1).f_lineno))
            return original(self, *args, **kwargs)
        return wrapper

    trainer = make_trainer(None, r1_weight=1.0, grad_clip=5.0)
    trainer.fit(2)  # warm up outside the trap
    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, trap(name, getattr(torch.Tensor, name)))
    for _ in range(3):
        trainer.train_step()
    assert not reads, f"device read-backs inside train_step: {reads}"
    trainer._buffer.append((99, trainer.train_step()))
    trainer._flush()
    assert reads, "the trap should see the read-back that _flush makes"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_no_gpu_synchronisation_inside_a_step_on_cuda():
    trainer = make_trainer(None, device="cuda", grad_clip=5.0)
    trainer.fit(2)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.train_step()
    finally:
        torch.cuda.set_sync_debug_mode("default")


class ClassifyingDiscriminator(nn.Module):
    """A conditional discriminator with an auxiliary classifier (AC-GAN): a dict answer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2))
        self.judge, self.classes = nn.Linear(16, 1), nn.Linear(16, 3)

    def forward(self, x, label=None):
        h = self.body(x)
        return {"logits": self.judge(h), "classes": self.classes(h)}


def test_auxiliary_classifier_teaches_d_to_classify_and_g_to_make_the_asked_class():
    ganlib.config.seed_everything(0)
    labels = torch.randint(3, (120,))
    points = toy.ring_centers(3)[labels] + 0.05 * torch.randn(120, 2)
    data = DataLoader(TensorDataset(points, labels), batch_size=24, shuffle=True)
    trainer = Trainer(ConditionalGenerator(), ClassifyingDiscriminator(), data, loss="hinge", progress=False,
                      classifier_weight=1.0, device="cpu", log_every=1, lr=5e-3)
    trainer.fit(150)
    d_class, g_class = trainer.history["d_class"], trainer.history["g_class"]
    assert np.mean(d_class[-10:]) < 0.3 * np.mean(d_class[:5])  # D learns the classes of real points
    assert np.mean(g_class[-10:]) < 0.5 * np.mean(g_class[:5])  # G learns to make them
    # the fakes asked for class k land nearest ring centre k
    asked = torch.arange(3).repeat(20)
    with torch.no_grad():
        samples = trainer.sample(condition=asked)
    nearest = torch.cdist(samples, toy.ring_centers(3)).argmin(dim=1)
    assert (nearest == asked).float().mean() > 0.8


def test_classifier_weight_needs_class_logits_and_labels():
    data = DataLoader(TensorDataset(torch.randn(8, 2), torch.randint(3, (8,))), batch_size=4)
    trainer = Trainer(ConditionalGenerator(), FeatureDiscriminator(), data, classifier_weight=1.0,
                      progress=False, device="cpu")
    with pytest.raises(ValueError, match="classifier_weight needs class labels"):
        trainer.fit(1)
    with pytest.raises(ValueError, match="classifier_weight must be >= 0"):
        Trainer(ConditionalGenerator(), FeatureDiscriminator(), data, classifier_weight=-1.0)
    with pytest.raises(TypeError, match="needs 'logits'"):
        ganlib.train.DiscriminatorOutput.of({"classes": torch.zeros(2, 3)})


def test_stop_on_signals_turns_sigterm_into_a_checkpointed_stop(tmp_path, capsys):
    import os
    import signal

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ganlib.train.stop_on_signals()
        trainer = make_trainer(tmp_path, callbacks=[(3, lambda t: os.kill(os.getpid(), signal.SIGTERM))])
        trainer.fit(50)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert trainer.interrupted and trainer.step == 3
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 3
    assert "interrupted at step 3" in capsys.readouterr().out
