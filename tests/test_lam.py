import warnings

import numpy as np
import pytest
import torch

from mixupbook import lam as L


@pytest.mark.parametrize("name", sorted(L.example_laws()))
def test_monte_carlo_moments_within_4_se(name, gen):
    law = L.example_laws()[name]
    n = 200_000
    s = law.sample(n, gen).double()
    assert s.shape == (n,) and float(s.min()) >= 0 and float(s.max()) <= 1
    mean, var = law.mean(), law.var()
    m4 = law.expect(lambda t: (t - mean) ** 4)
    assert abs(float(s.mean()) - mean) < 4 * (var / n) ** 0.5
    assert abs(float(s.var()) - var) < 4 * ((m4 - var**2) / n) ** 0.5


def test_every_registered_law_has_an_example():
    assert set(L.example_laws()) == set(L.LAWS)


@pytest.mark.parametrize("a,b", [(0.2, 0.2), (1.0, 1.0), (2.0, 5.0), (0.5, 3.0)])
def test_beta_closed_form_matches_quadrature(a, b):
    law = L.Beta(a, b)
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(L.LambdaLaw.moment.__get__(law)(k), rel=1e-7)
        assert law.moment(k) == pytest.approx(law.expect(lambda t: t**k), rel=1e-9)


def test_label_weight_is_beta_plus_one_when_symmetric():
    a = 0.7
    assert L.LabelWeight(a).moment(2) == pytest.approx(L.Beta(a + 1, a).moment(2), rel=1e-12)
    assert 1 - L.LabelWeight(a).mean() == pytest.approx(a / (2 * a + 1), rel=1e-12)


def test_folded_law_lives_on_upper_half(gen):
    s = L.Folded(L.Beta(0.3)).sample(1000, gen)
    assert float(s.min()) >= 0.5
    assert L.Folded(L.Beta(1.0)).mean() == pytest.approx(0.75, abs=1e-9)


def test_symmetrized_law_is_symmetric():
    law = L.Symmetrized(L.Beta(2.0, 5.0))
    x = np.linspace(0.05, 0.95, 7)
    np.testing.assert_allclose(law.pdf(x), law.pdf(1 - x))
    assert law.mean() == pytest.approx(0.5, abs=1e-9)


def test_sampling_is_seeded():
    a = L.Beta(0.5).sample(10, torch.Generator().manual_seed(3))
    b = L.Beta(0.5).sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_alpha_names_the_parameter(bad):
    with pytest.raises(ValueError, match="alpha"):
        L.Beta(bad)


def test_unknown_law_lists_valid():
    with pytest.raises(ValueError, match="valid laws"):
        L.build_law("gauss")


def test_sample_needs_a_generator():
    with pytest.raises(ValueError, match="generator"):
        L.Beta(1.0).sample(3, None)


def test_beta_expect_on_many_kinks_is_accurate_and_quiet():
    # 400 kinks: QUADPACK stops on roundoff, which must not reach the user when the result is good.
    knots = np.linspace(0.001, 0.999, 400)
    fn = lambda t: float(np.abs(t - knots).mean())  # noqa: E731
    law = L.Beta(1.0)
    exact = float(np.mean(knots**2 / 2 + (1 - knots) ** 2 / 2))  # int_0^1 |t - k| dt
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert law.expect(fn) == pytest.approx(exact, rel=1e-6)


def test_beta_expect_warns_when_its_error_estimate_is_large():
    with pytest.warns(Warning, match="quadrature error estimate"):
        L.Beta(1.0).expect(lambda t: np.sin(1e5 * t) * 1e3)


@pytest.mark.parametrize("a,b", [(32.0, 32.0), (128.0, 128.0), (1024.0, 1024.0), (300.0, 40.0)])
def test_beta_expect_is_accurate_for_large_parameters(a, b):
    """The central fourth moment by quadrature equals the closed form from the raw moments
    (the weighted quadrature once returned 2e29 for Beta(128, 128) and NaN for Beta(1024, 1024))."""
    law = L.Beta(a, b)
    m = law.mean()
    closed = sum(c * law.moment(k) * (-m) ** (4 - k) for k, c in [(0, 1), (1, 4), (2, 6), (3, 4), (4, 1)])
    assert law.expect(lambda t: (t - m) ** 4) == pytest.approx(closed, rel=1e-6)
    assert law.expect(lambda t: t) == pytest.approx(m, rel=1e-12)
