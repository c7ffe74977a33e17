"""Solutions to the exercises of notebooks/02_first_gan.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch02.py.
"""
import torch
import torch.nn.functional as F


def discriminator_step(generator, discriminator, d_optimizer, real, z):
    """Steps 3-5 of the seed's algorithm on logits: make a fake batch, score both batches,
    minimise -mean(log D(real)) - mean(log(1 - D(fake))), update D only (fake is detached)."""
    d_optimizer.zero_grad()
    fake = generator(z)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    loss.backward()
    d_optimizer.step()
    return loss


def generator_parameters(out_features, latent_dim=100):
    """(n_in + 1) * n_out per Linear layer: latent -> 256 -> 512 -> out_features."""
    return (latent_dim + 1) * 256 + (256 + 1) * 512 + (512 + 1) * out_features


def dominant_frequency(frames, sample_rate):
    """The frequency of the strongest non-DC rfft bin of each frame, mean removed, Hann window."""
    centred = frames - frames.mean(dim=-1, keepdim=True)
    window = torch.hann_window(frames.shape[-1], periodic=False)
    magnitude = torch.fft.rfft(centred * window, dim=-1).abs()
    frequencies = torch.fft.rfftfreq(frames.shape[-1], d=1 / sample_rate)
    return frequencies[magnitude[..., 1:].argmax(dim=-1) + 1]


def distinct_pitches(frequencies, min_fraction=0.02):
    """How many MIDI notes (semitones) hold at least min_fraction of the frequencies."""
    notes = torch.round(69 + 12 * torch.log2(torch.as_tensor(frequencies, dtype=torch.float64) / 440))
    _, counts = torch.unique(notes, return_counts=True)
    return int((counts >= min_fraction * len(notes)).sum())


SOLUTIONS = {
    "02.d_step": discriminator_step,
    "02.generator_parameters": generator_parameters,
    "02.dominant_frequency": dominant_frequency,
    "02.distinct_pitches": distinct_pitches,
}
