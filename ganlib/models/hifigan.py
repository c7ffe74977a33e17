"""HiFi-GAN (Kong, Kim and Bae, "HiFi-GAN: Generative Adversarial Networks for Efficient and
High Fidelity Speech Synthesis", NeurIPS 2020): a mel spectrogram in, a waveform out.

    Generator   mel (80, frames) -> conv_pre (7 taps) -> for each upsampling rate r:
                    leaky ReLU 0.1 -> transposed conv (stride r)
                    -> multi-receptive-field fusion: the mean of |kernel sizes| residual blocks
                       (different kernel sizes and dilations, so different receptive fields)
                -> leaky ReLU -> conv_post (7 taps) -> tanh        -> (1, frames * hop_length)
    MPD         five period discriminators (periods 2, 3, 5, 7, 11): the waveform folded into
                (samples / p, p) and judged by 2-D convolutions that look down each column
    MSD         three scale discriminators: on the raw audio (spectral norm), then on audio
                average-pooled x2 and x4 (weight norm)
    Losses      least squares (LSGAN) + 2 x feature matching + 45 x L1 between mel spectrograms

Every convolution of the generator is weight-normalised. The parameter names are those of the
official release (github.com/jik876/hifi-gan: conv_pre, ups.i, resblocks.i.convs1/convs2/convs,
conv_post), so its generator checkpoints load directly: `load_generator_state` and `Vocoder` turn its
old-style weight-norm keys (`weight_g`, `weight_v`, from the deprecated
torch.nn.utils.weight_norm) into those of torch.nn.utils.parametrizations.weight_norm
(`parametrizations.weight.original0`, `.original1`), which ganlib uses: it is not deprecated
and, unlike the old hooks, survives copy.deepcopy (the trainer's moving average).
`official_state_dict` goes the other way, for the official inference scripts.

Presets (PRESETS): "v1", "v2", "v3" exactly as the paper, and "cpu", the course's laptop size
(see its comment). The paper's generator sizes, 13.92 M, 0.92 M and 1.46 M parameters, are those
of the inference generators (weight norm folded: 13,926,017, 925,985 and 1,462,273), cut to two
decimals; training adds one gain per output channel (13,936,130, 928,514, 1,464,322). Tests check.
`trainer_options` gives ganlib.train.Trainer the paper's recipe; `Vocoder` is inference.

Notebook: 07_gan_vocoders.ipynb
"""
from __future__ import annotations

import copy
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from .. import audio, losses

LRELU_SLOPE = 0.1

#: The mel spectrogram of the paper and of every preset (LJ Speech, 22.05 kHz): the generator's
#: input. The mel L1 loss uses the same settings with fmax=None (the official fmax_for_loss).
MEL = dict(sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, n_mels=80, fmin=0.0, fmax=8000.0)

_RESBLOCK1_DILATIONS = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

#: generator: the official config_v1/v2/v3.json. discriminator_width scales the channels of
#: every sub-discriminator (1.0: the paper's MPD and MSD). segment_length and batch_size: the
#: training crops (8192 samples, 0.37 s) and batch of the paper.
PRESETS = {
    "v1": dict(generator=dict(resblock="1", upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4),
                              upsample_initial_channel=512, resblock_kernel_sizes=(3, 7, 11),
                              resblock_dilation_sizes=_RESBLOCK1_DILATIONS),
               discriminator_width=1.0, segment_length=8192, batch_size=16, mel=MEL),
    "v2": dict(generator=dict(resblock="1", upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4),
                              upsample_initial_channel=128, resblock_kernel_sizes=(3, 7, 11),
                              resblock_dilation_sizes=_RESBLOCK1_DILATIONS),
               discriminator_width=1.0, segment_length=8192, batch_size=16, mel=MEL),
    "v3": dict(generator=dict(resblock="2", upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                              upsample_initial_channel=256, resblock_kernel_sizes=(3, 5, 7),
                              resblock_dilation_sizes=((1, 2), (2, 6), (3, 12))),
               discriminator_width=1.0, segment_length=8192, batch_size=16, mel=MEL),
    # The course's CPU size: V3's generator (its fastest, ResBlock2) with half the channels
    # (upsample_initial_channel 128: 0.40 M parameters, V3's 1.46 M), discriminators
    # with an eighth of the channels (MPD + MSD 1.1 M parameters instead of 70.7 M: on a CPU
    # they, not the generator, cost most of a training step), crops of 4096 samples (0.19 s)
    # and batches of 8. A training step takes about 1.2 s on one thread of a busy 2-core
    # machine (the generator 0.23 s forward and backward, the MSD's long grouped convolutions
    # most of the rest), so an hour is a few thousand steps (the paper trains 2.5 M on GPUs).
    # It synthesises 10 s of audio in about a second on one thread of that busy machine
    # (8-11x faster than real time; V1 there: 0.7x).
    "cpu": dict(generator=dict(resblock="2", upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                               upsample_initial_channel=128, resblock_kernel_sizes=(3, 5, 7),
                               resblock_dilation_sizes=((1, 2), (2, 6), (3, 12))),
                discriminator_width=0.125, segment_length=4096, batch_size=8, mel=MEL),
}

#: The paper's loss weights (section 2.4) and optimiser (section 4): AdamW, lr 2e-4,
#: betas (0.8, 0.99), learning rate times 0.999 after every epoch.
FEATURE_MATCHING_WEIGHT = 2.0
MEL_WEIGHT = 45.0
LEARNING_RATE = 2e-4
BETAS = (0.8, 0.99)
LR_DECAY = 0.999


def _padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of an odd kernel: the output is as long as the input."""
    return (kernel_size * dilation - dilation) // 2


def _check_preset(preset: str) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return PRESETS[preset]


# --- the generator ------------------------------------------------------------------------
class ResBlock1(nn.Module):
    """V1/V2's residual block: for each dilation d, x += conv(lrelu(conv_d(lrelu(x)))).
    (batch, channels, time) -> same shape. Notebook: 07_gan_vocoders.ipynb"""

    def __init__(self, channels: int, kernel_size: int = 3, dilation: Sequence[int] = (1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d)))
            for d in dilation)
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, padding=_padding(kernel_size)))
            for _ in dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.convs1, self.convs2):
            x = x + plain(F.leaky_relu(dilated(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """V3's lighter residual block: for each dilation d, x += conv_d(lrelu(x)).
    (batch, channels, time) -> same shape."""

    def __init__(self, channels: int, kernel_size: int = 3, dilation: Sequence[int] = (1, 3)):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d)))
            for d in dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


def _suggest_rates(hop_length: int) -> tuple[int, ...] | None:
    """Upsampling rates (each <= 8, largest first) whose product is hop_length, or None."""
    rates, rest = [], hop_length
    while rest > 1:
        factor = next((f for f in range(8, 1, -1) if rest % f == 0), None)
        if factor is None:
            return None
        rates.append(factor)
        rest //= factor
    return tuple(rates) or None


class Generator(nn.Module):
    """mel (batch, n_mels, frames) or (n_mels, frames) -> waveform (batch, 1, frames * hop_length)
    in [-1, 1].

    The transposed convolutions upsample by upsample_rates (their product must be hop_length,
    checked here); after each one the channels halve and multi-receptive-field fusion averages
    len(resblock_kernel_sizes) residual blocks ("1": ResBlock1, "2": ResBlock2).
    Notebook: 07_gan_vocoders.ipynb
    """

    def __init__(self, upsample_rates: Sequence[int] = (8, 8, 2, 2),
                 upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4), upsample_initial_channel: int = 512,
                 resblock: str = "1", resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = _RESBLOCK1_DILATIONS,
                 n_mels: int = 80, hop_length: int = 256, sample_rate: int | None = 22050):
        super().__init__()
        upsample_rates, upsample_kernel_sizes = tuple(upsample_rates), tuple(upsample_kernel_sizes)
        if len(upsample_kernel_sizes) != len(upsample_rates):
            raise ValueError(f"upsample_kernel_sizes {upsample_kernel_sizes} must have one kernel size per "
                             f"upsampling rate {upsample_rates} ({len(upsample_rates)})")
        if math.prod(upsample_rates) != hop_length:
            suggestion = _suggest_rates(hop_length)
            hint = (f"; e.g. upsample_rates={suggestion} with upsample_kernel_sizes="
                    f"{tuple(2 * r for r in suggestion)}" if suggestion else "")
            raise ValueError(
                f"upsample_rates {upsample_rates} multiply to {math.prod(upsample_rates)}, but hop_length is "
                f"{hop_length}: the generator makes prod(upsample_rates) samples per mel frame, so they must "
                f"multiply to the mel spectrogram's hop_length (256 at 22.05 kHz in the paper){hint}")
        for rate, kernel_size in zip(upsample_rates, upsample_kernel_sizes):
            if kernel_size < rate or (kernel_size - rate) % 2:
                raise ValueError(f"upsample kernel size {kernel_size} for rate {rate}: it must be >= the rate "
                                 f"and differ from it by an even number (the paper uses twice the rate), "
                                 f"or the output is not frames * hop_length long")
        if resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' (V1, V2) or '2' (V3), got {resblock!r}")
        if len(resblock_dilation_sizes) != len(resblock_kernel_sizes):
            raise ValueError(f"resblock_dilation_sizes needs one entry per resblock kernel size "
                             f"{tuple(resblock_kernel_sizes)}, got {len(resblock_dilation_sizes)}")
        if upsample_initial_channel % 2 ** len(upsample_rates):
            raise ValueError(f"upsample_initial_channel={upsample_initial_channel} must be divisible by "
                             f"2**{len(upsample_rates)} (the channels halve at each upsampling)")
        self.upsample_rates, self.hop_length, self.n_mels = upsample_rates, hop_length, n_mels
        self.sample_rate = sample_rate
        self.num_kernels = len(resblock_kernel_sizes)
        block = ResBlock1 if resblock == "1" else ResBlock2
        # The official init_weights (normal, std 0.01) runs after weight_norm, so it never
        # reaches the weights the layers use: their effective initialisation is PyTorch's
        # default, which is what we keep.
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, upsample_initial_channel, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = upsample_initial_channel
        for rate, kernel_size in zip(upsample_rates, upsample_kernel_sizes):
            self.ups.append(weight_norm(nn.ConvTranspose1d(channels, channels // 2, kernel_size, rate,
                                                           padding=(kernel_size - rate) // 2)))
            channels //= 2
            for kernel, dilation in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block(channels, kernel, tuple(dilation)))
        self.conv_post = weight_norm(nn.Conv1d(channels, 1, 7, padding=3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a mel spectrogram (batch, {self.n_mels}, frames), got shape {tuple(mel.shape)}")
        x = self.conv_pre(mel)
        for i, upsample in enumerate(self.ups):
            x = upsample(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            fused = blocks[0](x)
            for block in blocks[1:]:
                fused = fused + block(x)
            x = fused / self.num_kernels  # multi-receptive-field fusion
        x = F.leaky_relu(x)  # PyTorch's default slope 0.01 here, as the official code (weights expect it)
        return torch.tanh(self.conv_post(x))


def generator(preset: str = "cpu", **overrides) -> Generator:
    """The generator of a PRESETS entry; overrides replace its generator settings."""
    settings = _check_preset(preset)
    mel = settings["mel"]
    return Generator(**{**settings["generator"], **overrides}, n_mels=mel["n_mels"],
                     hop_length=mel["hop_length"], sample_rate=mel["sample_rate"])


# --- weight norm: folding it away, and the official checkpoints' keys ------------------------
def fold_weight_norm(module: nn.Module) -> nn.Module:
    """Replace every parametrised weight (weight norm, spectral norm) by the plain weight it
    computes, in place, and return `module`: the same output (to float rounding), one
    multiplication fewer per layer, and plain `.weight` keys. For inference only.

    Safe on a copy.deepcopy of a module still in use (a snapshot of a generator in training):
    a parametrised layer's class is made at parametrisation and shared by its deep copies, and
    torch's remove_parametrizations deletes the `weight` property from that class, which would
    break the original too. Each layer gets a class of its own first."""
    for layer in module.modules():
        if parametrize.is_parametrized(layer, "weight"):
            shared = type(layer)
            members = {k: v for k, v in vars(shared).items() if k not in ("__dict__", "__weakref__")}
            layer.__class__ = type(shared.__name__, shared.__bases__, members)
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    return module


_OLD_TO_NEW = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


def convert_official_state_dict(state: dict) -> dict:
    """A state dict with the old weight-norm keys (`conv_pre.weight_g`, `conv_pre.weight_v`, as
    the official release saves them) -> the keys of this module
    (`conv_pre.parametrizations.weight.original0`, `.original1`). Other keys pass unchanged."""
    converted = {}
    for key, value in state.items():
        prefix, _, name = key.rpartition(".")
        converted[f"{prefix}.{_OLD_TO_NEW[name]}" if prefix and name in _OLD_TO_NEW else key] = value
    return converted


def official_state_dict(module: nn.Module) -> dict:
    """module.state_dict() with the official release's weight-norm keys (weight_g, weight_v):
    save {"generator": official_state_dict(generator)} for the official inference.py."""
    new_to_old = {new: old for old, new in _OLD_TO_NEW.items()}
    state = {}
    for key, value in module.state_dict().items():
        for new, old in new_to_old.items():
            if key.endswith("." + new):
                key = key[: -len(new)] + old
                break
        state[key] = value
    return state


def load_generator_state(generator_module: Generator, state: dict, source: str = "checkpoint") -> Generator:
    """Load a generator state dict in either layout: the official one (weight_g / weight_v),
    ganlib's (parametrizations.weight.original0/1), or a folded one (plain .weight; the
    generator is folded first). Mismatched keys or shapes raise
    ganlib.train.CheckpointMismatchError naming them and the presets they would fit."""
    from ..train import CheckpointMismatchError, load_state

    state = convert_official_state_dict(state)
    if "conv_pre.weight" in state:
        fold_weight_norm(generator_module)
    try:
        load_state(generator_module, state, "generator", source)
    except CheckpointMismatchError as error:
        fits = [name for name in PRESETS if _fits(name, state)]
        hint = f" It fits preset {' or '.join(map(repr, fits))}." if fits else ""
        raise CheckpointMismatchError(f"{error}.{hint}") from None
    return generator_module


def _fits(preset: str, state: dict) -> bool:
    with torch.device("meta"):
        candidate = generator(preset)
    if "conv_pre.weight" in state:
        fold_weight_norm(candidate)
    own = candidate.state_dict()
    return set(own) == set(state) and all(own[k].shape == state[k].shape for k in own)


# --- the discriminators -------------------------------------------------------------------
def _widths(base: Sequence[int], width: float, groups: Sequence[int] = ()) -> list[int]:
    """The channels `base` scaled by `width`; with `groups`, each grouped layer's input and
    output channels must divide into its groups."""
    channels = [max(1, round(c * width)) for c in base]
    for c_in, c_out, g in zip([1] + channels, channels, groups):
        if c_in % g or c_out % g:
            raise ValueError(f"discriminator_width={width} gives a layer of {c_in} -> {c_out} channels, "
                             f"not divisible by its {g} groups; choose a width whose channels stay "
                             f"multiples of 16 (1, 0.5, 0.25, 0.125)")
    return channels


def _judge(convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A sub-discriminator's pass: each conv then leaky ReLU 0.1, conv_post; -> (logits
    flattened to (batch, n), every layer's output as its feature maps)."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return x.flatten(1), features


class DiscriminatorP(nn.Module):
    """One period discriminator: waveform (batch, 1, samples) -> (logits (batch, n), feature
    maps [6 tensors]). The waveform is reflect-padded to a multiple of `period` and folded to
    (batch, 1, samples / period, period); kernels (5, 1) with stride (3, 1) then see every
    period-th sample: one column per phase. Notebook: 07_gan_vocoders.ipynb"""

    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3, width: float = 1.0):
        super().__init__()
        self.period = period
        c = _widths((32, 128, 512, 1024), width)
        ins, outs = [1] + c, c + [c[-1]]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(i, o, (kernel_size, 1), (stride if n < 4 else 1, 1), padding=(_padding(5), 0)))
            for n, (i, o) in enumerate(zip(ins, outs)))
        self.conv_post = weight_norm(nn.Conv2d(outs[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = x.shape
        if length % self.period:
            x = F.pad(x, (0, self.period - length % self.period), "reflect")
        return _judge(self.convs, self.conv_post, x.view(batch, channels, -1, self.period))


class DiscriminatorS(nn.Module):
    """One scale discriminator: waveform (batch, 1, samples) -> (logits (batch, n), feature
    maps [8 tensors]). Strided, grouped 1-D convolutions (MelGAN's discriminator)."""

    def __init__(self, use_spectral_norm: bool = False, width: float = 1.0):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        groups = (1, 4, 16, 16, 16, 16, 1)
        c = _widths((128, 128, 256, 512, 1024, 1024, 1024), width, groups)
        kernels, strides = (15, 41, 41, 41, 41, 41, 5), (1, 2, 2, 4, 4, 1, 1)
        self.convs = nn.ModuleList(
            norm(nn.Conv1d(i, o, k, s, groups=g, padding=_padding(k)))
            for i, o, k, s, g in zip([1] + c[:-1], c, kernels, strides, groups))
        self.conv_post = norm(nn.Conv1d(c[-1], 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _judge(self.convs, self.conv_post, x)


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    """Waveforms (batch, samples) or (batch, 1, samples) -> (batch, 1, samples)."""
    if x.dim() == 2:
        x = x.unsqueeze(1)
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"expected waveforms (batch, samples) or (batch, 1, samples), got shape {tuple(x.shape)}")
    return x


class MultiPeriodDiscriminator(nn.Module):
    """waveforms (batch, [1,] samples) -> (list of 5 logit tensors, list of 5 feature-map
    lists), one per period (2, 3, 5, 7, 11: primes, so the periods overlap little)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList(DiscriminatorP(p, width=width) for p in periods)

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        x = _as_batch(x)
        outputs = [d(x) for d in self.discriminators]
        return [logits for logits, _ in outputs], [features for _, features in outputs]


class MultiScaleDiscriminator(nn.Module):
    """waveforms (batch, [1,] samples) -> (list of 3 logit tensors, list of 3 feature-map
    lists): the raw audio (spectral norm, which steadied training in the paper), then audio
    average-pooled x2 and x4 (kernel 4, stride 2)."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList([DiscriminatorS(True, width), DiscriminatorS(False, width),
                                             DiscriminatorS(False, width)])
        self.meanpools = nn.ModuleList([nn.AvgPool1d(4, 2, padding=2), nn.AvgPool1d(4, 2, padding=2)])

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        x = _as_batch(x)
        all_logits, all_features = [], []
        for i, discriminator in enumerate(self.discriminators):
            if i:
                x = self.meanpools[i - 1](x)
            logits, features = discriminator(x)
            all_logits.append(logits)
            all_features.append(features)
        return all_logits, all_features


class Discriminator(nn.Module):
    """MPD and MSD together, as ganlib.train.Trainer takes them: waveforms (batch, [1,] samples)
    -> (8 logit tensors, 8 feature-map lists), the five period discriminators' first."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(width=width)
        self.msd = MultiScaleDiscriminator(width=width)

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        period_logits, period_features = self.mpd(x)
        scale_logits, scale_features = self.msd(x)
        return period_logits + scale_logits, period_features + scale_features


def discriminator(preset: str = "cpu", width: float | None = None) -> Discriminator:
    """MPD + MSD at a PRESETS entry's width (or at `width`, a multiple of the paper's channels)."""
    return Discriminator(width=_check_preset(preset)["discriminator_width"] if width is None else width)


def build(preset: str = "cpu", discriminator_width: float | None = None,
          **overrides) -> tuple[Generator, Discriminator]:
    """(generator, discriminator) for a PRESETS entry; overrides go to the generator,
    discriminator_width (default: the preset's) to the discriminators."""
    return generator(preset, **overrides), discriminator(preset, discriminator_width)


# --- training -----------------------------------------------------------------------------
def optimizer(params, lr: float = LEARNING_RATE) -> torch.optim.Optimizer:
    """The paper's optimiser: AdamW, lr 2e-4, betas (0.8, 0.99) (weight decay 0.01, AdamW's
    default, as the official code). Also a factory for Trainer(g_optimizer=...).

    foreach: one op per update term for all ~200 tensors of MPD + MSD instead of one per tensor,
    the same numbers bit for bit; on 2 threads of a busy CPU, where every op waits for its
    second thread, the step of V3's optimisers takes 0.4 s instead of 0.9 s."""
    return torch.optim.AdamW(params, lr, betas=BETAS, foreach=True)


def scheduler(optim: torch.optim.Optimizer) -> torch.optim.lr_scheduler.ExponentialLR:
    """The learning rate times 0.999 after every epoch (the trainer steps it once a pass)."""
    return torch.optim.lr_scheduler.ExponentialLR(optim, gamma=LR_DECAY)


def loss_mel_spectrogram(preset: str = "cpu") -> audio.MelSpectrogram:
    """The mel spectrogram of the L1 loss: the preset's, up to Nyquist (fmax None)."""
    return audio.MelSpectrogram(**{**_check_preset(preset)["mel"], "fmax": None})


def crop_generate(trainer, real: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """Trainer(generate=...): G(mel) cut to the real batch's shape. ganlib's mel frames are
    centred (1 + samples // hop_length of them), so G makes one hop more than the crop."""
    fake = trainer.generator(mel)
    if fake.shape[-1] < real.shape[-1]:
        raise ValueError(f"the generator made {fake.shape[-1]} samples from {mel.shape[-1]} mel frames, fewer than "
                         f"the real crops' {real.shape[-1]}: are the mel frames from the same crops?")
    return fake[..., :real.shape[-1]].reshape(real.shape)


def generator_losses(mel_spectrogram: audio.MelSpectrogram | None = None,
                     feature_matching_weight: float = FEATURE_MATCHING_WEIGHT, mel_weight: float = MEL_WEIGHT,
                     scale: float = 0.5, stft_weight: float = 0.0):
    """Trainer(extra_generator_loss=...): {"feature_matching": 2 x sum of mean |D_k(x) - D_k(G(s))|
    over every feature map of every sub-discriminator, "mel_l1": 45 x mean |mel(x) - mel(G(s))|},
    both times `scale`. Not in the paper: stft_weight > 0 adds "stft": stft_weight x scale x
    Parallel WaveGAN's multi-resolution STFT loss (ganlib.losses.multi_resolution_stft_loss),
    whose 2048-point resolution resolves the harmonics that the 80 mel bands blur (chapter 07's
    experiment against pitch errors).

    scale 0.5: ganlib's least-squares losses carry Mao et al.'s 1/2, which the official code
    does not, so the extra terms are halved as well: the generator's whole objective (and the
    discriminator's) is then exactly half the paper's, the same gradients up to a factor that
    Adam's update does not see. The history's values are these weighted ones.
    Notebook: 07_gan_vocoders.ipynb
    """
    mel_spectrogram = mel_spectrogram if mel_spectrogram is not None else loss_mel_spectrogram()

    def extra(step) -> dict[str, torch.Tensor]:
        mel = mel_spectrogram.to(step.real.device)
        real, fake = step.real.reshape(-1, step.real.shape[-1]), step.fake.reshape(-1, step.fake.shape[-1])
        with torch.autocast(real.device.type, enabled=False):  # the spectrum in float32, also under bf16
            with torch.no_grad():
                real_mel = mel(real.float())
            terms = {"mel_l1": scale * mel_weight * F.l1_loss(mel(fake.float()), real_mel)}
            if stft_weight:
                terms["stft"] = scale * stft_weight * losses.multi_resolution_stft_loss(fake.float(), real.float())
        if feature_matching_weight:
            terms["feature_matching"] = scale * feature_matching_weight * losses.feature_matching_loss(
                step.d_real.features, step.d_fake.features)
        return terms

    return extra


def trainer_options(generator_module: nn.Module, discriminator_module: nn.Module, preset: str = "cpu",
                    stft_weight: float = 0.0, precision: str = "fp32") -> dict:
    """The paper's recipe as ganlib.train.Trainer keyword arguments: LSGAN, AdamW 2e-4 with
    betas (0.8, 0.99) for both networks, decay 0.999 per epoch, 2 x feature matching and
    45 x mel L1 (generator_losses), fakes cropped to the real crops (crop_generate); stft_weight:
    see generator_losses (0, the paper's recipe, by default).

    precision "fp32" also on a GPU, where Trainer would pick bf16 by itself: a generator run in
    bf16 autocast rounds its waveform to about 43 dB below the signal, and the log-mel L1 reads
    that noise floor in the bands the voice leaves empty (the shipped CPU generator's mel L1 on
    a held-out sentence: 0.45 in fp32, 0.81 in bf16). Trained in bf16 on the bundled voice, the
    held-out mel L1 rose from 0.44 to 0.49 within 1,000 steps. "bf16" is faster (benchmarks/
    hifigan_speed.py) and allowed, at that cost.

        generator, discriminator = hifigan.build("cpu")
        trainer = Trainer(generator, discriminator, loader, **hifigan.trainer_options(generator, discriminator))

    Notebook: 07_gan_vocoders.ipynb
    """
    g_optimizer, d_optimizer = optimizer(generator_module.parameters()), optimizer(discriminator_module.parameters())
    return dict(loss="lsgan", latent_dim=None, g_optimizer=g_optimizer, d_optimizer=d_optimizer,
                g_scheduler=scheduler(g_optimizer), d_scheduler=scheduler(d_optimizer),
                extra_generator_loss=generator_losses(loss_mel_spectrogram(preset), stft_weight=stft_weight),
                generate=crop_generate, precision=precision)


# --- inference ----------------------------------------------------------------------------
def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """(batch, channels, time) -> (batch, channels, 1, time), stored time-major (channels last)."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _as_conv2d(layer: nn.Conv1d, scale: float = 1.0) -> nn.Conv2d:
    """A Conv1d (plain weights) as the same convolution over (batch, channels, 1, time), its
    weight times `scale`, stored channels last."""
    conv = nn.Conv2d(layer.in_channels, layer.out_channels, (1, layer.kernel_size[0]), dilation=(1, layer.dilation[0]),
                     padding=(0, layer.padding[0]), bias=layer.bias is not None, device=layer.weight.device)
    with torch.no_grad():
        conv.weight.copy_(layer.weight.unsqueeze(2) * scale)
        if layer.bias is not None:
            conv.bias.copy_(layer.bias)
    return conv.to(memory_format=torch.channels_last)


def _polyphase_conv(layer: nn.ConvTranspose1d, scale: float = 1.0) -> nn.Conv2d:
    """A transposed convolution (stride r, kernel K, padding (K - r) / 2, so r samples out per
    sample in) as an ordinary convolution with r x its output channels: output sample t * r + p
    (phase p) is sum_j W[:, :, j * r + p + padding] . x[t - j], so one convolution with
    2 * reach + 1 taps (zeros where a phase has none) and output channels ordered (phase,
    channel) computes every phase at once. Stored channels last, its output (time, phase,
    channel) is already the upsampled signal (time * r, channel): no interleaving copy."""
    weight, rate, padding = layer.weight.detach() * scale, layer.stride[0], layer.padding[0]
    in_channels, out_channels, kernel_size = weight.shape
    taps = {}  # (phase, j) -> kernel index
    for phase in range(rate):
        for k in range(kernel_size):
            j, rest = divmod(k - phase - padding, rate)
            if rest == 0:
                taps[phase, j] = k
    reach = max(abs(j) for _, j in taps)
    poly = weight.new_zeros(rate, out_channels, in_channels, 2 * reach + 1)
    for (phase, j), k in taps.items():
        poly[phase, :, :, reach - j] = weight[:, :, k].T  # cross-correlation: tap reach - j reads x[t - j]
    conv = nn.Conv2d(in_channels, rate * out_channels, (1, 2 * reach + 1), padding=(0, reach),
                     bias=layer.bias is not None, device=weight.device)
    with torch.no_grad():
        conv.weight.copy_(poly.reshape(rate * out_channels, in_channels, 1, -1))
        if layer.bias is not None:
            conv.bias.copy_(layer.bias.repeat(rate))
    return conv.to(memory_format=torch.channels_last)


_PIECE_POOLS: dict[int, ThreadPoolExecutor] = {}


def _piece_pool(threads: int) -> ThreadPoolExecutor:
    """The worker threads FastGenerator's pieces run on, started once for each thread count."""
    if threads not in _PIECE_POOLS:
        _PIECE_POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="hifigan-piece")
    return _PIECE_POOLS[threads]


class FastGenerator(nn.Module):
    """A Generator's network, weight norm folded, arranged for fast CPU inference: the same
    layers and weights, the same audio to float rounding (tested: max |difference| < 1e-4 on a
    10 s mel), 1.6-2x faster than the official network on one or two threads of a quiet 2-core
    machine (V1 1.6x, V3 1.9x, the CPU preset 1.8-2x; benchmarks/hifigan_speed.py), and 2-6x on
    two threads of a busy one.

    - every activation is stored channels last, as (batch, channels, 1, time): oneDNN's
      convolutions read and write that layout directly, without the reorders to and from its
      blocked layout that Conv1d's (batch, channels, time) costs around every layer;
    - each transposed convolution runs as one ordinary convolution over its r phases
      (_polyphase_conv), several times faster than PyTorch's ConvTranspose1d on a CPU;
    - after each upsampling, the rest of the stage (its multi-receptive-field fusion, then the
      next upsampling, or conv_post and tanh) runs on pieces of about `chunk_elements` values
      plus the layers' reach on each side (`margins`), so each piece's middle is exactly what
      the whole signal would give and all its intermediates stay in the CPU's cache; with n
      threads, n pieces run at once, one thread each (see _stage_in_pieces);
    - residual sums and the fusion accumulate in place, the fusion's 1 / len(resblock_kernel_sizes)
      is folded into the next layer's weights (leaky ReLU commutes with a positive scale).

    mel (batch, n_mels, frames) or (n_mels, frames) -> (batch, 1, frames * hop_length), as
    Generator. The weights are copied at construction: later changes to the generator are not
    seen. Vocoder uses it on the CPU (see fast_generator).
    Notebook: 07_gan_vocoders.ipynb
    """

    chunk_elements = 1 << 18  # channels x samples of a piece, 1 MB per activation: fastest here (2 MB L2)
    parallel_pieces = True  # n threads: n pieces at once on one thread each (False: one at a time)
    margin_factor = 64  # pieces at least 64 margins long: recomputing the margins costs <= 3 %

    def __init__(self, generator_module: Generator):
        super().__init__()
        if any(parametrize.is_parametrized(m, "weight") for m in generator_module.modules()):
            generator_module = fold_weight_norm(copy.deepcopy(generator_module))
        self.n_mels, self.hop_length = generator_module.n_mels, generator_module.hop_length
        self.num_kernels = generator_module.num_kernels
        self.upsample_rates = generator_module.upsample_rates
        scale = 1.0 / self.num_kernels  # the fusion's mean, moved into the layer after it
        self.conv_pre = _as_conv2d(generator_module.conv_pre)
        self.ups = nn.ModuleList(_polyphase_conv(layer, 1.0 if i == 0 else scale)
                                 for i, layer in enumerate(generator_module.ups))
        # each block as its residual steps: (conv,) for ResBlock2, (dilated conv, conv) for ResBlock1
        self.resblocks = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(_as_conv2d(c) for c in step)
                          for step in (zip(block.convs1, block.convs2) if isinstance(block, ResBlock1)
                                       else ((c,) for c in block.convs)))
            for block in generator_module.resblocks)
        self.conv_post = _as_conv2d(generator_module.conv_post, scale)
        # each stage's reach: the context (samples on each side) one output of the stage needs
        reach = [sum(conv.padding[1] for step in steps for conv in step) for steps in self.resblocks]
        self.margins = [max(reach[i * self.num_kernels:(i + 1) * self.num_kernels]) + after.padding[1]
                        for i, after in enumerate([*self.ups[1:], self.conv_post])]
        self.eval().requires_grad_(False)

    def _upsample(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """leaky ReLU (in place) and the i-th upsampling: (batch, c, 1, t) -> (batch, c', 1, t * rate)."""
        phases = self.ups[i](F.leaky_relu_(x, LRELU_SLOPE))
        batch, channels, _, frames = phases.shape  # in memory: (batch, frames, rate, channels / rate)
        rate = self.upsample_rates[i]
        return phases.permute(0, 2, 3, 1).reshape(batch, 1, frames * rate, channels // rate).permute(0, 3, 1, 2)

    @staticmethod
    def _residual_block(steps: nn.ModuleList, x: torch.Tensor, activated: torch.Tensor) -> torch.Tensor:
        """x + the block's residual steps -> a new tensor; `activated` is leaky_relu(x), which
        every block of the fusion starts from (x and it are left as they are)."""
        y = None
        for step in steps:
            h = activated if y is None else F.leaky_relu(y, LRELU_SLOPE)
            for n, conv in enumerate(step):
                h = conv(h if n == 0 else F.leaky_relu_(h, LRELU_SLOPE))
            y = h.add_(x) if y is None else y.add_(h)
        return y

    def _stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Stage i after its upsampling: the fusion (a sum: the 1 / num_kernels is in the next
        layer), then the next upsampling, or after the last stage conv_post and tanh."""
        fused, activated = None, F.leaky_relu(x, LRELU_SLOPE)
        for steps in self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]:
            y = self._residual_block(steps, x, activated)
            fused = y if fused is None else fused.add_(y)
        if i < len(self.ups) - 1:
            return self._upsample(i + 1, fused)
        return torch.tanh_(self.conv_post(F.leaky_relu_(fused)))  # slope 0.01, as Generator

    def _stage_in_pieces(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """_stage(i, x) on equal pieces of x of about chunk_elements values, each with
        margins[i] samples of context on both sides; on the CPU only. With n > 1 threads, n
        pieces run at once on one thread each, rather than each op on n threads: an op on n
        threads waits for the slowest, a whole scheduler time slice when another process holds
        a core (10 s of V3 on 2 such threads: 8.4 s one piece at a time, 0.4 s in parallel).
        On an idle machine the two ways take the same time to within 5 %."""
        batch, channels, _, length = x.shape
        margin = self.margins[i]
        step = max(self.chunk_elements // channels, self.margin_factor * margin)
        if not self.chunk_elements or x.device.type != "cpu" or length <= step + 2 * margin:
            return self._stage(i, x)
        count = math.ceil(length / step)  # pieces of equal length, as many for each thread
        if self.parallel_pieces and torch.get_num_threads() > 1:
            count = math.ceil(count / torch.get_num_threads()) * torch.get_num_threads()
        step = math.ceil(length / count)
        last = i == len(self.ups) - 1
        rate = 1 if last else self.upsample_rates[i + 1]
        out_channels = 1 if last else self.ups[i + 1].out_channels // rate
        out = torch.empty(batch, out_channels, 1, length * rate, dtype=x.dtype, device=x.device,
                          memory_format=torch.channels_last)
        inference = torch.is_inference_mode_enabled()

        def piece(start: int) -> None:
            with torch.inference_mode(inference), torch.no_grad():
                torch.get_num_threads()  # a new thread takes up the process's thread count here
                end = min(start + step, length)
                first = max(0, start - margin)
                y = self._stage(i, x[..., first:min(length, end + margin)])
                out[..., start * rate:end * rate] = y[..., (start - first) * rate:(end - first) * rate]

        starts = range(0, length, step)
        threads = min(torch.get_num_threads(), len(starts))
        if threads == 1 or not self.parallel_pieces:
            for start in starts:
                piece(start)
        else:
            with audio._cpu_threads(1):
                list(_piece_pool(threads).map(piece, starts))
        return out

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a mel spectrogram (batch, {self.n_mels}, frames), got shape {tuple(mel.shape)}")
        x = self._upsample(0, self.conv_pre(_channels_last(mel)))
        for i in range(len(self.ups)):
            x = self._stage_in_pieces(i, x)
        return x.squeeze(2)


def fast_generator(generator_module: Generator, device=None, check: bool = True) -> nn.Module:
    """FastGenerator(generator_module) where it helps and works, else the generator itself.

    It is used on the CPU, with oneDNN (torch.backends.mkldnn) available and enabled, and (with
    `check`) when it gives the generator's output to 1e-4 on a short random mel cut in small
    pieces. Otherwise a warning says why and the generator comes back, so synthesis always
    works. On a GPU the generator comes back as it is: cuDNN's kernels are fast there."""
    device = torch.device(device) if device is not None else next(generator_module.parameters()).device
    if device.type != "cpu":
        return generator_module
    reason = None
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        reason = "oneDNN (torch.backends.mkldnn) is not available or is disabled"
    else:
        try:
            fast = FastGenerator(generator_module).to(device)
            if check:  # 8 frames, in small pieces, so that every path runs
                mel = torch.randn(1, generator_module.n_mels, 8, generator=torch.Generator().manual_seed(0),
                                  device=device)
                fast.chunk_elements, fast.margin_factor = 1 << 10, 4
                with torch.inference_mode():
                    difference = (fast(mel) - generator_module(mel)).abs().max().item()
                del fast.chunk_elements, fast.margin_factor  # back to the class's
                if not difference < 1e-4:
                    reason = f"it differs from the generator by {difference:.3g}"
        except Exception as error:  # an op or layout this torch build lacks
            reason = f"{type(error).__name__}: {error}"
    if reason is None:
        return fast
    warnings.warn(f"HiFi-GAN's fast CPU synthesis is off ({reason}); using the plain generator", RuntimeWarning,
                  stacklevel=2)
    return generator_module


class MelVocoder:
    """What every vocoder of the course shares (hifigan.Vocoder, fourier.Vocoder): a subclass
    sets .device, .generator (with .hop_length) and .mel_spectrogram, and defines __call__
    (log-mel (n_mels, frames) -> waveform (frames * hop_length,)).
    Notebook: 07_gan_vocoders.ipynb"""

    @property
    def sample_rate(self) -> int:
        return self.mel_spectrogram.sample_rate

    @property
    def hop_length(self) -> int:
        return self.generator.hop_length

    def mel(self, waveform) -> torch.Tensor:
        """Waveform (samples,) or (batch, samples), numpy or torch -> log-mel (.., n_mels, frames)."""
        waveform = torch.as_tensor(waveform, dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            return self.mel_spectrogram(waveform)

    def from_wav(self, path: str | os.PathLike) -> torch.Tensor:
        """Read an audio file (resampled to sample_rate), take its mel spectrogram and vocode it:
        (samples,), as long as the file."""
        waveform, _ = audio.load(path, self.sample_rate)
        return self(self.mel(waveform))[: len(waveform)]


class Vocoder(MelVocoder):
    """A trained generator, weight norm folded away, ready to turn mel spectrograms into audio.

        vocoder = Vocoder.from_checkpoint("generator_v1", preset="v1")   # official or ganlib
        waveform = vocoder.from_wav("speech.wav")       # (samples,), at vocoder.sample_rate
        waveform = vocoder(vocoder.mel(waveform))       # mel (n_mels, frames) -> (frames * hop,)

    .sample_rate, .hop_length, .generator (eval mode), .mel_spectrogram (the preset's).
    Vocoder(generator) folds a copy of the generator (copy_generator=False: the generator itself).
    fast (default): synthesise on the CPU with FastGenerator, the same network and audio (to
    1e-4) 1.6-2x faster (fast_generator: falls back to .generator, with a warning, where it
    cannot); .synthesiser is what runs. It copies the weights: after changing .generator's,
    make a new Vocoder.

    With the official weights: ganlib's mel frames are centred on multiples of hop_length
    (MelSpectrogram, center=True), the official ones half a hop later, so the audio comes out
    half a hop (5.8 ms) late, and up to one hop longer (from_wav cuts it to the file's length).
    Notebook: 07_gan_vocoders.ipynb
    """

    def __init__(self, generator_module: Generator, mel_spectrogram: audio.MelSpectrogram | None = None,
                 device=None, copy_generator: bool = True, fast: bool = True):
        from .. import config

        self.device = config.get_device(device)
        if copy_generator:  # leave the caller's generator as it was (e.g. still training)
            generator_module = copy.deepcopy(generator_module)
        self.generator = fold_weight_norm(generator_module).eval().requires_grad_(False).to(self.device)
        self.synthesiser = fast_generator(self.generator, self.device) if fast else self.generator
        self.mel_spectrogram = (mel_spectrogram if mel_spectrogram is not None
                                else audio.MelSpectrogram(**MEL)).to(self.device)
        if self.mel_spectrogram.hop_length != self.generator.hop_length:
            raise ValueError(f"the mel spectrogram's hop_length {self.mel_spectrogram.hop_length} is not the "
                             f"generator's {self.generator.hop_length}")

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, preset: str = "v1", ema: bool = True, device=None,
                        fast: bool = True) -> "Vocoder":
        """Load a generator: an official HiFi-GAN file ({"generator": state dict with weight_g /
        weight_v}), a ganlib training checkpoint (last.pt: its "generator_ema" when present and
        `ema`, else "generator"), or a bare state dict. Read with weights_only=True."""
        from ..train import load_checkpoint

        checkpoint = load_checkpoint(path)
        state = checkpoint
        if isinstance(checkpoint, dict) and "generator" in checkpoint:
            state = (checkpoint.get("generator_ema") if ema else None) or checkpoint["generator"]
        settings = _check_preset(preset)
        module = load_generator_state(generator(preset), {k: v.float() for k, v in state.items()}, str(path))
        return cls(module, audio.MelSpectrogram(**settings["mel"]), device, copy_generator=False, fast=fast)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (n_mels, frames) -> waveform (frames * hop_length,); (batch, n_mels, frames)
        -> (batch, frames * hop_length). On the CPU."""
        mel = torch.as_tensor(mel, dtype=torch.float32)
        with torch.inference_mode():
            waveform = self.synthesiser(mel.to(self.device)).squeeze(1)
        return (waveform.squeeze(0) if mel.dim() == 2 else waveform).cpu()
