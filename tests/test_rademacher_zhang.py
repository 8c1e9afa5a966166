"""Zhang et al. (2021) Theorem 3.4 pieces of rademacher.py (chapter zhang2021, Z8)."""
import math

import pytest
import torch

from mixupbook import rademacher as RC


def test_whitened_sample_has_rank_many_unit_directions(gen):
    n, p, k = 400, 8, 3
    basis = torch.linalg.qr(torch.randn(p, p, generator=gen, dtype=torch.float64))[0][:, :k]
    x = torch.randn(n, k, generator=gen, dtype=torch.float64) * torch.tensor([0.1, 1.0, 10.0]) @ basis.T
    cov = x.T @ x / n
    xt = RC.whitened(x, cov)
    # sum_i x~_i^T x~_i = n tr(Sigma^+ Sigma) = n rank exactly for the empirical covariance
    assert math.isclose(float((xt**2).sum()), n * k, rel_tol=1e-8)


def test_ellipsoid_complexity_below_rank_bound_and_scale_free(gen):
    n, p, k = 200, 10, 4
    x = torch.randn(n, k, generator=gen, dtype=torch.float64) @ torch.randn(k, p, generator=gen, dtype=torch.float64)
    cov = x.T @ x / n
    est, se = RC.ellipsoid_complexity_mc(x, cov, 1.0, 4000, torch.Generator().manual_seed(1))
    assert est <= math.sqrt(k / n) + 4 * se            # Jensen: <= r sqrt(rank / n)
    assert est >= math.sqrt(k / n) / math.sqrt(2) - 4 * se  # Khintchine-Kahane
    est2, _ = RC.ellipsoid_complexity_mc(7 * x, 49 * cov, 1.0, 4000, torch.Generator().manual_seed(1))
    assert math.isclose(est, est2, rel_tol=1e-9)         # invariant to rescaling the data


def test_thm34_bound_and_retention_radius():
    assert math.isclose(RC.zhang_thm34_bound(4.0, 0.25, 9, 100), 4.0 * 0.3)
    assert math.isclose(RC.zhang_thm34_bound(0.0625, 1.0, 4, 4), 0.5)
    for gamma in (1e-3, 0.1, 1.0, 30.0):
        for rho in (0.01, 0.2, 0.5):
            paper, ours = RC.retention_radius_bound(gamma, rho)
            assert ours <= paper * (1 + 1e-12)
            # ours is the largest ||v||^2 allowed when a(theta) takes its smallest value sqrt(rho min{1, ||v||^2})
            s = ours
            assert math.isclose(math.sqrt(rho * min(1.0, s)) * s, gamma, rel_tol=1e-9)
    with pytest.raises(ValueError, match="rho"):
        RC.zhang_thm34_bound(1.0, 0.0, 2, 10)
