"""Attacks and the Zhang et al. (2021) Section 3.2 quantities (chapter zhang2021)."""
import math

import pytest
import torch

from mixupbook import adversarial as A
from mixupbook.lam import LabelWeight
from mixupbook.losses import logistic_loss
from mixupbook.models import build_model


@pytest.fixture
def net(gen):
    torch.manual_seed(0)
    model = build_model("mlp", 3, (6,), hidden=(16,))
    x = torch.randn(32, 6, generator=gen)
    y = torch.randint(0, 3, (32,), generator=gen)
    return model, x, y


@pytest.mark.parametrize("norm", A.NORMS)
def test_fgsm_stays_in_ball_and_raises_loss_to_first_order(net, norm):
    model, x, y = net
    eps = 1e-3
    xa = A.fgsm(model, x, y, eps, norm)
    size = (xa - x).abs().amax(1) if norm == "linf" else (xa - x).norm(dim=1)
    assert (size <= eps + 1e-6).all()  # float32 rounding of x + delta
    base, grad = A.loss_and_input_grad(model, x, y)
    gain = A.cross_entropy_loss(model(xa), y).detach() - base
    dual = grad.abs().sum(1) if norm == "linf" else grad.norm(dim=1)  # first-order gain eps ||grad||_*
    assert torch.allclose(gain, eps * dual, rtol=0.05, atol=1e-7)


@pytest.mark.parametrize("norm", A.NORMS)
def test_pgd_at_least_as_strong_as_fgsm_and_in_ball(net, norm, gen):
    model, x, y = net
    eps = 0.5
    loss = lambda xa: A.cross_entropy_loss(model(xa), y).detach()
    xf = A.fgsm(model, x, y, eps, norm)
    # from x with step eps, PGD's first iterate is the FGSM point and PGD keeps its best iterate
    xp = A.pgd(model, x, y, eps, norm, steps=10, step_size=eps, random_start=False)
    assert (loss(xp) >= loss(xf) - 1e-6).all()
    assert loss(xp).mean() > loss(xf).mean()
    xr = A.pgd(model, x, y, eps, norm, steps=20, generator=gen)  # default: random start, step 2.5 eps / steps
    for xa in (xp, xr):
        size = (xa - x).abs().amax(1) if norm == "linf" else (xa - x).norm(dim=1)
        assert (size <= eps + 1e-6).all()  # float32 rounding of x + delta
    assert loss(xr).mean() > loss(x).mean()


def test_pgd_is_seeded_and_checks_arguments(net):
    model, x, y = net
    a = A.pgd(model, x, y, 0.1, "l2", steps=3, generator=torch.Generator().manual_seed(1))
    b = A.pgd(model, x, y, 0.1, "l2", steps=3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="generator"):
        A.pgd(model, x, y, 0.1, "l2")
    with pytest.raises(ValueError, match="norm"):
        A.fgsm(model, x, y, 0.1, "l1")
    with pytest.raises(ValueError, match="eps"):
        A.fgsm(model, x, y, -0.1)


def test_fgsm_clip_keeps_valid_range(net):
    model, x, y = net
    x = x.sigmoid()
    xa = A.fgsm(model, x, y, 0.5, "linf", clip=(0.0, 1.0))
    assert xa.min() >= 0 and xa.max() <= 1


def test_binary_score_of_two_logits_gives_logistic_loss():
    z = torch.randn(10, 2, dtype=torch.float64)
    y = torch.randint(0, 2, (10,))
    f = A.binary_score(z)
    assert torch.allclose(A.cross_entropy_loss(z, y), logistic_loss(f, y.double(), "none"))
    with pytest.raises(ValueError, match="binary score"):
        A.binary_score(torch.randn(4, 3))


def test_lemma_3_2_matches_exact_inner_max_for_small_radius(gen):
    """Lemma 3.2: for f = theta^T x, max over ||delta|| <= eta of the loss is
    max(l(f + eta ||theta||), l(f - eta ||theta||)) exactly; l_adv differs by O(eta^3)."""
    d = 5
    theta = torch.randn(d, generator=gen, dtype=torch.float64)
    x = torch.randn(40, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=gen).double()
    model = lambda z: z @ theta
    f, tn = x @ theta, theta.norm()
    errs = []
    for eta in (0.02, 0.01):
        exact = torch.maximum(logistic_loss(f + eta * tn, y, "none"), logistic_loss(f - eta * tn, y, "none"))
        xp = A.pgd(model, x, y, eta, "l2", steps=10, step_size=eta, random_start=False)
        numeric = logistic_loss(model(xp), y, "none")
        assert torch.allclose(numeric, exact, atol=1e-9 + 1e-6 * eta)  # PGD finds the max
        approx = A.second_order_adv_loss_model(model, x, y, eta)
        err = (approx - exact).abs().max()
        assert err <= (eta * tn) ** 3  # third-order remainder: |l'''| <= 1/(6 sqrt 3) < 1
        errs.append(float(err))
    assert 5 < errs[0] / errs[1] < 11  # halving eta divides the error by about 8


def test_robust_radii_and_theta_for_linear_model(gen):
    x = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    theta = torch.randn(4, generator=gen, dtype=torch.float64)
    model = lambda z: z @ theta
    y = (x @ theta > 0).long()
    assert A.in_theta(model, x, y) and not A.in_theta(model, x, 1 - y)
    r = A.robust_radii(model, x, 2.0)
    cos = (x @ theta).abs() / (x.norm(dim=1) * theta.norm())
    assert torch.allclose(r["R_i"], cos) and math.isclose(r["R"], float(cos.min()))
    assert math.isclose(r["c_x"], float(x.norm(dim=1).min()) / 2.0)
    assert math.isclose(r["m1"], 1 - LabelWeight(2.0).mean())
    assert math.isclose(r["eps_mix"], float(r["eps_i"].min()))

