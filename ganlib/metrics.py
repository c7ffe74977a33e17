"""Measuring generated audio: quality and diversity, the seed document's open challenge.

A classifier trained on real clips (ganlib.models.classifier for the spoken digits) does the
judging, as Donahue et al. (2019) did for SC09:

    inception_score(probs)          exp E_x KL(p(y|x) || p(y)), in 10 splits (Salimans et al., 2016):
                                    high when each clip is clearly one class (quality) and the
                                    classes are used evenly (diversity); 1 .. num_classes
    frechet_distance(a, b)          ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between
                                    Gaussians fitted to two sets of classifier features
                                    (Heusel et al., 2017); 0 for identical statistics
                                    (up to rounding, about 1e-9 of the features' scale)
    class_coverage(probs)           how many classes appear, and each class's share
    nearest_neighbour_ratio(...)    is the generator replaying training clips? distance of
                                    each generated clip to its nearest training clip, relative
                                    to that of held-out real clips (about 1: new clips; near 0: copies)
    evaluate_generator(...)         all of the above for a batch of generated audio

Notebook: 06_evaluating_audio_gans.ipynb
"""
from __future__ import annotations

import numpy as np
import torch


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def inception_score(probabilities, splits: int = 10, shuffle: bool = True) -> tuple[float, float]:
    """Inception Score of class probabilities (n, num_classes): mean and standard deviation over
    `splits` equal parts (Salimans et al., 2016). Uniform-confident predictions over k classes
    give k; one constant prediction gives 1.

    Each split must be a fair sample of the whole set: clips stored class by class (as a data
    set on disk is) would give each split one or two classes and a score near 1. So by default
    the rows are put in a fixed random order first (seed 0; shuffle=False keeps their order).
    """
    probs = _as_numpy(probabilities)
    if shuffle:
        probs = probs[np.random.default_rng(0).permutation(len(probs))]
    if probs.ndim != 2 or probs.shape[0] < splits:
        raise ValueError(f"expected probabilities (n >= splits={splits}, classes), got shape {probs.shape}")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probabilities must be non-negative rows summing to 1 (apply softmax to logits)")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (n, d), n >= 2."""
    features = _as_numpy(features)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"expected features (n >= 2, dims), got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(features_a=None, features_b=None, *, statistics_a=None, statistics_b=None) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n, d), or given as
    (mean, covariance) statistics: ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b))."""
    mu_a, cov_a = statistics_a if statistics_a is not None else feature_statistics(features_a)
    mu_b, cov_b = statistics_b if statistics_b is not None else feature_statistics(features_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape[0]} and {mu_b.shape[0]}")
    # Tr sqrt(S_a S_b) = Tr sqrt(S_a^1/2 S_b S_a^1/2), a symmetric PSD matrix: its eigenvalues
    # are real and >= 0, so no complex square root (or its rounding-error imaginary part).
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    trace_root = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum()
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


def class_coverage(probabilities, num_classes: int | None = None) -> dict:
    """Which classes the clips are assigned to: {"classes_covered": k, "shares": [...]} with
    each class's share of the arg-max predictions."""
    probs = _as_numpy(probabilities)
    num_classes = num_classes or probs.shape[1]
    counts = np.bincount(probs.argmax(axis=1), minlength=num_classes)
    return {"classes_covered": int((counts > 0).sum()), "shares": (counts / counts.sum()).round(4).tolist()}


def nearest_neighbour_distances(queries, references) -> np.ndarray:
    """Euclidean distance from each query (n, d) to its nearest reference (m, d)."""
    queries = torch.as_tensor(_as_numpy(queries))
    references = torch.as_tensor(_as_numpy(references))
    return torch.cdist(queries, references).min(dim=1).values.numpy()


def nearest_neighbour_ratio(generated, training, held_out) -> float:
    """Median nearest-training-clip distance of generated clips over that of held-out real
    clips (features, (n, d) each). About 1 or above: the generator makes new clips; far below
    1: it replays (memorises) training clips."""
    generated_distance = np.median(nearest_neighbour_distances(generated, training))
    held_out_distance = np.median(nearest_neighbour_distances(held_out, training))
    return float(generated_distance / max(held_out_distance, 1e-12))


@torch.no_grad()
def classify(classifier: torch.nn.Module, waveforms: torch.Tensor, batch_size: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities (n, classes), features (n, d)) of waveforms (n, samples) at the
    classifier's sample rate, in batches."""
    classifier.eval()
    probs, features = [], []
    for start in range(0, len(waveforms), batch_size):
        chunk = waveforms[start:start + batch_size].float()
        h = classifier.features(chunk)
        features.append(h)
        probs.append(torch.softmax(classifier.head(h), dim=-1))
    return torch.cat(probs), torch.cat(features)


def resample_to(waveforms: torch.Tensor, sample_rate: int, target_rate: int, length: int | None = None) -> torch.Tensor:
    """(n, samples) at sample_rate -> (n, samples') at target_rate (librosa's soxr), cropped or
    zero-padded to `length` when given."""
    from . import audio

    waveforms = waveforms.reshape(len(waveforms), -1).float()
    if sample_rate != target_rate:
        import librosa

        waveforms = torch.from_numpy(librosa.resample(waveforms.numpy(), orig_sr=sample_rate,
                                                      target_sr=target_rate, axis=-1)).float()
    if length is not None:
        waveforms = audio.pad_or_crop(waveforms, length)
    return waveforms


def evaluate_generator(classifier, generated: torch.Tensor, sample_rate: int, *, real_features=None,
                       training_features=None, held_out_features=None, labels=None, splits: int = 10) -> dict:
    """Scores of generated waveforms (n, samples) at sample_rate, judged by `classifier`:
    inception_score (mean, std over `splits`), class coverage, and where given: frechet_distance
    to real_features, nearest_neighbour_ratio (training/held-out features), and accuracy against
    the asked-for `labels` (a conditional generator). See score_predictions."""
    waveforms = resample_to(generated, sample_rate, classifier.sample_rate)
    probs, features = classify(classifier, waveforms)
    return score_predictions(probs, features, real_features=real_features, training_features=training_features,
                             held_out_features=held_out_features, labels=labels, splits=splits)


def score_predictions(probs: torch.Tensor, features: torch.Tensor, *, real_features=None, training_features=None,
                      held_out_features=None, labels=None, splits: int = 10) -> dict:
    """evaluate_generator's scores from the classifier's probabilities (n, classes) and features
    (n, d) of the clips, when they are already computed."""
    score, spread = inception_score(probs, splits)
    result = {"n": len(probs), "splits": splits, "inception_score": round(score, 4),
              "inception_score_std": round(spread, 4), **class_coverage(probs)}
    if real_features is not None:
        result["frechet_distance"] = round(frechet_distance(features, real_features), 4)
    if training_features is not None and held_out_features is not None:
        result["nearest_neighbour_ratio"] = round(nearest_neighbour_ratio(features, training_features,
                                                                          held_out_features), 4)
    if labels is not None:
        result["accuracy"] = round(float((probs.argmax(-1) == torch.as_tensor(labels)).float().mean()), 4)
    return result


# --- vocoders: how close is resynthesised audio to the original? ----------------------------
def _pair(generated, reference) -> tuple[torch.Tensor, torch.Tensor]:
    """Two waveforms (samples,) as float32 tensors cut to the shorter one's length."""
    generated = torch.as_tensor(generated, dtype=torch.float32).reshape(-1)
    reference = torch.as_tensor(reference, dtype=torch.float32).reshape(-1)
    length = min(len(generated), len(reference))
    return generated[:length], reference[:length]


@torch.no_grad()
def mel_l1_distance(generated, reference, mel_spectrogram) -> float:
    """Mean |log-mel(generated) - log-mel(reference)| of two waveforms (samples,) with a
    ganlib.audio.MelSpectrogram, the shorter length of the two (HiFi-GAN's validation
    "mel error" with its loss mel: fmax None). 0 for identical audio.
    Notebook: 07_gan_vocoders.ipynb"""
    generated, reference = _pair(generated, reference)
    return float(torch.mean(torch.abs(mel_spectrogram(generated) - mel_spectrogram(reference))))


@torch.no_grad()
def multi_resolution_stft_distance(generated, reference) -> float:
    """ganlib.losses.multi_resolution_stft_loss of two waveforms (samples,), cut to the
    shorter: spectral convergence + log-magnitude L1 at Parallel WaveGAN's three resolutions.
    Notebook: 07_gan_vocoders.ipynb"""
    from .losses import multi_resolution_stft_loss

    generated, reference = _pair(generated, reference)
    return float(multi_resolution_stft_loss(generated, reference))


def compare_pitch(made, true) -> dict:
    """Two pitch contours (ganlib.audio.pitch_contour: Hz per frame, NaN where unvoiced), the
    second the reference: over the frames voiced in both, the median |error| and the mean error
    in cents (100 cents: a semitone; negative: too low); the share of the reference's voiced
    frames that are voiced in `made` too ("voicing_kept", the recall of voicing), and the F1
    score of the voiced/unvoiced decision ("vuv_f1": voiced frames as the positive class, so a
    vocoder that voices the pauses loses precision, one that whispers loses recall; 1 when both
    agree on every frame). See pitch_error.
    Notebook: 07_gan_vocoders.ipynb"""
    length = min(len(made), len(true))
    made, true = np.asarray(made[:length], dtype=np.float64), np.asarray(true[:length], dtype=np.float64)
    made_voiced, true_voiced = ~np.isnan(made), ~np.isnan(true)
    both = made_voiced & true_voiced
    if not both.any():
        raise ValueError("no frame is voiced in both waveforms: pitch error is undefined")
    cents = 1200 * np.log2(made[both] / true[both])
    return {"median_abs_cents": round(float(np.median(np.abs(cents))), 1), "mean_cents": round(float(cents.mean()), 1),
            "voiced_frames": int(both.sum()),
            "voicing_kept": round(float(both.sum() / max(int(true_voiced.sum()), 1)), 3),
            "vuv_f1": round(float(2 * both.sum() / (made_voiced.sum() + true_voiced.sum())), 3)}


def pitch_error(generated, reference, sample_rate: int, fmin: float = 65.0, fmax: float = 500.0) -> dict:
    """How far the pitch of `generated` strays from `reference`'s (both (samples,) at
    sample_rate, cut to the shorter): compare_pitch of their ganlib.audio.pitch_contour. A mel
    spectrogram keeps pitch only coarsely (HiFi-GAN's 80 bands lie some 37 Hz apart below
    1 kHz), so a vocoder must learn it; this measures whether it did.
    Notebook: 07_gan_vocoders.ipynb"""
    from .audio import pitch_contour

    generated, reference = _pair(generated, reference)
    return compare_pitch(*(pitch_contour(x.numpy(), sample_rate, fmin, fmax) for x in (generated, reference)))


def pesq_wideband(generated, reference, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2, the `pesq` package) of a waveform against its reference,
    both (samples,) at sample_rate, resampled to 16 kHz and cut to the shorter: a MOS-like
    score from about 1.0 (bad) to 4.64 (identical). It compares waveforms after aligning them,
    so a vocoder's phase matters less than a sample-by-sample error would make it.
    Notebook: 07_gan_vocoders.ipynb (chapter 08 uses it for enhancement)"""
    try:
        from pesq import pesq
    except ImportError as error:  # pragma: no cover - pesq is a dependency of ganlib
        raise ImportError("pesq_wideband needs the `pesq` package: pip install pesq") from error
    generated, reference = _pair(generated, reference)
    if sample_rate != 16000:
        generated, reference = (resample_to(w[None], sample_rate, 16000)[0] for w in (generated, reference))
    if len(reference) < 16000 // 4:
        raise ValueError(f"PESQ needs at least 0.25 s of audio, got {len(reference) / 16000:.3f} s")
    return float(pesq(16000, reference.numpy().astype(np.float64), generated.numpy().astype(np.float64), "wb"))


def stoi(generated, reference, sample_rate: int) -> float:
    """Short-time objective intelligibility (Taal et al., 2011; the `pystoi` package) of a
    waveform against its reference, both (samples,) at sample_rate, cut to the shorter: the mean
    correlation of their one-third-octave band envelopes over 384 ms windows, resampled to
    10 kHz and with silent frames dropped (pystoi does both). From about 0 to 1 (identical).
    It hears the envelope of each band, not the phase inside it.
    Notebook: 07_gan_vocoders.ipynb (chapter 08 uses it for enhancement)"""
    try:
        from pystoi import stoi as pystoi_stoi
    except ImportError as error:  # pragma: no cover - pystoi is a dependency of ganlib
        raise ImportError("stoi needs the `pystoi` package: pip install pystoi") from error
    generated, reference = _pair(generated, reference)
    return float(pystoi_stoi(reference.numpy().astype(np.float64), generated.numpy().astype(np.float64),
                             sample_rate, extended=False))


def real_time_factor(synthesise, seconds_of_audio: float, repeats: int = 3) -> float:
    """How many times faster than real time `synthesise()` (no arguments) makes
    `seconds_of_audio` seconds of audio: seconds_of_audio / the median of `repeats` timed calls
    after one warm-up call. Above 1: faster than real time.
    Notebook: 07_gan_vocoders.ipynb"""
    import time

    synthesise()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        synthesise()
        times.append(time.perf_counter() - start)
    return float(seconds_of_audio / np.median(times))
