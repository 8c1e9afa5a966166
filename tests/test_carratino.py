"""Carratino et al. (2022) in ``taylor`` and the laws/objectives added for chapter carratino2022."""
import numpy as np
import pytest
import torch

from mixupbook import lam as L
from mixupbook import taylor as T
from mixupbook.methods import build_objective


@pytest.fixture
def small():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 1]), 3).double()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    return model, x, y


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0, 4.0])
def test_folded_beta_closed_form_matches_quadrature(alpha):
    np.testing.assert_allclose(T.folded_beta_moments(alpha), T.folded_moments(L.Beta(alpha)), rtol=1e-8)


def test_folded_uniform_moments():
    tb, s2, g2 = T.folded_beta_moments(1.0)
    assert tb == pytest.approx(0.75) and s2 == pytest.approx(1 / 48) and g2 == pytest.approx(1 / 48 + 1 / 16)


def test_theorem1_identity(small):
    model, x, y = small
    lhs = T.mixup_loss_exact(model, x, y, 0.5, loss="cross_entropy")
    rhs = T.perturbed_erm_loss(model, x, y, L.Beta(0.5))
    assert rhs == pytest.approx(lhs, rel=1e-9)


def test_perturbations_have_mean_zero_and_rebuild_the_mixed_point(small):
    _, x, y = small
    p = T.perturbed_erm(x, y, L.Beta(0.7))
    j = torch.arange(len(x))
    i = torch.full_like(j, 2)
    # delta is affine in theta, so E_theta,j delta = mean over j at theta = theta_bar
    d, e = T.perturbations(x, y, i, j, torch.full((len(x),), p.theta_bar, dtype=torch.float64), p.theta_bar)
    assert torch.allclose(d.mean(0), torch.zeros(3, dtype=x.dtype), atol=1e-12)
    assert torch.allclose(e.mean(0), torch.zeros(3, dtype=x.dtype), atol=1e-12)
    th = torch.full((len(x),), 0.8, dtype=torch.float64)
    d, _ = T.perturbations(x, y, i, j, th, p.theta_bar)
    assert torch.allclose(p.x_tilde[2] + d, 0.8 * x[2] + 0.2 * x[j], atol=1e-12)


def test_lemma2_matches_exact_enumeration(small):
    _, x, y = small
    law = L.Beta(0.4)
    tb, s2, _ = T.folded_moments(law)
    sxx, syy, sxy = T.lemma2_covariances(x, y, law)
    p = T.perturbed_erm(x, y, law)
    n = len(x)
    for i in (0, 4):
        # delta = a + theta b for fixed j: E over theta needs E theta and E theta^2 only
        j = torch.arange(n)
        a, ay = T.perturbations(x, y, torch.full_like(j, i), j, torch.zeros(n), tb)
        b = x[i] - x[j]
        by = y[i] - y[j]
        m2 = s2 + tb**2
        exx = (a.T @ a + tb * (a.T @ b + b.T @ a) + m2 * b.T @ b) / n
        exy = (a.T @ ay + tb * (a.T @ by + b.T @ ay) + m2 * b.T @ by) / n
        assert torch.allclose(exx, sxx[i], atol=1e-12) and torch.allclose(exy, sxy[i], atol=1e-12)
    assert torch.allclose(sxy.sum(-1), torch.zeros_like(sxy.sum(-1)), atol=1e-12)  # label rows sum to 1
    assert p.x_tilde.shape == x.shape


def test_theorem3_autograd_equals_corollary4_and_raw_form(small):
    model, x, y = small
    law = L.Beta(0.5)
    t3, c4 = T.theorem3_terms(model, x, y, law), T.corollary4_terms(model, x, y, law)
    for k in ("base", "R1", "R2", "R3"):
        assert t3[k] == pytest.approx(c4[k], rel=1e-7, abs=1e-10), k
    assert t3["R4"] == 0.0
    assert t3["R1"] + t3["R2"] + t3["R3"] + t3["R4"] == pytest.approx(t3["quadratic_raw"], rel=1e-7, abs=1e-10)


def test_theorem3_squared_loss_has_r4(small):
    model, x, y = small

    def sq(u, yy):
        return 0.5 * ((u - yy) ** 2).sum(-1)

    t3 = T.theorem3_terms(model, x, y, L.Beta(1.0), loss=sq)
    assert t3["R4"] > 0
    assert t3["R1"] + t3["R2"] + t3["R3"] + t3["R4"] == pytest.approx(t3["quadratic_raw"], rel=1e-7)


def test_softmax_hessian_pinv_is_moore_penrose():
    u = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    H, Hp = T.softmax_hessian(u), T.softmax_hessian_pinv(u)
    assert torch.allclose(Hp, torch.linalg.pinv(H, hermitian=True), atol=1e-8)
    assert torch.allclose(H @ torch.ones(5, dtype=u.dtype), torch.zeros(4, 5, dtype=u.dtype), atol=1e-12)


def test_surrogate_equals_corollary4_sum_and_flags(small):
    model, x, y = small
    law = L.Beta(0.5)
    c4 = T.corollary4_terms(model, x, y, law)
    full = float(T.carratino_surrogate(model, x, y, law).detach())
    assert full == pytest.approx(c4["base"] + c4["R1"] + c4["R2"] + c4["R3"], rel=1e-8)
    no_h = float(T.carratino_surrogate(model, x, y, law, hessian_term=False))
    assert no_h == pytest.approx(full - c4["R2"], rel=1e-8)
    plain = float(T.carratino_surrogate(model, x, y, law, jacobian_terms=False, hessian_term=False))
    assert plain == pytest.approx(c4["base"], rel=1e-10)


def test_theorem1_holds_for_an_asymmetric_law(small):
    """The double sum over (i, j) is unchanged by lam -> 1 - lam, so Theorem 1 needs no symmetric law."""
    model, x, y = small
    for a, b in ((2.0, 0.5), (0.5, 2.0), (0.3, 1.7)):
        lhs = T.mixup_loss_exact(model, x, y, a, b, loss="cross_entropy")
        rhs = T.perturbed_erm_loss(model, x, y, L.Beta(a, b))
        assert rhs == pytest.approx(lhs, rel=1e-9), (a, b)
    # Beta(a, b) and Beta(b, a) have the same folded law, hence the same loss and shrunk points
    assert T.mixup_loss_exact(model, x, y, 2.0, 0.5, loss="cross_entropy") == pytest.approx(
        T.mixup_loss_exact(model, x, y, 0.5, 2.0, loss="cross_entropy"), rel=1e-9)
    np.testing.assert_allclose(T.folded_moments(L.Beta(2.0, 0.5)), T.folded_moments(L.Beta(0.5, 2.0)), rtol=1e-9)
    # ... but not the law of Beta(2, 2): the identity is not a tautology of the quadrature
    assert abs(T.mixup_loss_exact(model, x, y, 2.0, 2.0, loss="cross_entropy")
               - T.perturbed_erm_loss(model, x, y, L.Beta(2.0, 0.5))) > 1e-3


def test_lemma2_holds_for_an_asymmetric_law(small):
    _, x, y = small
    law = L.Beta(2.0, 0.5)
    tb, s2, _ = T.folded_moments(law)
    sxx, _, _ = T.lemma2_covariances(x, y, law)
    n = len(x)
    i = 3
    j = torch.arange(n)
    a, _ = T.perturbations(x, y, torch.full_like(j, i), j, torch.zeros(n), tb)
    b = x[i] - x[j]
    exx = (a.T @ a + tb * (a.T @ b + b.T @ a) + (s2 + tb**2) * b.T @ b) / n
    assert torch.allclose(exx, sxx[i], atol=1e-12)


def test_carratino_approx_objective_keeps_its_symmetric_convention():
    # methods.CarratinoApprox (not owned by this chapter) still refuses an asymmetric law: a
    # convention of the objective, not a condition of Theorem 1 (see the test above)
    with pytest.raises(ValueError, match="law"):
        build_objective("carratino_approx", 3, law={"name": "beta", "a": 2.0, "b": 0.5})


def w_law(a=0.5):
    return {"name": "mixture", "weights": [0.5, 0.5],
            "laws": [{"name": "stretched", "base": {"name": "beta", "a": a}, "lo": 0.0, "hi": 0.5},
                     {"name": "stretched", "base": {"name": "beta", "a": a}, "lo": 0.5, "hi": 1.0}]}


def test_w_law_from_spec_has_the_slides_moments():
    law = L.law_from_spec(w_law())
    assert L.is_symmetric(law) and not L.is_symmetric(L.Beta(2.0, 5.0))
    tb, s2, _ = T.folded_moments(law)
    assert tb == pytest.approx(0.75, abs=1e-9) and s2 == pytest.approx(1 / 32, abs=1e-9)


def test_discrete_law_moments_and_errors(gen):
    law = L.Discrete([0.0, 0.5, 1.0], [1 / 6, 2 / 3, 1 / 6])
    assert law.mean() == pytest.approx(0.5) and law.var() == pytest.approx(1 / 12)
    assert set(law.sample(100, gen).tolist()) <= {0.0, 0.5, 1.0}
    tb, s2, _ = T.folded_moments(law)
    assert s2 / tb**2 == pytest.approx(1 / 8)
    with pytest.raises(ValueError, match="probs"):
        L.Discrete([0.0, 1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match="lo, hi"):
        L.Stretched(L.Beta(1.0), 0.6, 0.5)
    with pytest.raises(ValueError, match="law"):
        L.law_from_spec(3)


def test_mixup_law_objective_uses_the_spec(gen):
    obj = build_objective("mixup_law", 3, law=w_law())
    assert isinstance(obj.law, L.Mixture)
    assert obj.law.mean() == pytest.approx(0.5)
