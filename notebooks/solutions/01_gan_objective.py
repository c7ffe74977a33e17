"""Solutions to the exercises of notebooks/01_gan_objective.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch01.py.
"""
import torch
import torch.nn.functional as F


def d_star(p_data, p_g):
    """The optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x)), elementwise."""
    return p_data / (p_data + p_g)


def d_loss(real_logits, fake_logits):
    """-E[log sigmoid(l_real)] - E[log(1 - sigmoid(l_fake))], with -log sigmoid(l) = softplus(-l)
    and -log(1 - sigmoid(l)) = softplus(l): finite at any logit."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def js(p, q):
    """Jensen-Shannon divergence in nats of two probability vectors; 0 log 0 = 0 via xlogy."""
    m = 0.5 * (p + q)
    kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum()
    kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum()
    return 0.5 * (kl_pm + kl_qm)


SOLUTIONS = {
    "01.d_star": d_star,
    "01.stable_bce": d_loss,
    "01.js": js,
}
