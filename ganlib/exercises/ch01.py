"""Checks for the exercises of chapter 01, the GAN objective.

Each check calls the student's function on a few cases, compares with a reference and raises
AssertionError with a hint when it is wrong. Notebook: 01_gan_objective.ipynb
"""
from __future__ import annotations

import math

import torch

from .. import losses
from . import answer_tensor as _tensor


def check_d_star(my_d_star) -> None:
    """my_d_star(p_data, p_g) -> D*(x) = p_data / (p_data + p_g), elementwise."""
    p_data = torch.tensor([0.5, 1.0, 0.2, 0.0, 3.0, 0.7])
    p_g = torch.tensor([0.5, 0.25, 0.6, 2.0, 0.0, 0.1])
    expected = (p_data / (p_data + p_g)).double()
    got = _tensor(my_d_star(p_data.clone(), p_g.clone()), "my_d_star(p_data, p_g)")
    assert got.shape == expected.shape, (f"expected one value per point, shape {tuple(expected.shape)}, "
                                         f"got shape {tuple(got.shape)}")
    if torch.allclose(got, 1 - expected, atol=1e-6):
        raise AssertionError("you returned p_g / (p_data + p_g) = 1 - D*: D is the probability of 'real'")
    assert torch.allclose(got, expected, atol=1e-6), (
        f"at p_data={[round(v, 4) for v in p_data.tolist()]}, p_g={[round(v, 4) for v in p_g.tolist()]} expected {[round(v, 4) for v in expected.tolist()]}, "
        f"got {[round(v, 4) for v in got.tolist()]}. Maximise a log y + b log(1 - y) over y.")
    same = torch.tensor([0.3, 1.2, 4.0])
    got_same = _tensor(my_d_star(same.clone(), same.clone()), "my_d_star(p, p)")
    assert torch.allclose(got_same, torch.full_like(got_same, 0.5), atol=1e-6), \
        "where p_g = p_data the optimal discriminator is 1/2 everywhere"


def check_stable_bce(my_d_loss) -> None:
    """my_d_loss(real_logits, fake_logits) matches losses.d_minimax in value and gradient,
    at ordinary and at extreme logits."""
    generator = torch.Generator().manual_seed(1)
    cases = [
        ("ordinary logits", torch.randn(16, generator=generator), torch.randn(16, generator=generator)),
        ("logits (batch, 1)", torch.randn(8, 1, generator=generator) * 3, torch.randn(8, 1, generator=generator) * 3),
        ("extreme logits like +-100 and +-1000",
         torch.tensor([100.0, -100.0, 1000.0, -30.0, 20.0, 0.0]),
         torch.tensor([-100.0, 100.0, -1000.0, 30.0, 20.0, 0.0])),
    ]
    for name, real, fake in cases:
        real_mine, fake_mine = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
        real_ref, fake_ref = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
        expected = losses.d_minimax(real_ref, fake_ref)
        answer = my_d_loss(real_mine, fake_mine)
        got = _tensor(answer, "my_d_loss(real_logits, fake_logits)")
        assert got.numel() == 1, f"the loss should be a scalar (a mean over the batch), got shape {tuple(got.shape)}"
        assert torch.isfinite(got).all(), (
            f"with {name} your loss is {got.item()}: that is the log of a saturated sigmoid. "
            "Write -log(sigmoid(l)) as F.softplus(-l) and -log(1 - sigmoid(l)) as F.softplus(l).")
        assert torch.allclose(got, expected.detach().double(), rtol=1e-4, atol=1e-5), (
            f"with {name} expected {expected.item():.6g}, got {got.item():.6g}. "
            "Remember the means: mean(softplus(-real)) + mean(softplus(fake)).")
        assert isinstance(answer, torch.Tensor) and answer.requires_grad, \
            "return a torch tensor computed from the logits, so that autograd can differentiate it"
        expected.backward()
        answer.backward()
        for which, mine, ref in (("real", real_mine, real_ref), ("fake", fake_mine, fake_ref)):
            assert mine.grad is not None, f"no gradient reaches the {which} logits: do not detach them"
            assert torch.isfinite(mine.grad).all(), (
                f"with {name} the gradient on the {which} logits has NaN/inf: avoid log(sigmoid(...)), use softplus")
            assert torch.allclose(mine.grad, ref.grad, rtol=1e-4, atol=1e-6), \
                f"with {name} the gradient on the {which} logits differs from ganlib.losses.d_minimax's"


def _js_reference(p: torch.Tensor, q: torch.Tensor) -> float:
    m = 0.5 * (p + q)
    kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum()
    kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum()
    return float(0.5 * (kl_pm + kl_qm))


def check_js(my_js) -> None:
    """my_js(p, q) -> JS(p || q) in nats for discrete distributions, 0 log 0 = 0."""
    cases = [
        ("p = [0.1, 0.4, 0.5], q = [0.3, 0.3, 0.4]",
         torch.tensor([0.1, 0.4, 0.5], dtype=torch.float64), torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)),
        ("partly overlapping supports, with zeros",
         torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 0.25, 0.25, 0.5], dtype=torch.float64)),
        ("identical distributions",
         torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64), torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)),
        ("disjoint supports",
         torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 0.0, 0.3, 0.7], dtype=torch.float64)),
    ]
    for name, p, q in cases:
        expected = _js_reference(p, q)
        got = _tensor(my_js(p.clone(), q.clone()), "my_js(p, q)")
        assert got.numel() == 1, f"JS is one number, got shape {tuple(got.shape)}"
        value = got.item()
        assert math.isfinite(value), (f"for {name} you returned {value}: 0 * log 0 must count as 0 "
                                      "(torch.special.xlogy(p, p) does that)")
        if expected > 0 and math.isclose(value, expected / math.log(2), rel_tol=1e-6):
            raise AssertionError(f"for {name} you returned JS in bits; use the natural log (nats)")
        assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9), (
            f"for {name} expected {expected:.6f}, got {value:.6f}. "
            "JS(p||q) = KL(p||m)/2 + KL(q||m)/2 with m = (p + q)/2.")
    got_swapped = _tensor(my_js(cases[0][2].clone(), cases[0][1].clone()), "my_js(q, p)").item()
    assert math.isclose(got_swapped, _js_reference(cases[0][1], cases[0][2]), rel_tol=1e-6), \
        "JS is symmetric: my_js(q, p) should equal my_js(p, q)"


CHECKS = {
    "01.d_star": check_d_star,
    "01.stable_bce": check_stable_bce,
    "01.js": check_js,
}
