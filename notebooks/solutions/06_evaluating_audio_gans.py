"""Solutions to the exercises of notebooks/06_evaluating_audio_gans.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch06.py.
"""

import numpy as np
import torch


def inception_score(probabilities):
    """exp(mean over clips of KL(p(y|x) || p(y))), p(y) the mean row: one split."""
    probs = torch.as_tensor(probabilities, dtype=torch.float64)
    marginal = probs.mean(dim=0, keepdim=True)
    kl = (probs * (torch.log(probs + 1e-12) - torch.log(marginal + 1e-12))).sum(dim=1)
    return kl.mean().exp().item()


def frechet_1d(mean_a, std_a, mean_b, std_b):
    """In one dimension Tr(S_a + S_b - 2 sqrt(S_a S_b)) = std_a^2 + std_b^2 - 2 std_a std_b."""
    return (mean_a - mean_b) ** 2 + (std_a - std_b) ** 2


def class_coverage(probabilities):
    """(classes that are some clip's arg-max, each class's share of the clips)."""
    probs = torch.as_tensor(probabilities)
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1])
    return int((counts > 0).sum()), counts / counts.sum()


def nearest_neighbour_ratio(generated, training, held_out):
    """Median nearest-training distance of the generated rows over that of the held-out rows."""
    def median_nearest(queries):
        return np.median(torch.cdist(queries.double(), training.double()).min(dim=1).values.numpy())
    return median_nearest(generated) / median_nearest(held_out)


SOLUTIONS = {
    "06.inception_score": inception_score,
    "06.frechet_1d": frechet_1d,
    "06.class_coverage": class_coverage,
    "06.nearest_neighbour_ratio": nearest_neighbour_ratio,
}
