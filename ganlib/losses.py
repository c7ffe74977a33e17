"""Every GAN objective of the course, on discriminator *logits*, numerically stable.

The seed document computes `-log(D(x))` with `D(x) = sigmoid(logit)`. In float32 sigmoid(20)
is exactly 1.0, so `log(1 - D)` is `log(0) = -inf` and the gradient is NaN. Writing the same
losses on logits with softplus, `-log(sigmoid(l)) = softplus(-l)` and
`-log(1 - sigmoid(l)) = softplus(l)`, gives the same values where both are finite and stays
finite everywhere. `naive_discriminator_loss` / `naive_generator_loss` keep the seed's form so
notebook 01 can show it break.

Shapes: every loss takes tensors of logits or scores of any shape (batch, ...) and returns a
scalar (the mean). `discriminator_loss` and `generator_loss` also take a list of such tensors,
one per sub-discriminator (as in HiFi-GAN), and sum the per-discriminator means.

Notebooks: 01_gan_objective.ipynb (minimax, saturating, non-saturating),
03_stabilizing_gans.ipynb (least squares, hinge, Wasserstein, gradient penalty, R1).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


# --- the original GAN (Goodfellow et al., 2014) ------------------------------------------
def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], D = sigmoid(logit). Binary cross-entropy."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_saturating(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], the generator's side of the minimax game, to be *minimised*.

    Its gradient vanishes when D confidently rejects the fakes (early in training).
    """
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))], the 'non-saturating' generator loss Goodfellow et al. recommend."""
    return F.softplus(-fake_logits).mean()


# --- least squares (Mao et al., 2017) -----------------------------------------------------
def d_least_squares(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """LSGAN with targets b = 1 (real), a = 0 (fake): 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()


def g_least_squares(fake_scores: Tensor) -> Tensor:
    """LSGAN generator, target c = 1: 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * ((fake_scores - 1) ** 2).mean()


# --- hinge (Lim & Ye, 2017; Miyato et al., 2018) ------------------------------------------
def d_hinge(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def g_hinge(fake_scores: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_scores.mean()


# --- Wasserstein (Arjovsky et al., 2017) --------------------------------------------------
def d_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic maximises E[D(x)] - E[D(G(z))]; we minimise its negative."""
    return fake_scores.mean() - real_scores.mean()


def g_wasserstein(fake_scores: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_scores.mean()


DISCRIMINATOR_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": d_minimax,
    "nonsaturating": d_minimax,  # the discriminator's loss is the same in both GAN variants
    "saturating": d_minimax,
    "lsgan": d_least_squares,
    "hinge": d_hinge,
    "wasserstein": d_wasserstein,
}
GENERATOR_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": g_saturating,
    "saturating": g_saturating,
    "nonsaturating": g_nonsaturating,
    "lsgan": g_least_squares,
    "hinge": g_hinge,
    "wasserstein": g_wasserstein,
}
#: losses whose discriminator outputs are logits of a probability (D(x) = sigmoid(logit))
PROBABILISTIC = {"minimax", "saturating", "nonsaturating"}


def _check_kind(kind: str) -> None:
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {sorted(GENERATOR_LOSSES)}")


def _as_list(outputs: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [outputs] if isinstance(outputs, Tensor) else list(outputs)


def discriminator_loss(real_logits, fake_logits, kind: str = "nonsaturating") -> Tensor:
    """The discriminator's loss for `kind` (see GENERATOR_LOSSES for the names).

    real_logits, fake_logits: tensors (batch, ...) or equal-length lists of them, one per
    sub-discriminator; the per-discriminator losses are summed.
    """
    _check_kind(kind)
    real_list, fake_list = _as_list(real_logits), _as_list(fake_logits)
    if len(real_list) != len(fake_list):
        raise ValueError(f"{len(real_list)} real outputs but {len(fake_list)} fake outputs")
    loss_fn = DISCRIMINATOR_LOSSES[kind]
    return sum(loss_fn(real, fake) for real, fake in zip(real_list, fake_list))


def generator_loss(fake_logits, kind: str = "nonsaturating") -> Tensor:
    """The generator's adversarial loss for `kind`; lists are summed as in discriminator_loss."""
    _check_kind(kind)
    loss_fn = GENERATOR_LOSSES[kind]
    return sum(loss_fn(fake) for fake in _as_list(fake_logits))


# --- the seed's unsafe form, kept to show why it breaks -----------------------------------
def naive_discriminator_loss(real_prob: Tensor, fake_prob: Tensor) -> Tensor:
    """The seed's `-mean(log(D(x))) - mean(log(1 - D(G(z))))` on probabilities. Unsafe:
    inf/NaN once sigmoid saturates (|logit| > ~17 in float32). Notebook: 01_gan_objective."""
    return -torch.mean(torch.log(real_prob)) - torch.mean(torch.log(1 - fake_prob))


def naive_generator_loss(fake_prob: Tensor) -> Tensor:
    """The seed's `-mean(log(D(G(z))))` on probabilities. Unsafe, see above."""
    return -torch.mean(torch.log(fake_prob))


# --- regularisers -------------------------------------------------------------------------
def _sum_outputs(outputs) -> Tensor:
    """Sum discriminator outputs (a tensor, or a list of tensors) to one scalar for autograd."""
    return sum(out.sum() for out in _as_list(outputs))


def gradient_penalty(critic: Callable, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al., 2017): E[(||grad D(x_hat)||_2 - 1)^2].

    x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] per example.
    critic: callable (batch, ...) -> scores (or a list of them). real, fake: (batch, ...) on
    the same device. Returns a scalar tensor (multiply by lambda = 10 as in the paper).
    Notebook: 03_stabilizing_gans.ipynb
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape: the "
                         "penalty mixes them, so give the real batches the generator's output shape "
                         "(e.g. audio.unsqueeze(1) for a generator that outputs (batch, 1, samples))")
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(_sum_outputs(critic(x_hat)), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


def r1_penalty(discriminator: Callable, real: Tensor) -> Tensor:
    """R1 penalty (Mescheder et al., 2018): E[||grad D(x)||_2^2] on real data.

    Returns the expectation of the squared norm; the paper's regulariser is gamma / 2 times it.
    discriminator: callable (batch, ...) -> logits (or a list). real: (batch, ...).
    Notebook: 03_stabilizing_gans.ipynb
    """
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(_sum_outputs(discriminator(real)), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def feature_matching_loss(real_features, fake_features) -> Tensor:
    """L1 distance between the discriminator's feature maps on real and on generated data
    (Salimans et al., 2016; HiFi-GAN's form): sum over layers of mean |f_real - f_fake|.

    real_features, fake_features: nested lists of tensors of matching shapes (one list per
    sub-discriminator, one tensor per layer). Real features are treated as constants.
    Notebook: 07_gan_vocoders.ipynb
    """
    def flatten(nested):
        for item in nested:
            if isinstance(item, Tensor):
                yield item
            else:
                yield from flatten(item)

    real_flat, fake_flat = list(flatten(real_features)), list(flatten(fake_features))
    if len(real_flat) != len(fake_flat):
        raise ValueError(f"{len(real_flat)} real feature maps but {len(fake_flat)} fake ones")
    return sum(torch.mean(torch.abs(r.detach() - f)) for r, f in zip(real_flat, fake_flat))


def diversity_sensitive_loss(features: Tensor, cap: float) -> Tensor:
    """A generator regulariser against mode collapse (Yang et al., "Diversity-Sensitive
    Conditional GANs", ICLR 2019): pairs example i of a batch of fakes with example i + batch // 2
    and returns minus their mean L1 distance in `features` (batch, ...), each pair's distance
    clipped at `cap`. Minimising it pushes two draws of z apart, until they differ as much as
    `cap` (set it to a typical distance between two real examples, so that diversity is not
    pushed past the data's). With i.i.d. Gaussian z the paper's division by |z1 - z2| is
    nearly a constant, folded into the weight."""
    if features.shape[0] < 2:
        raise ValueError(f"diversity_sensitive_loss needs a batch of 2 or more, got {features.shape[0]}")
    if cap <= 0:
        raise ValueError(f"cap must be positive, got {cap}")
    half = features.shape[0] // 2
    distance = (features[:half] - features[half:2 * half]).abs().flatten(1).mean(dim=1)
    return -torch.clamp(distance, max=cap).mean()


# --- spectral distances (vocoders) ----------------------------------------------------------
#: Parallel WaveGAN's three STFT resolutions (Yamamoto et al., 2020): (n_fft, hop, window).
STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def multi_resolution_stft_loss(fake: Tensor, real: Tensor, resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS,
                               eps: float = 1e-7) -> Tensor:
    """Multi-resolution STFT distance (Yamamoto, Song and Kim, 2020): for each (n_fft, hop,
    window) resolution, spectral convergence ||S_real - S_fake||_F / ||S_real||_F plus the mean
    |log S_real - log S_fake| of the magnitudes (Hann window, centred frames); the mean over the
    resolutions. 0 for identical audio; it ignores phase, so a vocoder is not punished for a
    waveform that sounds the same but is shifted by less than a window.

    fake, real: (batch, samples) or (samples,), the same shape. Differentiable (a loss), and
    the distance ganlib.metrics.multi_resolution_stft_distance reports.
    Notebook: 07_gan_vocoders.ipynb
    """
    if fake.shape != real.shape:
        raise ValueError(f"fake {tuple(fake.shape)} and real {tuple(real.shape)} must have the same shape")
    total = fake.new_zeros(())
    for n_fft, hop, window in resolutions:
        args = dict(n_fft=n_fft, hop_length=hop, win_length=window, center=True,
                    window=torch.hann_window(window, device=fake.device), return_complex=True)
        s_fake = torch.stft(fake.reshape(-1, fake.shape[-1]).float(), **args).abs().clamp(min=eps)
        s_real = torch.stft(real.reshape(-1, real.shape[-1]).float(), **args).abs().clamp(min=eps)
        convergence = torch.linalg.norm(s_real - s_fake) / torch.linalg.norm(s_real).clamp(min=eps)
        log_magnitude = F.l1_loss(torch.log(s_fake), torch.log(s_real))
        total = total + convergence + log_magnitude
    return total / len(resolutions)


# --- phase (Fourier-head vocoders) ---------------------------------------------------------
def anti_wrap(x: Tensor) -> Tensor:
    """|x - 2 pi round(x / 2 pi)|: the distance of an angle difference from the nearest multiple
    of 2 pi, in [0, pi] (APNet's anti-wrapping function), so that 0.1 and 2 pi - 0.1 apart
    count as 0.1. Notebook: 07_gan_vocoders.ipynb"""
    return torch.abs(x - 2 * torch.pi * torch.round(x / (2 * torch.pi)))


def _weighted_mean(x: Tensor, weight: Tensor | None) -> Tensor:
    return x.mean() if weight is None else (x * weight).sum() / weight.sum().clamp_min(1e-12)


def phase_losses(predicted: Tensor, true: Tensor, weight: Tensor | None = None) -> dict[str, Tensor]:
    """APNet's anti-wrapped phase losses (Ai and Ling, 2023) between two phase spectra
    (batch, bins, frames), in radians:

        instantaneous_phase      mean anti_wrap(P' - P)
        group_delay              mean anti_wrap(D_f P' - D_f P)   (D_f: difference along frequency)
        instantaneous_frequency  mean anti_wrap(D_t P' - D_t P)   (D_t: difference along time)

    weight (batch, bins, frames), e.g. sqrt|S| of the true spectrum: a weighted mean instead,
    so that bins without energy, whose phase is noise, count little (for the differences, the
    smaller weight of the two bins). 0 for identical phases, or ones that differ by 2 pi k.
    Notebook: 07_gan_vocoders.ipynb"""
    if predicted.shape != true.shape:
        raise ValueError(f"predicted and true phases differ in shape: {tuple(predicted.shape)} vs {tuple(true.shape)}")
    group = torch.minimum(weight[..., 1:, :], weight[..., :-1, :]) if weight is not None else None
    across = torch.minimum(weight[..., 1:], weight[..., :-1]) if weight is not None else None
    return {"instantaneous_phase": _weighted_mean(anti_wrap(predicted - true), weight),
            "group_delay": _weighted_mean(anti_wrap(torch.diff(predicted, dim=-2) - torch.diff(true, dim=-2)), group),
            "instantaneous_frequency": _weighted_mean(
                anti_wrap(torch.diff(predicted, dim=-1) - torch.diff(true, dim=-1)), across)}


def stft_consistency_loss(spectrum: Tensor, n_fft: int, hop_length: int, win_length: int,
                          window: Tensor) -> Tensor:
    """APNet's consistency loss: how far a predicted complex spectrum (batch, bins, frames) is
    from being the STFT of any signal, mean |S - STFT(ISTFT(S))|^2 over real and imaginary
    parts (Hann window, centred frames). 0 for the STFT of a signal.
    Notebook: 07_gan_vocoders.ipynb"""
    rebuilt = torch.stft(torch.istft(spectrum, n_fft, hop_length, win_length, window, center=True),
                         n_fft, hop_length, win_length, window, center=True, return_complex=True)
    frames = min(rebuilt.shape[-1], spectrum.shape[-1])
    difference = spectrum[..., :frames] - rebuilt[..., :frames]
    return (difference.real.square() + difference.imag.square()).mean()
