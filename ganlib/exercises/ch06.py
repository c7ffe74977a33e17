"""Checks for the exercises of chapter 06, evaluating audio GANs.

Each check calls the student's function on a few cases, compares with ganlib.metrics and
raises AssertionError with a hint when it is wrong. Test data come from private generators, so
the checks leave the notebook's random state alone.
Notebook: 06_evaluating_audio_gans.ipynb
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import metrics
from . import answer_tensor


def _probabilities(n: int, classes: int, sharpness: float, generator: torch.Generator) -> torch.Tensor:
    """n random probability rows (n, classes), the softmax of Gaussian logits times
    `sharpness`: large gives confident rows, small unsure ones."""
    return torch.softmax(sharpness * torch.randn(n, classes, generator=generator, dtype=torch.float64), dim=1)


def _number(value, what: str) -> float:
    value = answer_tensor(value, what)
    assert value.numel() == 1, f"{what} should return one number, got shape {tuple(value.shape)}"
    return float(value)


def check_inception_score(my_inception_score) -> None:
    """my_inception_score(probabilities) -> exp(mean_x KL(p(y|x) || p(y))) over all rows of
    probabilities (n, classes), in one split: ganlib.metrics.inception_score(p, splits=1)."""
    generator = torch.Generator().manual_seed(6)
    eye = torch.eye(10)
    cases = [
        ("confident predictions spread evenly over all 10 digits", eye.repeat(5, 1), 10.0),
        ("the same confident prediction for every clip", eye[[3] * 40], 1.0),
        ("confident predictions over 4 digits, evenly", eye[[0, 2, 5, 7] * 10], 4.0),
        ("an unsure classifier: 1/10 for every digit", torch.full((30, 10), 0.1), 1.0),
        ("random confident rows", _probabilities(200, 10, 8.0, generator), None),
        ("random unsure rows", _probabilities(200, 10, 0.5, generator), None),
        ("5 classes, 128 clips", _probabilities(150, 5, 3.0, generator)[torch.arange(150) % 7 != 0], None),
    ]
    for name, probs, closed_form in cases:
        got = _number(my_inception_score(probs.clone()), "my_inception_score(probabilities)")
        expected = metrics.inception_score(probs, splits=1, shuffle=False)[0]
        if closed_form is not None:
            assert math.isclose(expected, closed_form, rel_tol=1e-6)
        marginal = probs.double().mean(0)
        plain_kl = float((probs.double() * (torch.log(probs.double() + 1e-12) - torch.log(marginal + 1e-12))).sum(1).mean())
        if not math.isclose(expected, 1.0, rel_tol=1e-3) and math.isclose(got, plain_kl, rel_tol=1e-4, abs_tol=1e-9):
            raise AssertionError("you returned the mean KL divergence itself: the Inception Score is its exponential")
        assert math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-6), (
            f"for {name} expected {expected:.5f}, got {got:.5f}. p(y) is the mean of the rows (over the "
            "clips, dim 0); KL(p(y|x) || p(y)) = sum_y p(y|x) (log p(y|x) - log p(y)) for each clip; average "
            "over the clips, then exponentiate. Add 1e-12 inside the logs, or 0 * log 0 gives NaN.")


def check_frechet_1d(my_frechet_1d) -> None:
    """my_frechet_1d(mean_a, std_a, mean_b, std_b) -> the Fréchet distance between the 1-D
    Gaussians N(mean_a, std_a^2) and N(mean_b, std_b^2): (mean_a - mean_b)^2 + (std_a - std_b)^2."""
    cases = [(0.0, 1.0, 0.0, 1.0), (1.0, 1.0, 3.0, 1.0), (0.0, 1.0, 0.0, 3.0), (-1.5, 0.5, 2.0, 2.5),
             (4.0, 0.1, 4.0, 0.0), (0.3, 2.0, -0.2, 0.7)]
    for mean_a, std_a, mean_b, std_b in cases:
        got = _number(my_frechet_1d(mean_a, std_a, mean_b, std_b), "my_frechet_1d(mean_a, std_a, mean_b, std_b)")
        expected = metrics.frechet_distance(statistics_a=(np.array([mean_a]), np.array([[std_a ** 2]])),
                                            statistics_b=(np.array([mean_b]), np.array([[std_b ** 2]])))
        where = f"N({mean_a}, {std_a}^2) and N({mean_b}, {std_b}^2)"
        with_variances = (mean_a - mean_b) ** 2 + (std_a ** 2 - std_b ** 2) ** 2
        if not math.isclose(expected, with_variances, abs_tol=1e-9) and math.isclose(got, with_variances, abs_tol=1e-6):
            raise AssertionError(f"for {where} you compared the variances; in one dimension "
                                 "s_a + s_b - 2 sqrt(s_a s_b) is a square of the difference of standard deviations")
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9), (
            f"for {where} expected {expected:.6g}, got {got:.6g}. Write the general formula "
            "||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) with 1 x 1 matrices S = std^2.")


def check_class_coverage(my_class_coverage) -> None:
    """my_class_coverage(probabilities) -> (classes_covered, shares): how many classes are
    some clip's most likely class, and the fraction of clips (arg-max) in each class (classes,)."""
    generator = torch.Generator().manual_seed(8)
    collapsed = _probabilities(120, 10, 3.0, generator)
    collapsed[:, [1, 4, 7]] += 5.0  # every clip now leans to digit 1, 4 or 7
    collapsed = collapsed / collapsed.sum(1, keepdim=True)
    cases = [("random confident rows", _probabilities(300, 10, 8.0, generator)),
             ("a generator that only makes digits 1, 4 and 7", collapsed),
             ("one clip", _probabilities(1, 10, 2.0, generator)),
             ("3 classes", _probabilities(40, 3, 1.0, generator))]
    for name, probs in cases:
        answer = my_class_coverage(probs.clone())
        assert isinstance(answer, (tuple, list)) and len(answer) == 2, (
            f"return a pair (classes_covered, shares), got {type(answer).__name__}")
        covered, shares = answer
        shares = answer_tensor(shares, "the shares").reshape(-1)
        expected = metrics.class_coverage(probs)
        assert shares.numel() == probs.shape[1], (
            f"for {name} shares should have one entry per class ({probs.shape[1]}), got {shares.numel()}: "
            "torch.bincount(..., minlength=number of classes)")
        assert torch.allclose(shares, torch.tensor(expected["shares"], dtype=torch.float64), atol=1e-4), (
            f"for {name} expected shares {expected['shares']}, got {[round(v, 4) for v in shares.tolist()]}. "
            "Count each clip once, in its arg-max class, and divide by the number of clips.")
        assert int(covered) == expected["classes_covered"], (
            f"for {name} expected {expected['classes_covered']} classes covered, got {int(covered)}: "
            "count the classes with a share above 0")


def check_nearest_neighbour_ratio(my_nearest_neighbour_ratio) -> None:
    """my_nearest_neighbour_ratio(generated, training, held_out) -> median distance of each
    generated row to its nearest training row, over that of the held-out rows (features (n, d))."""
    generator = torch.Generator().manual_seed(9)
    training = torch.randn(300, 8, generator=generator, dtype=torch.float64)
    held_out = torch.randn(100, 8, generator=generator, dtype=torch.float64)
    cases = [("new samples from the same distribution", torch.randn(150, 8, generator=generator, dtype=torch.float64)),
             ("a memoriser: training rows plus a little noise",
              training[:150] + 0.01 * torch.randn(150, 8, generator=generator, dtype=torch.float64)),
             ("blurry samples", 2.0 * torch.randn(120, 8, generator=generator, dtype=torch.float64)),
             ("an odd number of generated rows", torch.randn(7, 8, generator=generator, dtype=torch.float64))]
    for name, generated in cases:
        got = _number(my_nearest_neighbour_ratio(generated.clone(), training.clone(), held_out.clone()),
                      "my_nearest_neighbour_ratio(generated, training, held_out)")
        expected = metrics.nearest_neighbour_ratio(generated, training, held_out)
        lower_medians = (torch.cdist(generated, training).min(dim=1).values.median()
                         / torch.cdist(held_out, training).min(dim=1).values.median())
        if not math.isclose(float(lower_medians), expected, rel_tol=1e-5) and \
                math.isclose(got, float(lower_medians), rel_tol=1e-5):
            raise AssertionError("torch.median of an even number of values returns the lower of the two middle "
                                 "ones; ganlib (like np.median) takes their average: use .quantile(0.5) or np.median")
        assert math.isclose(got, expected, rel_tol=1e-4), (
            f"for {name} expected {expected:.5f}, got {got:.5f}. For each generated row take the distance "
            "to its nearest training row (torch.cdist(...).min(dim=1)), take the median, and divide by the "
            "same median for the held-out rows (the median, not the mean).")


CHECKS = {
    "06.inception_score": check_inception_score,
    "06.frechet_1d": check_frechet_1d,
    "06.class_coverage": check_class_coverage,
    "06.nearest_neighbour_ratio": check_nearest_neighbour_ratio,
}
