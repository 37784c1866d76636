"""The GRAM loss against values worked out by hand.

With eps = 0.1 and candidate logits (z_A, z_B) = (2, 0), label A: d = 2,
    L = -log sigmoid(2) + 0.05 * 2 = 0.126928 + 0.1 = 0.226928
and directly: p_A = sigmoid(2) = 0.880797, L = -(0.95 log 0.880797 + 0.05 log 0.119203)
                                             = 0.95 * 0.126928 + 0.05 * 2.126928 = 0.226928.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from gram.train.losses import bradley_terry_loss, gram_loss


def gram_loss_from_margin(margin: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """The GRAM loss written as Bradley-Terry plus a margin penalty: mean(-log sigmoid(d) + (eps/2) d)."""
    return (-F.logsigmoid(margin.float()) + label_smoothing / 2 * margin.float()).mean()


def optimum_margin(label_smoothing: float) -> float:
    """d* = log((2 - eps) / eps): where the smoothed loss stops pushing the margin up."""
    return math.log((2 - label_smoothing) / label_smoothing)


def test_hand_computed_value():
    loss = gram_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([0]), 0.1)
    assert loss.item() == pytest.approx(0.226928, abs=1e-6)
    # label B for the same logits: d = -2, L = -log sigmoid(-2) - 0.1 = 2.126928 - 0.1
    assert gram_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([1]), 0.1).item() == pytest.approx(2.026928, abs=1e-6)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.15, 0.3])
def test_identity_bt_plus_margin_penalty(eps):
    torch.manual_seed(0)
    logits = torch.randn(64, 2) * 3
    labels = torch.randint(0, 2, (64,))
    margin = logits.gather(1, labels[:, None]).squeeze(1) - logits.gather(1, 1 - labels[:, None]).squeeze(1)
    assert gram_loss(logits, labels, eps).item() == pytest.approx(gram_loss_from_margin(margin, eps).item(), abs=1e-5)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.2])
def test_gradient_in_closed_form(eps):
    # dL/dd = -sigmoid(-d) + eps/2, and dL/dz_label = dL/dd, dL/dz_other = -dL/dd (one example)
    for d in (-3.0, -0.5, 0.0, 1.0, 4.0):
        z = torch.tensor([[d, 0.0]], requires_grad=True)
        gram_loss(z, torch.tensor([0]), eps).backward()
        expected = -1 / (1 + math.exp(d)) + eps / 2
        assert z.grad[0, 0].item() == pytest.approx(expected, abs=1e-6)
        assert z.grad[0, 1].item() == pytest.approx(-expected, abs=1e-6)


def test_eps_zero_is_bradley_terry():
    torch.manual_seed(1)
    logits = torch.randn(32, 2)
    labels = torch.zeros(32, dtype=torch.long)
    assert gram_loss(logits, labels, 0.0).item() == pytest.approx(
        bradley_terry_loss(logits[:, 0], logits[:, 1]).item(), abs=1e-6)


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.15])
def test_optimum_margin(eps):
    d_star = optimum_margin(eps)
    if eps == 0.1:
        assert d_star == pytest.approx(2.944439, abs=1e-6)
    d = torch.tensor(d_star, requires_grad=True)
    gram_loss_from_margin(d, eps).backward()
    assert d.grad.item() == pytest.approx(0.0, abs=1e-6)
    # and it is a minimum: the loss is larger on both sides
    at = gram_loss_from_margin(torch.tensor(d_star), eps).item()
    assert gram_loss_from_margin(torch.tensor(d_star - 0.5), eps).item() > at
    assert gram_loss_from_margin(torch.tensor(d_star + 0.5), eps).item() > at


def test_rejects_bad_smoothing():
    with pytest.raises(ValueError):
        gram_loss(torch.zeros(1, 2), torch.tensor([0]), 1.0)
