"""Zhang et al. (2021) Lemma 3.1 / 3.3 / 3.4 pieces of ``mixupbook.taylor`` (chapter zhang2021)."""
import math

import pytest
import torch

from mixupbook import taylor as T
from mixupbook.lam import Beta, LabelWeight
from mixupbook.losses import soft_cross_entropy
from mixupbook.methods import build_objective
from mixupbook.mixing import split_model
from mixupbook.models import build_model


def tanh_net(d, out=1, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 6), torch.nn.Tanh(), torch.nn.Linear(6, out)).double()


@pytest.fixture
def data(gen):
    x = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (7,), generator=gen).double()
    return x, y


def test_directional_derivatives_match_finite_differences(data, gen):
    x, _ = data
    model = tanh_net(3, out=2)
    delta = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    f, d1, d2 = T.directional_derivatives(model, x, delta)
    eps = 1e-4
    with torch.no_grad():
        fp, fm = model(x + eps * delta), model(x - eps * delta)
        assert torch.allclose(f, model(x))
        assert torch.allclose(d1, (fp - fm) / (2 * eps), atol=1e-7)
        assert torch.allclose(d2, (fp - 2 * model(x) + fm) / eps**2, atol=1e-5)


def _terms_by_finite_differences(model, x, y, alpha, eps=1e-4):
    """R1, R2, R3 with every input derivative replaced by a central difference (logistic h)."""
    n = len(x)
    m1, m2 = T.lemma31_weights(alpha)
    r1 = r2 = r3 = 0.0
    with torch.no_grad():
        f = model(x)[:, 0]
        for i in range(n):
            for j in range(n):
                d = x[j] - x[i]
                fp, f0, fm = (float(model((x[i] + s * d)[None])[0, 0]) for s in (eps, 0.0, -eps))
                g, h = (fp - fm) / (2 * eps), (fp - 2 * f0 + fm) / eps**2
                p = float(torch.sigmoid(f[i]))
                r1 += m1 * (p - float(y[i])) * g
                r2 += 0.5 * m2 * p * (1 - p) * g**2
                r3 += 0.5 * m2 * (p - float(y[i])) * h
    return r1 / n**2, r2 / n**2, r3 / n**2


def test_R1_R2_R3_match_finite_differences(data):
    x, y = data
    model = tanh_net(3)
    t = T.lemma31_terms(model, x, y, alpha=0.5, loss="logistic")
    for k, fd in zip(("R1", "R2", "R3"), _terms_by_finite_differences(model, x, y, 0.5)):
        assert float(t[k]) == pytest.approx(fd, rel=1e-5, abs=1e-9), k


def test_parameter_gradients_of_R1_R2_R3_pass_gradcheck(data, gen):
    x, y = data
    v = torch.randn(6, generator=gen, dtype=torch.float64)

    for k in ("R1", "R2", "R3"):
        def term(w, k=k):
            return T.lemma31_terms(lambda z: torch.tanh(z @ w.T) @ v, x, y, alpha=0.7)[k]

        w0 = torch.randn(6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(term, (w0,), eps=1e-6, atol=1e-6)


def test_squared_loss_of_a_linear_model_is_exactly_quadratic(data):
    x, y = data
    model = torch.nn.Linear(3, 1).double()
    t = T.lemma31_terms(model, x, y, alpha=0.7, loss="squared")
    exact = T.mixup_loss_exact(model, x, y, alpha=0.7, loss="squared")
    assert float(t["L_std"] + t["R1"] + t["R2"] + t["R3"]) == pytest.approx(exact, rel=1e-10)
    assert float(t["R3"]) == 0.0


@pytest.mark.parametrize("loss", ["logistic", "squared"])
def test_glm_closed_form_equals_autograd_terms(data, loss):
    x, y = data
    model = torch.nn.Linear(3, 1).double()
    auto = T.lemma31_terms(model, x, y, alpha=0.3, loss=loss)
    closed = T.glm_quadratic_terms(model.weight[0].detach(), x, y, alpha=0.3, loss=loss,
                                   bias=model.bias[0].detach())
    for k in auto:
        assert float(auto[k]) == pytest.approx(float(closed[k]), rel=1e-10, abs=1e-14), k


def test_one_partner_per_example_averages_to_all_pairs(data):
    x, y = data
    model, n = tanh_net(3), len(x)
    full = T.lemma31_terms(model, x, y, alpha=0.4)
    shifts = [T.lemma31_terms(model, x, y, alpha=0.4, partners=(torch.arange(n) + s) % n) for s in range(n)]
    for k in ("R1", "R2", "R3"):
        assert float(sum(t[k] for t in shifts) / n) == pytest.approx(float(full[k]), rel=1e-10), k


def test_surrogate_error_shrinks_linearly_with_alpha(data):
    x, y = data
    model = tanh_net(3)
    err = {}
    for a in (1e-3, 1e-1):
        err[a] = abs(T.mixup_loss_exact(model, x, y, a) - float(T.quadratic_surrogate(model, x, y, a)))
    assert err[1e-3] < 0.05 * err[1e-1]  # linear rate: about 0.01
    assert err[1e-3] > 0.002 * err[1e-1]  # ... and not faster (E_D~[(1-lam)^k] ~ alpha / k for all k)


@pytest.mark.parametrize("alpha, beta", [(0.5, 2.0), (3.0, 0.7)])
def test_surrogate_error_is_third_order_in_the_spread_for_asymmetric_laws(data, alpha, beta):
    """Lemma 3.1 with Beta(alpha, beta), alpha != beta, against the exact mixup loss: points
    x0 + c z_i, c halved twice; the error falls 8-fold per halving. A wrong D~ (e.g. equal
    weights on its two components) leaves a first-order error in R1 and a slope near 1."""
    z, y = data
    x0 = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    model = tanh_net(3)
    err = []
    for c in (0.2, 0.1, 0.05):
        x = x0 + c * z
        with torch.no_grad():
            err.append(T.mixup_loss_exact(model, x, y, alpha, beta) - float(T.quadratic_surrogate(model, x, y, alpha, beta)))
    slopes = [math.log2(abs(err[k] / err[k + 1])) for k in range(2)]
    assert all(2.7 < s < 3.3 for s in slopes), slopes


def test_cross_entropy_member_matches_soft_cross_entropy_and_exact_loss(gen):
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (6,), generator=gen)
    model = tanh_net(3, out=4)
    logits = model(x)
    yh = torch.nn.functional.one_hot(y, 4).double()
    assert torch.allclose(T.class_loss(logits, y, "cross_entropy"), soft_cross_entropy(logits, yh, "none"))
    near = T.quadratic_surrogate(model, x, y, 1e-3, loss="cross_entropy")
    exact = T.mixup_loss_exact(model, x, y, 1e-3, loss="cross_entropy")
    assert float(near) == pytest.approx(exact, abs=2e-4)


def test_gauss_jacobi_matches_beta_moments_and_adaptive_quadrature(data):
    lam, w = T.gauss_jacobi(0.3, 0.7, 8)
    for k in range(1, 8):
        assert float((w * lam**k).sum()) == pytest.approx(Beta(0.3, 0.7).moment(k), rel=1e-10)
    x, y = data
    model = tanh_net(3)
    assert float(T.mixup_loss_exact(model, x, y, 0.5, nodes=40)) == pytest.approx(
        T.mixup_loss_exact(model, x, y, 0.5), rel=1e-9)


def test_ratio_moment_closed_form_and_divergence():
    law = LabelWeight(2.5, 1.5)
    assert T.ratio_moment(2.5, 1.5) == pytest.approx(law.expect(lambda t: (1 - t) ** 2 / t**2 if t > 0 else 0.0), rel=1e-6)
    assert T.ratio_moment(1.0) == math.inf and T.ratio_moment(3.0, 0.9) == math.inf


def test_lemma33_is_not_the_quadratic_term_of_the_mixup_loss(data):
    """Squared loss, linear model, centred data: the mixup loss is exactly L_std + R1 + R2, and
    Lemma 3.3's term (even where finite) is a different number (errata, zhang2021)."""
    x, y = data
    x = x - x.mean(0)
    theta = torch.tensor([0.5, -1.0, 0.3], dtype=torch.float64)
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(theta[None])
    gap = T.mixup_loss_exact(model, x, y, 2.0, loss="squared") - float(T.class_loss(model(x), y, "squared").mean())
    t = T.glm_quadratic_terms(theta, x, y, 2.0, loss="squared")
    assert float(t["R1"] + t["R2"]) == pytest.approx(gap, rel=1e-9)
    paper = float(T.glm_regularizer_lemma33(theta, x, 2.0, loss="squared"))
    assert abs(paper - gap) > 0.5 * abs(gap)
    assert T.glm_regularizer_lemma33(theta, x, 1.0) == math.inf


def test_bad_arguments_raise_value_errors(data):
    x, y = data
    with pytest.raises(ValueError, match="loss"):
        T.lemma31_terms(tanh_net(3), x, y, loss="hinge")
    with pytest.raises(ValueError, match="scalar-output"):
        T.lemma31_terms(tanh_net(3, out=2), x, y, loss="logistic")
    with pytest.raises(ValueError, match="partners"):
        T.lemma31_terms(tanh_net(3), x, y, partners=torch.arange(3))
    with pytest.raises(ValueError, match="alpha"):
        T.lemma31_weights(0.0)
    with pytest.raises(ValueError, match="nodes"):
        T.gauss_jacobi(1.0, 1.0, 0)


# ---- the objectives approx_mixup and manifold_mixup -------------------------------

@pytest.fixture
def mlp_batch(gen):
    torch.manual_seed(0)
    x = torch.randn(10, 5, generator=gen)
    y = torch.randint(0, 3, (10,), generator=gen)
    return build_model("mlp", 3, (5,), hidden=(8, 8), activation="tanh"), x, y


def test_approx_mixup_all_pairs_equals_the_surrogate(mlp_batch, gen):
    model, x, y = mlp_batch
    loss = build_objective("approx_mixup", 3, alpha=0.5, pairs="all")(model, x, y, gen)
    assert torch.allclose(loss, T.quadratic_surrogate(model, x, y, 0.5, loss="cross_entropy"))


def test_approx_mixup_rejects_bad_options():
    with pytest.raises(ValueError, match="pairs"):
        build_objective("approx_mixup", 3, pairs="some")
    with pytest.raises(ValueError, match="loss"):
        build_objective("approx_mixup", 3, loss="hinge")


def test_manifold_mixup_mixes_the_last_hidden_layer(mlp_batch):
    model, x, y = mlp_batch
    loss = build_objective("manifold_mixup", 3, alpha=0.5)(model, x, y, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    perm = torch.randperm(len(x), generator=g)
    lam = Beta(0.5).sample(1, g)[0]
    hid = model.net[:-1](x)
    yh = torch.nn.functional.one_hot(y, 3).float()
    expected = soft_cross_entropy(model.net[-1](lam * hid + (1 - lam) * hid[perm]), lam * yh + (1 - lam) * yh[perm])
    assert torch.allclose(loss, expected)


def test_manifold_mixup_at_the_input_is_mixup(mlp_batch):
    model, x, y = mlp_batch
    a = build_objective("manifold_mixup", 3, alpha=0.5, layer=1)(model, x, y, torch.Generator().manual_seed(4))
    b = build_objective("mixup", 3, alpha=0.5)(model, x, y, torch.Generator().manual_seed(4))
    assert torch.allclose(a, b)


def test_split_model_protocol():
    model = build_model("mlp", 3, (5,), hidden=(8,))
    features, head = split_model(model)
    x = torch.randn(4, 5)
    assert torch.allclose(head(features(x)), model(x))
    with pytest.raises(ValueError, match="layer"):
        split_model(model, layer=0)
    with pytest.raises(ValueError, match="features"):
        split_model(torch.nn.Linear(5, 3))
