"""Checks for the exercises of chapter 02, the seed's MLP GAN on points and on audio frames.

Each check calls the student's function on a few cases, compares with a reference and raises
AssertionError with a hint when it is wrong. Checks run inside torch.random.fork_rng, so they
never change the notebook's random numbers. Notebook: 02_first_gan.ipynb
"""
from __future__ import annotations

import copy
import math

import torch

from .. import audio, losses
from ..models import mlp
from . import answer_tensor as _tensor


def _tone(frequency: float, length: int, sample_rate: int, amplitude: float = 0.8, phase: float = 0.7):
    t = torch.arange(length, dtype=torch.float) / sample_rate
    return amplitude * torch.sin(2 * math.pi * frequency * t + phase)


# --- 02.d_step ----------------------------------------------------------------------------
def _reference_d_step(generator, discriminator, d_optimizer, real, z):
    d_optimizer.zero_grad()
    fake = generator(z)
    loss = losses.d_minimax(discriminator(real), discriminator(fake.detach()))
    loss.backward()
    d_optimizer.step()
    return loss


def check_d_step(my_discriminator_step) -> None:
    """my_discriminator_step(generator, discriminator, d_optimizer, real, z) performs steps 3-5
    (fake batch, D loss on logits, update D) and returns the loss; G must stay untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generator = mlp.Generator(1, latent_dim=4, hidden=(8, 8))
        discriminator = mlp.Discriminator(1, hidden=(8, 8))
        batches = [(torch.randn(16, 1) * 0.3, torch.randn(16, 4)) for _ in range(2)]
        cases = [("an ordinary discriminator", 0.0),
                 ("a very confident discriminator (logits around +60)", 60.0)]
        for name, bias in cases:
            with torch.no_grad():
                discriminator.main[-1].bias.fill_(bias)
            mine = (copy.deepcopy(generator), copy.deepcopy(discriminator))
            ref = (copy.deepcopy(generator), copy.deepcopy(discriminator))
            my_opt = torch.optim.Adam(mine[1].parameters(), lr=1e-2, betas=(0.5, 0.999))
            ref_opt = torch.optim.Adam(ref[1].parameters(), lr=1e-2, betas=(0.5, 0.999))
            for call, (real, z) in enumerate(batches, start=1):
                expected = _reference_d_step(*ref, ref_opt, real, z)
                got = _tensor(my_discriminator_step(*mine, my_opt, real.clone(), z.clone()),
                              "my_discriminator_step(...)")
                assert got.numel() == 1, f"return the loss as a scalar, got shape {tuple(got.shape)}"
                assert math.isfinite(got.item()), (
                    f"with {name} your loss is {got.item()}: log of a saturated sigmoid. Compute the "
                    "loss on logits (F.binary_cross_entropy_with_logits or F.softplus).")
                assert math.isclose(got.item(), expected.item(), rel_tol=1e-4, abs_tol=1e-5), (
                    f"with {name} (call {call}) expected the loss {expected.item():.5f}, got {got.item():.5f}: "
                    "-mean(log D(real)) - mean(log(1 - D(fake))), computed before the update.")
                for p in mine[0].parameters():
                    assert p.grad is None or not p.grad.abs().any(), (
                        "the generator received gradients: detach the fake batch (fake.detach()) "
                        "before showing it to the discriminator in its own step")
                for (key, a), b in zip(mine[1].state_dict().items(), ref[1].state_dict().values()):
                    assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), (
                        f"with {name} (call {call}) the discriminator's {key} differs from one Adam step "
                        "on the loss" + (": did you call d_optimizer.zero_grad() first? Gradients "
                                         "accumulate across calls" if call > 1 else
                                         ": call loss.backward() and d_optimizer.step()"))
                for (key, a), b in zip(mine[0].state_dict().items(), ref[0].state_dict().values()):
                    assert torch.equal(a, b), f"the generator's {key} changed: only D is updated in this step"


# --- 02.generator_parameters --------------------------------------------------------------
def _generator_parameters(out_features: int, latent_dim: int = 100) -> int:
    return (latent_dim + 1) * 256 + (256 + 1) * 512 + (512 + 1) * out_features


def check_generator_parameters(my_count) -> None:
    """my_count(out_features, latent_dim=100) -> the seed generator's parameter count."""
    for out_features, latent_dim in ((1, 100), (1024, 100), (16000, 100), (7, 8)):
        expected = _generator_parameters(out_features, latent_dim)
        got = _tensor(my_count(out_features, latent_dim=latent_dim),
                      f"my_count({out_features}, latent_dim={latent_dim})").item()
        no_bias = latent_dim * 256 + 256 * 512 + 512 * out_features
        assert got != no_bias, "you counted the weights only: every nn.Linear(n_in, n_out) also has n_out biases"
        assert got == expected, (
            f"for out_features={out_features}, latent_dim={latent_dim} expected {expected}, got {got:g}. "
            "Add (n_in + 1) * n_out for each of the three Linear layers: latent -> 256 -> 512 -> out.")
    assert _generator_parameters(3, 5) == sum(p.numel() for p in mlp.Generator(3, latent_dim=5).parameters())


# --- 02.dominant_frequency ----------------------------------------------------------------
def check_dominant_frequency(my_dominant_frequency) -> None:
    """my_dominant_frequency(frames, sample_rate) -> (batch,) Hz, within one FFT bin of
    ganlib.audio.dominant_frequency, on tones, offsets and two-tone mixtures."""
    with torch.random.fork_rng():
        torch.manual_seed(2)
        for length, sample_rate in ((1024, 16000), (512, 8000)):
            bin_width = sample_rate / length
            pitches = torch.exp(math.log(150) + torch.rand(6) * math.log(10)).tolist()
            frames = [_tone(f, length, sample_rate, phase=6 * torch.rand(1).item()) for f in pitches]
            frames.append(0.5 + _tone(pitches[0], length, sample_rate, amplitude=0.3))
            frames.append(_tone(pitches[1], length, sample_rate, 0.6) + _tone(pitches[2], length, sample_rate, 0.2))
            frames = torch.stack(frames)
            expected = audio.dominant_frequency(frames, sample_rate).double()
            got = _tensor(my_dominant_frequency(frames.clone(), sample_rate),
                          "my_dominant_frequency(frames, sample_rate)")
            assert got.shape == expected.shape, (f"expected one frequency per frame, shape "
                                                 f"{tuple(expected.shape)}, got {tuple(got.shape)}")
            wrong = ((got - expected).abs() > bin_width + 1e-6).nonzero().flatten().tolist()
            if not wrong:
                continue
            index = wrong[0]
            hint = {len(pitches): "that frame has a constant offset (DC): remove each frame's mean "
                                  "first and skip the 0 Hz bin",
                    len(pitches) + 1: "that frame mixes a loud and a quiet tone: take the largest magnitude"}
            raise AssertionError(
                f"with {length}-sample frames at {sample_rate} Hz, frame {index}: expected about "
                f"{expected[index].item():.1f} Hz, got {got[index].item():.1f} Hz. "
                + hint.get(index, "bin k of torch.fft.rfft of a length-N frame is k * sample_rate / N Hz "
                                  "(torch.fft.rfftfreq(N, 1 / sample_rate))"))


# --- 02.distinct_pitches ------------------------------------------------------------------
def _distinct_pitches(frequencies, min_fraction: float = 0.02) -> int:
    notes = torch.round(69 + 12 * torch.log2(torch.as_tensor(frequencies, dtype=torch.float64) / 440))
    _, counts = torch.unique(notes, return_counts=True)
    return int((counts >= min_fraction * len(notes)).sum())


def check_distinct_pitches(my_distinct_pitches) -> None:
    """my_distinct_pitches(frequencies, min_fraction=0.02) -> how many semitones (MIDI notes)
    hold at least min_fraction of the frequencies."""
    with torch.random.fork_rng():
        torch.manual_seed(3)
        spread = torch.exp(math.log(220) + torch.rand(400) * math.log(4))
    collapsed = torch.tensor([440.0] * 100 + [445.0] * 50 + [466.2] * 30 + [1000.0])
    cases = [("100 x 440 Hz, 50 x 445 Hz, 30 x 466.2 Hz and one 1000 Hz", collapsed, 0.02),
             ("the same, counting every note (min_fraction=0)", collapsed, 0.0),
             ("400 log-uniform pitches from 220 to 880 Hz", spread, 0.02),
             ("400 log-uniform pitches, notes with at least 5% of them", spread, 0.05)]
    for name, frequencies, min_fraction in cases:
        expected = _distinct_pitches(frequencies, min_fraction)
        got = _tensor(my_distinct_pitches(frequencies.clone(), min_fraction=min_fraction),
                      "my_distinct_pitches(frequencies, min_fraction)").item()
        assert got == expected, (
            f"for {name} expected {expected} distinct pitches, got {got:g}. Round "
            "69 + 12 * log2(f / 440) to the nearest MIDI note; a note counts if it holds at least "
            "min_fraction of all the frequencies (440 and 445 Hz are both A4).")


CHECKS = {
    "02.d_step": check_d_step,
    "02.generator_parameters": check_generator_parameters,
    "02.dominant_frequency": check_dominant_frequency,
    "02.distinct_pitches": check_distinct_pitches,
}
