"""Quadratic approximations of the mixup loss.

Each paper's expansion lives in its own section below; they share nothing but
``lam`` and ``mixing``.

Zhang et al. 2021 (book chapter ``zhang2021``): Lemma 3.1 expands the mixup loss of
the class l = h(f) - y . f to second order in 1 - lam, with lam ~ D~ (the label-weight
mixture of ``lam.LabelWeight``); Lemma 3.3 and Lemma 3.4 are its specialisations to
GLMs and to mixing the hidden layer of a 2-layer net.

Carratino et al. 2022 (book chapter ``carratino2022``): mixup with any lambda law (the
slides assume one symmetric about 1/2; only the folded law of max(lam, 1 - lam) matters)
as ERM on shrunk points plus zero-mean perturbations (Theorem 1), the perturbations'
covariances (Lemma 2), and the quadratic expansion around the shrunk points (Theorem 3;
Corollary 4 for softmax cross-entropy), with a differentiable surrogate for training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import special
from torch.func import jvp

from .lam import Beta, LabelWeight, check_positive
from .mixing import all_pairs

# =====================================================================================
# Zhang et al. 2021: Lemma 3.1 (R1, R2, R3), the quadratic surrogate, the exact mixup
# loss of the class h(f) - y . f, Lemma 3.3 (GLM) and Lemma 3.4 (manifold mixup).
# =====================================================================================

# h and its first two derivatives for the loss class l(f, y) = h(f) - y . f. The scalar
# members take a score f of shape (B, 1); "cross_entropy" takes logits (B, C), with
# h = logsumexp, grad h = softmax p and Hessian diag(p) - p p^T.
ZHANG_LOSSES = ("logistic", "squared", "poisson", "cross_entropy")
_SCALAR_H = {  # name: (h, h', h'')
    "logistic": (F.softplus, torch.sigmoid, lambda f: torch.sigmoid(f) * (1 - torch.sigmoid(f))),
    "squared": (lambda f: 0.5 * f**2, lambda f: f, torch.ones_like),
    "poisson": (torch.exp, torch.exp, torch.exp),
}


def _check_loss(loss: str) -> None:
    if loss not in ZHANG_LOSSES:
        raise ValueError(f"loss: unknown {loss!r}; valid: {list(ZHANG_LOSSES)}")


def as_scores(f: torch.Tensor, loss: str) -> torch.Tensor:
    """Model outputs as (B, C): a scalar model's (B,) or (B, 1) becomes (B, 1)."""
    _check_loss(loss)
    if loss == "cross_entropy":
        if f.dim() != 2:
            raise ValueError(f"loss='cross_entropy' needs logits of shape (B, C), got {tuple(f.shape)}")
        return f
    f = f.reshape(len(f), -1)
    if f.shape[1] != 1:
        raise ValueError(f"loss={loss!r} needs a scalar-output model ((B,) or (B, 1)), got {tuple(f.shape)}; "
                         "use loss='cross_entropy' for multi-class logits")
    return f


def as_targets(y: torch.Tensor, scores: torch.Tensor, loss: str) -> torch.Tensor:
    """Labels in the shape of ``scores`` (B, C): integer classes -> one-hot for cross-entropy."""
    if loss == "cross_entropy":
        if y.dim() == 1:
            if y.dtype.is_floating_point:
                raise ValueError("y: cross_entropy takes integer classes (B,) or soft labels (B, C)")
            return F.one_hot(y.long(), scores.shape[1]).to(scores.dtype)
        return y.to(scores.dtype)
    return y.reshape(len(y), 1).to(scores.dtype)


def class_loss(f: torch.Tensor, y: torch.Tensor, loss: str = "logistic") -> torch.Tensor:
    """Per-example l(f, y) = h(f) - y . f of Zhang et al. (2021), eq. (2); shape (B,)."""
    f = as_scores(f, loss)
    y = as_targets(y, f, loss)
    h = torch.logsumexp(f, dim=1) if loss == "cross_entropy" else _SCALAR_H[loss][0](f[:, 0])
    return h - (y * f).sum(1)


def _grad_h(f: torch.Tensor, loss: str) -> torch.Tensor:
    return torch.softmax(f, dim=1) if loss == "cross_entropy" else _SCALAR_H[loss][1](f)


def _hess_h_quad(f: torch.Tensor, v: torch.Tensor, loss: str) -> torch.Tensor:
    """v^T (grad^2 h)(f) v per example, shape (B,)."""
    if loss == "cross_entropy":
        p = torch.softmax(f, dim=1)
        return (p * v**2).sum(1) - (p * v).sum(1) ** 2
    return _SCALAR_H[loss][2](f[:, 0]) * v[:, 0] ** 2


def directional_derivatives(model, x: torch.Tensor, delta: torch.Tensor):
    """f(x), d/dt f(x + t delta) and d^2/dt^2 f(x + t delta) at t = 0, by forward-mode autograd.

    Per example these are f(x_i), grad f(x_i)^T delta_i and delta_i^T grad^2 f(x_i) delta_i
    (a Hessian-vector product contracted with delta_i), for every output; each has the
    shape of ``model(x)``. The batch must not be coupled inside ``model`` (no BatchNorm in
    train mode). Gradients with respect to the parameters flow through all three.
    """
    if x.shape != delta.shape:
        raise ValueError(f"delta {tuple(delta.shape)} must have the shape of x {tuple(x.shape)}")
    t0 = torch.zeros((), dtype=x.dtype, device=x.device)
    one = torch.ones_like(t0)

    def first(t):
        return jvp(lambda s: model(x + s * delta), (t,), (one,))

    (f, d1), (_, d2) = jvp(first, (t0,), (one,))
    return f, d1, d2


def lemma31_weights(alpha: float = 1.0, beta: float | None = None) -> tuple[float, float]:
    """(E[1 - lam], E[(1 - lam)^2]) under D~ = a/(a+b) Beta(a+1, b) + b/(a+b) Beta(b+1, a).

    The weights of R1 and of R2, R3 in Lemma 3.1 of Zhang et al. (2021).
    """
    law = LabelWeight(alpha, beta)
    m1, m2 = law.moment(1), law.moment(2)
    return 1.0 - m1, 1.0 - 2.0 * m1 + m2


def _pairs(n: int, partners: torch.Tensor | None, device) -> tuple[torch.Tensor, torch.Tensor]:
    if partners is None:
        i, j = all_pairs(n)
        return i.to(device), j.to(device)
    partners = torch.as_tensor(partners, device=device).long()
    if partners.shape != (n,):
        raise ValueError(f"partners: one partner index per example, shape ({n},), got {tuple(partners.shape)}")
    return torch.arange(n, device=device), partners


def lemma31_terms(model, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, beta: float | None = None,
                  loss: str = "logistic", partners: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """L_std and R1, R2, R3 of Lemma 3.1 of Zhang et al. (2021) (chapter ``zhang2021``).

    With t = 1 - lam ~ D~ and r_x drawn from the empirical law of the inputs,

    R1 = E[t]   / n   sum_i (grad h(f_i) - y_i)^T  E_r[J_i (r_x - x_i)]
    R2 = E[t^2] / 2n  sum_i E_r[(J_i (r_x - x_i))^T grad^2 h(f_i) J_i (r_x - x_i)]
    R3 = E[t^2] / 2n  sum_i (grad h(f_i) - y_i)^T E_r[(r_x - x_i)^T grad^2 f(x_i) (r_x - x_i)]

    (J_i the input Jacobian of f at x_i; for a scalar model J_i = grad f(x_i)^T and this is
    the paper's statement; for logits and h = logsumexp it is the same lemma for the
    vector-valued class h(f) - y . f, i.e. cross-entropy). ``partners=None`` takes E_r
    exactly over all n points of ``x`` (n^2 directional derivatives); a tensor ``partners``
    (n,) uses the single partner r = x[partners[i]], an unbiased estimate of E_r.
    """
    _check_loss(loss)
    n = x.shape[0]
    m1, m2 = lemma31_weights(alpha, beta)
    f0 = as_scores(model(x), loss)
    yt = as_targets(y, f0, loss)
    l_std = class_loss(f0, yt, loss).mean()
    i, j = _pairs(n, partners, x.device)
    _, d1, d2 = directional_derivatives(model, x[i], x[j] - x[i])
    d1, d2 = as_scores(d1, loss), as_scores(d2, loss)
    resid = _grad_h(f0, loss)[i] - yt[i]  # (P, C)
    per_pair = len(i) // n  # every example has the same number of partners
    r1 = m1 * (resid * d1).sum(1).sum() / (n * per_pair)
    r2 = 0.5 * m2 * _hess_h_quad(f0[i], d1, loss).sum() / (n * per_pair)
    r3 = 0.5 * m2 * (resid * d2).sum(1).sum() / (n * per_pair)
    return {"L_std": l_std, "R1": r1, "R2": r2, "R3": r3}


def quadratic_surrogate(model, x, y, alpha: float = 1.0, beta: float | None = None, loss: str = "logistic",
                        partners: torch.Tensor | None = None) -> torch.Tensor:
    """L~mix = L_std + R1 + R2 + R3: the quadratic approximation, Zhang et al. (2021) eq. (3)."""
    t = lemma31_terms(model, x, y, alpha, beta, loss, partners)
    return t["L_std"] + t["R1"] + t["R2"] + t["R3"]


def _mixed_pair_loss(model, x, y, lam, loss: str, i, j) -> torch.Tensor:
    """Mean over the pairs (i, j) of l(f(lam x_i + (1-lam) x_j), lam y_i + (1-lam) y_j)."""
    f = as_scores(model(lam * x[i] + (1 - lam) * x[j]), loss)
    yt = as_targets(y, f[: len(y)], loss)  # (n, C): only the shape and dtype of f are used
    return class_loss(f, lam * yt[i] + (1 - lam) * yt[j], loss).mean()


def mixup_loss_exact(model, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, beta: float | None = None,
                     loss: str = "logistic", nodes: int | None = None):
    """The mixup loss (Zhang et al. 2021, eq. 1) of the class h(f) - y . f over all n^2 pairs.

    ``nodes=None``: the expectation over lam ~ Beta(alpha, beta) by adaptive quadrature
    (``lam.Beta.expect``, QUADPACK QAWS), returned as a float (no gradient): the reference
    value. ``nodes=K``: a fixed K-node Gauss-Jacobi rule, returned as a differentiable
    tensor, for training on the exact loss (Fig. 2).
    """
    _check_loss(loss)
    law = Beta(alpha, beta)
    i, j = all_pairs(x.shape[0])
    i, j = i.to(x.device), j.to(x.device)
    if nodes is None:
        with torch.no_grad():
            return law.expect(lambda t: float(_mixed_pair_loss(model, x, y, t, loss, i, j)))
    lam, w = gauss_jacobi(law.a, law.b, nodes)
    return sum(float(wk) * _mixed_pair_loss(model, x, y, float(lk), loss, i, j) for lk, wk in zip(lam, w))


def gauss_jacobi(a: float, b: float, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes on [0, 1] and weights (summing to 1) integrating polynomials of degree < 2K exactly
    against the Beta(a, b) density."""
    if not (isinstance(nodes, int) and nodes >= 1):
        raise ValueError(f"nodes must be an integer >= 1, got {nodes!r}")
    with np.errstate(invalid="ignore", divide="ignore"):  # scipy's k = 1 branch when a + b = 1
        u, w = special.roots_jacobi(nodes, b - 1, a - 1)  # weight (1-u)^(b-1) (1+u)^(a-1) on [-1, 1]
    return (u + 1) / 2, w / w.sum()


# ---- Lemma 3.3 (GLM) and Lemma 3.4 (manifold mixup) --------------------------------

def ratio_moment(alpha: float = 1.0, beta: float | None = None) -> float:
    """E_{D~}[(1 - lam)^2 / lam^2], the weight in Lemma 3.3 / 3.4 as printed; inf unless alpha, beta > 1.

    For Beta(a, b): E[(1-lam)^2 lam^-2] = B(a-2, b+2) / B(a, b) when a > 2, else the integral diverges
    at lam = 0. D~ has the components Beta(alpha+1, beta) and Beta(beta+1, alpha).
    """
    a = check_positive("alpha", alpha)
    b = a if beta is None else check_positive("beta", beta)
    out = 0.0
    for w, (p, q) in ((a / (a + b), (a + 1, b)), (b / (a + b), (b + 1, a))):
        if p <= 2:
            return math.inf
        out += w * math.exp(special.betaln(p - 2, q + 2) - special.betaln(p, q))
    return out


def _glm_parts(theta: torch.Tensor, x: torch.Tensor, loss: str, bias=0.0):
    if loss not in _SCALAR_H:
        raise ValueError(f"loss: a GLM takes one of {sorted(_SCALAR_H)}, got {loss!r}")
    if theta.dim() != 1 or x.dim() != 2 or x.shape[1] != theta.shape[0]:
        raise ValueError(f"theta (d,) and x (n, d) must agree, got {tuple(theta.shape)} and {tuple(x.shape)}")
    s = x @ theta + bias
    cov = x.T @ x / len(x) - torch.outer(x.mean(0), x.mean(0))  # Sigma_X (1/n normalisation)
    return s, cov


def glm_regularizer_lemma33(theta: torch.Tensor, x: torch.Tensor, alpha: float = 1.0,
                            beta: float | None = None, loss: str = "logistic") -> torch.Tensor:
    """Lemma 3.3 of Zhang et al. (2021) as printed: [sum_i A''(theta^T x_i)] / (2n)
    * E_{D~}[(1-lam)^2 / lam^2] * theta^T Sigma_X theta (inf when alpha <= 1 or beta <= 1).

    The book shows (``zhang2021`` errata) that this is not the second-order term of the
    mixup loss; ``glm_quadratic_terms`` is.
    """
    s, cov = _glm_parts(theta, x, loss)
    return 0.5 * _SCALAR_H[loss][2](s).mean() * ratio_moment(alpha, beta) * (theta @ cov @ theta)


def glm_quadratic_terms(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0,
                        beta: float | None = None, loss: str = "logistic", bias=0.0) -> dict[str, torch.Tensor]:
    """Lemma 3.1 in closed form for f = theta^T x + bias (grad f = theta, grad^2 f = 0, so R3 = 0).

    R1 = E[t] / n sum_i (A'(s_i) - y_i) theta^T (xbar - x_i),
    R2 = E[t^2] / 2n sum_i A''(s_i) [theta^T Sigma_X theta + (theta^T (xbar - x_i))^2],
    with s_i = theta^T x_i; for centred data (xbar = 0) this is the corrected Lemma 3.3.
    """
    s, cov = _glm_parts(theta, x, loss, bias)
    m1, m2 = lemma31_weights(alpha, beta)
    u = (x.mean(0) - x) @ theta  # theta^T (xbar - x_i)
    h = _SCALAR_H[loss]
    l_std = (h[0](s) - y.to(s.dtype) * s).mean()
    r1 = m1 * ((h[1](s) - y.to(s.dtype)) * u).mean()
    r2 = 0.5 * m2 * (h[2](s) * (theta @ cov @ theta + u**2)).mean()
    return {"L_std": l_std, "R1": r1, "R2": r2, "R3": torch.zeros_like(r2)}


def manifold_regularizer_lemma34(theta1: torch.Tensor, hidden: torch.Tensor, alpha: float = 1.0,
                                 beta: float | None = None) -> torch.Tensor:
    """Lemma 3.4 of Zhang et al. (2021) as printed, in the h-form A(u) = u^2 / 2 (A'' = 1):
    E_{D~}[(1-lam)^2 / lam^2] / 2 * theta1^T Sigma^sigma_X theta1, with Sigma^sigma_X the (1/n)
    covariance of the hidden features sigma(W x_i). ``glm_quadratic_terms(theta1, hidden, ...,
    loss="squared")`` plus the bias gives the exact expansion."""
    return glm_regularizer_lemma33(theta1, hidden, alpha, beta, loss="squared")


# ---------------------------------------------------------------------------
# Carratino et al. 2022 ("On Mixup Regularization"), chapter ``carratino2022``
# ---------------------------------------------------------------------------
# Mixup with any lambda law is ERM on shrunk points plus zero-mean perturbations (Theorem 1;
# the slides state it for laws symmetric about 1/2, which it does not need); the perturbations' covariances (Lemma 2) weigh a quadratic
# expansion around the shrunk points (Theorem 3, Corollary 4 for softmax cross-entropy).
# Conventions: x (n, d) inputs, y (n, c) soft labels, ``model`` maps (B, d) -> logits (B, c);
# a loss ``loss(logits, y_soft)`` returns one value per row. Where the slides write H^{-1}
# or Sigma^{-1}, which can be singular (the softmax Hessian always is: H 1 = 0), we use the
# Moore-Penrose pseudo-inverse; the book derives why the theorem still holds.


def _ce_rows(logits: torch.Tensor, y_soft: torch.Tensor) -> torch.Tensor:
    return -(y_soft * torch.log_softmax(logits, dim=-1)).sum(-1)


def folded_moments(law) -> tuple[float, float, float]:
    """(theta_bar, sigma^2, gamma^2) of theta = max(lam, 1 - lam), gamma^2 = sigma^2 + (1 - theta_bar)^2.

    The constants of Theorem 1 and Lemma 2 of Carratino et al. (2022), by quadrature, for any
    ``law`` of lam on [0, 1]: symmetric or not (the slides assume a law symmetric about 1/2, but
    the mixup loss depends on the law of lam only through that of theta, because the double sum
    over pairs (i, j) is unchanged by lam -> 1 - lam; chapter carratino2022, C1, C2 and C6).
    """
    from .lam import Folded

    theta = Folded(law)
    m1, m2 = theta.mean(), theta.moment(2)
    s2 = m2 - m1**2
    return m1, s2, s2 + (1 - m1) ** 2


def folded_beta_moments(alpha: float) -> tuple[float, float, float]:
    """Closed form of ``folded_moments(Beta(alpha, alpha))`` (derived in chapter carratino2022).

    E|lam - 1/2| = 4^(-alpha) / (alpha B(alpha, alpha)), so theta_bar = 1/2 + that, and
    sigma^2 = Var(lam) - (theta_bar - 1/2)^2 with Var(lam) = 1 / (4 (2 alpha + 1)).
    """
    from scipy import special

    from .lam import check_positive

    a = check_positive("alpha", alpha)
    dev = math.exp(-a * math.log(4.0) - math.log(a) - special.betaln(a, a))
    s2 = 1.0 / (4 * (2 * a + 1)) - dev**2
    tb = 0.5 + dev
    return tb, s2, s2 + (1 - tb) ** 2


@dataclass
class PerturbedERM:
    """The objects of Theorem 1 of Carratino et al. (2022) for one dataset and one law."""

    x_bar: torch.Tensor    # (d,)
    y_bar: torch.Tensor    # (c,)
    x_tilde: torch.Tensor  # (n, d): x_bar + theta_bar (x_i - x_bar)
    y_tilde: torch.Tensor  # (n, c): y_bar + theta_bar (y_i - y_bar)
    theta_bar: float
    sigma2: float
    gamma2: float


def perturbed_erm(x: torch.Tensor, y: torch.Tensor, law) -> PerturbedERM:
    """Shrunk points (x~_i, y~_i) of Theorem 1 (Carratino et al. 2022), for any ``law`` of lam on [0, 1].

    Only the folded law theta = max(lam, 1 - lam) enters; Beta(a, b) and Beta(b, a) give the same
    objects (and the same mixup loss).
    """
    if x.dim() != 2 or y.dim() != 2 or len(x) != len(y):
        raise ValueError(f"x, y: need (n, d) inputs and (n, c) soft labels, got {tuple(x.shape)}, {tuple(y.shape)}")
    tb, s2, g2 = folded_moments(law)
    xb, yb = x.mean(0), y.mean(0)
    return PerturbedERM(xb, yb, xb + tb * (x - xb), yb + tb * (y - yb), tb, s2, g2)


def perturbations(x: torch.Tensor, y: torch.Tensor, i, j, theta, theta_bar: float):
    """(delta_i, eps_i) of Theorem 1 for index tensors i, j and weights theta (all of shape (B,)).

    delta = (theta - theta_bar) x_i + (1 - theta) x_j - (1 - theta_bar) x_bar, and the same for
    labels; x~_i + delta = theta x_i + (1 - theta) x_j, the mixed point.
    """
    theta = torch.as_tensor(theta, dtype=x.dtype).reshape(-1, 1)
    xb, yb = x.mean(0), y.mean(0)
    delta = (theta - theta_bar) * x[i] + (1 - theta) * x[j] - (1 - theta_bar) * xb
    eps = (theta - theta_bar) * y[i] + (1 - theta) * y[j] - (1 - theta_bar) * yb
    return delta, eps


def lemma2_covariances(x: torch.Tensor, y: torch.Tensor, law):
    """Sigma_xx^(i) (n, d, d), Sigma_yy^(i) (n, c, c), Sigma_xy^(i) (n, d, c) of Lemma 2 (Carratino et al. 2022).

    Sigma^(i) = (sigma^2 (x~_i - x_bar)(x~_i - x_bar)^T + gamma^2 Sigma_x~x~) / theta_bar^2, with
    Sigma_x~x~ the (1/n) covariance of the shrunk points; equal to E delta_i delta_i^T etc.
    """
    p = perturbed_erm(x, y, law)
    u, v = p.x_tilde - p.x_bar, p.y_tilde - p.y_bar  # (n, d), (n, c)

    def cov(a, b):
        outer = a[:, :, None] * b[:, None, :]
        return (p.sigma2 * outer + p.gamma2 * outer.mean(0)) / p.theta_bar**2

    return cov(u, u), cov(v, v), cov(u, v)


def perturbed_erm_loss(model, x: torch.Tensor, y: torch.Tensor, law, loss=_ce_rows) -> float:
    """Right side of Theorem 1: (1/n) sum_i E_{theta, j} loss(y~_i + eps_i, f(x~_i + delta_i)).

    Exact: enumeration over j and adaptive quadrature over theta ~ folded ``law``.
    """
    from .lam import Folded
    from .mixing import all_pairs

    p = perturbed_erm(x, y, law)
    i, j = all_pairs(len(x))

    def at(theta: float) -> float:
        delta, eps = perturbations(x, y, i, j, torch.full((len(i),), theta, dtype=x.dtype), p.theta_bar)
        with torch.no_grad():
            return float(loss(model(p.x_tilde[i] + delta), p.y_tilde[i] + eps).mean())

    return Folded(law).expect(at)


def input_derivatives(model, x: torch.Tensor):
    """Logits (n, c), input Jacobians (n, c, d) and input Hessians (n, c, d, d) of ``model`` at each row of x."""
    from torch.func import hessian, jacrev, vmap

    def f1(v):
        return model(v[None])[0]

    return model(x), vmap(jacrev(f1))(x), vmap(hessian(f1))(x)


def _loss_derivatives(loss, y: torch.Tensor, u: torch.Tensor):
    """grad_u l (n, c), and the blocks l_yy, l_yu, l_uu (n, c, c) of the Hessian of l(y, u), by autograd."""
    from torch.func import grad, hessian, vmap

    c = y.shape[1]

    def l1(z):
        return loss(z[c:][None], z[:c][None])[0]

    z = torch.cat([y, u], 1)
    g = vmap(grad(l1))(z)[:, c:]
    h = vmap(hessian(l1))(z)
    return g, h[:, :c, :c], h[:, :c, c:], h[:, c:, c:]


def theorem3_terms(model, x: torch.Tensor, y: torch.Tensor, law, loss=_ce_rows, rtol: float = 1e-10) -> dict:
    """Theorem 3 of Carratino et al. (2022) for any twice-differentiable loss, by autograd.

    Returns the mean base loss l(y~_i, f(x~_i)) (``base``), R1..R4 (pseudo-inverses for H and
    Sigma_xx^(i)) and ``quadratic_raw``: the expected second-order terms before the square is
    completed (1/2 <Sxx, A^T L_uu A> + <Sxy-term> + R2 + R4), which Theorem 3 rewrites as R1..R4.
    """
    p = perturbed_erm(x, y, law)
    sxx, syy, sxy = lemma2_covariances(x, y, law)
    u, A, T = input_derivatives(model, p.x_tilde)
    g, lyy, lyu, luu = _loss_derivatives(loss, p.y_tilde, u)
    syx = sxy.transpose(1, 2)
    h_pinv = torch.linalg.pinv(luu, hermitian=True, rtol=rtol)
    s_pinv = torch.linalg.pinv(sxx, hermitian=True, rtol=rtol)
    J = -h_pinv @ lyu.transpose(1, 2) @ syx @ s_pinv          # (n, c, d)
    D = A - J
    tr = lambda m: m.diagonal(dim1=-2, dim2=-1).sum(-1)
    r1 = 0.5 * tr(sxx @ D.transpose(1, 2) @ luu @ D)
    r2 = 0.5 * torch.einsum("nab,nk,nkab->n", sxx, g, T)
    r3 = -0.5 * tr(syx @ s_pinv @ sxy @ lyu @ h_pinv @ lyu.transpose(1, 2))
    r4 = 0.5 * torch.einsum("nab,nab->n", syy, lyy)
    raw = 0.5 * tr(sxx @ A.transpose(1, 2) @ luu @ A) + tr(sxy @ lyu @ A) + r2 + r4
    base = loss(u, p.y_tilde)
    out = {"base": base.mean(), "R1": r1.mean(), "R2": r2.mean(), "R3": r3.mean(), "R4": r4.mean(),
           "quadratic_raw": raw.mean()}
    return {k: float(v.detach()) for k, v in out.items()}


def softmax_hessian(logits: torch.Tensor) -> torch.Tensor:
    """H(u) = diag(S(u)) - S(u) S(u)^T (n, c, c): the Hessian in u of cross-entropy (Corollary 4)."""
    s = torch.softmax(logits, -1)
    return torch.diag_embed(s) - s[:, :, None] * s[:, None, :]


def softmax_hessian_pinv(logits: torch.Tensor) -> torch.Tensor:
    """Moore-Penrose inverse of H(u): P diag(1/S(u)) P with P = I - 11^T/c (derived in carratino2022)."""
    s = torch.softmax(logits, -1)
    c = s.shape[-1]
    P = torch.eye(c, dtype=s.dtype) - 1.0 / c
    return P @ torch.diag_embed(1 / s) @ P


def corollary4_terms(model, x: torch.Tensor, y: torch.Tensor, law, per_example: bool = False) -> dict:
    """Corollary 4 of Carratino et al. (2022): the cross-entropy case of Theorem 3 in closed form.

    ``base`` = l_CE(y~_i, f(x~_i)); R1 (Jacobian pulled to J^(i) = H^+ Sigma_yx Sigma_xx^+), R2
    (input Hessians weighted by the residual S(f(x~_i)) - y~_i), R3 = -1/2 sum_k K_kk / S_k with
    K = Sigma_yx Sigma_xx^+ Sigma_xy (the H^+ form; needs rows of y summing to one), and the
    ingredients the carratino2022 notebooks reuse (``per_example=True`` keeps per-example tensors).
    """
    p = perturbed_erm(x, y, law)
    sxx, _, sxy = lemma2_covariances(x, y, law)
    u, A, T = input_derivatives(model, p.x_tilde)
    H, Hp = softmax_hessian(u), softmax_hessian_pinv(u)
    s = torch.softmax(u, -1)
    syx = sxy.transpose(1, 2)
    s_pinv = torch.linalg.pinv(sxx, hermitian=True, rtol=1e-10)
    J = Hp @ syx @ s_pinv
    D = A - J
    tr = lambda m: m.diagonal(dim1=-2, dim2=-1).sum(-1)
    K = syx @ s_pinv @ sxy
    out = {"base": _ce_rows(u, p.y_tilde),
           "R1": 0.5 * tr(sxx @ D.transpose(1, 2) @ H @ D),
           "R2": 0.5 * torch.einsum("nab,nk,nkab->n", sxx, s - p.y_tilde, T),
           "R3": -0.5 * (K.diagonal(dim1=-2, dim2=-1) / s).sum(-1)}
    if per_example:
        out.update({"logits": u, "A": A, "T": T, "J": J, "H": H, "H_pinv": Hp, "Sxx": sxx, "Sxy": sxy,
                    "Sxx_pinv": s_pinv, "probs": s, "y_tilde": p.y_tilde})
        return out
    return {k: float(v.detach().mean()) for k, v in out.items()}


def carratino_surrogate(model, x: torch.Tensor, y: torch.Tensor, law, jacobian_terms: bool = True,
                        hessian_term: bool = True) -> torch.Tensor:
    """Differentiable approximate mixup loss for softmax cross-entropy (Corollary 4), on one batch.

    The batch plays the training set: mean CE(y~_i, f(x~_i)) + [R1 + R3] + [R2], with R1 + R3 in
    the bounded form 1/2 <Sxx, A^T H A> - <Sxy, A^T> (before completing the square; each of R1,
    R3 alone blows up as a predicted probability goes to 0). ``jacobian_terms=False`` drops
    R1 + R3, ``hessian_term=False`` drops R2 (no input Hessian: cheaper); both False is ERM on
    the shrunk data (x~, y~). Cost: input Jacobians (c d) and, with R2, Hessians (c d^2) per example.
    """
    from torch.func import hessian, jacrev, vmap

    p = perturbed_erm(x, y, law)
    u = model(p.x_tilde)
    loss = _ce_rows(u, p.y_tilde)
    if not (jacobian_terms or hessian_term):
        return loss.mean()
    sxx, _, sxy = lemma2_covariances(x, y, law)

    def f1(v):
        return model(v[None])[0]

    if jacobian_terms:
        A = vmap(jacrev(f1))(p.x_tilde)                          # (n, c, d)
        H = softmax_hessian(u)
        loss = loss + 0.5 * torch.einsum("nab,nkb,nkl,nla->n", sxx, A, H, A) - torch.einsum("nak,nka->n", sxy, A)
    if hessian_term:
        T = vmap(hessian(f1))(p.x_tilde)                         # (n, c, d, d)
        r = torch.softmax(u, -1) - p.y_tilde
        loss = loss + 0.5 * torch.einsum("nab,nk,nkab->n", sxx, r, T)
    return loss.mean()


# =====================================================================================
# Zou et al. 2023 (MixupE)
# =====================================================================================
# Theorem 1 of Zou et al. (2023) writes the mixup loss as ERM plus directional derivatives
# of every order along x' - x_i, weighted by E[(1 - lam)^k] / k! with lam ~ D~ (the
# label-weight law). The functions below compute those terms by autograd (the exact loss
# they approximate is ``mixup_loss_exact`` above with loss="cross_entropy"), the
# first-order quantities q (eq. 4) and q-hat (eq. 5), and the coefficients alpha_{k,i} of
# eq. (6).
# Book chapter ``zou2023``, items E1-E3.


def gap_moments(alpha: float, K: int, beta: float | None = None) -> list[float]:
    """[E (1 - lam)^k for k = 0..K], lam ~ D~ (``lam.LabelWeight(alpha, beta)``).

    The weights a_lam^k of Theorem 1 of Zou et al. (2023) (k <= 2: ``lemma31_weights``);
    k = 1 gives E[a_lam] = alpha / (2 alpha + 1) for Beta(alpha, alpha) (their eq. 7).
    """
    a = check_positive("alpha", alpha)
    b = a if beta is None else check_positive("beta", beta)
    if int(K) < 0:
        raise ValueError(f"K must be >= 0, got {K!r}")
    # 1 - lam ~ Beta(b, a + 1) under the first component, Beta(a, b + 1) under the second
    return [a / (a + b) * Beta(b, a + 1).moment(k) + b / (a + b) * Beta(a, b + 1).moment(k)
            for k in range(int(K) + 1)]


def directional_derivative_series(fn, x: torch.Tensor, direction: torch.Tensor, K: int) -> torch.Tensor:
    """(K + 1, P): d^m/da^m fn(x + a direction) at a = 0 for m = 0..K, one row of P examples.

    ``fn`` maps a batch (P, ...) to per-example scalars (P,) and must treat examples
    independently (no batch-norm in train mode). Repeated autograd through a per-example
    scalar a: the m-th derivative is the m-th directional derivative of fn at x along
    ``direction`` (Zou et al. 2023, Theorem 1, in the form derived in ``zou2023``).
    """
    if x.shape != direction.shape:
        raise ValueError(f"direction {tuple(direction.shape)} must have the shape of x {tuple(x.shape)}")
    if int(K) < 0:
        raise ValueError(f"K must be >= 0, got {K!r}")
    a = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device, requires_grad=True)
    shape = (-1,) + (1,) * (x.dim() - 1)
    value = fn(x + a.view(shape) * direction)                               # (P,)
    out = [value.detach()]
    for _ in range(int(K)):
        (value,) = torch.autograd.grad(value.sum(), a, create_graph=True)
        out.append(value.detach())
    return torch.stack(out)


def mixup_series_terms(model, x: torch.Tensor, y_soft: torch.Tensor, K: int) -> torch.Tensor:
    """(K + 1, n, n): T_k[i, j] = k-th directional derivative of x -> CE(f(x), y_i) at x_i along x_j - x_i."""
    n = x.shape[0]
    i, j = all_pairs(n)
    yi = y_soft[i]
    terms = directional_derivative_series(lambda z: class_loss(model(z), yi, "cross_entropy"),
                                          x[i], x[j] - x[i], K)
    return terms.view(int(K) + 1, n, n)


def mixup_loss_series(model, x: torch.Tensor, y_soft: torch.Tensor, alpha: float, K: int) -> list[float]:
    """Truncations of Theorem 1 of Zou et al. (2023): [L_0, ..., L_K] for Beta(alpha, alpha) mixup.

    L_K = ERM + sum_{k=1}^{K} E[a_lam^k] / k! * mean_{i,j} T_k[i, j] with a_lam = 1 - lam,
    lam ~ D~; L_0 is the ERM loss. The remainder L_mix - L_K (L_mix from ``mixup_loss_exact``)
    is what E1 measures.
    """
    terms = mixup_series_terms(model, x, y_soft, K).double().mean(dim=(1, 2))   # (K + 1,)
    moments = gap_moments(alpha, K)
    out, total = [], 0.0
    for k in range(int(K) + 1):
        total += moments[k] / math.factorial(k) * float(terms[k])
        out.append(total)
    return out


def q_hat(logits: torch.Tensor, y_soft: torch.Tensor, detach_softmax: bool = False) -> torch.Tensor:
    """q-hat(x_i) = (y_i - softmax(f(x_i)))^T f(x_i), per example (B,): Zou et al. (2023), eq. (5)."""
    if logits.shape != y_soft.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and y_soft {tuple(y_soft.shape)} must have one shape")
    g = torch.softmax(logits, dim=-1)
    if detach_softmax:
        g = g.detach()
    return ((y_soft - g) * logits).sum(-1)


def q_exact(model, x: torch.Tensor, y_soft: torch.Tensor, x_mean: torch.Tensor | None = None,
            create_graph: bool = False) -> torch.Tensor:
    """q(x_i) = (softmax(f(x_i)) - y_i)^T J_f(x_i) (x_mean - x_i), per example (B,): Zou et al. (2023), eq. (4).

    b^T J_f is the input gradient of (f(x) . b) with b = softmax(f) - y held fixed; valid
    when ``model`` treats examples independently. ``x_mean``: E[x'] over the training
    inputs (default: the mean of ``x``). ``create_graph=True`` keeps the graph, so q can be
    a training loss (one double backward).
    """
    x = x.detach().requires_grad_(True)
    f = model(x)
    b = (torch.softmax(f, dim=-1) - y_soft).detach()
    (grad,) = torch.autograd.grad((f * b).sum(), x, create_graph=create_graph)
    xm = x.detach().mean(0, keepdim=True) if x_mean is None else x_mean.to(x).expand_as(x)
    return (grad * (xm - x.detach())).flatten(1).sum(1)


def jacobian_rows(model, x: torch.Tensor) -> torch.Tensor:
    """(B, C, d): the rows J_f(x_i)_(j) of the input Jacobian, one backward per class (examples independent)."""
    x = x.detach().requires_grad_(True)
    f = model(x)
    rows = [torch.autograd.grad(f[:, c].sum(), x, retain_graph=c + 1 < f.shape[1])[0].flatten(1)
            for c in range(f.shape[1])]
    return torch.stack(rows, dim=1)


def alpha_coefficients(model, x: torch.Tensor, y_soft: torch.Tensor, x_mean: torch.Tensor | None = None):
    """alpha_{j,i} = (softmax(f(x_i))_j - y_ij) cos(J_f(x_i)_(j), x_mean - x_i): Zou et al. (2023), eq. (6).

    Returns (alpha (B, C), row norms ||J_f(x_i)_(j)|| (B, C), distances ||x_mean - x_i|| (B,)),
    so that q(x_i) = sum_j alpha_{j,i} ||J_(j)|| ||x_mean - x_i||. A negative alpha_{j,i}
    is the case where the first-order term rewards a larger ||J_(j)|| (E3).
    """
    J = jacobian_rows(model, x)                                               # (B, C, d)
    with torch.no_grad():
        g = torch.softmax(model(x), dim=-1)
        xm = x.mean(0, keepdim=True) if x_mean is None else x_mean.to(x).expand_as(x)
        delta = (xm - x).flatten(1)                                           # (B, d)
        norms, dist = J.norm(dim=-1), delta.norm(dim=-1)
        cos = (J * delta[:, None]).sum(-1) / (norms * dist[:, None]).clamp_min(1e-30)
    return (g - y_soft) * cos, norms, dist
