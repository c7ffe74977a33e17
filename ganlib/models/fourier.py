"""Fourier-head vocoders: a mel spectrogram in, the short-time Fourier transform (magnitude and
phase) predicted frame by frame, one inverse STFT out (Vocos, Siuzdenko 2023; APNet, Ai and Ling
2023; FreeV, Lv et al. 2024).

    Generator    log-mel (n_mels, frames) -> Conv1d (7 taps) -> LayerNorm
                 -> ConvNeXt blocks at frame rate: depthwise conv (7 taps), LayerNorm,
                    Linear dim -> intermediate, GELU, Linear -> dim, times a learned per-channel
                    scale, plus the input
                 -> LayerNorm -> the Fourier head, per frame and frequency bin:
                    log-magnitude, and a real/imaginary pair whose angle is the phase (APNet's
                    parallel phase estimation: atan2(imaginary, real), never wrapped)
                 -> S = magnitude x e^(i phase) -> inverse STFT                -> (1, samples)
    MultiResolutionDiscriminator  UnivNet's: 2-D convolutions over |STFT| at three resolutions
    Discriminator                 hifigan.MultiPeriodDiscriminator (reused) + the MRD, as Vocos

A HiFi-GAN upsamples 256-fold through transposed convolutions and must learn to make a
waveform's fine structure; here the network never leaves the frame rate (86 frames a second),
and the inverse STFT, a fixed linear map, makes the samples. That is why it trains and runs
several times faster on a CPU.

The magnitude (`magnitude=`):
    "learned"   the head predicts log|S| for every bin (Vocos);
    "residual"  log|S| = log of the mel's pseudo-inverse magnitude + a learned residual (FreeV);
    "prior"     below the mel's fmax the pseudo-inverse magnitude itself, above it learned
                (the mel says nothing above fmax): the phase is all the network must learn
                below fmax. The course's CPU preset.
The mel's pseudo-inverse magnitude with the true phase scores PESQ 4.16 on the held-out
sentences, Griffin-Lim's phase for it 2.02: the phase is what a vocoder must learn.

Presets (PRESETS): "vocos" exactly as Vocos' published mel configuration (24 kHz, 100 mels,
n_fft 1024, hop 256, dim 512, intermediate 1536, 8 blocks: 13,531,650 parameters, the paper's
13.5 M; learned magnitude, the phase as one angle per bin through cos and sin, phase="angle")
and "cpu", the course's laptop size on
hifigan.MEL (22.05 kHz, 80 mels), so that the same mels drive HiFi-GAN, this vocoder and
Griffin-Lim.

Losses (generator_losses): mel L1 x 45, feature matching, the anti-wrapped phase losses of APNet
(instantaneous phase, group delay, instantaneous angular frequency: ganlib.losses.phase_losses)
and its STFT consistency loss, each switchable; the adversarial part is Vocos' hinge loss, and a
discriminator-free warm-up (Trainer(adversarial_after=...)) trains on the other losses alone.

Notebook: 07_gan_vocoders.ipynb
"""
from __future__ import annotations

import copy
import os

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from .. import audio, losses
from . import hifigan

LRELU_SLOPE = 0.1

#: Vocos' mel front end (config vocos-mel-24khz): 24 kHz, n_fft 1024, hop 256, 100 mels up to Nyquist.
VOCOS_MEL = dict(sample_rate=24000, n_fft=1024, hop_length=256, win_length=1024, n_mels=100, fmin=0.0, fmax=None)

PRESETS = {
    # Vocos as published (its mel configuration), learned magnitude.
    "vocos": dict(generator=dict(dim=512, intermediate_dim=1536, num_layers=8, magnitude="learned", phase="angle"),
                  mel=VOCOS_MEL, segment_length=16384, batch_size=16, mpd_width=1.0, mrd_width=1.0,
                  discriminator_batch=None),
    # The course's CPU size: dim 256, 6 blocks (2.8 M parameters), the pseudo-inverse magnitude
    # below 8 kHz (hifigan.MEL's fmax), the phase and the band above learned; discriminators at
    # a quarter of the papers' channels (MPD 2.6 M parameters, MRD 8 channels), and they judge
    # 4 of the 16 crops of each batch (discriminator_batch): on a CPU the discriminators, not the
    # generator, cost most of a step (benchmarks/fourier_speed.py times a step with and without
    # them). Batches of 16 crops of 8192 samples.
    "cpu": dict(generator=dict(dim=256, intermediate_dim=768, num_layers=6, magnitude="prior"),
                mel=hifigan.MEL, segment_length=8192, batch_size=16, mpd_width=0.25, mrd_width=0.25,
                discriminator_batch=4),
}

MEL_WEIGHT = 45.0
FEATURE_MATCHING_WEIGHT = 2.0
#: The phase losses' weights: APNet's 100 for group delay and instantaneous angular frequency;
#: 0 for the instantaneous phase itself, which (weighted by sqrt|S|) barely moves from its
#: random value while the other two do the work. The consistency loss (APNet: 20) is off: it
#: shrinks the output's energy while the phase is still uncertain.
PHASE_WEIGHTS = dict(instantaneous_phase=0.0, group_delay=100.0, instantaneous_frequency=100.0)
CONSISTENCY_WEIGHT = 0.0
#: APNet's amplitude loss (45 x the mean squared error of the log-magnitudes against the real
#: crop's STFT). With magnitude "prior" it trains the bins above the mel's fmax alone, which the
#: mel L1 barely constrains: its floor (log 1e-5) hides a band that is too quiet.
MAGNITUDE_WEIGHT = 45.0
LEARNING_RATE = 5e-4
BETAS = (0.8, 0.9)
LR_DECAY = 0.999


def _check_preset(preset: str) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return PRESETS[preset]


# --- the generator ------------------------------------------------------------------------
class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block (Liu et al., 2022) over frames, as Vocos: (batch, dim, frames) ->
    the same shape. Depthwise conv (7 taps), LayerNorm over channels, Linear dim ->
    intermediate_dim, GELU, Linear back, a per-channel scale (initialised small), plus x."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)  # (batch, frames, dim)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def safe_atan2(imaginary: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """atan2(imaginary, real) in (-pi, pi], with a finite gradient also where both are 0 (there
    the angle is set to 0 and gets no gradient)."""
    zero = (real == 0) & (imaginary == 0)
    return torch.atan2(imaginary, torch.where(zero, torch.ones_like(real), real))


class Generator(nn.Module):
    """The Fourier-head vocoder: log-mel (batch, n_mels, frames) or (n_mels, frames) ->
    waveform (batch, 1, hop_length * (frames - 1)), the inverse STFT of the predicted spectrum
    (Hann window, centred frames, as the mel's STFT: frame t is centred on sample t * hop).

    forward_spectrum(mel) -> (log_magnitude, phase, ...), each (batch, n_fft // 2 + 1, frames):
    what the phase losses compare with the true STFT. `mel_spectrogram` (its settings) gives
    the pseudo-inverse for magnitude "residual" and "prior". A learned log-magnitude is clamped
    at max_log_magnitude (4.6: |S| <= 100, as Vocos); the prior is not (the loudest bins of the
    bundled speech reach 190 with n_fft 1024).
    Notebook: 07_gan_vocoders.ipynb
    """

    def __init__(self, mel_spectrogram: dict | None = None, dim: int = 512, intermediate_dim: int = 1536,
                 num_layers: int = 8, magnitude: str = "learned", phase: str = "parallel",
                 layer_scale: float | None = None, max_log_magnitude: float = 4.6):
        super().__init__()
        if magnitude not in ("learned", "residual", "prior"):
            raise ValueError(f"magnitude must be 'learned', 'residual' or 'prior', got {magnitude!r}")
        if phase not in ("parallel", "angle"):
            raise ValueError(f"phase must be 'parallel' or 'angle', got {phase!r}")
        self.phase = phase
        settings = dict(mel_spectrogram or hifigan.MEL)
        self.mel_settings = settings
        self.n_mels, self.n_fft = settings["n_mels"], settings["n_fft"]
        self.hop_length, self.win_length = settings["hop_length"], settings.get("win_length") or settings["n_fft"]
        self.sample_rate = settings["sample_rate"]
        self.magnitude, self.max_log_magnitude = magnitude, max_log_magnitude
        bins = self.n_fft // 2 + 1
        self.embed = nn.Conv1d(self.n_mels, dim, 7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        scale = layer_scale if layer_scale is not None else 1.0 / num_layers
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, scale) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        # per bin: log-magnitude (or its residual), then the phase: a real and imaginary pair
        # ("parallel") or the angle itself ("angle", Vocos)
        magnitude_outputs = bins if magnitude != "prior" else self._learned_bins()
        self.head = nn.Linear(dim, magnitude_outputs + (2 if phase == "parallel" else 1) * bins)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        if magnitude != "learned":
            basis = audio.MelSpectrogram(**settings).mel_basis
            self.register_buffer("inverse_basis", torch.linalg.pinv(basis), persistent=False)

    def _learned_bins(self) -> int:
        """Magnitude "prior": the bins above the mel's fmax, whose magnitude is learned."""
        fmax = self.mel_settings.get("fmax") or self.sample_rate / 2
        return self.n_fft // 2 + 1 - self._first_free_bin(fmax)

    def _first_free_bin(self, fmax: float) -> int:
        return min(self.n_fft // 2 + 1, int(fmax * self.n_fft / self.sample_rate) + 1)

    def pseudo_inverse_log_magnitude(self, mel: torch.Tensor) -> torch.Tensor:
        """log of the least-squares magnitude whose mel is `mel` (clamped at 1e-5): (batch,
        n_mels, frames) -> (batch, bins, frames). ganlib.audio.mel_to_audio starts from the same."""
        magnitude = torch.matmul(self.inverse_basis, torch.exp(mel))
        return torch.log(torch.clamp(magnitude, min=1e-5))

    def forward_spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """mel (batch, n_mels, frames) -> (log_magnitude, phase, real, imaginary), each
        (batch, bins, frames); real and imaginary are the head's pair (not yet scaled)."""
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a log-mel spectrogram (batch, {self.n_mels}, frames), got shape {tuple(mel.shape)}")
        x = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (batch, outputs, frames)
        bins = self.n_fft // 2 + 1
        free = self._learned_bins() if self.magnitude == "prior" else bins
        learned, phase_outputs = out[:, :free], out[:, free:]
        if self.phase == "parallel":
            real, imaginary = phase_outputs[:, :bins], phase_outputs[:, bins:]
        else:  # Vocos: the angle, through cos and sin
            real, imaginary = torch.cos(phase_outputs), torch.sin(phase_outputs)
        if self.magnitude == "prior":  # the clamp on the learned band only: speech's loudest bins pass 100
            prior = self.pseudo_inverse_log_magnitude(mel)
            log_magnitude = torch.cat([prior[:, :bins - free], torch.clamp(learned, max=self.max_log_magnitude)], dim=1)
        else:
            log_magnitude = learned if self.magnitude == "learned" else self.pseudo_inverse_log_magnitude(mel) + learned
            log_magnitude = torch.clamp(log_magnitude, max=self.max_log_magnitude)  # exp <= 100, as Vocos
        return log_magnitude, safe_atan2(imaginary, real), real, imaginary

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """The complex STFT the vocoder predicts: (batch, bins, frames)."""
        log_magnitude, _, real, imaginary = self.forward_spectrum(mel)
        norm = torch.sqrt(real.square() + imaginary.square() + 1e-12)  # cos and sin of the phase
        magnitude = torch.exp(log_magnitude)
        return torch.complex(magnitude * real / norm, magnitude * imaginary / norm)

    def istft(self, spectrum: torch.Tensor) -> torch.Tensor:
        """(batch, bins, frames) complex -> (batch, hop_length * (frames - 1))."""
        return torch.istft(spectrum, self.n_fft, self.hop_length, self.win_length, self.window, center=True)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.istft(self.spectrum(mel)).unsqueeze(1)


def generator(preset: str = "cpu", **overrides) -> Generator:
    """A Generator of a PRESETS entry; overrides replace its generator settings (e.g. magnitude)."""
    settings = _check_preset(preset)
    return Generator(settings["mel"], **{**settings["generator"], **overrides})


# --- the discriminators -------------------------------------------------------------------
class DiscriminatorR(nn.Module):
    """One resolution of UnivNet's multi-resolution discriminator (Jang et al., 2021): waveform
    (batch, 1, samples) -> |STFT| (n_fft, hop, window), as an image (batch, 1, frames, bins)
    -> 2-D convolutions (kernels 3 x 9 over time x frequency, stride 2 along frequency),
    leaky ReLU 0.1, weight norm -> (logits (batch, n), feature maps [6 tensors])."""

    def __init__(self, resolution: tuple[int, int, int], width: float = 1.0):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = resolution
        channels = max(1, round(32 * width))
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
            *[weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)],
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spectrum = torch.stft(x.squeeze(1).float(), self.n_fft, self.hop_length, self.win_length, self.window,
                              center=True, return_complex=True)
        magnitude = torch.sqrt(spectrum.real.square() + spectrum.imag.square() + 1e-9)
        return hifigan._judge(self.convs, self.conv_post, magnitude.transpose(1, 2).unsqueeze(1))


class MultiResolutionDiscriminator(nn.Module):
    """waveforms (batch, [1,] samples) -> (3 logit tensors, 3 feature-map lists), one per
    resolution (n_fft, hop, window): (1024, 120, 600), (2048, 240, 1200), (512, 50, 240),
    UnivNet's. Notebook: 07_gan_vocoders.ipynb"""

    RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))

    def __init__(self, resolutions=RESOLUTIONS, width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList(DiscriminatorR(r, width) for r in resolutions)

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        x = hifigan._as_batch(x)
        outputs = [d(x) for d in self.discriminators]
        return [logits for logits, _ in outputs], [features for _, features in outputs]


class Discriminator(nn.Module):
    """HiFi-GAN's multi-period discriminator and the multi-resolution one, as Vocos trains:
    waveforms (batch, [1,] samples) -> (8 logit tensors, 8 feature-map lists), MPD's first."""

    def __init__(self, mpd_width: float = 1.0, mrd_width: float = 1.0):
        super().__init__()
        self.mpd = hifigan.MultiPeriodDiscriminator(width=mpd_width)
        self.mrd = MultiResolutionDiscriminator(width=mrd_width)

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        period_logits, period_features = self.mpd(x)
        resolution_logits, resolution_features = self.mrd(x)
        return period_logits + resolution_logits, period_features + resolution_features


def discriminator(preset: str = "cpu", mpd_width: float | None = None, mrd_width: float | None = None) -> Discriminator:
    settings = _check_preset(preset)
    return Discriminator(settings["mpd_width"] if mpd_width is None else mpd_width,
                         settings["mrd_width"] if mrd_width is None else mrd_width)


def build(preset: str = "cpu", **overrides) -> tuple[Generator, Discriminator]:
    """(generator, discriminator) of a PRESETS entry; overrides go to the generator."""
    return generator(preset, **overrides), discriminator(preset)


# --- training -----------------------------------------------------------------------------
def generator_losses(generator_module: Generator, mel_weight: float = MEL_WEIGHT,
                     feature_matching_weight: float = FEATURE_MATCHING_WEIGHT,
                     phase_weights: dict | None = None, consistency_weight: float = CONSISTENCY_WEIGHT,
                     magnitude_weight: float = MAGNITUDE_WEIGHT, magnitude_weighted: bool = True,
                     loss_mel: audio.MelSpectrogram | None = None):
    """Trainer(extra_generator_loss=...): {"mel_l1": 45 x mean |log-mel(x) - log-mel(G(s))|
    (loss_mel: hifigan.loss_mel_spectrogram(), fmax None), "feature_matching": 2 x L1 of the
    discriminators' feature maps (only while the discriminator trains), the phase losses of
    ganlib.losses.phase_losses between the predicted phase and the real crop's STFT phase
    (weights PHASE_WEIGHTS; weighted by sqrt|S| of the real spectrum with `magnitude_weighted`,
    so silent bins, whose phase is noise, count little), "magnitude": APNet's amplitude loss,
    45 x mean (log|S'| - log|S|)^2 against the real crop's STFT (floored at 1e-5), and
    "consistency": APNet's STFT consistency loss (weight CONSISTENCY_WEIGHT, 0: off)}. A weight
    of 0 leaves its term out.

    The generator's spectrum is recomputed from the batch's mels once for the phase and
    consistency terms (the forward pass is cheap next to the discriminators).
    Notebook: 07_gan_vocoders.ipynb
    """
    weights = {**PHASE_WEIGHTS, **(phase_weights or {})}
    loss_mel = loss_mel if loss_mel is not None else hifigan.loss_mel_spectrogram()
    model = generator_module

    def extra(step) -> dict[str, torch.Tensor]:
        real = step.real.reshape(-1, step.real.shape[-1]).float()
        fake = step.fake.reshape(-1, step.fake.shape[-1]).float()
        mel = loss_mel.to(real.device)
        terms = {}
        with torch.no_grad():
            real_mel = mel(real)
        if mel_weight:
            terms["mel_l1"] = mel_weight * F.l1_loss(mel(fake), real_mel)
        if feature_matching_weight and step.adversarial:
            terms["feature_matching"] = feature_matching_weight * losses.feature_matching_loss(
                step.d_real.features, step.d_fake.features)
        if any(weights.values()) or consistency_weight or magnitude_weight:
            true = torch.stft(real, model.n_fft, model.hop_length, model.win_length, model.window.to(real.device),
                              center=True, return_complex=True)
            log_magnitude, phase, re, im = model.forward_spectrum(step.condition)
            frames = min(true.shape[-1], phase.shape[-1])
            true, phase = true[..., :frames], phase[..., :frames]
            weight = true.abs().sqrt() if magnitude_weighted else None
            for name, value in losses.phase_losses(phase, torch.angle(true), weight).items():
                if weights.get(name):
                    terms[name] = weights[name] * value
            if magnitude_weight:
                true_log = torch.log(torch.clamp(true.abs(), min=1e-5))
                terms["magnitude"] = magnitude_weight * F.mse_loss(log_magnitude[..., :frames], true_log)
            if consistency_weight:
                norm = torch.sqrt(re.square() + im.square() + 1e-12)
                predicted = torch.exp(log_magnitude) * torch.complex(re / norm, im / norm)
                terms["consistency"] = consistency_weight * losses.stft_consistency_loss(
                    predicted, model.n_fft, model.hop_length, model.win_length, model.window.to(real.device))
        return terms

    return extra


def optimizer(params, lr: float = LEARNING_RATE) -> torch.optim.Optimizer:
    """AdamW, lr 5e-4, betas (0.8, 0.9), as Vocos (which then anneals with a cosine; here the
    learning rate decays 0.999 per epoch, as HiFi-GAN's)."""
    return torch.optim.AdamW(params, lr=lr, betas=BETAS)


def first_crops(count: int | None):
    """Trainer(discriminate=...): the discriminator judges only the first `count` crops of a
    batch (real and fake alike; None: all), so the generator's other losses see the whole batch
    while the discriminators cost a fraction."""
    def discriminate(trainer, x, condition):
        return trainer.discriminator(x if count is None else x[:count])
    return discriminate


def trainer_options(generator_module: Generator, discriminator_module: nn.Module, adversarial_after: int = 0,
                    lr: float = LEARNING_RATE, discriminator_batch: int | None = None, **loss_options) -> dict:
    """Vocos' recipe as ganlib.train.Trainer keyword arguments: hinge loss, AdamW for both
    networks, mel L1 x 45 + feature matching + the phase losses (generator_losses, which takes
    loss_options), fakes cropped to the real crops (hifigan.crop_generate), in fp32;
    `adversarial_after` steps of discriminator-free warm-up (Vocos' pretrain_mel_steps) before
    the discriminator joins (a huge number: the same generator trained without one);
    `discriminator_batch`: the discriminators judge only that many crops of each batch
    (first_crops; PRESETS' value for the preset you train).

        generator, discriminator = fourier.build("cpu")
        trainer = Trainer(generator, discriminator, loader, **fourier.trainer_options(generator, discriminator))

    Notebook: 07_gan_vocoders.ipynb
    """
    g_optimizer = optimizer(generator_module.parameters(), lr)
    d_optimizer = optimizer(discriminator_module.parameters(), lr)
    return dict(loss="hinge", latent_dim=None, g_optimizer=g_optimizer, d_optimizer=d_optimizer,
                g_scheduler=torch.optim.lr_scheduler.ExponentialLR(g_optimizer, LR_DECAY),
                d_scheduler=torch.optim.lr_scheduler.ExponentialLR(d_optimizer, LR_DECAY),
                extra_generator_loss=generator_losses(generator_module, **loss_options),
                generate=hifigan.crop_generate, discriminate=first_crops(discriminator_batch), precision="fp32",
                adversarial_after=adversarial_after)


# --- inference ----------------------------------------------------------------------------
class Vocoder(hifigan.MelVocoder):
    """A trained Fourier-head generator, ready to turn mel spectrograms into audio; the same
    interface as ganlib.models.hifigan.Vocoder (both are hifigan.MelVocoder), so a chapter
    swaps one for the other:

        vocoder = Vocoder.from_checkpoint("data/checkpoints/fourier_cpu.pt")
        waveform = vocoder.from_wav("speech.wav")       # (samples,), at vocoder.sample_rate
        waveform = vocoder(vocoder.mel(waveform))       # mel (n_mels, frames) -> (frames * hop,)

    .sample_rate, .hop_length, .generator (eval mode), .mel_spectrogram (the preset's).
    The output is hop_length * (frames - 1) samples, padded with one hop of zeros to
    frames * hop_length (as HiFi-GAN's), so both cut the same way.
    Notebook: 07_gan_vocoders.ipynb
    """

    def __init__(self, generator_module: Generator, device=None, copy_generator: bool = True):
        from .. import config

        self.device = config.get_device(device)
        if copy_generator:
            generator_module = copy.deepcopy(generator_module)
        self.generator = generator_module.eval().requires_grad_(False).to(self.device)
        self.mel_spectrogram = audio.MelSpectrogram(**self.generator.mel_settings).to(self.device)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, preset: str | None = None, ema: bool = True,
                        device=None) -> "Vocoder":
        """Load a shipped file ({"info": {"preset", "generator"}, "generator": state}), or a
        ganlib training checkpoint (last.pt: "generator_ema" when present and `ema`, else
        "generator") with `preset`. Read with weights_only=True; a state dict that does not fit
        the preset raises ganlib.train.CheckpointMismatchError naming the file."""
        from ..train import load_checkpoint, load_state

        checkpoint = load_checkpoint(path)
        info = checkpoint.get("info", {}) if isinstance(checkpoint, dict) else {}
        preset = preset or info.get("preset")
        if preset is None:
            raise ValueError(f"{path}: no preset recorded in the file; pass preset= (one of {sorted(PRESETS)})")
        state = checkpoint
        if isinstance(checkpoint, dict) and "generator" in checkpoint:
            state = (checkpoint.get("generator_ema") if ema else None) or checkpoint["generator"]
        module = generator(preset, **info.get("generator", {}))
        load_state(module, {k: v.float() for k, v in state.items()}, "generator", str(path))
        return cls(module, device, copy_generator=False)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (n_mels, frames) -> waveform (frames * hop_length,); (batch, n_mels, frames)
        -> (batch, frames * hop_length). On the CPU."""
        mel = torch.as_tensor(mel, dtype=torch.float32)
        with torch.inference_mode():
            waveform = self.generator(mel.to(self.device) if mel.dim() == 3 else mel.to(self.device)[None]).squeeze(1)
            waveform = F.pad(waveform, (0, self.hop_length))
        return (waveform.squeeze(0) if mel.dim() == 2 else waveform).cpu()
