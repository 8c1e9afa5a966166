"""MixupE (Zou et al. 2023): the Theorem 1 expansion, q and q-hat, alpha_{k,i}, and both loss forms."""
import math

import pytest
import torch

from mixupbook.lam import Beta, LabelWeight
from mixupbook.losses import soft_cross_entropy
from mixupbook.methods import build_objective, forward_mixed_and_clean
from mixupbook.mixing import one_hot
from mixupbook.models import build_model
from mixupbook.taylor import (alpha_coefficients, directional_derivative_series, gap_moments, jacobian_rows,
                              mixup_loss_exact, mixup_loss_series, mixup_series_terms, q_exact, q_hat)


@pytest.fixture
def data(gen):
    x = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    y = one_hot(torch.randint(0, 3, (10,), generator=gen), 3, torch.float64)
    return x, y


def smooth_model(seed=0, bias=True, act="tanh", hidden=(6,)):
    torch.manual_seed(seed)
    return build_model("mlp", 3, (3,), hidden=hidden, activation=act, bias=bias).double()


@pytest.mark.parametrize("alpha", [0.2, 1.0, 3.0])
def test_gap_moments_first_is_alpha_over_2alpha_plus_1(alpha):
    m = gap_moments(alpha, 3)
    assert m[0] == pytest.approx(1.0)
    assert m[1] == pytest.approx(alpha / (2 * alpha + 1), rel=1e-12)
    law = LabelWeight(alpha)
    assert m[2] == pytest.approx(law.expect(lambda t: (1 - t) ** 2), rel=1e-8)


def test_directional_derivatives_of_a_polynomial(gen):
    x = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    v = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    d = directional_derivative_series(lambda z: (z[:, 0] ** 3), x, v, 4)
    # d^m/da^m (x0 + a v0)^3 at 0: x0^3, 3 x0^2 v0, 6 x0 v0^2, 6 v0^3, 0
    expected = torch.stack([x[:, 0] ** 3, 3 * x[:, 0] ** 2 * v[:, 0], 6 * x[:, 0] * v[:, 0] ** 2,
                            6 * v[:, 0] ** 3, torch.zeros(4, dtype=torch.float64)])
    assert torch.allclose(d, expected, atol=1e-12)


def test_first_series_term_averaged_over_partners_is_q(data):
    x, y = data
    model = smooth_model()
    t1 = mixup_series_terms(model, x, y, 1)[1]                       # (n, n)
    assert torch.allclose(t1.mean(1), q_exact(model, x, y), atol=1e-10)


def test_series_approaches_exact_mixup_loss(data):
    x, y = data
    model = smooth_model()
    exact = float(mixup_loss_exact(model, x, y, alpha=0.5, loss="cross_entropy", nodes=64).detach())
    series = mixup_loss_series(model, x, y, alpha=0.5, K=3)
    errors = [abs(s - exact) for s in series]
    assert errors[3] < errors[1] < errors[0]
    erm = float(soft_cross_entropy(model(x), y).detach())
    assert series[0] == pytest.approx(erm, rel=1e-12)


def test_q_equals_q_hat_for_bias_free_relu_on_centred_data(data):
    x, y = data
    x = x - x.mean(0)
    model = smooth_model(bias=False, act="relu", hidden=(8, 8))
    assert torch.allclose(q_exact(model, x, y), q_hat(model(x), y), atol=1e-10)
    biased = smooth_model(bias=True, act="relu", hidden=(8, 8))
    assert not torch.allclose(q_exact(biased, x, y), q_hat(biased(x), y), atol=1e-3)


def test_q_hat_formula_and_validation(data):
    x, y = data
    logits = torch.randn(10, 3, dtype=torch.float64)
    expected = (y * logits).sum(1) - (torch.softmax(logits, 1) * logits).sum(1)
    assert torch.allclose(q_hat(logits, y), expected)
    with pytest.raises(ValueError, match="logits"):
        q_hat(logits[:, :2], y)


def test_alpha_coefficients_recompose_q(data):
    x, y = data
    model = smooth_model()
    alpha, norms, dist = alpha_coefficients(model, x, y)
    assert alpha.shape == (10, 3) and jacobian_rows(model, x).shape == (10, 3, 3)
    assert torch.allclose((alpha * norms).sum(1) * dist, q_exact(model, x, y), atol=1e-10)
    assert float(alpha.abs().max()) <= 1 + 1e-12


def test_fused_forward_matches_plain_mixup_forward_with_batch_norm(gen):
    torch.manual_seed(0)
    a = build_model("small_cnn", 4, (1, 8, 8), width=4)
    torch.manual_seed(0)
    b = build_model("small_cnn", 4, (1, 8, 8), width=4)
    xm, xc = torch.randn(6, 1, 8, 8, generator=gen), torch.randn(6, 1, 8, 8, generator=gen)
    out_mix, out_clean = forward_mixed_and_clean(a, xm, xc)
    assert torch.allclose(out_mix, b(xm), atol=1e-5)
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(ta.float(), tb.float(), atol=1e-6), na
    assert "forward" not in vars(a[1])                                # the patch is undone
    assert out_clean.shape == (6, 4)


def _grads(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_paper_form_value_is_mixup_loss_but_gradient_is_not(gen, mlp_batch):
    model, x, y = mlp_batch
    mixup = build_objective("mixup", 3, alpha=1.0)(model, x, y, torch.Generator().manual_seed(3))
    obj = build_objective("mixupe", 3, alpha=1.0, eta=1.0)
    loss = obj(model, x, y, torch.Generator().manual_seed(3))
    assert float(loss.detach()) == pytest.approx(float(mixup.detach()), rel=1e-6)
    g_mixupe = _grads(model, loss)
    g_mixup = _grads(model, build_objective("mixup", 3, alpha=1.0)(model, x, y, torch.Generator().manual_seed(3)))
    assert not torch.allclose(g_mixupe, g_mixup, atol=1e-6)


def test_paper_form_gradient_is_rescaled_mixup_plus_eta_r(gen, mlp_batch):
    model, x, y = mlp_batch
    eta = 0.5
    obj = build_objective("mixupe", 3, alpha=1.0, eta=eta)
    g = _grads(model, obj(model, x, y, torch.Generator().manual_seed(3)))
    lmix = build_objective("mixup", 3, alpha=1.0)(model, x, y, torch.Generator().manual_seed(3))
    r = (1 / 3) * q_hat(model(x), one_hot(y, 3)).abs().mean()
    scale = float(lmix.detach()) / float((lmix + eta * r).detach())
    assert torch.allclose(g, _grads(model, scale * (lmix + eta * r)), atol=1e-6)


def test_code_form_with_nothing_kept_is_mixup(gen, mlp_batch):
    model, x, y = mlp_batch
    code = build_objective("mixupe_code", 3, alpha=1.0, eta=1.0, threshold=-1e9)
    g1 = _grads(model, code(model, x, y, torch.Generator().manual_seed(4)))
    g2 = _grads(model, build_objective("mixup", 3, alpha=1.0)(model, x, y, torch.Generator().manual_seed(4)))
    assert torch.allclose(g1, g2, atol=1e-7)


def test_code_form_subtracts_signed_sum_over_kept_examples(gen, mlp_batch):
    model, x, y = mlp_batch
    eta, thr = 2.0, 0.05
    code = build_objective("mixupe_code", 3, alpha=1.0, eta=eta, threshold=thr)
    g = _grads(model, code(model, x, y, torch.Generator().manual_seed(4)))
    lmix = build_objective("mixup", 3, alpha=1.0)(model, x, y, torch.Generator().manual_seed(4))
    qh = q_hat(model(x), one_hot(y, 3))
    keep = qh.detach() < thr
    assert 0 < int(keep.sum()) < len(keep)
    total = lmix - eta * (1 / 3) * qh[keep].sum() / len(x)
    assert torch.allclose(g, _grads(model, float(lmix.detach()) / float(total.detach()) * total), atol=1e-6)


def test_erm_plus_r_has_no_mixing(gen, mlp_batch):
    model, x, y = mlp_batch
    obj = build_objective("mixupe", 3, alpha=1.0, eta=1.0, mix=False)
    erm = build_objective("erm", 3)(model, x, y, gen)
    assert float(obj(model, x, y, gen).detach()) == pytest.approx(float(erm.detach()), rel=1e-6)


def test_exact_q_variant_trains(gen, mlp_batch):
    model, x, y = mlp_batch
    g = _grads(model, build_objective("mixupe", 3, q="exact", eta=1.0)(model, x, y, gen))
    assert torch.isfinite(g).all() and float(g.abs().sum()) > 0


@pytest.mark.parametrize("kwargs, match", [({"eta": -1.0}, "eta"), ({"q": "fast"}, "q"), ({"alpha": 0.0}, "alpha")])
def test_mixupe_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_objective("mixupe", 3, **kwargs)


def test_mixupe_code_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        build_objective("mixupe_code", 3, threshold="low")


def test_label_weight_gap_is_alpha_over_2alpha_plus_1_by_monte_carlo(gen):
    lam = LabelWeight(0.4).sample(200000, gen)
    se = float((1 - lam).std()) / math.sqrt(len(lam))
    assert abs(float((1 - lam).mean()) - 0.4 / 1.8) < 4 * se


def _conv_net(seed=0):
    """A small conv net without batch norm (the kept-rows form is exact for it)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(24, 3))


@pytest.mark.parametrize("net", ["mlp", "conv"])
@pytest.mark.parametrize("threshold", [-1e9, 0.05, 1.0, 1e9])   # none, some, the README's 1.0, all kept
def test_kept_rows_form_has_the_full_forms_value_and_gradient(gen, mlp_batch, net, threshold):
    model, x, y = mlp_batch
    if net == "conv":
        model, x = _conv_net(), torch.randn(16, 3, 6, 6, generator=gen)
    kw = {"alpha": 2.0, "eta": 3.0, "threshold": threshold}   # a large eta, so the term is visible
    full = build_objective("mixupe_code", 3, **kw)(model, x, y, torch.Generator().manual_seed(5))
    g_full = _grads(model, full)
    kept = build_objective("mixupe_code", 3, clean_pass="kept", **kw)(model, x, y, torch.Generator().manual_seed(5))
    assert abs(float(kept.detach()) - float(full.detach())) <= 1e-6 * max(1.0, abs(float(full.detach())))
    assert torch.allclose(_grads(model, kept), g_full, atol=1e-6, rtol=1e-5)
    if threshold == 0.05:   # not vacuous: the term moves the gradient away from plain mixup's
        mixup = build_objective("mixup", 3, alpha=2.0)(model, x, y, torch.Generator().manual_seed(5))
        assert (_grads(model, mixup) - g_full).abs().max() > 1e-4


def test_kept_rows_form_refuses_batch_norm_dropout_and_fusion(gen):
    x, y = torch.randn(4, 3, 8, 8, generator=gen), torch.randint(0, 3, (4,), generator=gen)
    kept = build_objective("mixupe_code", 3, clean_pass="kept")
    with pytest.raises(ValueError, match="batch norm.*clean_pass='full'"):
        kept(build_model("preact_resnet18", 3, (3, 8, 8), width=0.125), x, y, gen)
    drop = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.1), torch.nn.Linear(192, 3))
    with pytest.raises(ValueError, match="dropout"):
        kept(drop, x, y, gen)
    with pytest.raises(ValueError, match="clean_pass"):
        build_objective("mixupe_code", 3, clean_pass="kept", fused=True)
    with pytest.raises(ValueError, match="clean_pass.*valid"):
        build_objective("mixupe_code", 3, clean_pass="some")
