"""Empirical Rademacher complexity of simple hypothesis classes.

One section per source result:

* "Kimura 2021" (chapter ``kimura2021``): norm-bounded linear classes, the
  mixed sample of Kimura (2021), the paper's bounds (17), (20), (22), (23)
  and a norm-based estimate for small ReLU networks (Theorem 3).
"""
from __future__ import annotations

import math

import torch

# ---------------------------------------------------------------------------
# Kimura 2021
# ---------------------------------------------------------------------------
# Notation (book chapter ``kimura2021``): a sample ``x`` of shape (n, d); the linear
# class H = {x -> w^T x : ||w||_2 <= Lam}; for it sup_h sum_i sigma_i h(x_i) equals
# Lam * ||sum_i sigma_i x_i||_2 (Cauchy-Schwarz, attained at w parallel to the sum).


def _sample(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a sample of shape (n, d) with n, d >= 1, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite")
    return x


def _check_lam(lam: float) -> float:
    if not (isinstance(lam, (int, float)) and 0.0 <= lam <= 1.0):
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
    return float(lam)


def _check_pos(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def sign_vectors(n: int) -> torch.Tensor:
    """All 2^n Rademacher vectors as a (2^n, n) float64 tensor of +-1 (n <= 20)."""
    if not (isinstance(n, int) and 1 <= n <= 20):
        raise ValueError(f"n must be an integer in [1, 20] for exact enumeration, got {n!r}")
    bits = (torch.arange(2**n).unsqueeze(1) >> torch.arange(n)) & 1  # (2^n, n)
    return 1.0 - 2.0 * bits.double()


def linear_sup(x: torch.Tensor, sigma: torch.Tensor, Lam: float = 1.0) -> torch.Tensor:
    """sup_{||w|| <= Lam} (1/n) sum_i sigma_i w^T x_i = Lam ||sigma^T x|| / n, one value per row of ``sigma``.

    The closed-form supremum in the proof of Theorem 2 of Kimura (2021), eq. (18) (chapter kimura2021).
    """
    x = _sample(x)
    sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, x.shape[0])  # (S, n)
    return _check_pos("Lam", Lam) * torch.linalg.vector_norm(sigma @ x, dim=1) / x.shape[0]


def linear_complexity_exact(x: torch.Tensor, Lam: float = 1.0) -> float:
    """Empirical Rademacher complexity (Kimura 2021, Definition 3) of the norm-bounded linear class,
    exactly: the mean of the closed-form supremum over all 2^n sign vectors (n <= 20)."""
    x = _sample(x)
    return float(linear_sup(x, sign_vectors(x.shape[0]), Lam).mean())


def linear_complexity_mc(x: torch.Tensor, Lam: float = 1.0, draws: int = 10000,
                         generator: torch.Generator | None = None) -> tuple[float, float]:
    """Monte Carlo over sigma of the same complexity: (estimate, standard error)."""
    x = _sample(x)
    if not (isinstance(draws, int) and draws >= 2):
        raise ValueError(f"draws must be an integer >= 2, got {draws!r}")
    if generator is None:
        raise ValueError("generator: pass a torch.Generator; nothing here reads global random state")
    sigma = 2.0 * torch.randint(0, 2, (draws, x.shape[0]), generator=generator).double() - 1.0
    vals = linear_sup(x, sigma, Lam)
    return float(vals.mean()), float(vals.std() / math.sqrt(draws))


def linear_complexity_bounds(x: torch.Tensor, Lam: float = 1.0) -> tuple[float, float]:
    """(lower, upper) = (Lam/(n sqrt 2), Lam/n) * sqrt(sum_i ||x_i||^2).

    The upper bound is Jensen's inequality, the last line of eq. (18) of Kimura (2021); the lower
    one is the Khintchine-Kahane inequality with the optimal constant 1/sqrt(2) (Latala and
    Oleszkiewicz 1994). Chapter kimura2021, K1.
    """
    x = _sample(x)
    root = float(torch.sqrt((x**2).sum())) * _check_pos("Lam", Lam) / x.shape[0]
    return root / math.sqrt(2.0), root


def mixed_sample(x: torch.Tensor, lam: float) -> torch.Tensor:
    """Kimura's mixed sample x~_i = E_j[lam x_i + (1 - lam) x_j] = lam x_i + (1 - lam) x_bar (eq. 19)."""
    x = _sample(x)
    lam = _check_lam(lam)
    return lam * x + (1.0 - lam) * x.mean(0, keepdim=True)


def total_variance(x: torch.Tensor) -> float:
    """(1/n) sum_i ||x_i - x_bar||^2, the trace of the (biased) sample covariance.

    The quantity that the corrected Theorem 2 needs (chapter kimura2021).
    """
    x = _sample(x)
    return float(((x - x.mean(0)) ** 2).sum(1).mean())


def norm_variance(x: torch.Tensor) -> float:
    """s^2(||x||): the (biased) sample variance of the scalars ||x_i||, the s^2 of Kimura's eq. (17), (20)."""
    x = _sample(x)
    return float(torch.linalg.vector_norm(x, dim=1).var(unbiased=False))


def kimura_bound_17(x: torch.Tensor, lam: float, Lam: float = 1.0) -> float:
    """Right side of Kimura (2021) eq. (17) / (20): Lam |1 - lam| sqrt(s^2(||x||)) / sqrt(n).

    As stated it does not bound the complexity gap (chapter kimura2021, errata)."""
    x = _sample(x)
    return _check_pos("Lam", Lam) * abs(1 - _check_lam(lam)) * math.sqrt(norm_variance(x) / x.shape[0])


def kimura_step_19(x: torch.Tensor, lam: float, Lam: float = 1.0) -> float:
    """Right side of the last line of Kimura (2021) eq. (19):
    (Lam/n) sqrt(lam^2 sum ||x_i||^2 + (1 - lam)^2 n ||x_bar||^2). It assumes the cross terms are <= 0."""
    x = _sample(x)
    lam, n = _check_lam(lam), x.shape[0]
    s = float((x**2).sum()) * lam**2 + (1 - lam) ** 2 * n * float((x.mean(0) ** 2).sum())
    return _check_pos("Lam", Lam) * math.sqrt(s) / n


def corrected_bound_linear(x: torch.Tensor, lam: float, Lam: float = 1.0) -> float:
    """Corrected Theorem 2 (chapter kimura2021): 0 <= R_B - R_B* <= Lam |1 - lam| sqrt(V / n),
    V = ``total_variance(x)``."""
    x = _sample(x)
    return _check_pos("Lam", Lam) * abs(1 - _check_lam(lam)) * math.sqrt(total_variance(x) / x.shape[0])


def _check_depth(depth: int) -> int:
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return depth


def relu_norm_bound(x: torch.Tensor, depth: int, W: float = 1.0) -> float:
    """Kimura (2021) eq. (23), the norm-based bound quoted from Neyshabur et al. (2015):
    R_B(H_{L,W}) <= 2^(L + 1/2) W max_i ||x_i|| / sqrt(n) for depth-L ReLU networks whose
    Frobenius norms multiply to at most W. Chapter kimura2021, K3."""
    x = _sample(x)
    c = 2.0 ** (_check_depth(depth) + 0.5) * _check_pos("W", W) / math.sqrt(x.shape[0])
    return c * float(torch.linalg.vector_norm(x, dim=1).max())


def relu_bound_gap(x: torch.Tensor, lam: float, depth: int, W: float = 1.0) -> float:
    """(23) on the sample minus (23) on the mixed sample: the quantity Theorem 3 bounds."""
    return relu_norm_bound(x, depth, W) - relu_norm_bound(mixed_sample(x, lam), depth, W)


def kimura_relaxed_gap(x: torch.Tensor, lam: float, depth: int, W: float = 1.0) -> float:
    """The paper's J of Theorem 3: (23) on the sample minus the relaxed bound (24),
    which equals c (1 - lam) (max_i ||x_i|| - ||x_bar||), c = 2^(L+1/2) W / sqrt(n)."""
    x = _sample(x)
    lam = _check_lam(lam)
    c = 2.0 ** (_check_depth(depth) + 0.5) * _check_pos("W", W) / math.sqrt(x.shape[0])
    return c * (1 - lam) * float(torch.linalg.vector_norm(x, dim=1).max() - torch.linalg.vector_norm(x.mean(0)))


def kimura_bound_22(eps: torch.Tensor, lam: float, depth: int, W: float = 1.0) -> float:
    """Right side of Kimura (2021) eq. (22) with the constant of its proof:
    (1 - lam) 2^(L+1/2) W max_i ||eps_i|| / sqrt(n), eps_i = x_i - mu the noise."""
    eps = _sample(eps)
    c = 2.0 ** (_check_depth(depth) + 0.5) * _check_pos("W", W) / math.sqrt(eps.shape[0])
    return c * (1 - _check_lam(lam)) * float(torch.linalg.vector_norm(eps, dim=1).max())


def corrected_bound_relu(x: torch.Tensor, lam: float, depth: int, W: float = 1.0) -> float:
    """Corrected Theorem 3 (chapter kimura2021): (23)(x) - (23)(x~) <= c (1 - lam) max_i ||x_i - x_bar||,
    valid for every n; with x_i = mu + eps_i, x_i - x_bar = eps_i - eps_bar."""
    x = _sample(x)
    c = 2.0 ** (_check_depth(depth) + 0.5) * _check_pos("W", W) / math.sqrt(x.shape[0])
    return c * (1 - _check_lam(lam)) * float(torch.linalg.vector_norm(x - x.mean(0), dim=1).max())


# ---------------------------------------------------------------------------
# Zhang et al. 2021, Theorem 3.4
# ---------------------------------------------------------------------------
# Chapter ``zhang2021`` (item Z8). The mixup-induced class W_gamma = {x -> theta^T x :
# a(theta) theta^T Sigma theta <= gamma}, a(theta) = E_x A''(theta^T x); with v = Sigma^(1/2) theta
# and x~ = Sigma^(+1/2) x its Rademacher supremum over ||v|| <= r is r ||sum_i sigma_i x~_i|| / n.


def zhang_thm34_bound(gamma: float, rho: float, rank: int, n: int) -> float:
    """Zhang et al. (2021), Theorem 3.4: max{(gamma/rho)^(1/4), (gamma/rho)^(1/2)} sqrt(rank(Sigma_X) / n)."""
    t = _check_pos("gamma", gamma) / _check_pos("rho", rho)
    if not (isinstance(rank, int) and rank >= 0 and isinstance(n, int) and n >= 1):
        raise ValueError(f"rank must be an integer >= 0 and n an integer >= 1, got {rank!r}, {n!r}")
    return max(t**0.25, t**0.5) * math.sqrt(rank / n)


def whitened(x: torch.Tensor, cov: torch.Tensor, tol: float = 1e-10) -> torch.Tensor:
    """x~_i = Sigma^(+1/2) x_i (pseudo-inverse square root, eigenvalues below tol * max dropped)."""
    x = _sample(x)
    cov = torch.as_tensor(cov, dtype=torch.float64)
    if cov.shape != (x.shape[1], x.shape[1]):
        raise ValueError(f"cov must have shape ({x.shape[1]}, {x.shape[1]}), got {tuple(cov.shape)}")
    vals, vecs = torch.linalg.eigh(cov)
    keep = vals > tol * vals.max()
    inv_sqrt = vecs[:, keep] @ torch.diag(vals[keep].rsqrt()) @ vecs[:, keep].T
    return x @ inv_sqrt


def ellipsoid_complexity_mc(x: torch.Tensor, cov: torch.Tensor, radius: float = 1.0, draws: int = 4000,
                            generator: torch.Generator | None = None) -> tuple[float, float]:
    """Monte Carlo (estimate, standard error) of the empirical Rademacher complexity of
    {x -> theta^T x : theta^T cov theta <= radius^2} on the sample x, for x in the range of cov:
    the class that Theorem 3.4 of Zhang et al. (2021) reduces W_gamma to (radius^2 = its bound on ||v||^2)."""
    return linear_complexity_mc(whitened(x, cov), _check_pos("radius", radius), draws, generator)


def retention_radius_bound(gamma: float, rho: float) -> tuple[float, float]:
    """Bounds on ||v||^2 = theta^T Sigma theta over W_gamma under rho-retentiveness:
    (paper, ours) = (max{(gamma/rho)^(1/2), gamma/rho}, max{(gamma/sqrt(rho))^(2/3), gamma/sqrt(rho)}).
    Ours is what a(theta)^2 >= rho min{1, ||v||^2} and a(theta) ||v||^2 <= gamma give; it is never larger."""
    t, s = _check_pos("gamma", gamma) / _check_pos("rho", rho), gamma / math.sqrt(rho)
    return max(t**0.5, t), max(s ** (2 / 3), s)
