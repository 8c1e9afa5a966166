"""Collisions between data points and mixup points (Chidambaram et al. 2022).

Book chapter ``chidambaram2022``. Three tools:

* ``find_collisions`` (item H2, Theorem 2.10 of the paper): the exact collision finder
  for small data. A point x_k *collides* when it lies, up to ``tol``, strictly inside a
  segment [x_a, x_b] whose end points carry other labels than x_k: both of them
  (``classes="both_other"``, the condition of Theorem 3.2 and of the chapter's issue)
  or at least one (``classes="any_other"``, Theorem 2.10 as the slides word it; the
  book's precise sufficient condition).
* ``mixup_distances`` (item H3): for large data, the Euclidean distance from each point
  to the mixup points lam x_a + (1 - lam) x_b built from two points of classes other
  than its own, with lam restricted to the central ``coverage`` interval of
  Beta(alpha, alpha). Exact (a clipped projection on every segment), computed from Gram
  matrices in blocks whose size ``max_elements`` bounds the memory.
  ``sampled_mixup_distances`` is the authors' own protocol behind the published numbers:
  one sampled mixup point per data point, so only an upper bound on the exact distance.
* ``mixup_conditional_label`` / ``mixup_optimal_prediction`` (item H1): the
  mixup-optimal prediction E[y_mix | x_mix in B_eps(p)] for a small discrete dataset,
  exact for each eps (Beta CDFs on the interval of lam whose mixed point falls in the
  ball), with or without the pairs of a point with itself. Its limit as eps -> 0 is the
  mixup-optimal classifier of the paper.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy import special, stats

CLASS_RULES = ("both_other", "any_other")


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if x.ndim == 1:
        x = x[:, None]
    x = x.reshape(len(x), -1)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y: need integer labels of shape ({len(x)},), got shape {tuple(y.shape)}")
    return x, y


def _check_tol(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def find_collisions(x, y, tol: float = 1e-9, classes: str = "both_other") -> pd.DataFrame:
    """Every (point, a, b) with x_point within ``tol`` of the open segment (x_a, x_b).

    Chidambaram et al. 2022, Theorem 2.10 / 3.2 (chapter ``chidambaram2022``, H2).
    ``x`` (n, ...) inputs, ``y`` (n,) labels. Pairs are unordered (a < b), never contain
    the point itself, and skip degenerate segments (x_a == x_b). ``lam`` is the weight
    on x_a of the nearest mixed point (strictly inside (0, 1), ends excluded by
    ``tol / |x_a - x_b|``); ``distance`` is the distance to it. Brute force, O(n^3 d):
    meant for small data. Returns an empty frame when there is no collision.
    """
    x, y = _check_xy(x, y)
    tol = _check_tol("tol", tol)
    if classes not in CLASS_RULES:
        raise ValueError(f"classes: unknown {classes!r}; valid: {list(CLASS_RULES)}")
    n = len(x)
    a, b = np.triu_indices(n, k=1)
    u = x[a] - x[b]                                   # (P, d) segment directions
    uu = np.einsum("pd,pd->p", u, u)
    keep = uu > 0
    a, b, u, uu = a[keep], b[keep], u[keep], uu[keep]
    rows = []
    for k in range(n):
        other_a, other_b = y[a] != y[k], y[b] != y[k]
        ok = (other_a & other_b) if classes == "both_other" else (other_a | other_b)
        ok &= (a != k) & (b != k)
        if not ok.any():
            continue
        w = x[k] - x[b[ok]]                            # (P', d)
        t = np.einsum("pd,pd->p", w, u[ok]) / uu[ok]
        dist = np.linalg.norm(w - t[:, None] * u[ok], axis=1)
        inner = tol / np.sqrt(uu[ok])
        hit = (dist <= tol) & (t > inner) & (t < 1 - inner)
        for i in np.flatnonzero(hit):
            rows.append((k, int(a[ok][i]), int(b[ok][i]), float(t[i]), float(dist[i])))
    return pd.DataFrame(rows, columns=["point", "a", "b", "lam", "distance"])


def has_collision(x, y, tol: float = 1e-9, classes: str = "any_other") -> bool:
    """True when some point collides (``find_collisions`` is non-empty) or two equal points disagree.

    With ``classes="any_other"`` a False answer is the hypothesis of the book's precise form
    of Theorem 2.10 (chapter ``chidambaram2022``): then the mixup-optimal classifier
    predicts every training point's own label.
    """
    x, y = _check_xy(x, y)
    if not find_collisions(x, y, tol, classes).empty:
        return True
    a, b = np.triu_indices(len(x), k=1)
    same = np.linalg.norm(x[a] - x[b], axis=1) <= tol
    return bool(np.any(same & (y[a] != y[b])))


def lam_interval(alpha: float | None, coverage: float = 0.999) -> tuple[float, float]:
    """Central interval of Beta(alpha, alpha) holding ``coverage`` of its mass; (0, 1) for alpha None."""
    if alpha is None:
        return 0.0, 1.0
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0 or None, got {alpha!r}")
    if not (isinstance(coverage, (int, float)) and 0 < coverage <= 1):
        raise ValueError(f"coverage must lie in (0, 1], got {coverage!r}")
    lo = float(stats.beta.ppf((1 - coverage) / 2, alpha, alpha))
    return lo, 1.0 - lo


def mixup_distances(x, y, alpha: float | None = 1024.0, coverage: float = 0.999, x_ref=None, y_ref=None,
                    distinct: bool = False, max_elements: int = 2**22, device: str | torch.device = "cpu",
                    dtype: torch.dtype | None = None, classes: str = "both_other",
                    query_rows=None) -> torch.Tensor:
    """Distance from each x_k to the nearest mixup point of two points of other classes.

    Chidambaram et al. 2022, Section 2 experiments (chapter ``chidambaram2022``, H3).
    For each query k: min over pairs a < b of ``x_ref`` with y_a != y_k and y_b != y_k
    (and y_a != y_b when ``distinct``) of the distance from x_k to
    {lam x_a + (1 - lam) x_b : lam in lam_interval(alpha, coverage)}; ``alpha=None`` uses the
    whole (closed) segment. ``classes="any_other"`` admits every pair with at least one end
    outside x_k's class (the book's precise Theorem 2.10) and drops the pairs that have the
    query itself as an end: its row in ``x_ref`` is ``query_rows[k]`` (default: row k when
    ``x_ref`` is None, else none). Inputs are flattened; ``x_ref`` defaults to ``x``. The
    work is done in blocks of at most about ``max_elements`` (query, pair) combinations. A
    query with no admissible pair gets inf. Returns (m,) on the CPU.
    """
    if not (isinstance(max_elements, int) and max_elements >= 1):
        raise ValueError(f"max_elements must be an integer >= 1, got {max_elements!r}")
    if classes not in CLASS_RULES:
        raise ValueError(f"classes: unknown {classes!r}; valid: {list(CLASS_RULES)}")
    lo, hi = lam_interval(alpha, coverage)
    dev = torch.device(device)
    dtype = dtype or (torch.float64 if dev.type == "cpu" else torch.float32)
    xq = torch.as_tensor(x).reshape(len(x), -1).to(dev, dtype)
    yq = torch.as_tensor(y).to(dev)
    xr = xq if x_ref is None else torch.as_tensor(x_ref).reshape(len(x_ref), -1).to(dev, dtype)
    yr = yq if y_ref is None else torch.as_tensor(y_ref).to(dev)
    if yq.shape != (len(xq),) or yr.shape != (len(xr),):
        raise ValueError("y, y_ref: need one integer label per row of x, x_ref")
    m, r = len(xq), len(xr)
    if query_rows is None and x_ref is None:
        query_rows = torch.arange(m)
    rows = None if query_rows is None else torch.as_tensor(query_rows).to(dev).reshape(-1)
    if rows is not None and rows.shape != (m,):
        raise ValueError(f"query_rows: need one row index (or -1) per query, got shape {tuple(rows.shape)}")
    nq, nr = (xq * xq).sum(1), (xr * xr).sum(1)
    best = torch.full((m,), math.inf, dtype=dtype, device=dev)
    bq = max(1, min(m, max_elements // max(r, 1)))
    for q0 in range(0, m, bq):
        q = slice(q0, min(q0 + bq, m))
        g_qr = xq[q] @ xr.T                                            # (Q, R) <x_k, x_b>
        ba = max(1, max_elements // (g_qr.shape[0] * r))
        for a0 in range(0, r - 1, ba):
            a1 = min(a0 + ba, r - 1)
            b_idx = torch.arange(a0 + 1, r, device=dev)                # b > a0: only the upper triangle
            r_ab = xr[a0:a1] @ xr[b_idx].T                             # (A, B) <x_a, x_b>
            uu = nr[a0:a1, None] - 2 * r_ab + nr[b_idx][None]          # (A, B) |x_a - x_b|^2
            nb = nr[b_idx]
            # w = x_k - x_b, u = x_a - x_b:  <w, u> = <k,a> - <k,b> - <a,b> + |b|^2
            wu = (g_qr[:, a0:a1, None] - g_qr[:, None, b_idx] - r_ab[None] + nb[None, None])  # (Q, A, B)
            ww = (nq[q, None] - 2 * g_qr[:, b_idx] + nb[None])[:, None, :]                  # (Q, 1, B)
            t = torch.where(uu > 0, wu / uu.clamp_min(1e-300 if dtype == torch.float64 else 1e-30), 0.5)
            t = t.clamp(lo, hi)
            d2 = ww - 2 * t * wu + t * t * uu                          # |w - t u|^2
            ya, yb, yk = yr[a0:a1, None], yr[None, b_idx], yq[q, None, None]
            a_idx = torch.arange(a0, a1, device=dev)
            other_a, other_b = ya[None] != yk, yb[None] != yk
            ok = (other_a & other_b) if classes == "both_other" else (other_a | other_b)
            ok &= b_idx[None, None, :] > a_idx[None, :, None]
            if distinct:
                ok &= (ya != yb)[None]
            if rows is not None and classes == "any_other":    # never a segment from the query itself
                rk = rows[q, None, None]
                ok &= (a_idx[None, :, None] != rk) & (b_idx[None, None, :] != rk)
            d2 = torch.where(ok, d2, torch.full_like(d2, math.inf))
            best[q] = torch.minimum(best[q], d2.flatten(1).amin(1))
    return best.clamp_min(0).sqrt().cpu()


def sampled_mixup_distances(x, y, alpha: float = 1024.0, generator: torch.Generator | None = None,
                            rounds: int = 1, block: int = 2048, device: str | torch.device = "cpu",
                            dtype: torch.dtype | None = None) -> torch.Tensor:
    """The distance measure as the authors' public code computes it (chapter ``chidambaram2022``, H3).

    Chidambaram et al. 2022, Section 2: each of the n points x_j, ``rounds`` times, is mixed
    with a partner drawn uniformly from all n points (itself included) with lam ~
    Beta(alpha, alpha); for each x_k the result is the distance to the nearest of these
    sampled mixup points whose two classes both differ from y_k (code:
    ``analysis/mixup_point_analysis.py`` of github.com/2014mchidamb/Mixup-Data-Dependency).
    A sample of the mixup points, so never below ``mixup_distances(x, y, alpha=None)``.
    Returns (n,) on the CPU; inf where no sampled point qualifies.
    """
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    from .lam import Beta

    dev = torch.device(device)
    dtype = dtype or (torch.float64 if dev.type == "cpu" else torch.float32)
    x = torch.as_tensor(x).reshape(len(x), -1).to(dev, dtype)
    y = torch.as_tensor(y).to(dev)
    n = len(x)
    own = torch.arange(n).repeat(rounds)                                    # (n rounds,) first end
    partner = torch.randint(0, n, (n * rounds,), generator=generator)       # second end, uniform
    lam = Beta(alpha).sample(n * rounds, generator).to(dev, dtype)
    own, partner = own.to(dev), partner.to(dev)
    z = lam[:, None] * x[own] + (1 - lam[:, None]) * x[partner]             # (n rounds, d) mixup points
    best = torch.full((n,), math.inf, dtype=dtype, device=dev)
    for q0 in range(0, n, block):
        q = slice(q0, min(q0 + block, n))
        d = torch.cdist(x[q], z)                                            # (Q, n rounds)
        ok = (y[own][None] != y[q, None]) & (y[partner][None] != y[q, None])
        best[q] = torch.where(ok, d, torch.full_like(d, math.inf)).amin(1)
    return best.cpu()


def _ball_intervals(xa: np.ndarray, xb: np.ndarray, p: np.ndarray, eps: float):
    """Per pair, the lam in [0, 1] with |lam x_a + (1 - lam) x_b - p| < eps: arrays (lo, hi), empty when lo >= hi."""
    u, w = xa - xb, p[None] - xb                                       # (P, d)
    uu, uw, ww = (u * u).sum(1), (u * w).sum(1), (w * w).sum(1)
    degenerate = uu == 0
    t0 = np.where(degenerate, 0.5, uw / np.where(degenerate, 1.0, uu))  # foot of the perpendicular
    perp = w - t0[:, None] * u                                         # computed directly: uw^2 - uu ww cancels
    half2 = (eps * eps - (perp * perp).sum(1)) / np.where(degenerate, 1.0, uu)
    half = np.sqrt(np.clip(half2, 0.0, None))
    lo, hi = np.maximum(0.0, t0 - half), np.minimum(1.0, t0 + half)
    lo, hi = np.where(half2 > 0, lo, 1.0), np.where(half2 > 0, hi, 0.0)
    inside = ww < eps * eps                                            # a point pair (x_a == x_b) inside the ball
    lo, hi = np.where(degenerate, np.where(inside, 0.0, 1.0), lo), np.where(degenerate, np.where(inside, 1.0, 0.0), hi)
    return lo, hi


def _beta_masses(a: float, b: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """P(lo < lam < hi) for lam ~ Beta(a, b), using the upper tail above 1/2 (no cancellation near 1)."""
    lower = special.betainc(a, b, hi) - special.betainc(a, b, lo)
    upper = special.betaincc(a, b, lo) - special.betaincc(a, b, hi)
    return np.where(hi <= lo, 0.0, np.where(lo >= 0.5, upper, lower))


def mixup_conditional_label(x, y_soft, point, eps: float, alpha: float = 1.0,
                            self_pairs: bool = True) -> tuple[np.ndarray, float]:
    """(E[y_mix | x_mix in B_eps(point)], P(x_mix in B_eps(point))), exactly.

    Chidambaram et al. 2022, the mixup-optimal classifier (chapter ``chidambaram2022``, H1).
    Pairs (i, j) are uniform over the n^2 ordered pairs (``self_pairs=True``, what a random
    permutation of the batch gives) or over the n(n - 1) pairs with i != j; lam ~
    Beta(alpha, alpha) weights x_i. For each pair the lams that land in the ball form an
    interval, so its mass is a Beta CDF difference and E[lam; interval] = alpha / (2 alpha)
    times a Beta(alpha + 1, alpha) CDF difference. The conditional label is nan when the
    ball holds no mass.
    """
    x, _ = _check_xy(x, np.zeros(len(x), dtype=int))
    ys = np.asarray(y_soft, dtype=np.float64)
    if ys.shape[0] != len(x) or ys.ndim != 2:
        raise ValueError(f"y_soft: need shape ({len(x)}, C), got {ys.shape}")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"eps must be a number > 0, got {eps!r}")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    p = np.asarray(point, dtype=np.float64).reshape(-1)
    n = len(x)
    i, j = (a.reshape(-1) for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    if not self_pairs:
        i, j = i[i != j], j[i != j]
    lo, hi = _ball_intervals(x[i], x[j], p, eps)
    mass = _beta_masses(alpha, alpha, lo, hi)
    lam_mass = 0.5 * _beta_masses(alpha + 1, alpha, lo, hi)           # E[lam; lo < lam < hi]
    total = float(mass.sum())
    label = (ys[i] * lam_mass[:, None] + ys[j] * (mass - lam_mass)[:, None]).sum(0)
    return (label / total if total > 0 else np.full(ys.shape[1], np.nan)), total / len(i)


def mixup_optimal_prediction(x, y, points, alpha: float = 1.0, self_pairs: bool = True, eps: float = 1e-7,
                             num_classes: int | None = None) -> np.ndarray:
    """The mixup-optimal class probabilities at each of ``points`` (m, d): the conditional
    label of ``mixup_conditional_label`` on a ball of radius ``eps`` (in the units of x).

    Chidambaram et al. 2022 define the mixup-optimal classifier as the limit eps -> 0; a
    small ``eps`` approximates it (the notebook shows the convergence). Rows are nan where
    the ball holds no mixup mass (off every segment).
    """
    x, y = _check_xy(x, y)
    num_classes = int(num_classes or int(y.max()) + 1)
    ys = np.eye(num_classes)[y.astype(int)]
    pts = np.asarray(points, dtype=np.float64).reshape(-1, x.shape[1])
    return np.stack([mixup_conditional_label(x, ys, p, eps, alpha, self_pairs)[0] for p in pts])
