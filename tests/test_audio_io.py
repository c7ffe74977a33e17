"""ganlib.audio's files and waveform tools: load, save, normalize, trim_silence, pad_or_crop,
pre-/de-emphasis, and the way back to audio: griffin_lim, mel_to_audio."""
import os

import numpy as np
import pytest
import soundfile
import torch

from ganlib import audio

# subtype -> (extension, largest error after a round trip of values in [-1, 1))
FORMATS = {
    "PCM_U8": (".wav", 2 / 2 ** 8), "PCM_16": (".wav", 2 / 2 ** 16), "PCM_24": (".wav", 2 / 2 ** 24),
    "PCM_32": (".wav", 2 / 2 ** 31), "FLOAT": (".wav", 1e-7), "DOUBLE": (".wav", 1e-7),
    "FLAC_16": (".flac", 2 / 2 ** 16), "FLAC_24": (".flac", 2 / 2 ** 24),
}


def tone(frequency, sample_rate, seconds=0.25, channels=1, amplitude=0.8):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return np.stack([amplitude / (c + 1) * np.sin(2 * np.pi * frequency * t + c) for c in range(channels)])


def write(path, waveform, sample_rate, subtype):
    soundfile.write(path, waveform.T, sample_rate, subtype=subtype.replace("FLAC_", "PCM_"))
    return path


@pytest.mark.parametrize("subtype", FORMATS)
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_every_bit_depth_and_channel_count_round_trips_within_a_quantisation_step(tmp_path, subtype, channels):
    extension, step = FORMATS[subtype]
    rng = np.random.default_rng(channels)
    original = rng.uniform(-1, 1, (channels, 4000)).astype(np.float32)
    path = write(tmp_path / f"noise{extension}", original, 16000, subtype)
    waveform, sample_rate = audio.load(path, mono=False)
    assert sample_rate == 16000 and waveform.dtype == np.float32 and waveform.shape == (channels, 4000)
    assert np.abs(waveform - original).max() <= step
    assert -1 <= waveform.min() and waveform.max() <= 1
    mono, _ = audio.load(path)
    assert mono.shape == (4000,) and np.allclose(mono, waveform.mean(axis=0), atol=1e-6)


def test_a_float_file_keeps_peaks_above_one(tmp_path):
    path = write(tmp_path / "loud.wav", np.array([[0.5, 1.5, -2.0]]), 8000, "FLOAT")
    assert np.array_equal(audio.load(path)[0], np.array([0.5, 1.5, -2.0], dtype=np.float32))


@pytest.mark.parametrize("file_rate", [8000, 16000, 22050, 44100, 48000])
def test_resampling_gives_the_right_length_and_keeps_a_tones_frequency(tmp_path, file_rate):
    path = write(tmp_path / "tone.wav", tone(440.0, file_rate, seconds=0.5, channels=2), file_rate, "PCM_16")
    for target in (16000, 22050):
        waveform, sample_rate = audio.load(path, sample_rate=target)
        assert sample_rate == target and waveform.shape == (int(np.ceil(file_rate // 2 * target / file_rate)),)
        frame = torch.from_numpy(waveform[len(waveform) // 4:][:4096].copy())
        assert abs(audio.dominant_frequency(frame, target).item() - 440.0) <= target / 4096 / 2 + 1e-3
    assert audio.load(path, sample_rate=file_rate)[0].shape == (file_rate // 2,)


def good_wav(tmp_path):
    return write(tmp_path / "good.wav", tone(440.0, 8000), 8000, "PCM_16")


def test_bad_files_are_refused_with_their_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        audio.load(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.wav.*empty"):
        audio.load(tmp_path / "empty.wav")
    (tmp_path / "random.wav").write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ValueError, match="cannot read .*random.wav"):
        audio.load(tmp_path / "random.wav")
    content = good_wav(tmp_path).read_bytes()
    (tmp_path / "half.wav").write_bytes(content[:len(content) // 2])
    with pytest.raises(ValueError, match="half.wav is truncated"):
        audio.load(tmp_path / "half.wav")
    (tmp_path / "header_only.wav").write_bytes(content[:44])
    with pytest.raises(ValueError, match="header_only.wav"):
        audio.load(tmp_path / "header_only.wav")
    flac = write(tmp_path / "good.flac", tone(440.0, 8000), 8000, "PCM_16").read_bytes()
    (tmp_path / "half.flac").write_bytes(flac[:len(flac) // 2])
    with pytest.raises(ValueError, match="half.flac"):
        audio.load(tmp_path / "half.flac")
    for bad in (np.nan, np.inf):
        write(tmp_path / "nan.wav", np.array([[0.1, bad, 0.2]]), 8000, "FLOAT")
        with pytest.raises(ValueError, match="nan.wav contains NaN/inf samples"):
            audio.load(tmp_path / "nan.wav")


def test_a_header_with_no_samples_after_it_is_refused(tmp_path):
    write(tmp_path / "silent.wav", np.zeros((1, 0)), 8000, "PCM_16")
    with pytest.raises(ValueError, match="silent.wav holds no audio samples"):
        audio.load(tmp_path / "silent.wav")


@pytest.mark.parametrize("name, subtype, step", [("out.wav", "PCM_16", 2 / 2 ** 16), ("out.flac", "PCM_24", 2 / 2 ** 24),
                                                 ("out.wav", "FLOAT", 0)])
def test_save_then_load_round_trips_numpy_and_torch(tmp_path, name, subtype, step):
    stereo = tone(300.0, 16000, channels=2).astype(np.float32)
    audio.save(tmp_path / name, stereo, 16000, subtype=subtype)
    waveform, sample_rate = audio.load(tmp_path / name, mono=False)
    assert sample_rate == 16000 and np.abs(waveform - stereo).max() <= step
    audio.save(tmp_path / name, torch.from_numpy(stereo[0]), 16000, subtype=subtype)
    assert np.abs(audio.load(tmp_path / name)[0] - stereo[0]).max() <= step
    assert sorted(os.listdir(tmp_path)) == [name]


def test_save_clips_integer_formats_with_a_warning_and_refuses_nan(tmp_path):
    with pytest.warns(UserWarning, match="clipped"):
        audio.save(tmp_path / "loud.wav", np.array([0.5, 1.5, -3.0]), 8000)
    assert np.allclose(audio.load(tmp_path / "loud.wav")[0], [0.5, 1.0, -1.0], atol=1e-4)
    with pytest.raises(ValueError, match="bad.wav.*NaN/inf"):
        audio.save(tmp_path / "bad.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(ValueError, match="extension"):
        audio.save(tmp_path / "bad.mp3", np.zeros(10), 8000)
    assert sorted(os.listdir(tmp_path)) == ["loud.wav"]


def test_a_failed_save_leaves_no_temporary_file_and_keeps_the_old_one(tmp_path):
    audio.save(tmp_path / "keep.flac", np.full(100, 0.25), 8000)
    before = (tmp_path / "keep.flac").read_bytes()
    with pytest.raises(Exception):
        audio.save(tmp_path / "keep.flac", np.zeros(100), 8000, subtype="FLOAT")  # FLAC holds no floats
    assert os.listdir(tmp_path) == ["keep.flac"] and (tmp_path / "keep.flac").read_bytes() == before


def test_preemphasis_and_deemphasis_are_inverses_batched_numpy_and_torch():
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (3, 2000)).astype(np.float32)
    emphasised = audio.preemphasis(batch)
    assert isinstance(emphasised, np.ndarray) and emphasised.dtype == np.float32
    assert np.allclose(emphasised[:, 0], batch[:, 0]) and np.allclose(emphasised[1, 5], batch[1, 5] - 0.97 * batch[1, 4])
    assert np.abs(audio.deemphasis(emphasised) - batch).max() < 1e-5
    tensor = torch.from_numpy(batch)
    emphasised_tensor = audio.preemphasis(tensor, coef=0.9)
    assert isinstance(emphasised_tensor, torch.Tensor)
    assert torch.allclose(emphasised_tensor, torch.from_numpy(audio.preemphasis(batch, coef=0.9)), atol=1e-6)
    restored = audio.deemphasis(emphasised_tensor, coef=0.9)
    assert restored.dtype == torch.float32 and (restored - tensor).abs().max() < 1e-5


def test_pad_or_crop():
    wave = torch.arange(10.0)
    assert torch.equal(audio.pad_or_crop(wave, 13), torch.cat([wave, torch.zeros(3)]))
    assert torch.equal(audio.pad_or_crop(wave, 4), wave[:4])
    assert np.array_equal(audio.pad_or_crop(np.ones((2, 3)), 5), [[1, 1, 1, 0, 0]] * 2)
    crops = {audio.pad_or_crop(wave, 4, random_crop=True)[0].item() for _ in range(100)}
    assert crops == set(range(7))
    first = audio.pad_or_crop(wave, 4, random_crop=True, generator=torch.Generator().manual_seed(1))
    again = audio.pad_or_crop(wave, 4, random_crop=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again) and torch.equal(first, wave[int(first[0]):int(first[0]) + 4])


def test_normalize_scales_each_waveform_and_leaves_silence_alone():
    batch = torch.tensor([[0.1, -0.2, 0.05], [0.0, 0.0, 0.0]])
    result = audio.normalize(batch)
    assert torch.allclose(result[0], torch.tensor([0.475, -0.95, 0.2375])) and torch.equal(result[1], batch[1])
    assert np.allclose(audio.normalize(np.array([2.0, -4.0]), peak=0.5), [0.25, -0.5])
    assert np.array_equal(audio.normalize(np.zeros(5, dtype=np.float32)), np.zeros(5))


def test_trim_silence_cuts_the_quiet_ends_like_librosa():
    import librosa
    sound = np.concatenate([np.zeros(4000), tone(440.0, 16000)[0], np.zeros(3000)]).astype(np.float32)
    trimmed, (start, end) = audio.trim_silence(sound)
    expected, index = librosa.effects.trim(sound, top_db=40, frame_length=1024, hop_length=256)
    assert (start, end) == tuple(index) and np.array_equal(trimmed, expected)
    assert 3000 <= start <= 4000 and 8000 <= end <= 9000
    trimmed_tensor, _ = audio.trim_silence(torch.from_numpy(sound))
    assert torch.equal(trimmed_tensor, torch.from_numpy(expected))


def harmonic_tone(sample_rate=22050, seconds=1.0):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t + k) for k in range(1, 6)).astype(np.float32)


def spectral_convergence(target, waveform):
    """||S - |STFT(waveform)|||_F / ||S||_F with librosa's STFT (n_fft 1024, hop 256)."""
    rebuilt = np.abs(librosa_stft(np.asarray(waveform, dtype=np.float32)))
    frames = min(rebuilt.shape[1], target.shape[1])
    return np.linalg.norm(target[:, :frames] - rebuilt[:, :frames]) / np.linalg.norm(target[:, :frames])


def librosa_stft(waveform):
    import librosa
    return librosa.stft(waveform, n_fft=1024, hop_length=256)


def test_griffin_lim_converges_like_librosas_and_better_with_more_iterations():
    import librosa
    wave = harmonic_tone()
    target = np.abs(librosa_stft(wave))
    ours = {n_iter: audio.griffin_lim(torch.from_numpy(target), 1024, 256, n_iter=n_iter, length=len(wave),
                                      generator=torch.Generator().manual_seed(0)) for n_iter in (32, 100)}
    reference = librosa.griffinlim(target, n_iter=32, n_fft=1024, hop_length=256, length=len(wave), random_state=0)
    assert ours[32].shape == (len(wave),) and ours[32].dtype == torch.float32
    ours_32, reference_32 = spectral_convergence(target, ours[32]), spectral_convergence(target, reference)
    assert ours_32 < 0.15 and reference_32 < 0.2 and ours_32 < 1.5 * reference_32  # 0.073 and 0.126 here
    assert spectral_convergence(target, ours[100]) < 0.75 * ours_32  # 0.028 here
    batch = audio.griffin_lim(torch.from_numpy(np.stack([target, target])), 1024, 256, n_iter=2)
    assert batch.shape == (2, 256 * (target.shape[1] - 1))
    with pytest.raises(ValueError, match="expected a magnitude"):
        audio.griffin_lim(torch.from_numpy(target), 2048, 256)


def test_mel_to_audio_inverts_a_mel_spectrogram_as_well_as_librosa():
    wave = torch.from_numpy(harmonic_tone(seconds=0.5))
    linear_mel = audio.MelSpectrogram(sample_rate=22050, log=False)
    target = linear_mel(wave)
    errors = {}
    for log in (True, False):
        module = audio.MelSpectrogram(sample_rate=22050, log=log)
        rebuilt = audio.mel_to_audio(module(wave), module, generator=torch.Generator().manual_seed(0))
        assert rebuilt.shape == (256 * (target.shape[1] - 1),)
        errors[log] = ((linear_mel(rebuilt) - target).norm() / target.norm()).item()
    assert max(errors.values()) < 0.25  # 0.18 here; librosa.feature.inverse.mel_to_audio (NNLS): 0.17
    squared = audio.MelSpectrogram(sample_rate=22050, log=False, power=2.0)
    batch = audio.mel_to_audio(squared(torch.stack([wave, wave])), squared, n_iter=4)
    assert batch.shape == (2, 256 * (target.shape[1] - 1)) and torch.isfinite(batch).all()
