"""ganlib.metrics and the digit classifier: known cases with known answers."""
import numpy as np
import pytest
import torch

from ganlib import metrics
from ganlib.models.classifier import DigitClassifier, augment


def test_inception_score_of_a_uniform_confident_classifier_is_the_number_of_classes():
    probs = torch.eye(10).repeat(100, 1)  # each clip certain, every class equally often
    score, spread = metrics.inception_score(probs, splits=10, shuffle=False)
    assert score == pytest.approx(10.0, rel=1e-6) and spread == pytest.approx(0.0, abs=1e-6)
    # shuffled, each split of 100 holds the classes only about equally often (about 9.6)
    assert metrics.inception_score(probs)[0] == pytest.approx(10.0, abs=0.6)


def test_inception_score_shuffles_clips_stored_class_by_class():
    by_class = torch.eye(10).repeat_interleave(100, dim=0)  # 100 zeros, then 100 ones, ...
    assert metrics.inception_score(by_class, shuffle=False)[0] == pytest.approx(1.0)  # one class a split
    assert metrics.inception_score(by_class)[0] == pytest.approx(10.0, abs=0.6)


def test_inception_score_of_a_constant_classifier_is_one():
    probs = torch.softmax(torch.tensor([2.0, 1.0, 0.5]), 0).repeat(500, 1)
    assert metrics.inception_score(probs)[0] == pytest.approx(1.0, abs=1e-6)
    collapsed = torch.eye(10)[[3] * 500]  # certain, but always the same class: mode collapse
    assert metrics.inception_score(collapsed)[0] == pytest.approx(1.0, abs=1e-6)


def test_inception_score_falls_with_dropped_classes_and_with_uncertainty():
    five = torch.eye(10)[torch.arange(1000) % 5]
    assert metrics.inception_score(five, shuffle=False)[0] == pytest.approx(5.0, rel=1e-6)
    blurred = 0.5 * torch.eye(10).repeat(100, 1) + 0.05  # half sure
    assert 1.0 < metrics.inception_score(blurred)[0] < 10.0


def test_inception_score_refuses_logits():
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(torch.randn(100, 10))


def test_frechet_distance_of_a_set_to_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 16))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    # For diagonal covariances: ||mu_a - mu_b||^2 + sum (sigma_a - sigma_b)^2.
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    sigma_a, sigma_b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 2.0, 1.5])
    expected = ((mu_a - mu_b) ** 2).sum() + ((sigma_a - sigma_b) ** 2).sum()
    got = metrics.frechet_distance(statistics_a=(mu_a, np.diag(sigma_a ** 2)),
                                   statistics_b=(mu_b, np.diag(sigma_b ** 2)))
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_grows_with_the_gap_between_sets():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2000, 8))
    near, far = rng.normal(0.1, 1.0, size=(2000, 8)), rng.normal(1.0, 1.0, size=(2000, 8))
    assert metrics.frechet_distance(base, near) < metrics.frechet_distance(base, far)
    with pytest.raises(ValueError, match="feature sizes differ"):
        metrics.frechet_distance(base, base[:, :4])


def test_class_coverage_counts_the_classes_used():
    probs = torch.eye(10)[torch.tensor([0, 0, 1, 2, 2, 2])]
    coverage = metrics.class_coverage(probs)
    assert coverage["classes_covered"] == 3
    assert coverage["shares"][:3] == [pytest.approx(1 / 3, abs=1e-4), pytest.approx(1 / 6, abs=1e-4), 0.5]


def test_nearest_neighbour_ratio_tells_copies_from_new_samples():
    rng = np.random.default_rng(2)
    training, held_out, fresh = (rng.normal(size=(300, 8)) for _ in range(3))
    copies = training[:200] + 1e-3 * rng.normal(size=(200, 8))
    assert metrics.nearest_neighbour_ratio(copies, training, held_out) < 0.01
    assert 0.8 < metrics.nearest_neighbour_ratio(fresh, training, held_out) < 1.25


def test_classifier_shapes_any_length_and_loudness_invariance():
    torch.manual_seed(0)
    classifier = DigitClassifier().eval()
    clips = 0.3 * torch.randn(3, 16000)
    assert classifier(clips).shape == (3, 10)
    assert classifier.features(clips).shape == (3, classifier.feature_dim)
    assert classifier(torch.randn(2, 1, 16384)).shape == (2, 10)  # a generator's (batch, 1, samples)
    # the clip's mean log-mel is removed: a gain is an offset in log, so it cancels
    torch.testing.assert_close(classifier(clips), classifier(0.1 * clips), atol=1e-3, rtol=1e-3)
    assert torch.allclose(classifier.probabilities(clips).sum(-1), torch.ones(3))


def test_augment_keeps_shape_and_shifts():
    x = torch.zeros(4, 1000)
    x[:, 500] = 1.0
    y = augment(x, max_shift=100, noise_snr_db=(200.0, 200.0), generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    peaks = y.abs().argmax(dim=1)
    assert ((peaks - 500).abs() <= 100).all() and len(set(peaks.tolist())) > 1


def test_evaluate_generator_reports_accuracy_for_asked_labels():
    torch.manual_seed(0)
    classifier = DigitClassifier().eval()
    clips = 0.3 * torch.randn(20, 8000)
    labels = torch.arange(20) % 10
    result = metrics.evaluate_generator(classifier, clips, 8000, labels=labels, splits=2)
    predicted = metrics.classify(classifier, metrics.resample_to(clips, 8000, 16000))[0].argmax(-1)
    assert result["accuracy"] == pytest.approx(float((predicted == labels).float().mean()))
    assert result["n"] == 20 and 1.0 <= result["inception_score"] <= 10.0


def _glide(start_hz, end_hz, seconds=1.0, rate=16000):
    """A buzz (five harmonics) gliding from start_hz to end_hz, silent for its last fifth."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = np.linspace(start_hz, end_hz, len(t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.3
    wave[int(0.8 * len(t)):] = 0.0
    return wave.astype(np.float32)


def test_pitch_error_measures_cents_and_kept_voicing():
    from ganlib import audio
    reference = _glide(150, 220)
    contour = audio.pitch_contour(reference, 16000)
    voiced = contour[~np.isnan(contour)]
    assert 140 < voiced.min() < 165 and 205 < voiced.max() < 230  # follows the glide
    assert np.isnan(contour[-5:]).all()                            # the silent end is unvoiced
    same = metrics.pitch_error(reference, reference, 16000)
    assert same["median_abs_cents"] == 0.0 and same["voicing_kept"] == 1.0
    flat = metrics.pitch_error(_glide(150 * 2 ** (-50 / 1200), 220 * 2 ** (-50 / 1200)), reference, 16000)
    assert 40 <= flat["median_abs_cents"] <= 60 and -60 <= flat["mean_cents"] <= -40  # a quarter tone low
    monotone = metrics.pitch_error(_glide(185, 185), reference, 16000)  # the glide flattened to its middle
    assert monotone["median_abs_cents"] > 100
    with pytest.raises(ValueError, match="no frame is voiced"):
        metrics.pitch_error(np.zeros(16000, np.float32), reference, 16000)
    with pytest.raises(ValueError, match="fmin"):
        audio.pitch_contour(reference, 16000, fmin=300, fmax=200)
