"""ganlib.audio.mix_at_snr and the bundled noise set data/noises/ (made by data/make_noises.py)."""
import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from ganlib import audio
from ganlib.audio import mix_at_snr

NOISES = Path(__file__).resolve().parents[1] / "data" / "noises"
RATE = 16000


def snr_of(speech, scaled_noise):
    speech = np.asarray(speech.numpy() if isinstance(speech, torch.Tensor) else speech, dtype=np.float64)
    scaled_noise = np.asarray(scaled_noise.numpy() if isinstance(scaled_noise, torch.Tensor) else scaled_noise,
                              dtype=np.float64)
    return 10 * np.log10(np.mean(speech ** 2, axis=-1) / np.mean(scaled_noise ** 2, axis=-1))


# --- mix_at_snr --------------------------------------------------------------------------------

@pytest.mark.parametrize("snr_db", [-10.0, -5.0, 0.0, 3.5, 10.0, 20.0, 40.0])
def test_mix_at_snr_is_exact_numpy(snr_db):
    rng = np.random.default_rng(0)
    speech = (0.3 * rng.standard_normal(8000)).astype(np.float32)
    noise = (0.05 * rng.standard_normal(20000)).astype(np.float32)
    noisy, scaled = mix_at_snr(speech, noise, snr_db, generator=torch.Generator().manual_seed(0))
    assert isinstance(noisy, np.ndarray) and isinstance(scaled, np.ndarray)
    assert noisy.shape == scaled.shape == speech.shape and noisy.dtype == np.float32
    assert abs(snr_of(speech, scaled) - snr_db) < 1e-4
    np.testing.assert_allclose(noisy, speech + scaled, atol=1e-6)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.0])
def test_mix_at_snr_is_exact_torch(snr_db):
    generator = torch.Generator().manual_seed(1)
    speech = 0.2 * torch.randn(4000, generator=generator)
    noise = torch.randn(9000, generator=generator)
    noisy, scaled = mix_at_snr(speech, noise, snr_db, generator=generator)
    assert isinstance(noisy, torch.Tensor) and noisy.dtype == torch.float32 and noisy.shape == speech.shape
    assert abs(snr_of(speech, scaled) - snr_db) < 1e-4
    torch.testing.assert_close(noisy, speech + scaled)


def test_mix_at_snr_batched_per_row_snr():
    generator = torch.Generator().manual_seed(2)
    speech = torch.randn(3, 5000, generator=generator) * torch.tensor([[0.1], [0.5], [1.0]])
    snrs = torch.tensor([-3.0, 6.0, 25.0])
    noisy, scaled = mix_at_snr(speech, torch.randn(12000, generator=generator), snrs, generator=generator)
    assert noisy.shape == scaled.shape == (3, 5000)
    np.testing.assert_allclose(snr_of(speech, scaled), snrs.numpy(), atol=1e-4)
    # one noise per row, numpy, a list of SNRs; a single SNR for every row
    rng = np.random.default_rng(3)
    speech_np, noise_np = rng.standard_normal((2, 3000)), rng.standard_normal((2, 700))
    _, scaled_np = mix_at_snr(speech_np, noise_np, [0.0, 15.0])
    np.testing.assert_allclose(snr_of(speech_np, scaled_np), [0.0, 15.0], atol=1e-4)
    _, scaled_np = mix_at_snr(speech_np, noise_np, 7.0)
    np.testing.assert_allclose(snr_of(speech_np, scaled_np), [7.0, 7.0], atol=1e-4)


def test_mix_at_snr_loops_a_short_noise_and_crops_a_long_one():
    speech = np.random.default_rng(4).standard_normal(1000)
    period = np.arange(1, 301, dtype=np.float64)          # 300 samples: looped to 1000
    _, scaled = mix_at_snr(speech, period, 0.0, generator=torch.Generator().manual_seed(5))
    np.testing.assert_allclose(scaled[300:], scaled[:-300])   # the noise repeats every 300 samples
    assert np.isclose(np.ptp(scaled) / np.abs(scaled).max(), 299 / 300)  # every sample of it is used
    assert abs(snr_of(speech, scaled)) < 1e-4
    long_noise = np.arange(5000, dtype=np.float64) + 1
    _, cropped = mix_at_snr(speech, long_noise, 0.0, generator=torch.Generator().manual_seed(6))
    steps = np.diff(cropped)
    np.testing.assert_allclose(steps, steps[0])          # a contiguous window, no wrap-around
    # the offset comes from the generator: reproducible with the same seed, different across seeds
    first = mix_at_snr(speech, long_noise, 0.0, generator=torch.Generator().manual_seed(7))[1]
    again = mix_at_snr(speech, long_noise, 0.0, generator=torch.Generator().manual_seed(7))[1]
    np.testing.assert_array_equal(first, again)
    offsets = {mix_at_snr(speech, long_noise, 0.0, generator=torch.Generator().manual_seed(s))[1][0] for s in range(5)}
    assert len(offsets) > 1


def test_mix_at_snr_errors():
    speech, noise = np.ones(100), np.ones(50)
    with pytest.raises(ValueError, match="speech is silent"):
        mix_at_snr(np.zeros(100), noise, 0.0)
    with pytest.raises(ValueError, match="noise is silent"):
        mix_at_snr(speech, np.zeros(50), 0.0)
    with pytest.raises(ValueError, match=r"speech is silent \(row 1\)"):
        mix_at_snr(torch.stack([torch.ones(100), torch.zeros(100)]), torch.ones(50), 0.0)
    with pytest.raises(ValueError, match="noise contains NaN"):
        mix_at_snr(speech, np.full(50, np.nan), 0.0)
    with pytest.raises(ValueError, match="snr_db"):
        mix_at_snr(speech, noise, float("inf"))
    with pytest.raises(ValueError, match="snr_db"):
        mix_at_snr(np.ones((2, 100)), noise, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="noise must be"):
        mix_at_snr(np.ones((2, 100)), np.ones((3, 50)), 0.0)


# --- the bundled noises ------------------------------------------------------------------------

def table():
    with open(NOISES / "noises.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_lists_every_clip_and_nothing_else():
    rows = table()
    assert rows and set(rows[0]) == {"file", "kind", "stationary", "description"}
    listed = {row["file"] for row in rows}
    assert listed == {p.name for p in NOISES.glob("*.flac")}
    assert {row["stationary"] for row in rows} == {"True", "False"}
    kinds = {row["kind"] for row in rows}
    assert {"white", "pink", "brown", "hum", "fan", "babble", "clicks", "tones", "modulated", "car"} <= kinds
    assert all(row["description"] for row in rows)


@pytest.mark.parametrize("row", table(), ids=lambda row: row["file"])
def test_clip_loads_at_16k_finite_not_silent(row):
    waveform, rate = audio.load(NOISES / row["file"])
    assert rate == RATE and waveform.ndim == 1 and len(waveform) >= 5 * RATE
    assert np.isfinite(waveform).all()
    assert 10 * np.log10(np.mean(waveform ** 2)) > -50 and np.abs(waveform).max() < 1.0


def spectral_slope(name):
    """The least-squares slope of the Welch PSD in dB per octave, 100 Hz - 4 kHz."""
    waveform, _ = audio.load(NOISES / name)
    frequency, power = scipy.signal.welch(waveform.astype(np.float64), fs=RATE, nperseg=4096)
    band = (frequency >= 100) & (frequency <= 4000)
    return np.polyfit(np.log2(frequency[band]), 10 * np.log10(power[band]), 1)[0]


def test_spectral_slopes():
    assert abs(spectral_slope("white.flac")) < 0.5
    assert abs(spectral_slope("pink.flac") + 3.0) < 0.5
    assert abs(spectral_slope("brown.flac") + 6.0) < 0.5


def test_noise_set_fits_in_4_mb():
    assert sum(p.stat().st_size for p in NOISES.iterdir()) <= 4_000_000


def test_bundled_noise_mixes_at_snr():
    noise, _ = audio.load(NOISES / "babble.flac")
    speech, _ = audio.load(sorted((NOISES.parent / "digits").glob("*/*.flac"))[0])
    noisy, scaled = mix_at_snr(speech, noise, 5.0, generator=torch.Generator().manual_seed(0))
    assert noisy.shape == speech.shape and abs(snr_of(speech, scaled) - 5.0) < 1e-4
