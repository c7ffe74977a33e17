"""Plots and players: waveforms, spectrograms, training histories, sample clouds, audio.

Every function draws on `ax` if given (else a new figure) and returns the axes, so notebooks
can compose figures.

Notebooks: 00_audio_basics.ipynb (waveform, spectrogram, audio), 02_first_gan.ipynb (history),
04_wavegan.ipynb (latent interpolation).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def _numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _axes(ax, figsize=(8, 2.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=figsize)[1]


def plot_waveform(waveform, sample_rate: int, ax=None, title: str | None = None, **style):
    """waveform (samples,) against time in seconds."""
    wave = _numpy(waveform).reshape(-1)
    ax = _axes(ax)
    ax.plot(np.arange(len(wave)) / sample_rate, wave, linewidth=style.pop("linewidth", 0.8), **style)
    ax.set(xlabel="time (s)", ylabel="amplitude", xlim=(0, len(wave) / sample_rate))
    if title:
        ax.set_title(title)
    return ax


def plot_spectrogram(waveform=None, sample_rate: int = 16000, spectrogram=None, ax=None,
                     title: str | None = None, n_fft: int = 512, hop_length: int = 128,
                     y_axis: str = "linear", colorbar: bool = True):
    """A log-magnitude spectrogram of `waveform` (samples,), or show a given `spectrogram`
    (freq, frames) in dB as is. y_axis: "linear", "log" or "mel" (librosa.display's names)."""
    import librosa
    import librosa.display
    ax = _axes(ax, figsize=(8, 3))
    if spectrogram is None:
        wave = _numpy(waveform).reshape(-1)
        magnitude = np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=hop_length))
        spectrogram = librosa.amplitude_to_db(magnitude, ref=np.max, top_db=80)
    image = librosa.display.specshow(_numpy(spectrogram), sr=sample_rate, hop_length=hop_length,
                                     x_axis="time", y_axis=y_axis, ax=ax, cmap="magma")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format="%+.0f dB" if y_axis != "mel" else "%+.1f")
    if title:
        ax.set_title(title)
    return ax


def show_audio(waveform, sample_rate: int, normalize: bool = True):
    """An IPython audio player for waveform (samples,). Returns the display object."""
    from IPython.display import Audio
    return Audio(_numpy(waveform).reshape(-1), rate=sample_rate, normalize=normalize)


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="valid")


def plot_history(history, keys: Sequence[str] | None = None, smooth: int = 1, ax=None):
    """Training curves from a ganlib.train.History: by default losses on the left panel and
    D(x), D(G(z)) on the right. With `keys`, those series on one panel."""
    import matplotlib.pyplot as plt
    steps = np.asarray(history.steps)
    if keys is not None:
        ax = _axes(ax, figsize=(8, 3))
        for key in keys:
            values = _smooth(np.asarray(history[key]), smooth)
            ax.plot(steps[len(steps) - len(values):], values, label=key)
        ax.set(xlabel="step")
        ax.legend()
        return ax
    fig, axes = plt.subplots(1, 2, figsize=(11, 3))
    for panel, group, title in ((axes[0], ("d_loss", "g_loss"), "losses"),
                                (axes[1], ("d_real", "d_fake"), "discriminator outputs")):
        for key in group:
            values = _smooth(np.asarray(history[key]), smooth)
            label = {"d_real": "D(x)", "d_fake": "D(G(z))"}.get(key, key)
            panel.plot(steps[len(steps) - len(values):], values, label=label)
        panel.set(xlabel="step", title=title)
        panel.legend()
    fig.tight_layout()
    return axes


def plot_samples_2d(real, fake, ax=None, title: str | None = None, centers=None):
    """Scatter real (n, 2) and generated (m, 2) points, e.g. the ring of Gaussians."""
    ax = _axes(ax, figsize=(4, 4))
    real, fake = _numpy(real), _numpy(fake)
    ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.5, label="generated")
    if centers is not None:
        c = _numpy(centers)
        ax.scatter(c[:, 0], c[:, 1], marker="x", color="k", s=30, label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title)
    return ax


def plot_density_1d(real, fake, ax=None, bins: int = 80, range_=(-1.2, 1.2), density_fn=None,
                    title: str | None = None):
    """Histograms of real and generated 1-D samples (n, 1), with the true density if given."""
    ax = _axes(ax, figsize=(6, 3))
    ax.hist(_numpy(real).reshape(-1), bins=bins, range=range_, density=True, alpha=0.4, label="real")
    ax.hist(_numpy(fake).reshape(-1), bins=bins, range=range_, density=True, alpha=0.4, label="generated")
    if density_fn is not None:
        xs = torch.linspace(*range_, 400)
        ax.plot(xs.numpy(), _numpy(density_fn(xs)), "k", linewidth=1, label="p_data")
    ax.set(xlabel="x", ylabel="density")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def explore(function, **controls):
    """A slider explorer like `ipywidgets.interact`, safe to run headless (nbconvert, nbval).

    function(**values) returns what to show for the controls' current values: a matplotlib
    Figure (it is closed once rendered; don't call plt.show inside), a display object such as
    `show_audio`'s player, or a tuple of them. controls: name=widget, each an ipywidgets value
    widget (IntSlider, FloatSlider, Dropdown, ...). It draws once now, then again whenever a
    control changes, and never waits for input. Returns the displayed VBox (controls, output).

    Why not `interact`: interact captures its output through an Output widget, and nbclient
    (which nbconvert and nbval run notebooks with) answers every captured output on the
    kernel's shell channel while it awaits the cell's reply there; now and then it misses the
    reply and hangs until its timeout (jupyter/nbclient#312, jupyter/nbconvert#2029). Here the
    output widget's contents are set directly, so nothing is captured.

    Notebook: 00_audio_basics.ipynb
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.figure import Figure

    panel = widgets.Output()

    def redraw(change=None):
        shown = function(**{name: control.value for name, control in controls.items()})
        panel.outputs = ()
        for item in shown if isinstance(shown, tuple) else (shown,):
            if item is None:
                continue
            panel.append_display_data(item)
            if isinstance(item, Figure):
                plt.close(item)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([*controls.values(), panel])
    display(box)
    return box


def interpolate_latents(start: torch.Tensor, end: torch.Tensor, t, spherical: bool = True) -> torch.Tensor:
    """Points on the way from latent vector `start` to `end` (both (latent_dim,)).

    t: a fraction in [0, 1] -> (latent_dim,), or a sequence / 1-D tensor of them ->
    (len(t), latent_dim). spherical=False: the straight line (1 - t) start + t end.
    spherical=True: slerp (Shoemake, 1985; White, 2016), which follows the great circle between
    the two directions, with Omega the angle between start and end:

        slerp(t) = sin((1 - t) Omega) / sin(Omega) * start + sin(t Omega) / sin(Omega) * end

    For Gaussian z of high dimension every sample lies near the sphere of radius sqrt(latent_dim);
    the straight line cuts inside it (its midpoint has about 0.71 times that norm), slerp keeps
    the norm of two equally long vectors. (Nearly) parallel vectors fall back to the line.
    Notebook: 04_wavegan.ipynb
    """
    start, end = torch.as_tensor(start, dtype=torch.float32), torch.as_tensor(end, dtype=torch.float32)
    if start.shape != end.shape or start.dim() != 1:
        raise ValueError(f"start and end must be vectors of the same size, got {tuple(start.shape)} "
                         f"and {tuple(end.shape)}")
    fractions = torch.as_tensor(t, dtype=torch.float32)
    single = fractions.dim() == 0
    fractions = fractions.reshape(-1, 1)
    if spherical:
        cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp_min(1e-12)
        omega = torch.arccos(cosine.clamp(-1.0, 1.0))
        if torch.sin(omega) > 1e-6:
            points = (torch.sin((1 - fractions) * omega) * start + torch.sin(fractions * omega) * end) / torch.sin(omega)
            return points[0] if single else points
    points = (1 - fractions) * start + fractions * end
    return points[0] if single else points
