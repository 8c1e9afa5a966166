"""Tests of mixupbook.rademacher, section "Kimura 2021" (chapter kimura2021)."""
import math

import pytest
import torch

from mixupbook import rademacher as R


def _x(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


def test_sign_vectors_are_all_distinct_pm1():
    s = R.sign_vectors(5)
    assert s.shape == (32, 5) and set(s.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(r) for r in s.tolist()}) == 32


def test_closed_form_sup_is_attained_and_not_exceeded():
    x, g = _x(6, 3, 0), torch.Generator().manual_seed(1)
    sigma = 2.0 * torch.randint(0, 2, (6,), generator=g).double() - 1
    v = sigma @ x
    best = float(R.linear_sup(x, sigma, 2.0))
    assert float(2.0 * v @ (v / v.norm())) / 6 == pytest.approx(best)  # attained at w = Lam v/||v||
    w = torch.randn(500, 3, generator=g, dtype=torch.float64)
    w = 2.0 * w / w.norm(dim=1, keepdim=True)
    assert float((w @ v).max()) / 6 <= best + 1e-12


def test_monte_carlo_within_4_se_of_exact():
    x = _x(10, 3, 2, shift=1.0)
    est, se = R.linear_complexity_mc(x, 1.5, 20000, torch.Generator().manual_seed(3))
    assert abs(est - R.linear_complexity_exact(x, 1.5)) < 4 * se


def test_exact_between_khintchine_bounds():
    x = _x(8, 4, 4)
    lo, hi = R.linear_complexity_bounds(x)
    assert lo <= R.linear_complexity_exact(x) <= hi


def test_mixed_sample_shrinks_towards_mean():
    x = _x(7, 2, 5)
    assert torch.allclose(R.mixed_sample(x, 1.0), x)
    assert torch.allclose(R.mixed_sample(x, 0.0), x.mean(0).expand_as(x))
    xm = R.mixed_sample(x, 0.3)
    assert torch.allclose(xm - x.mean(0), 0.3 * (x - x.mean(0)))
    assert R.total_variance(xm) == pytest.approx(0.09 * R.total_variance(x))


@pytest.mark.parametrize("seed", range(5))
def test_corrected_theorem_2(seed):
    x = _x(9, 3, seed, shift=0.7 * seed)
    for lam in (0.0, 0.25, 0.8, 1.0):
        gap = R.linear_complexity_exact(x) - R.linear_complexity_exact(R.mixed_sample(x, lam))
        assert -1e-12 <= gap <= R.corrected_bound_linear(x, lam) + 1e-12


def test_paper_bound_17_fails_on_circle():
    th = torch.linspace(0, 2 * math.pi, 9, dtype=torch.float64)[:-1]
    x = torch.stack([th.cos(), th.sin()], 1)  # equal norms: s^2(||x||) = 0
    gap = R.linear_complexity_exact(x) - R.linear_complexity_exact(R.mixed_sample(x, 0.5))
    assert R.kimura_bound_17(x, 0.5) < 1e-6 and gap > 0.1


def test_paper_step_19_reversed_when_mean_nonzero():
    x = _x(6, 2, 6, shift=2.0)
    lo, hi = R.linear_complexity_bounds(R.mixed_sample(x, 0.5))
    assert hi > R.kimura_step_19(x, 0.5) + 1e-6


def test_theorem_3_counterexample_and_correction():
    x = torch.tensor([[2.0], [0.0], [0.0]], dtype=torch.float64)  # mu = 1, eps = (1, -1, -1)
    eps = x - 1.0
    for lam in (0.0, 0.5):
        gap = R.relu_bound_gap(x, lam, 2)
        assert gap == pytest.approx(R.kimura_relaxed_gap(x, lam, 2))
        assert gap > R.kimura_bound_22(eps, lam, 2) + 1e-9
        assert gap <= R.corrected_bound_relu(x, lam, 2) + 1e-12


def test_relu_norm_bound_formula():
    x = _x(16, 3, 7)
    assert R.relu_norm_bound(x, 3, 2.0) == pytest.approx(2**3.5 * 2.0 * float(x.norm(dim=1).max()) / 4.0)


@pytest.mark.parametrize("call,match", [
    (lambda: R.mixed_sample(torch.zeros(3, 2), 1.5), "lam"),
    (lambda: R.linear_complexity_exact(torch.zeros(3)), "x must"),
    (lambda: R.linear_complexity_exact(torch.zeros(3, 2), Lam=-1.0), "Lam"),
    (lambda: R.linear_complexity_mc(torch.zeros(3, 2), draws=1, generator=torch.Generator()), "draws"),
    (lambda: R.linear_complexity_mc(torch.zeros(3, 2)), "generator"),
    (lambda: R.relu_norm_bound(torch.zeros(3, 2), 0), "depth"),
    (lambda: R.sign_vectors(30), "n must"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
