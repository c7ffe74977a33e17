"""The course's audio front end: spectrograms in torch, on any device, batched.

Chapters 00-03 use the spectrograms; the data chapter adds files (load, save), the small
waveform tools (normalize, trim_silence, pad_or_crop, pre-/de-emphasis) and the way back from a
spectrogram to a waveform (griffin_lim, mel_to_audio); chapter 08 adds speech in noise (mix_at_snr).

Notebook: 00_audio_basics.ipynb
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
import soundfile
import torch
from torch import nn


class MelSpectrogram(nn.Module):
    """Waveforms (batch, samples) or (samples,) -> mel spectrograms (batch, n_mels, frames).

    The filterbank is librosa's (Slaney-normalised, as librosa.filters.mel), so the result
    matches `librosa.feature.melspectrogram` with the same settings. With `log=True` the output
    is log(clamp(mel, min=1e-5)), HiFi-GAN's convention.

    Frames: 1 + samples // hop_length when center=True (librosa's default padding).

    Speed on CPU: without autograd the magnitude is sqrt(re^2 + im^2) on the (frames, freq)
    layout torch.stft computes in (3x cheaper than complex abs), and inputs of up to
    `single_thread_samples` samples run on one thread: each op takes well under a millisecond,
    and with two or more threads every op waits for all of them, a whole scheduler time slice
    (about 5 ms) when another process holds a core. benchmarks/mel_speed.py measures it.
    Notebook: 00_audio_basics.ipynb
    """

    single_thread_samples = 1 << 20  # about 48 s at 22.05 kHz, all batch rows together

    def __init__(self, sample_rate: int = 22050, n_fft: int = 1024, hop_length: int = 256,
                 win_length: int | None = None, n_mels: int = 80, fmin: float = 0.0,
                 fmax: float | None = None, power: float = 1.0, center: bool = True,
                 pad_mode: str = "reflect", log: bool = True, log_floor: float = 1e-5):
        super().__init__()
        win_length = win_length or n_fft
        if win_length > n_fft:
            raise ValueError(f"win_length={win_length} must be <= n_fft={n_fft}")
        if fmax is not None and fmax > sample_rate / 2:
            raise ValueError(f"fmax={fmax} Hz is above the Nyquist frequency {sample_rate / 2} Hz")
        self.sample_rate, self.n_fft, self.hop_length, self.win_length = sample_rate, n_fft, hop_length, win_length
        self.n_mels, self.power, self.center, self.pad_mode = n_mels, power, center, pad_mode
        self.log, self.log_floor = log, log_floor
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        squeeze = waveform.dim() == 1
        if squeeze:
            waveform = waveform.unsqueeze(0)
        if waveform.dim() != 2:
            raise ValueError(f"expected a waveform (samples,) or (batch, samples), got shape {tuple(waveform.shape)}")
        small = waveform.device.type == "cpu" and waveform.numel() <= self.single_thread_samples
        with _cpu_threads(1 if small else None):
            mel = self._mel(waveform.float())
        return mel.squeeze(0) if squeeze else mel

    def _mel(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveform, self.n_fft, self.hop_length, self.win_length, self.window,
                          center=self.center, pad_mode=self.pad_mode, return_complex=True)
        spec = spec.transpose(-1, -2)  # (batch, frames, freq): the layout torch.stft fills, contiguous
        if self.power != 2.0 and torch.is_grad_enabled() and spec.requires_grad:
            magnitude = spec.abs()  # its gradient at 0 is 0, where sqrt's is infinite
            spec = magnitude if self.power == 1.0 else magnitude ** self.power
        else:
            spec = spec.real.square().addcmul_(spec.imag, spec.imag)  # |X|^2
            if self.power != 2.0:
                spec = spec.sqrt_() if self.power == 1.0 else spec.pow_(self.power / 2)
        mel = torch.matmul(self.mel_basis, spec.transpose(-1, -2))  # (batch, n_mels, frames)
        if self.log:
            mel = torch.log(torch.clamp(mel, min=self.log_floor))
        return mel


@contextlib.contextmanager
def _cpu_threads(threads: int | None):
    """Runs the block on `threads` intra-op CPU threads (None: as it is), then restores the count.

    torch.set_num_threads is process-wide: other Python threads using torch meanwhile see it too.
    """
    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def stft_magnitude(waveform: torch.Tensor, n_fft: int = 1024, hop_length: int = 256) -> torch.Tensor:
    """|STFT| with a Hann window: (batch, samples) -> (batch, n_fft // 2 + 1, frames)."""
    window = torch.hann_window(n_fft, device=waveform.device)
    return torch.stft(waveform.float(), n_fft, hop_length, window=window, return_complex=True).abs()


def to_db(magnitude, ref: float | None = None, top_db: float = 80.0) -> np.ndarray:
    """Amplitude (numpy or torch) -> decibels relative to `ref` (default: the maximum)."""
    magnitude = magnitude.detach().cpu().numpy() if isinstance(magnitude, torch.Tensor) else np.asarray(magnitude)
    return librosa.amplitude_to_db(magnitude, ref=np.max if ref is None else ref, top_db=top_db)


def dominant_frequency(frames: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The frequency in Hz of the strongest FFT bin of each frame, ignoring 0 Hz (DC):
    frames (batch, samples) -> (batch,), or (samples,) -> a 0-d tensor.

    Each frame's mean is removed first and the 0 Hz bin skipped, so an offset never wins. A
    Hann window keeps a loud tone's spectral leakage out of the neighbouring bins. The answer
    is a bin centre, so it is exact to within sample_rate / samples Hz (15.6 Hz for 1024 samples
    at 16 kHz). A crude pitch detector, enough to ask "which pitches did a generator produce?".
    Notebook: 02_first_gan.ipynb
    """
    if frames.dim() not in (1, 2) or frames.shape[-1] < 2:
        raise ValueError(f"expected frames (batch, samples) or (samples,) with samples >= 2, got shape {tuple(frames.shape)}")
    length = frames.shape[-1]
    window = torch.hann_window(length, periodic=False, device=frames.device)
    centred = frames.float() - frames.float().mean(dim=-1, keepdim=True)
    magnitude = torch.fft.rfft(centred * window, dim=-1).abs()
    peak_bin = magnitude[..., 1:].argmax(dim=-1) + 1
    return peak_bin.float() * (sample_rate / length)


# --- Files ----------------------------------------------------------------------------------

_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
_DATA_LENGTH = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def pitch_contour(waveform, sample_rate: int, fmin: float = 65.0, fmax: float = 500.0,
                  frame_length: int = 1024, hop_length: int = 256) -> np.ndarray:
    """The fundamental frequency of a waveform (samples,) frame by frame, in Hz, NaN where the
    frame is unvoiced: librosa's pYIN (Mauch and Dixon, 2014; 10-cent resolution) between fmin
    and fmax, frames of frame_length samples every hop_length (centred).
    Notebook: 07_gan_vocoders.ipynb"""
    if fmin <= 0 or fmax <= fmin:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    waveform = np.asarray(_as_numpy(waveform), dtype=np.float32).reshape(-1)
    f0, voiced, _ = librosa.pyin(waveform, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=frame_length,
                                 hop_length=hop_length)
    return np.where(voiced, f0, np.nan)


def load(path, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read a WAV or FLAC file -> (waveform float32, sample_rate).

    Any bit depth soundfile reads (8-bit unsigned, 16/24/32-bit integer PCM, 32/64-bit float)
    and any number of channels. Integer PCM is scaled to [-1, 1); float files are returned as
    they are, so a float file whose peaks are above 1.0 stays above 1.0 (normalize() if needed).
    Shape (samples,) when mono (the channels averaged), else (channels, samples). With
    `sample_rate` given and different from the file's, resampled with librosa.resample (soxr).

    Refused, with the file named in the message: a missing file (FileNotFoundError); an empty,
    unreadable or corrupt file, a truncated WAV (its header announces more data than the file
    holds), a file with no samples, and one holding NaN or inf samples (ValueError).
    Notebook: 00_audio_basics.ipynb
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file at {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes)")
    try:
        info = soundfile.info(str(path))
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        raise ValueError(f"cannot read {path} as audio: {error}") from error
    for announced, present in _DATA_LENGTH.findall(info.extra_info):
        if int(present) < int(announced) < 0xFFFFFFFF:  # 0 and 0xFFFFFFFF: a streamed WAV's "unknown"
            raise ValueError(f"{path} is truncated: its header announces {announced} bytes of audio "
                             f"data but only {present} are there")
    if data.shape[0] == 0:
        raise ValueError(f"{path} holds no audio samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{path} contains NaN/inf samples")
    waveform = data.mean(axis=1) if mono else np.ascontiguousarray(data.T)
    if sample_rate is not None and sample_rate != file_rate:
        waveform = librosa.resample(waveform, orig_sr=file_rate, target_sr=sample_rate, res_type="soxr_hq", axis=-1)
        file_rate = sample_rate
    return waveform.astype(np.float32, copy=False), int(file_rate)


def save(path, waveform, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write a waveform (samples,) or (channels, samples), numpy or torch, to WAV or FLAC
    (chosen by the extension), atomically: a temporary file in the same folder, then os.replace,
    so a failed save never leaves half a file (nor removes the one that was there).

    NaN/inf samples are refused (ValueError). For integer subtypes (PCM_16, PCM_24, ...) samples
    are clipped to [-1, 1], with a warning when some were outside.
    Notebook: 00_audio_basics.ipynb
    """
    path = Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(f"cannot save {path}: the extension must be one of {sorted(_FORMATS)}")
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu().numpy()
    waveform = np.asarray(waveform)
    if waveform.ndim not in (1, 2) or waveform.shape[-1] == 0:
        raise ValueError(f"cannot save {path}: expected a waveform (samples,) or (channels, samples), "
                         f"got shape {waveform.shape}")
    if not np.isfinite(waveform).all():
        raise ValueError(f"cannot save {path}: the waveform contains NaN/inf samples")
    if subtype.upper() not in ("FLOAT", "DOUBLE") and np.abs(waveform).max() > 1.0:
        warnings.warn(f"{path}: samples outside [-1, 1] (peak {np.abs(waveform).max():.3g}) clipped for {subtype}",
                      stacklevel=2)
        waveform = np.clip(waveform, -1.0, 1.0)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        soundfile.write(temporary, waveform.T, sample_rate, subtype=subtype, format=file_format)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# --- Waveform tools --------------------------------------------------------------------------

def _as_numpy(waveform):
    return waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)


def _like(result: np.ndarray, template):
    """numpy `result` back to the type, dtype and device of `template`."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(np.ascontiguousarray(result)).to(device=template.device, dtype=template.dtype)
    return result.astype(np.asarray(template).dtype, copy=False)


def normalize(waveform, peak: float = 0.95):
    """Scale each waveform so its largest |sample| is `peak`: (..., samples), numpy or torch,
    same type out. Silence (all zeros) stays silence.
    Notebook: 00_audio_basics.ipynb
    """
    if isinstance(waveform, torch.Tensor):
        largest = waveform.abs().amax(dim=-1, keepdim=True)
        return waveform * (peak / torch.where(largest > 0, largest, torch.ones_like(largest)))
    waveform = np.asarray(waveform)
    largest = np.abs(waveform).max(axis=-1, keepdims=True)
    return (waveform * (peak / np.where(largest > 0, largest, 1))).astype(waveform.dtype, copy=False)


def trim_silence(waveform, top_db: float = 40, frame_length: int = 1024, hop_length: int = 256):
    """Cut leading and trailing silence, as librosa.effects.trim: frames quieter than `top_db`
    below the loudest frame are silence. (samples,) or (..., samples), numpy or torch.
    Returns (trimmed waveform of the same type, (start, end)) with trimmed = waveform[..., start:end].
    Notebook: 00_audio_basics.ipynb
    """
    trimmed, (start, end) = librosa.effects.trim(_as_numpy(waveform), top_db=top_db,
                                                 frame_length=frame_length, hop_length=hop_length)
    return waveform[..., int(start):int(end)], (int(start), int(end))


def pad_or_crop(waveform, length: int, random_crop: bool = False, generator: torch.Generator | None = None):
    """Make the last axis exactly `length` samples: zeros appended when shorter; when longer,
    the first `length` samples, or with `random_crop` a window at an offset drawn with torch
    (from `generator` when given). (..., samples), numpy or torch, same type out.
    Notebook: 00_audio_basics.ipynb
    """
    samples = waveform.shape[-1]
    if samples < length:
        if isinstance(waveform, torch.Tensor):
            return torch.nn.functional.pad(waveform, (0, length - samples))
        return np.pad(waveform, [(0, 0)] * (waveform.ndim - 1) + [(0, length - samples)])
    offset = 0
    if random_crop and samples > length:
        offset = int(torch.randint(0, samples - length + 1, (1,), generator=generator).item())
    return waveform[..., offset:offset + length]


def preemphasis(waveform, coef: float = 0.97):
    """y[n] = x[n] - coef * x[n - 1] (with x[-1] = 0), along the last axis: boosts the highs.
    (..., samples), numpy or torch, same type out. deemphasis() undoes it exactly.
    Notebook: 00_audio_basics.ipynb
    """
    if isinstance(waveform, torch.Tensor):
        previous = torch.nn.functional.pad(waveform[..., :-1], (1, 0))
        return waveform - coef * previous
    waveform = np.asarray(waveform)
    result = waveform.copy()
    result[..., 1:] -= coef * waveform[..., :-1]
    return result


def deemphasis(waveform, coef: float = 0.97):
    """The inverse of preemphasis(): y[n] = x[n] + coef * y[n - 1], along the last axis.
    (..., samples), numpy or torch, same type out. A recursive filter, so torch input is filtered
    on the CPU (scipy.signal.lfilter, in float64) and sent back to its device.
    Notebook: 00_audio_basics.ipynb
    """
    filtered = scipy.signal.lfilter([1.0], [1.0, -coef], _as_numpy(waveform).astype(np.float64), axis=-1)
    return _like(filtered, waveform)


# --- Back to audio ---------------------------------------------------------------------------

def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
                n_iter: int = 32, momentum: float = 0.99, length: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """A waveform whose |STFT| is close to `magnitude`: the fast Griffin-Lim algorithm
    (Perraudin, Balazs and Søndergaard, 2013), as librosa.griffinlim with the same momentum.

    magnitude: (batch, n_fft // 2 + 1, frames) or (n_fft // 2 + 1, frames), on any device; a Hann
    window, centred frames with zero padding (librosa.griffinlim's defaults). The phases start
    random (drawn from `generator` when given). Returns (batch, samples) or (samples,), with
    samples = `length` when given, else hop_length * (frames - 1). It computes in float32, or in
    float64 for a float64 magnitude (the same starting phases), e.g. to see how much rounding
    its iterations amplify (benchmarks/score_spread.py).
    Notebook: 00_audio_basics.ipynb
    """
    if magnitude.dim() not in (2, 3) or magnitude.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"expected a magnitude (batch, {n_fft // 2 + 1}, frames) or ({n_fft // 2 + 1}, frames) "
                         f"for n_fft={n_fft}, got shape {tuple(magnitude.shape)}")
    if momentum < 0:
        raise ValueError(f"momentum={momentum} must be >= 0")
    magnitude = magnitude if magnitude.dtype == torch.float64 else magnitude.float()
    win_length = win_length or n_fft
    window = torch.hann_window(win_length, device=magnitude.device, dtype=magnitude.dtype)
    stft_args = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=True)
    phase = 2 * torch.pi * torch.rand(magnitude.shape, generator=generator).to(magnitude.device, magnitude.dtype)
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = None
    for _ in range(n_iter):
        inverse = torch.istft(magnitude * angles, length=length, **stft_args)
        rebuilt = torch.stft(inverse, pad_mode="constant", return_complex=True, **stft_args)
        angles = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return torch.istft(magnitude * angles, length=length, **stft_args)


def mel_to_audio(mel: torch.Tensor, mel_spectrogram: MelSpectrogram, n_iter: int = 32,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Invert a MelSpectrogram's output (batch, n_mels, frames) or (n_mels, frames) back to
    waveforms (batch, samples) or (samples,): undo the log when the module takes one, map the
    mel bands back to linear frequencies with the least-squares (pseudo-inverse) solution of the
    mel filterbank clamped at 0, undo the power, then griffin_lim with the module's STFT settings.
    A rough inverse, to listen to a spectrogram, not a vocoder. float64 in: float64 throughout.
    Notebook: 00_audio_basics.ipynb
    """
    module = mel_spectrogram
    mel = mel if mel.dtype == torch.float64 else mel.float()
    if module.log:
        mel = torch.exp(mel)
    inverse_basis = torch.linalg.pinv(module.mel_basis.to(mel.device, mel.dtype))
    spectrum = torch.clamp(torch.matmul(inverse_basis, mel), min=0)
    if module.power != 1.0:
        spectrum = spectrum ** (1.0 / module.power)
    return griffin_lim(spectrum, module.n_fft, module.hop_length, module.win_length, n_iter=n_iter,
                       generator=generator)


# --- Speech in noise -------------------------------------------------------------------------

def mix_at_snr(speech, noise, snr_db, generator: torch.Generator | None = None):
    """Add `noise` to `speech` at a signal-to-noise ratio of exactly `snr_db` decibels, for
    speech enhancement: returns (noisy, scaled_noise) with noisy = speech + scaled_noise and
    10 * log10(mean(speech ** 2) / mean(scaled_noise ** 2)) == snr_db for every row.

    speech: (samples,) or (batch, samples), numpy or torch; both outputs have its shape, type,
    dtype and device. noise: (noise_samples,), shared by every row, or (batch, noise_samples),
    one per row, of any length: a window of `samples` samples is taken from it at a random offset
    (drawn with torch, from `generator` when given; one offset per row), wrapping around (the
    noise looped) when it is shorter than the speech. snr_db: a number, or one per row
    ((batch,) numpy or torch). The power is the mean square over the whole row, silence included;
    the arithmetic is done in float64.

    Refused with a ValueError that says which: silent speech (a row of zeros), silent noise (a
    window of zeros), NaN/inf in either, a non-finite snr_db, mismatched shapes.
    Notebook: 08_speech_enhancement.ipynb
    """
    speech_np = _as_numpy(speech).astype(np.float64)
    noise_np = _as_numpy(noise).astype(np.float64)
    if speech_np.ndim not in (1, 2) or speech_np.shape[-1] == 0:
        raise ValueError(f"speech must be (samples,) or (batch, samples), got shape {speech_np.shape}")
    single = speech_np.ndim == 1
    rows = speech_np[None] if single else speech_np
    batch, length = rows.shape
    if noise_np.ndim == 1:
        noise_rows = np.broadcast_to(noise_np, (batch, noise_np.shape[0]))
    elif noise_np.ndim == 2 and noise_np.shape[0] == batch and not single:
        noise_rows = noise_np
    else:
        raise ValueError(f"noise must be (noise_samples,) or (batch={batch}, noise_samples) for speech of shape "
                         f"{speech_np.shape}, got shape {noise_np.shape}")
    if noise_rows.shape[-1] == 0:
        raise ValueError("noise is empty (0 samples)")
    snr = np.asarray(_as_numpy(snr_db), dtype=np.float64)
    if snr.ndim > 1 or (snr.ndim == 1 and snr.shape[0] not in (1, batch)):
        raise ValueError(f"snr_db must be a number or one per row ({batch},), got shape {snr.shape}")
    snr = np.broadcast_to(snr.reshape(-1), (batch,))
    if not np.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    if not np.isfinite(rows).all():
        raise ValueError("speech contains NaN/inf samples")
    if not np.isfinite(noise_rows).all():
        raise ValueError("noise contains NaN/inf samples")
    available = noise_rows.shape[-1]
    high = available if available < length else available - length + 1
    offsets = torch.randint(0, high, (batch,), generator=generator).numpy()
    index = (offsets[:, None] + np.arange(length)[None, :]) % available
    windows = np.take_along_axis(noise_rows, index, axis=1)
    speech_power = np.mean(rows ** 2, axis=1)
    noise_power = np.mean(windows ** 2, axis=1)
    for row in range(batch):
        where = "" if single else f" (row {row})"
        if speech_power[row] == 0:
            raise ValueError(f"speech is silent{where}: its power is 0, so no SNR can be set")
        if noise_power[row] == 0:
            raise ValueError(f"noise is silent{where}: the window of noise taken has power 0, so it cannot be "
                             f"scaled to an SNR")
    gain = np.sqrt(speech_power / (noise_power * 10.0 ** (snr / 10.0)))
    scaled = windows * gain[:, None]
    noisy = rows + scaled
    if single:
        noisy, scaled = noisy[0], scaled[0]
    return _like(noisy, speech), _like(scaled, speech)
