"""WaveGAN and SpecGAN (Donahue, McAuley and Puckette, "Adversarial Audio Synthesis", ICLR 2019).

WaveGAN is DCGAN flattened to one dimension: 5 x 5 kernels become 25 taps, stride 2 becomes
stride 4, so five layers grow 16 samples into 16 * 4**5 = 16384 (about one second at 16 kHz).

    Generator      z (100) -> dense -> (16d, 16) -> ReLU
                   -> 5 x [transposed conv, kernel 25, stride 4] -> channels 8d, 4d, 2d, d, 1
                   (ReLU between, tanh at the end)                 -> (1, 16384)
    Discriminator  (1, 16384) -> 5 x [conv, kernel 25, stride 4 -> LeakyReLU 0.2 -> phase shuffle]
                   channels d, 2d, 4d, 8d, 16d -> (16d, 16) -> dense -> 1 logit
                   (no phase shuffle after the last convolution)

With d = 64 the generator has 19.07 M parameters and the discriminator 17.43 M (the paper's
size; tests check). Phase shuffle (n = 2) shifts each example's feature maps by a random
-n..n samples (reflect-padded), so the discriminator cannot tell real from fake by the phase
of the periodic artefacts that transposed convolutions leave.

SpecGAN does the same in two dimensions on a 128 x 128 log-magnitude spectrogram (n_fft 256,
hop 128, each frequency bin normalised to zero mean and unit variance over the training set,
clipped at 3 sigma), turned back into audio with Griffin-Lim: see SpecGANTransform.

Conditional versions (num_classes set): the generator concatenates a learned label
embedding to z; the discriminator adds a projection term <embed(y), features> to its logit
(Miyato and Koyama, 2018).

Presets (WAVEGAN_PRESETS, SPECGAN_PRESETS): "paper", exactly the paper's sizes, and "cpu",
the course's laptop size (see its entry for what changed and why).

Notebooks: 04_wavegan.ipynb, 05_specgan_and_conditional_gans.ipynb
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganlib.audio import MelSpectrogram

#: The paper's WaveGAN at 16 kHz, and the course's CPU preset: a quarter of the channels
#: (d = 16) and half the sample rate (8 kHz, 8192 samples: one second, the same five layers
#: from 8 samples instead of 16). Digits keep their identity below 4 kHz, and the canvas is
#: half as long, so a step costs about 1/30 of the paper's.
WAVEGAN_PRESETS = {
    "paper": dict(d=64, length=16384, sample_rate=16000, latent_dim=100),
    "cpu": dict(d=16, length=8192, sample_rate=8000, latent_dim=100),
}

#: SpecGAN at the paper's size, and a CPU preset with a quarter of the channels.
SPECGAN_PRESETS = {
    "paper": dict(d=64, latent_dim=100),
    "cpu": dict(d=16, latent_dim=100),
}


def phase_shuffle(x: torch.Tensor, n: int, padding: str = "reflect") -> torch.Tensor:
    """Shift each example of x (batch, channels, time) by its own random k in -n..n samples:
    out[..., t] = x[..., t - k], reflect-padded at the edges ("constant": zeros). n = 0 returns x."""
    if n == 0:
        return x
    batch, channels, length = x.shape
    if length <= n:
        raise ValueError(f"phase shuffle by {n} needs more than {n} time steps, got {length}")
    shifts = torch.randint(-n, n + 1, (batch,), device=x.device)
    padded = F.pad(x, (n, n), mode=padding)
    index = torch.arange(length, device=x.device) + (n - shifts)[:, None]
    return padded.gather(2, index[:, None, :].expand(batch, channels, length))


def random_shift(x: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Differentiable augmentation for small data sets (DiffAugment's translation, Zhao et al.,
    2020): every waveform (batch, 1, samples) or (batch, samples) moved by its own random
    -max_shift..max_shift samples, zeros shifted in. Applied to real and fake clips alike before
    the discriminator, it keeps the discriminator from memorising where each training clip sits
    in its canvas, while the generator still learns the clips' own distribution."""
    if x.dim() == 2:
        return phase_shuffle(x.unsqueeze(1), max_shift, padding="constant").squeeze(1)
    return phase_shuffle(x, max_shift, padding="constant")


def random_frame_shift(spectrogram: torch.Tensor, max_shift: int) -> torch.Tensor:
    """random_shift for SpecGAN's normalised log-magnitudes (batch, 1, bins, frames) in [-1, 1]:
    each example moved by its own random -max_shift..max_shift frames along time, with silence
    (-1, the normalised floor) shifted in."""
    shifted = random_shift(spectrogram.squeeze(1) + 1.0, max_shift)  # bins as channels, frames as time
    return shifted.unsqueeze(1) - 1.0


def shifted_discriminate(max_shift: int):
    """A `discriminate=` hook for ganlib.train.Trainer that random_shifts real and fake clips
    alike before the discriminator (SpecGAN's spectrograms: random_frame_shift, in frames). The
    shipped WaveGANs were trained with max_shift = 1024 (1/8 of the CPU preset's canvas,
    DiffAugment's translation ratio), the SpecGAN with 16 frames (1/8 of its 128). On the 800 training
    clips of data/digits the unconditional generator reached a Fréchet distance of 52 after
    2,000 steps with it, where without it it stood at 96 after 1,500 and 66 after 2,500."""
    def discriminate(trainer, x, condition):
        x = random_shift(x, max_shift) if x.dim() < 4 else random_frame_shift(x, max_shift)
        return trainer.discriminator(x) if condition is None else trainer.discriminator(x, condition)
    return discriminate


def minibatch_stddev(h: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Karras et al.'s minibatch standard deviation (ProGAN, 2018): features h (batch, channels,
    length) gain one channel holding, for each group of `group` examples (every batch // group-th
    example, as ProGAN's reshape groups them), the mean over channels and positions of the
    features' standard deviation across the group. A generator that gives
    the same clip for every z makes that channel near 0 where real batches have it large, so the
    discriminator can see mode collapse, which it cannot from one example at a time. A batch
    that `group` does not divide is treated as one group."""
    batch, channels, length = h.shape
    size = group if batch % group == 0 else batch
    if size < 2:
        raise ValueError(f"minibatch standard deviation needs a batch of 2 or more, got {batch}")
    grouped = h.float().reshape(size, batch // size, channels, length)
    std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2))  # (batch // size,)
    column = std.repeat(size)[:, None, None].expand(batch, 1, length).to(h.dtype)
    return torch.cat([h, column], dim=1)


def _check_length(length: int, stride: int, num_layers: int) -> int:
    base = length // stride ** num_layers
    if base < 1 or base * stride ** num_layers != length:
        raise ValueError(f"length={length} must be a multiple of stride**num_layers = "
                         f"{stride}**{num_layers} = {stride ** num_layers} (16384 at 16 kHz in the paper)")
    return base


class _LabelEmbedding(nn.Module):
    """Concatenates a learned embedding of the class label to z (a conditional generator)."""

    def __init__(self, num_classes: int | None, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, dim) if num_classes else None

    def forward(self, z: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        if self.embedding is None:
            if label is not None:
                raise ValueError("this generator is unconditional (num_classes=None) but got labels")
            return z
        if label is None:
            raise ValueError(f"this generator is conditional (num_classes={self.num_classes}): pass labels")
        return torch.cat([z, self.embedding(label.long())], dim=1)


class _Projection(nn.Module):
    """logit = linear(h) [+ <embed(y), h> for a conditional discriminator]."""

    def __init__(self, features: int, num_classes: int | None, wrap):
        super().__init__()
        self.num_classes = num_classes
        self.linear = wrap(nn.Linear(features, 1))
        self.embedding = wrap(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, h: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        logit = self.linear(h)
        if self.embedding is None:
            return logit
        if label is None:
            raise ValueError(f"this discriminator is conditional (num_classes={self.num_classes}): pass labels")
        return logit + (self.embedding(label.long()) * h).sum(dim=1, keepdim=True)


class WaveGANGenerator(nn.Module):
    """z (batch, latent_dim) [, label (batch,)] -> waveform (batch, 1, length) in [-1, 1].

    upsample: "transposed" (the paper's transposed convolutions) or "nearest" (nearest-
    neighbour upsampling then a convolution, the paper's alternative without checkerboard
    artefacts). num_classes: a conditional generator (label embedding of embed_dim).
    """

    def __init__(self, d: int = 64, latent_dim: int = 100, length: int = 16384, channels: int = 1,
                 kernel_size: int = 25, stride: int = 4, num_layers: int = 5,
                 upsample: str = "transposed", num_classes: int | None = None, embed_dim: int = 50,
                 sample_rate: int | None = None):
        super().__init__()
        if upsample not in ("transposed", "nearest"):
            raise ValueError(f"upsample must be 'transposed' or 'nearest', got {upsample!r}")
        self.latent_dim, self.length, self.sample_rate = latent_dim, length, sample_rate
        self.num_classes = num_classes
        self.base = _check_length(length, stride, num_layers)
        self.width = d * 2 ** (num_layers - 1)
        self.label = _LabelEmbedding(num_classes, embed_dim)
        self.dense = nn.Linear(latent_dim + (embed_dim if num_classes else 0), self.base * self.width)
        layers: list[nn.Module] = []
        width = self.width
        for i in range(num_layers):
            out = channels if i == num_layers - 1 else width // 2
            if upsample == "transposed":  # "same" padding: length x stride exactly
                layers.append(nn.ConvTranspose1d(width, out, kernel_size, stride,
                                                 padding=(kernel_size - stride + 1) // 2,
                                                 output_padding=(kernel_size - stride) % 2))
            else:
                layers += [nn.Upsample(scale_factor=stride, mode="nearest"),
                           nn.Conv1d(width, out, kernel_size, padding=kernel_size // 2)]
            layers.append(nn.Tanh() if i == num_layers - 1 else nn.ReLU())
            width = out
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        h = self.dense(self.label(z, label)).view(z.shape[0], self.width, self.base)
        return self.layers(F.relu(h))


class WaveGANDiscriminator(nn.Module):
    """waveform (batch, 1, length) or (batch, length) [, label] -> logit (batch, 1).

    phase_shuffle: n of phase shuffle (2 in the paper; 0 turns it off). spectral_norm: wrap
    every layer in spectral normalisation (the course's CPU recipe, with the hinge loss).
    minibatch_std: append minibatch_stddev's channel before the dense layer (ProGAN).
    auxiliary_classifier: also classify the clip (AC-GAN; a conditional discriminator only):
    forward then returns {"logits": (batch, 1), "classes": (batch, num_classes)}, which
    ganlib.train.Trainer(classifier_weight=...) trains.
    """

    def __init__(self, d: int = 64, length: int = 16384, channels: int = 1, kernel_size: int = 25,
                 stride: int = 4, num_layers: int = 5, phase_shuffle: int = 2,
                 num_classes: int | None = None, spectral_norm: bool = False,
                 auxiliary_classifier: bool = False, minibatch_std: bool = False):
        super().__init__()
        self.length, self.channels, self.phase_shuffle = length, channels, phase_shuffle
        self.minibatch_std = minibatch_std
        base = _check_length(length, stride, num_layers)
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        self.convs = nn.ModuleList()
        width = channels
        for i in range(num_layers):
            out = d * 2 ** i
            self.convs.append(wrap(nn.Conv1d(width, out, kernel_size, stride, padding=(kernel_size - stride + 1) // 2)))
            width = out
        self.head = _Projection(base * (width + minibatch_std), num_classes, wrap)
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs a conditional discriminator (num_classes)")
        self.classifier = wrap(nn.Linear(base * (width + minibatch_std), num_classes)) if auxiliary_classifier else None

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None):
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.shape[1:] != (self.channels, self.length):
            raise ValueError(f"expected waveforms (batch, {self.channels}, {self.length}), got {tuple(x.shape)}")
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if self.training and i < len(self.convs) - 1:
                x = phase_shuffle(x, self.phase_shuffle)
        if self.minibatch_std:
            x = minibatch_stddev(x)
        logits = self.head(x.flatten(1), label)
        if self.classifier is None:
            return logits
        return {"logits": logits, "classes": self.classifier(x.flatten(1))}


def mel_features(sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 64, n_mels: int = 64) -> MelSpectrogram:
    """The log-mel that MelDiscriminator reads (bands from 20 Hz to Nyquist): also the feature
    space of tools/train_digits.py's diversity loss and of chapter 05's within-digit spread."""
    return MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                          fmin=20.0, fmax=sample_rate / 2)


class MelDiscriminator(nn.Module):
    """waveform (batch, 1, length) [, label] -> logit (batch, 1), judged on its log-mel spectrogram.

    The WaveGAN discriminator reads raw samples; this one reads what a listener (and the
    course's digit classifier) reads: a log-mel spectrogram (n_fft 256, hop 64, n_mels bands
    up to Nyquist), then 1-D convolutions over time with the mel bands as channels (kernel 5,
    widths 8d, 8d, 16d, 16d, the last three with stride 2; LeakyReLU 0.2), then a dense logit
    (a projection term when conditional; minibatch_std as in WaveGANDiscriminator). Spectral
    discriminators like this one are what the GAN vocoders added to the waveform ones (MelGAN's
    successors, UnivNet's multi-resolution spectrogram discriminator); WaveMelDiscriminator
    pairs the two.
    """

    def __init__(self, d: int = 16, length: int = 8192, sample_rate: int = 8000, n_mels: int = 64,
                 n_fft: int = 256, hop_length: int = 64, num_classes: int | None = None,
                 spectral_norm: bool = False, minibatch_std: bool = False):
        super().__init__()
        self.length, self.minibatch_std = length, minibatch_std
        self.mel = mel_features(sample_rate, n_fft, hop_length, n_mels)
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        widths, strides = (8 * d, 8 * d, 16 * d, 16 * d), (1, 2, 2, 2)
        self.convs = nn.ModuleList()
        frames, width = 1 + length // hop_length, n_mels
        for out, stride in zip(widths, strides):
            self.convs.append(wrap(nn.Conv1d(width, out, 5, stride, padding=2)))
            frames, width = (frames - 1) // stride + 1, out
        self.head = _Projection(frames * (width + minibatch_std), num_classes, wrap)

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 3:
            x = x.squeeze(1)
        if x.dim() != 2 or x.shape[1] != self.length:
            raise ValueError(f"expected waveforms (batch, 1, {self.length}), got {tuple(x.shape)}")
        h = self.mel(x) / 4.0  # log-mel of [-1, 1] audio spans about -11.5..3: scale it near unit range
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        if self.minibatch_std:
            h = minibatch_stddev(h)
        return self.head(h.flatten(1), label)


class WaveMelDiscriminator(nn.Module):
    """A WaveGANDiscriminator and a MelDiscriminator on the same clip: returns both logits as a
    list, and ganlib.train sums their losses (as for HiFi-GAN's several discriminators). With
    an auxiliary classifier on the waveform side, returns {"logits": [...], "classes": ...}."""

    def __init__(self, wave: nn.Module, mel: nn.Module):
        super().__init__()
        self.wave, self.mel = wave, mel

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None):
        wave, mel = self.wave(x, label), self.mel(x, label)
        if isinstance(wave, dict):
            return {"logits": [wave["logits"], mel], "classes": wave["classes"]}
        return [wave, mel]


class SpecGANGenerator(nn.Module):
    """z (batch, latent_dim) [, label] -> normalised log-magnitude (batch, 1, 128, 128) in [-1, 1]:
    dense -> (16d, 4, 4) -> 5 x [transposed conv 5x5, stride 2] -> 8d, 4d, 2d, d, 1 (ReLU; tanh)."""

    def __init__(self, d: int = 64, latent_dim: int = 100, num_classes: int | None = None,
                 embed_dim: int = 50, num_layers: int = 5, kernel_size: int = 5):
        super().__init__()
        self.latent_dim, self.num_classes, self.width = latent_dim, num_classes, d * 2 ** (num_layers - 1)
        self.label = _LabelEmbedding(num_classes, embed_dim)
        self.dense = nn.Linear(latent_dim + (embed_dim if num_classes else 0), 16 * self.width)
        layers: list[nn.Module] = []
        width = self.width
        for i in range(num_layers):
            out = 1 if i == num_layers - 1 else width // 2
            layers += [nn.ConvTranspose2d(width, out, kernel_size, 2, padding=kernel_size // 2, output_padding=1),
                       nn.Tanh() if i == num_layers - 1 else nn.ReLU()]
            width = out
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        h = self.dense(self.label(z, label)).view(z.shape[0], self.width, 4, 4)
        return self.layers(F.relu(h))


class SpecGANDiscriminator(nn.Module):
    """(batch, 1, 128, 128) [, label] -> logit (batch, 1): 5 x [conv 5x5, stride 2 -> LeakyReLU 0.2],
    channels d .. 16d, then dense (or projection when conditional). auxiliary_classifier: also
    classify the spectrogram (AC-GAN), as WaveGANDiscriminator: {"logits", "classes"}."""

    def __init__(self, d: int = 64, num_classes: int | None = None, num_layers: int = 5,
                 kernel_size: int = 5, spectral_norm: bool = False, size: int = 128,
                 auxiliary_classifier: bool = False):
        super().__init__()
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs a conditional discriminator (num_classes)")
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        self.size = size
        self.convs = nn.ModuleList()
        width = 1
        for i in range(num_layers):
            out = d * 2 ** i
            self.convs.append(wrap(nn.Conv2d(width, out, kernel_size, 2, padding=kernel_size // 2)))
            width = out
        features = width * (size // 2 ** num_layers) ** 2
        self.head = _Projection(features, num_classes, wrap)
        self.classifier = wrap(nn.Linear(features, num_classes)) if auxiliary_classifier else None

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1:] != (1, self.size, self.size):
            raise ValueError(f"expected spectrograms (batch, 1, {self.size}, {self.size}), got {tuple(x.shape)}")
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        logits = self.head(x.flatten(1), label)
        if self.classifier is None:
            return logits
        return {"logits": logits, "classes": self.classifier(x.flatten(1))}


class SpecGANTransform(nn.Module):
    """Waveforms <-> SpecGAN's normalised log-magnitude spectrograms.

    forward: (batch, 16384) -> (batch, 1, 128, 128): |STFT| with n_fft 256, hop 128 (the
    Nyquist bin and the last frame dropped), log(|X| + 1e-6), each frequency bin minus its
    training-set mean over its standard deviation, clipped to +-clip sigma and divided by clip
    (so [-1, 1], the generator's tanh range). fit(waveforms) sets the statistics.
    inverse: (batch, 1, 128, 128) -> (batch, 16384) with Griffin-Lim (n_iter iterations).
    """

    def __init__(self, n_fft: int = 256, hop_length: int = 128, clip: float = 3.0, length: int = 16384):
        super().__init__()
        self.n_fft, self.hop_length, self.clip, self.length = n_fft, hop_length, clip, length
        self.bins, self.frames = n_fft // 2, length // hop_length
        self.register_buffer("mean", torch.zeros(self.bins, 1))
        self.register_buffer("std", torch.ones(self.bins, 1))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def log_magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """(batch, length) -> (batch, 128, 128) log |STFT|."""
        if waveform.dim() == 3:
            waveform = waveform.squeeze(1)
        spec = torch.stft(waveform.float(), self.n_fft, self.hop_length, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True).abs()
        return torch.log(spec[:, :self.bins, :self.frames] + 1e-6)

    @torch.no_grad()
    def fit(self, waveforms: torch.Tensor) -> "SpecGANTransform":
        logmag = self.log_magnitude(waveforms)
        self.mean.copy_(logmag.mean(dim=(0, 2))[:, None])
        self.std.copy_(logmag.std(dim=(0, 2))[:, None].clamp_min(1e-3))
        return self

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        normalised = (self.log_magnitude(waveform) - self.mean) / self.std
        return (normalised.clamp(-self.clip, self.clip) / self.clip).unsqueeze(1)

    def magnitude(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """(batch, 1, 128, 128) in [-1, 1] -> linear magnitude (batch, 129, 128), Nyquist bin 0."""
        logmag = spectrogram.squeeze(1).float() * self.clip * self.std + self.mean
        return F.pad(torch.exp(logmag), (0, 0, 0, 1))

    def inverse(self, spectrogram: torch.Tensor, n_iter: int = 16) -> torch.Tensor:
        from .. import audio

        magnitude = F.pad(self.magnitude(spectrogram), (0, 1))  # the dropped last frame, silent
        return audio.griffin_lim(magnitude, n_fft=self.n_fft, hop_length=self.hop_length,
                                 n_iter=n_iter, length=self.length)


def wavegan(preset: str = "cpu", conditional: bool = False, num_classes: int = 10, **overrides):
    """(generator, discriminator) for a WAVEGAN_PRESETS entry; overrides go to both where
    they apply (d, length) or to the discriminator (phase_shuffle, spectral_norm, auxiliary_classifier,
    minibatch_std, mel_discriminator: pair it with a MelDiscriminator, see WaveMelDiscriminator)."""
    if preset not in WAVEGAN_PRESETS:
        raise ValueError(f"preset must be one of {sorted(WAVEGAN_PRESETS)}, got {preset!r}")
    settings = {**WAVEGAN_PRESETS[preset], **overrides}
    classes = num_classes if conditional else None
    d_only = {k: settings.pop(k) for k in ("phase_shuffle", "spectral_norm", "auxiliary_classifier", "minibatch_std")
              if k in settings}
    upsample = settings.pop("upsample", "transposed")
    mel = settings.pop("mel_discriminator", False)
    generator = WaveGANGenerator(d=settings["d"], latent_dim=settings["latent_dim"], length=settings["length"],
                                 num_classes=classes, sample_rate=settings["sample_rate"], upsample=upsample)
    discriminator = WaveGANDiscriminator(d=settings["d"], length=settings["length"], num_classes=classes, **d_only)
    if mel:
        discriminator = WaveMelDiscriminator(discriminator, MelDiscriminator(
            d=settings["d"], length=settings["length"], sample_rate=settings["sample_rate"], num_classes=classes,
            spectral_norm=d_only.get("spectral_norm", False), minibatch_std=d_only.get("minibatch_std", False)))
    return generator, discriminator


#: Training recipes for ganlib.train.Trainer. "paper": WGAN-GP as Donahue et al. (lambda 10,
#: 5 critic steps, Adam 1e-4, betas (0.5, 0.9), batch 64). "cpu": what trains on a laptop in
#: an hour: hinge loss with a spectrally normalised discriminator and one critic step (five
#: times fewer discriminator passes and no double backward), Adam 2e-4, and a moving average
#: of the generator for sampling. Chapter 04 compares them. With few training clips, add
#: discriminate=shifted_discriminate(1024) (DiffAugment's translation), as the shipped models did.
RECIPES = {
    "paper": dict(trainer=dict(loss="wasserstein", gp_weight=10.0, n_critic=5, lr=1e-4, betas=(0.5, 0.9)),
                  spectral_norm=False, batch_size=64),
    "cpu": dict(trainer=dict(loss="hinge", n_critic=1, lr=2e-4, betas=(0.5, 0.9), ema_decay=0.999),
                spectral_norm=True, batch_size=32),
}


def build(model: str = "wavegan", preset: str = "cpu", conditional: bool = False, recipe: str = "cpu",
          num_classes: int = 10, **overrides) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `model` ("wavegan" or "specgan") at `preset`, with the
    discriminator `recipe` asks for (spectral norm or not)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    spectral = RECIPES[recipe]["spectral_norm"]
    if model == "wavegan":
        return wavegan(preset, conditional, num_classes, spectral_norm=spectral, **overrides)
    if model == "specgan":
        if preset not in SPECGAN_PRESETS:
            raise ValueError(f"preset must be one of {sorted(SPECGAN_PRESETS)}, got {preset!r}")
        settings = {**SPECGAN_PRESETS[preset], **overrides}
        classes = num_classes if conditional else None
        return (SpecGANGenerator(d=settings["d"], latent_dim=settings["latent_dim"], num_classes=classes),
                SpecGANDiscriminator(d=settings["d"], num_classes=classes, spectral_norm=spectral,
                                     auxiliary_classifier=settings.get("auxiliary_classifier", False)))
    raise ValueError(f"model must be 'wavegan' or 'specgan', got {model!r}")


class Pretrained:
    """A shipped generator (data/checkpoints/*wavegan*.pt, *specgan*.pt) ready to make audio.

    .generator (eval mode), .sample_rate, .conditional, .transform (SpecGAN's, else None),
    .info (what the checkpoint says about itself: preset, recipe, steps, command).
    generate(n=..., labels=..., seed=...) -> waveforms (n, samples) in [-1, 1].

    cluster_prior: a self-conditioned generator (trained on clusters found without labels,
    ganlib.digits.pseudo_labels) is unconditional to its user: generate(n) draws each clip's
    cluster from these shares (the clusters' sizes in the training data), then its z.
    """

    def __init__(self, generator: nn.Module, sample_rate: int, transform: SpecGANTransform | None, info: dict,
                 cluster_prior: torch.Tensor | None = None):
        self.generator, self.sample_rate, self.transform, self.info = generator.eval(), sample_rate, transform, info
        self.cluster_prior = None if cluster_prior is None else torch.as_tensor(cluster_prior, dtype=torch.float32)
        if self.cluster_prior is not None and len(self.cluster_prior) != getattr(generator, "num_classes", None):
            raise ValueError(f"cluster_prior has {len(self.cluster_prior)} shares for a generator of "
                             f"{getattr(generator, 'num_classes', None)} classes")
        self.conditional = getattr(generator, "num_classes", None) is not None and self.cluster_prior is None

    @torch.no_grad()
    def generate(self, n: int | None = None, labels=None, seed: int | None = None, z: torch.Tensor | None = None,
                 griffin_lim_iters: int = 32, clusters=None) -> torch.Tensor:
        """labels: the digits, for a conditional generator; clusters: chosen clusters, for a
        self-conditioned one (drawn from cluster_prior when not given)."""
        if self.conditional and labels is None:
            raise ValueError("this generator is conditional: pass labels (digits 0-9)")
        if labels is not None and not self.conditional:
            raise ValueError("this generator is unconditional: it takes no labels"
                             + (" (pick clusters with clusters=)" if self.cluster_prior is not None else ""))
        if clusters is not None and self.cluster_prior is None:
            raise ValueError("clusters= is for a self-conditioned generator (one with a cluster_prior)")
        condition = labels if labels is not None else clusters
        if condition is not None:
            condition = torch.as_tensor(condition).long().reshape(-1)
            n = len(condition)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        if z is None:
            if n is None:
                raise ValueError("pass n, labels or z")
            z = torch.randn(n, self.generator.latent_dim, generator=rng)
        if self.cluster_prior is not None and condition is None:  # each clip's cluster, drawn after its z
            condition = torch.multinomial(self.cluster_prior, len(z), replacement=True, generator=rng)
        out = self.generator(z, condition) if condition is not None else self.generator(z)
        if self.transform is not None:
            return self.transform.inverse(out, n_iter=griffin_lim_iters)
        return out.squeeze(1)


def load_pretrained(path) -> Pretrained:
    """Load a generator exported by tools/train_digits.py export (weights only)."""
    from ..train import load_checkpoint, load_state

    checkpoint = load_checkpoint(path)
    info = checkpoint["info"]
    prior = checkpoint.get("cluster_prior")
    classes = len(prior) if prior is not None else 10 if info["conditional"] else None
    if info["model"] == "wavegan":
        settings = {**WAVEGAN_PRESETS[info["preset"]], **info.get("overrides", {})}
        generator = WaveGANGenerator(d=settings["d"], latent_dim=settings["latent_dim"],
                                     length=settings["length"], num_classes=classes,
                                     sample_rate=settings["sample_rate"])
        sample_rate, transform = settings["sample_rate"], None
    else:
        settings = {**SPECGAN_PRESETS[info["preset"]], **info.get("overrides", {})}
        generator = SpecGANGenerator(d=settings["d"], latent_dim=settings["latent_dim"], num_classes=classes)
        transform = SpecGANTransform()
        load_state(transform, {k: v.float() for k, v in checkpoint["transform"].items()}, "transform", str(path))
        sample_rate = 16000
    load_state(generator, {k: v.float() for k, v in checkpoint["generator"].items()}, "generator", str(path))
    return Pretrained(generator, sample_rate, transform, info, prior)  # Pretrained makes the prior float32
