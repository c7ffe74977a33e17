"""Each loss against a hand computation, and finite at extreme logits where the seed's form is not."""
import math

import pytest
import torch

from ganlib import losses

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def mean(values):
    return sum(values) / len(values)


def test_minimax_discriminator_by_hand():
    expected = (mean([-math.log(sigmoid(x)) for x in REAL.tolist()])
                + mean([-math.log(1 - sigmoid(x)) for x in FAKE.tolist()]))
    assert losses.d_minimax(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert losses.discriminator_loss(REAL, FAKE, "minimax").item() == pytest.approx(expected, rel=1e-6)


def test_generator_losses_by_hand():
    saturating = mean([math.log(1 - sigmoid(x)) for x in FAKE.tolist()])
    nonsaturating = mean([-math.log(sigmoid(x)) for x in FAKE.tolist()])
    assert losses.g_saturating(FAKE).item() == pytest.approx(saturating, rel=1e-6)
    assert losses.g_nonsaturating(FAKE).item() == pytest.approx(nonsaturating, rel=1e-6)
    assert losses.generator_loss(FAKE, "minimax").item() == pytest.approx(saturating, rel=1e-6)


def test_least_squares_by_hand():
    d = 0.5 * mean([(x - 1) ** 2 for x in REAL.tolist()]) + 0.5 * mean([x ** 2 for x in FAKE.tolist()])
    g = 0.5 * mean([(x - 1) ** 2 for x in FAKE.tolist()])
    assert losses.d_least_squares(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert losses.g_least_squares(FAKE).item() == pytest.approx(g, rel=1e-6)


def test_hinge_by_hand():
    # real: max(0, 1-2)=0, max(0, 1+1)=2 -> 1; fake: max(0, 1.5)=1.5, max(0, -2)=0 -> 0.75
    assert losses.d_hinge(REAL, FAKE).item() == pytest.approx(1.75)
    assert losses.g_hinge(FAKE).item() == pytest.approx(1.25)


def test_wasserstein_by_hand():
    assert losses.d_wasserstein(REAL, FAKE).item() == pytest.approx(mean([0.5, -3.0]) - mean([2.0, -1.0]))
    assert losses.g_wasserstein(FAKE).item() == pytest.approx(1.25)


def test_lists_of_discriminators_are_summed():
    total = losses.discriminator_loss([REAL, REAL * 2], [FAKE, FAKE * 2], "lsgan")
    expected = losses.d_least_squares(REAL, FAKE) + losses.d_least_squares(REAL * 2, FAKE * 2)
    assert total.item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="2 real outputs but 1 fake"):
        losses.discriminator_loss([REAL, REAL], [FAKE], "lsgan")


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan'.*hinge"):
        losses.generator_loss(FAKE, "wgan")


@pytest.mark.parametrize("kind", sorted(losses.GENERATOR_LOSSES))
@pytest.mark.parametrize("logit", [100.0, -100.0])
def test_finite_values_and_gradients_at_extreme_logits(kind, logit):
    real = torch.full((4,), logit, requires_grad=True)
    fake = torch.full((4,), -logit, requires_grad=True)
    d_loss = losses.discriminator_loss(real, fake, kind)
    g_loss = losses.generator_loss(fake, kind)
    (d_loss + g_loss).backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_the_seeds_log_sigmoid_form_breaks_at_extreme_logits():
    real = torch.full((4,), 100.0, requires_grad=True)
    fake = torch.full((4,), 100.0, requires_grad=True)
    naive = losses.naive_discriminator_loss(torch.sigmoid(real), torch.sigmoid(fake))
    naive.backward()
    assert math.isinf(naive.item())
    assert not torch.isfinite(fake.grad).all()
    stable = losses.d_minimax(real, fake)
    assert stable.item() == pytest.approx(100.0, rel=1e-4)  # softplus(-100) + softplus(100)


def test_naive_and_stable_agree_where_both_are_finite():
    naive = losses.naive_discriminator_loss(torch.sigmoid(REAL), torch.sigmoid(FAKE))
    assert naive.item() == pytest.approx(losses.d_minimax(REAL, FAKE).item(), rel=1e-5)
    assert losses.naive_generator_loss(torch.sigmoid(FAKE)).item() == pytest.approx(
        losses.g_nonsaturating(FAKE).item(), rel=1e-5)


def test_gradient_penalty_of_a_linear_critic_by_hand():
    # D(x) = w . x has gradient w everywhere: penalty = (||w|| - 1)^2 whatever x_hat is.
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    layer = torch.nn.Linear(3, 1)
    penalty = losses.gradient_penalty(layer, torch.randn(5, 3), torch.randn(5, 3))
    penalty.backward()
    expected = 2 * (layer.weight.norm() - 1) * layer.weight / layer.weight.norm()
    assert torch.allclose(layer.weight.grad, expected.detach(), atol=1e-5)


def test_r1_by_hand():
    # D(x) = sum(x^2) has gradient 2x: E||2x||^2 = 4 E||x||^2.
    real = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    expected = 4 * mean([1 + 4, 9])
    assert losses.r1_penalty(lambda x: (x ** 2).sum(dim=1), real).item() == pytest.approx(expected)


def test_gradient_penalty_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"real \(4, 2\) and fake \(4, 3\)"):
        losses.gradient_penalty(lambda x: x.sum(1), torch.zeros(4, 2), torch.zeros(4, 3))


def test_feature_matching_by_hand():
    real = [[torch.tensor([1.0, 2.0]), torch.tensor([0.0])], [torch.tensor([3.0])]]
    fake = [[torch.tensor([1.5, 1.0]), torch.tensor([2.0])], [torch.tensor([3.0])]]
    assert losses.feature_matching_loss(real, fake).item() == pytest.approx(0.75 + 2.0 + 0.0)


def test_diversity_sensitive_loss_rewards_spread_up_to_the_cap():
    same = torch.ones(4, 3, 5)
    spread = torch.cat([torch.zeros(2, 3, 5), torch.full((2, 3, 5), 0.5)])
    assert losses.diversity_sensitive_loss(same, cap=1.0).item() == 0.0
    assert losses.diversity_sensitive_loss(spread, cap=1.0).item() == pytest.approx(-0.5)  # pairs (0, 2), (1, 3)
    assert losses.diversity_sensitive_loss(spread, cap=0.2).item() == pytest.approx(-0.2)  # clipped
    fake = torch.zeros(4, 3, requires_grad=True)
    losses.diversity_sensitive_loss(fake + torch.tensor([0.0, 0.0, 0.1, 0.1])[:, None], cap=1.0).backward()
    assert (fake.grad[2:] < 0).all() and (fake.grad[:2] > 0).all()  # descent pushes the pairs apart
    with pytest.raises(ValueError, match="batch of 2 or more, got 1"):
        losses.diversity_sensitive_loss(torch.zeros(1, 3), cap=1.0)
    with pytest.raises(ValueError, match="cap must be positive, got 0"):
        losses.diversity_sensitive_loss(torch.zeros(2, 3), cap=0)
