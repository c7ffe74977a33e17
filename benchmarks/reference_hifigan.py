"""The official HiFi-GAN (github.com/jik876/hifi-gan: models.py, meldataset.py, train.py,
inference.py), written plainly, as the yardstick of benchmarks/hifigan_speed.py and of the
tests that check ganlib.models.hifigan against it.

    OfficialGenerator        models.Generator: old-style weight norm (torch.nn.utils.weight_norm),
                             remove_weight_norm() as inference.py calls it
    official_generator       one, seeded, with its weight-norm gains moved away from ||v||
    synthesise               inference.py: eval, weight norm removed, torch.no_grad
    OfficialMPD, OfficialMSD models.MultiPeriodDiscriminator / MultiScaleDiscriminator
    official_mel_spectrogram meldataset.mel_spectrogram (librosa's filterbank, reflect padding)
    OfficialTraining         train.py's step: D step (MPD + MSD, LSGAN), then G step (LSGAN
                             + 2 x feature matching + 45 x mel L1), AdamW 2e-4, betas (0.8, 0.99)

Nothing here is tuned: it is the eager network as the official scripts run it.
"""
from __future__ import annotations

import warnings

import librosa
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import remove_weight_norm, spectral_norm, weight_norm

LRELU_SLOPE = 0.1


def _quiet(factory):
    """torch.nn.utils.weight_norm / spectral_norm are deprecated (FutureWarning), but they are
    what the official code calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return factory()


def get_padding(kernel_size, dilation=1):
    return int((kernel_size * dilation - dilation) / 2)


# --- the generator ------------------------------------------------------------------------
class OfficialResBlock(nn.Module):
    """The official ResBlock1 ("1") or ResBlock2 ("2"), with old-style weight norm."""

    def __init__(self, kind, channels, kernel_size, dilation):
        super().__init__()
        def conv(d):
            return weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                         padding=get_padding(kernel_size, d)))
        self.kind = kind
        if kind == "1":
            self.convs1 = nn.ModuleList(conv(d) for d in dilation)
            self.convs2 = nn.ModuleList(conv(1) for _ in dilation)
        else:
            self.convs = nn.ModuleList(conv(d) for d in dilation)

    def forward(self, x):
        if self.kind == "1":
            for c1, c2 in zip(self.convs1, self.convs2):
                x = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE)) + x
        else:
            for c in self.convs:
                x = c(F.leaky_relu(x, LRELU_SLOPE)) + x
        return x

    def remove_weight_norm(self):
        for layer in self.modules():
            if isinstance(layer, nn.Conv1d):
                remove_weight_norm(layer)


class OfficialGenerator(nn.Module):
    """models.Generator of the official release: mel (batch, 80, frames) -> (batch, 1, samples)."""

    def __init__(self, resblock, upsample_rates, upsample_kernel_sizes, upsample_initial_channel,
                 resblock_kernel_sizes, resblock_dilation_sizes):
        super().__init__()
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = weight_norm(nn.Conv1d(80, upsample_initial_channel, 7, 1, padding=3))
        self.ups, self.resblocks = nn.ModuleList(), nn.ModuleList()
        for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            self.ups.append(weight_norm(nn.ConvTranspose1d(upsample_initial_channel // 2 ** i,
                                                           upsample_initial_channel // 2 ** (i + 1),
                                                           k, u, padding=(k - u) // 2)))
        for i in range(len(self.ups)):
            ch = upsample_initial_channel // 2 ** (i + 1)
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(OfficialResBlock(resblock, ch, k, d))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))

    def forward(self, x):
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = None
            for j in range(self.num_kernels):
                out = self.resblocks[i * self.num_kernels + j](x)
                xs = out if xs is None else xs + out
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def remove_weight_norm(self):
        for layer in self.ups:
            remove_weight_norm(layer)
        for block in self.resblocks:
            block.remove_weight_norm()
        remove_weight_norm(self.conv_pre)
        remove_weight_norm(self.conv_post)


def official_generator(generator_settings: dict, seed: int = 0) -> OfficialGenerator:
    """An OfficialGenerator (settings: a ganlib.models.hifigan.PRESETS entry's "generator"),
    seeded, its weight-norm gains scaled by U(0.5, 1.5) away from ||v|| so that a lost gain
    would show. In training mode, weight norm on, like a checkpoint being trained."""
    torch.manual_seed(seed)
    generator = _quiet(lambda: OfficialGenerator(**generator_settings))
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5))
    return generator


def prepare_for_inference(generator: OfficialGenerator) -> OfficialGenerator:
    """inference.py: generator.eval(); generator.remove_weight_norm(). In place."""
    generator.eval()
    generator.remove_weight_norm()
    return generator


def synthesise(generator: OfficialGenerator, mel: torch.Tensor) -> torch.Tensor:
    """inference.py's synthesis: with torch.no_grad(), y_g_hat = generator(x), squeezed."""
    with torch.no_grad():
        return generator(mel).squeeze()


# --- the discriminators -------------------------------------------------------------------
class OfficialDiscriminatorP(nn.Module):
    def __init__(self, period, kernel_size=5, stride=3):
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, 32, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            weight_norm(nn.Conv2d(32, 128, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            weight_norm(nn.Conv2d(128, 512, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            weight_norm(nn.Conv2d(512, 1024, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            weight_norm(nn.Conv2d(1024, 1024, (kernel_size, 1), 1, padding=(2, 0))),
        ])
        self.conv_post = weight_norm(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        fmap = []
        b, c, t = x.shape
        if t % self.period != 0:
            n_pad = self.period - (t % self.period)
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        for layer in self.convs:
            x = layer(x)
            x = F.leaky_relu(x, LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        x = torch.flatten(x, 1, -1)
        return x, fmap


class OfficialMPD(nn.Module):
    def __init__(self):
        super().__init__()
        self.discriminators = _quiet(lambda: nn.ModuleList(OfficialDiscriminatorP(p) for p in (2, 3, 5, 7, 11)))

    def forward(self, y, y_hat):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for d in self.discriminators:
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


class OfficialDiscriminatorS(nn.Module):
    def __init__(self, use_spectral_norm=False):
        super().__init__()
        norm_f = spectral_norm if use_spectral_norm else weight_norm
        self.convs = nn.ModuleList([
            norm_f(nn.Conv1d(1, 128, 15, 1, padding=7)),
            norm_f(nn.Conv1d(128, 128, 41, 2, groups=4, padding=20)),
            norm_f(nn.Conv1d(128, 256, 41, 2, groups=16, padding=20)),
            norm_f(nn.Conv1d(256, 512, 41, 4, groups=16, padding=20)),
            norm_f(nn.Conv1d(512, 1024, 41, 4, groups=16, padding=20)),
            norm_f(nn.Conv1d(1024, 1024, 41, 1, groups=16, padding=20)),
            norm_f(nn.Conv1d(1024, 1024, 5, 1, padding=2)),
        ])
        self.conv_post = norm_f(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x):
        fmap = []
        for layer in self.convs:
            x = layer(x)
            x = F.leaky_relu(x, LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        x = torch.flatten(x, 1, -1)
        return x, fmap


class OfficialMSD(nn.Module):
    def __init__(self):
        super().__init__()
        self.discriminators = _quiet(lambda: nn.ModuleList([
            OfficialDiscriminatorS(use_spectral_norm=True), OfficialDiscriminatorS(), OfficialDiscriminatorS()]))
        self.meanpools = nn.ModuleList([nn.AvgPool1d(4, 2, padding=2), nn.AvgPool1d(4, 2, padding=2)])

    def forward(self, y, y_hat):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for i, d in enumerate(self.discriminators):
            if i != 0:
                y = self.meanpools[i - 1](y)
                y_hat = self.meanpools[i - 1](y_hat)
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


# --- losses and the mel spectrogram -------------------------------------------------------
def feature_loss(fmap_r, fmap_g):
    loss = 0
    for dr, dg in zip(fmap_r, fmap_g):
        for rl, gl in zip(dr, dg):
            loss += torch.mean(torch.abs(rl - gl))
    return loss * 2


def discriminator_loss(disc_real_outputs, disc_generated_outputs):
    loss = 0
    for dr, dg in zip(disc_real_outputs, disc_generated_outputs):
        loss += torch.mean((1 - dr) ** 2) + torch.mean(dg ** 2)
    return loss


def generator_loss(disc_outputs):
    loss = 0
    for dg in disc_outputs:
        loss += torch.mean((1 - dg) ** 2)
    return loss


_MEL_BASIS: dict = {}


def official_mel_spectrogram(y, n_fft=1024, num_mels=80, sampling_rate=22050, hop_size=256, win_size=1024,
                             fmin=0, fmax=None):
    """meldataset.mel_spectrogram: reflect-pad (n_fft - hop) / 2 each side, uncentred STFT,
    sqrt(|X|^2 + 1e-9), librosa's filterbank, log(clamp(., 1e-5)). (batch, samples) -> (batch, 80, frames)."""
    key = (fmax, str(y.device))
    if key not in _MEL_BASIS:
        basis = librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin, fmax=fmax)
        _MEL_BASIS[key] = (torch.from_numpy(basis).float().to(y.device), torch.hann_window(win_size).to(y.device))
    mel_basis, window = _MEL_BASIS[key]
    y = F.pad(y.unsqueeze(1), (int((n_fft - hop_size) / 2), int((n_fft - hop_size) / 2)), mode="reflect").squeeze(1)
    spec = torch.view_as_real(torch.stft(y, n_fft, hop_length=hop_size, win_length=win_size, window=window,
                                         center=False, pad_mode="reflect", normalized=False, onesided=True,
                                         return_complex=True))
    spec = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
    spec = torch.matmul(mel_basis, spec)
    return torch.log(torch.clamp(spec, min=1e-5))


# --- the training step --------------------------------------------------------------------
class OfficialTraining:
    """train.py's models, optimisers and step. generator: an OfficialGenerator (weight norm on).

        training = OfficialTraining(official_generator(PRESETS["v3"]["generator"]))
        training.step(mel, waveform)    # mel (batch, 80, frames), waveform (batch, 1, samples)
    """

    def __init__(self, generator: OfficialGenerator, learning_rate=2e-4, betas=(0.8, 0.99)):
        self.generator = generator.train()
        self.mpd, self.msd = OfficialMPD().train(), OfficialMSD().train()
        self.optim_g = torch.optim.AdamW(self.generator.parameters(), learning_rate, betas=betas)
        self.optim_d = torch.optim.AdamW(list(self.msd.parameters()) + list(self.mpd.parameters()),
                                         learning_rate, betas=betas)

    def step(self, x, y, y_mel=None):
        """One step of train.py on mel x and audio y (the loader's y_mel, the loss mel of y
        with fmax None, is computed here when not given). Returns (loss_disc_all, loss_gen_all)."""
        if y_mel is None:
            y_mel = official_mel_spectrogram(y.squeeze(1))
        y_g_hat = self.generator(x)[..., :y.shape[-1]]
        y_g_hat_mel = official_mel_spectrogram(y_g_hat.squeeze(1))

        self.optim_d.zero_grad()
        # MPD
        y_df_hat_r, y_df_hat_g, _, _ = self.mpd(y, y_g_hat.detach())
        loss_disc_f = discriminator_loss(y_df_hat_r, y_df_hat_g)
        # MSD
        y_ds_hat_r, y_ds_hat_g, _, _ = self.msd(y, y_g_hat.detach())
        loss_disc_s = discriminator_loss(y_ds_hat_r, y_ds_hat_g)
        loss_disc_all = loss_disc_s + loss_disc_f
        loss_disc_all.backward()
        self.optim_d.step()

        # Generator
        self.optim_g.zero_grad()
        loss_mel = F.l1_loss(y_mel, y_g_hat_mel) * 45
        y_df_hat_r, y_df_hat_g, fmap_f_r, fmap_f_g = self.mpd(y, y_g_hat)
        y_ds_hat_r, y_ds_hat_g, fmap_s_r, fmap_s_g = self.msd(y, y_g_hat)
        loss_fm_f = feature_loss(fmap_f_r, fmap_f_g)
        loss_fm_s = feature_loss(fmap_s_r, fmap_s_g)
        loss_gen_f = generator_loss(y_df_hat_g)
        loss_gen_s = generator_loss(y_ds_hat_g)
        loss_gen_all = loss_gen_s + loss_gen_f + loss_fm_s + loss_fm_f + loss_mel
        loss_gen_all.backward()
        self.optim_g.step()
        return loss_disc_all.detach(), loss_gen_all.detach()
