"""HiFi-GAN's fast CPU synthesis (hifigan.FastGenerator, Vocoder's default): the official
network's audio to 1e-4, in pieces or whole, on one thread or two, and a clean fallback to the
plain generator where it cannot run."""
import pytest
import torch

from ganlib import audio
from ganlib.models import hifigan
from ganlib.models.hifigan import FastGenerator, Vocoder
from repo_scripts import load_script

reference_hifigan = load_script("benchmarks/reference_hifigan.py")
speechlike = load_script("benchmarks/hifigan_speed.py").speechlike


def _vocoder_and_official(preset, tmp_path, **options):
    """A Vocoder loaded from an official checkpoint file, and that official generator as the
    official inference.py runs it."""
    official = reference_hifigan.official_generator(hifigan.PRESETS[preset]["generator"], seed=0)
    torch.save({"generator": official.state_dict()}, tmp_path / f"generator_{preset}")
    vocoder = Vocoder.from_checkpoint(tmp_path / f"generator_{preset}", preset=preset, device="cpu", **options)
    return vocoder, reference_hifigan.prepare_for_inference(official)


@pytest.mark.parametrize("preset, seconds", [("v3", 10.0), ("cpu", 10.0), ("v1", 0.2)])
def test_fast_path_gives_the_official_networks_audio(preset, seconds, tmp_path):
    vocoder, official = _vocoder_and_official(preset, tmp_path)
    assert isinstance(vocoder.synthesiser, FastGenerator)
    mel = audio.MelSpectrogram(**hifigan.MEL)(speechlike(seconds))  # 862 frames for 10 s
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        waveform = vocoder(mel)
        expected = reference_hifigan.synthesise(official, mel[None])
        assert waveform.shape == expected.shape == (mel.shape[-1] * 256,)
        assert (waveform - expected).abs().max() < 1e-4
        torch.set_num_threads(2)  # pieces two at a time, one thread each
        assert (vocoder(mel) - expected).abs().max() < 1e-4
    finally:
        torch.set_num_threads(previous)


def test_pieces_match_the_whole_for_batches_and_odd_lengths(monkeypatch):
    torch.manual_seed(0)
    generator = hifigan.fold_weight_norm(hifigan.generator("cpu")).eval()
    fast = FastGenerator(generator)
    fast.chunk_elements, fast.margin_factor = 1 << 13, 4  # pieces of 184-512 samples plus margins
    pieces = []
    stage = fast._stage
    monkeypatch.setattr(fast, "_stage", lambda i, x: pieces.append(i) or stage(i, x))
    for mel in (torch.randn(2, 80, 37), torch.randn(80, 3), torch.randn(1, 80, 120)):
        with torch.inference_mode():
            expected, got = generator(mel), fast(mel)
        assert got.shape == expected.shape
        assert (got - expected).abs().max() < 1e-5
    assert pieces.count(0) > 3 and pieces.count(2) > 20  # the 120 frames' stages went in pieces
    assert not any(p.requires_grad for p in fast.parameters())


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
def test_without_onednn_the_vocoder_falls_back_to_the_plain_generator(tmp_path):
    with torch.backends.mkldnn.flags(enabled=False):
        with pytest.warns(RuntimeWarning, match="fast CPU synthesis is off.*oneDNN"):
            vocoder, official = _vocoder_and_official("cpu", tmp_path)
        assert vocoder.synthesiser is vocoder.generator
        mel = torch.randn(80, 20)
        torch.testing.assert_close(vocoder(mel), reference_hifigan.synthesise(official, mel[None]),
                                   atol=1e-5, rtol=0)


def test_a_failing_or_wrong_fast_path_falls_back(monkeypatch):
    generator = hifigan.fold_weight_norm(hifigan.generator("cpu")).eval()

    def broken(module):
        raise RuntimeError("no such kernel")
    monkeypatch.setattr(hifigan, "FastGenerator", broken)
    with pytest.warns(RuntimeWarning, match="RuntimeError: no such kernel"):
        assert hifigan.fast_generator(generator) is generator
    monkeypatch.undo()

    class Wrong(FastGenerator):
        def forward(self, mel):
            return super().forward(mel) + 1e-3
    monkeypatch.setattr(hifigan, "FastGenerator", Wrong)
    with pytest.warns(RuntimeWarning, match="differs from the generator by 0.001"):
        assert hifigan.fast_generator(generator) is generator


def test_other_devices_and_fast_false_use_the_generator():
    generator = hifigan.fold_weight_norm(hifigan.generator("cpu")).eval()
    assert hifigan.fast_generator(generator, device="cuda") is generator  # cuDNN's kernels: no rewrite
    vocoder = Vocoder(generator, device="cpu", fast=False)
    assert vocoder.synthesiser is vocoder.generator
