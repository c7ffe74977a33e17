"""ganlib.soundscapes: procedural environmental sounds are valid audio, reproducible, and real classes."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import ganlib
from ganlib import soundscapes
from ganlib.audio import MelSpectrogram

RATE = 16000


def test_listed_in_ganlib():
    assert "soundscapes" in ganlib.__all__ and ganlib.soundscapes is soundscapes
    assert "soundscapes" in ganlib.__doc__
    assert 6 <= len(soundscapes.CLASSES) <= 10 and len(set(soundscapes.CLASSES)) == len(soundscapes.CLASSES)
    assert set(soundscapes.RECIPES) == set(soundscapes.CLASSES)


@pytest.mark.parametrize("name", soundscapes.CLASSES)
@pytest.mark.parametrize("duration, sample_rate", [(2.0, 16000), (0.3, 8000), (1.024, 22050), (0.001, 16000)])
def test_every_class_is_valid_audio(name, duration, sample_rate):
    audio = soundscapes.synthesize(name, duration=duration, sample_rate=sample_rate, seed=7)
    assert audio.dtype == torch.float32 and audio.shape == (round(duration * sample_rate),)
    assert torch.isfinite(audio).all() and audio.abs().max() <= 1.0
    if duration >= 0.3:
        assert audio.abs().max() >= 0.5 - 1e-6  # scaled to a peak in [0.5, 0.9]
        assert audio.pow(2).mean().sqrt() > 0.01  # not silent


@pytest.mark.parametrize("name", soundscapes.CLASSES)
def test_seeds(name):
    a = soundscapes.synthesize(name, duration=0.5, seed=3)
    assert torch.equal(a, soundscapes.synthesize(name, duration=0.5, seed=3))
    assert not torch.allclose(a, soundscapes.synthesize(name, duration=0.5, seed=4), atol=1e-3)
    # a numpy generator, a torch generator, or torch's global RNG (seed_everything) also fix it
    assert torch.equal(soundscapes.synthesize(name, 0.5, generator=np.random.default_rng(3)), a)
    b = soundscapes.synthesize(name, 0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(b, soundscapes.synthesize(name, 0.5, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(5)
    c = soundscapes.synthesize(name, 0.5)
    torch.manual_seed(5)
    assert torch.equal(c, soundscapes.synthesize(name, 0.5))


def test_peak_and_bad_arguments():
    assert soundscapes.synthesize("wind", 0.5, seed=0, peak=0.25).abs().max() == pytest.approx(0.25, abs=1e-6)
    with pytest.raises(ValueError, match="rain, wind, birdsong"):
        soundscapes.synthesize("applause", seed=0)
    with pytest.raises(ValueError, match="seed or generator"):
        soundscapes.synthesize("rain", seed=0, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least one sample"):
        soundscapes.synthesize("rain", duration=0.0)
    with pytest.raises(ValueError, match="peak"):
        soundscapes.synthesize("rain", 0.1, seed=0, peak=1.5)


def _features(seeds, mel):
    """Mean log-mel per band of each class's clips for these seeds: (n, n_mels), labels (n,)."""
    features, labels = [], []
    for label, name in enumerate(soundscapes.CLASSES):
        clips = torch.stack([soundscapes.synthesize(name, duration=1.0, sample_rate=RATE, seed=s) for s in seeds])
        features.append(mel(clips).mean(dim=-1))
        labels += [label] * len(seeds)
    return torch.cat(features), torch.tensor(labels)


def test_classes_are_distinguishable():
    """A nearest-centroid classifier on mean log-mel, fitted on some seeds, labels unseen seeds."""
    mel = MelSpectrogram(sample_rate=RATE, n_fft=512, hop_length=128, n_mels=40)
    train_x, train_y = _features(range(8), mel)
    test_x, test_y = _features(range(1000, 1010), mel)
    centroids = torch.stack([train_x[train_y == k].mean(0) for k in range(len(soundscapes.CLASSES))])
    predicted = torch.cdist(test_x, centroids).argmin(dim=1)
    accuracy = (predicted == test_y).float().mean().item()
    assert accuracy >= 0.9, f"nearest-centroid accuracy {accuracy:.2f}"


def test_dataset_items_labels_and_fields():
    data = soundscapes.SoundscapeDataset(n_per_class=3, duration=0.25, sample_rate=RATE, seed=1)
    assert len(data) == 3 * len(soundscapes.CLASSES) and list(data.classes) == list(soundscapes.CLASSES)
    item = data[4]
    assert set(item) == {"audio", "label", "class_name"} and item["audio"].shape == (4000,)
    assert item["label"] == 1 and item["class_name"] == soundscapes.CLASSES[1]
    assert [data[i]["label"] for i in range(len(data))] == [k for k in range(len(data.classes)) for _ in range(3)]
    assert torch.equal(data[4]["audio"], item["audio"]) and torch.equal(data[-1]["audio"], data[len(data) - 1]["audio"])
    assert not torch.equal(data[3]["audio"], data[4]["audio"])
    other = soundscapes.SoundscapeDataset(n_per_class=3, duration=0.25, sample_rate=RATE, seed=2)
    assert not torch.equal(other[4]["audio"], item["audio"])
    with pytest.raises(IndexError):
        data[len(data)]

    pairs = soundscapes.SoundscapeDataset(n_per_class=3, duration=0.25, seed=1, fields=("audio", "label"))
    audio, label = pairs[4]
    assert torch.equal(audio, item["audio"]) and label == 1
    assert soundscapes.SoundscapeDataset(n_per_class=1, duration=0.1, fields="class_name")[0] == "rain"
    with pytest.raises(KeyError, match="mel"):
        soundscapes.SoundscapeDataset(n_per_class=1, fields=("audio", "mel"))
    with pytest.raises(ValueError, match="rain, wind"):
        soundscapes.SoundscapeDataset(n_per_class=1, classes=("rain", "applause"))

    subset = soundscapes.SoundscapeDataset(n_per_class=2, duration=0.1, classes=("engine", "crickets"))
    assert len(subset) == 4 and subset[3]["label"] == 1 and subset[3]["class_name"] == "crickets"


def test_dataloader_batches():
    data = soundscapes.SoundscapeDataset(n_per_class=2, duration=0.5, sample_rate=RATE, seed=0)
    batch = next(iter(DataLoader(data, batch_size=5, shuffle=False)))
    assert batch["audio"].shape == (5, 8000) and batch["audio"].dtype == torch.float32
    assert batch["label"].tolist() == [0, 0, 1, 1, 2] and batch["class_name"][2] == soundscapes.CLASSES[1]
    real, condition = next(iter(DataLoader(
        soundscapes.SoundscapeDataset(n_per_class=2, duration=0.5, fields=("audio", "label")), batch_size=4)))
    assert real.shape == (4, 8000) and condition.tolist() == [0, 0, 1, 1]
