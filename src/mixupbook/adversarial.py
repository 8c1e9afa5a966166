"""Adversarial attacks and the robustness quantities of Zhang et al. (2021), Section 3.2.

Chapter ``zhang2021`` (page "Mixup and adversarial robustness"; items Z3-Z6, Z10).

* Attacks: ``fgsm`` (one signed / normalised gradient step, Goodfellow et al. 2014) and
  ``pgd`` (projected gradient ascent, l2 or linf ball, seeded random start). They
  maximise a per-example loss (cross-entropy by default) over a ball around x.
* Binary scores: the papers' logistic loss l = log(1 + e^f) - y f takes a scalar f;
  ``binary_score`` reads f from a (B,), (B, 1) or two-logit (B, 2) output (f = z1 - z0,
  for which two-class cross-entropy *is* the logistic loss), so any two-class model of
  ``models`` trained by ``train.fit`` can be analysed.
* Lemma 3.2 / eq. (6): ``second_order_adv_loss`` is the second-order adversarial loss
  l + eta |g(f) - y| ||grad f|| + eta^2 / 2 g(f)(1 - g(f)) ||grad f||^2.
* Theorems 3.1 and 3.3: ``robust_radii`` gives R_i = |cos(grad f(x_i), x_i)|, R = min R_i,
  c_x, eps_i = R_i c_x E[1 - lam] and eps_mix = R c_x E[1 - lam] (lam ~ D~);
  ``in_theta`` tests membership of the set Theta. The quadratic mixup loss that the
  theorems bound from below is ``taylor.quadratic_surrogate`` (Lemma 3.1).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .lam import LabelWeight, check_positive
from .losses import logistic_loss, soft_cross_entropy
from .mixing import as_soft

NORMS = ("l2", "linf")


def _check(norm: str, eps: float) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm: unknown {norm!r}; valid: {list(NORMS)}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")


def binary_score(out: torch.Tensor) -> torch.Tensor:
    """The scalar score f (B,) of a binary model: out itself, or z1 - z0 for two logits."""
    if out.dim() == 1:
        return out
    if out.dim() == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.dim() == 2 and out.shape[1] == 2:
        return out[:, 1] - out[:, 0]
    raise ValueError(f"model output: a binary score needs shape (B,), (B, 1) or (B, 2), got {tuple(out.shape)}")


def cross_entropy_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example loss used by the attacks: logistic for a scalar score, soft cross-entropy otherwise."""
    if out.dim() == 1 or out.shape[1] == 1:
        return logistic_loss(binary_score(out), y.to(out.dtype), reduction="none")
    return soft_cross_entropy(out, as_soft(y, out.shape[1]), reduction="none")


def _flat_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-example l2 norm of (B, ...), shaped (B, 1, ..., 1) for broadcasting."""
    return v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (v.dim() - 1)))


def loss_and_input_grad(model, x, y, loss_fn: Callable = cross_entropy_loss):
    """Per-example losses (B,) and d(sum of losses)/dx (B, ...) at x."""
    x = x.detach().requires_grad_(True)
    per = loss_fn(model(x), y)
    (grad,) = torch.autograd.grad(per.sum(), x)
    return per.detach(), grad


def _step(grad: torch.Tensor, size: float, norm: str) -> torch.Tensor:
    return size * (grad.sign() if norm == "linf" else grad / _flat_norm(grad))


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Euclidean projection of each perturbation onto the ball of radius eps."""
    _check(norm, eps)
    if norm == "linf":
        return delta.clamp(-eps, eps)
    return delta * (eps / _flat_norm(delta)).clamp(max=1.0)


def _clip(x: torch.Tensor, clip):
    return x if clip is None else x.clamp(*clip)


def fgsm(model, x, y, eps: float, norm: str = "linf", loss_fn: Callable = cross_entropy_loss,
         clip: tuple[float, float] | None = None) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2014): x + eps sign(grad) (linf) or x + eps grad/||grad|| (l2).

    ``clip`` = (lo, hi) keeps the result in the valid input range (e.g. (0, 1) for images).
    The attack of Zhang et al. (2021) Fig. 1a (item Z10).
    """
    _check(norm, eps)
    _, grad = loss_and_input_grad(model, x, y, loss_fn)
    return _clip(x + _step(grad, eps, norm), clip).detach()


def pgd(model, x, y, eps: float, norm: str = "linf", steps: int = 20, step_size: float | None = None,
        random_start: bool = True, generator: torch.Generator | None = None,
        loss_fn: Callable = cross_entropy_loss, clip: tuple[float, float] | None = None) -> torch.Tensor:
    """Projected gradient ascent on the per-example loss over the eps-ball (Madry et al. 2018).

    Returns the iterate with the largest loss seen for each example, so the result is never
    weaker than the start point. ``step_size`` defaults to 2.5 eps / steps; a random start
    (uniform in the ball) needs ``generator``. The numerical inner maximisation of Z3 and Z6.
    """
    _check(norm, eps)
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    step_size = 2.5 * eps / steps if step_size is None else check_positive("step_size", step_size)
    x = x.detach()
    if random_start:
        if generator is None:
            raise ValueError("generator: a random start needs a torch.Generator")
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        if norm == "linf":
            delta = eps * (2 * u - 1)
        else:
            g = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            r = torch.rand(x.shape[0], generator=generator, dtype=x.dtype).to(x.device)
            r = r ** (1.0 / x[0].numel())
            delta = g / _flat_norm(g) * eps * r.view(-1, *([1] * (x.dim() - 1)))
    else:
        delta = torch.zeros_like(x)
    best_x = _clip(x + delta, clip)
    best_loss = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)
    for _ in range(int(steps) + 1):
        xa = _clip(x + delta, clip)
        loss, grad = loss_and_input_grad(model, xa, y, loss_fn)
        better = loss > best_loss
        best_loss = torch.where(better, loss, best_loss)
        best_x = torch.where(better.view(-1, *([1] * (x.dim() - 1))), xa, best_x)
        delta = project(xa - x + _step(grad, step_size, norm), eps, norm)
    return best_x.detach()


@torch.no_grad()
def robust_accuracy(model, x, y, x_adv) -> float:
    """Accuracy of ``model`` on the attacked inputs (labels (B,) integers)."""
    return float((model(x_adv).argmax(-1) == y).float().mean())


# ---------------------------------------------------------------------------
# Zhang et al. 2021, Lemma 3.2, eq. (6), Theorems 3.1 and 3.3
# ---------------------------------------------------------------------------
def score_and_input_grad(model, x):
    """f(x) (B,) and grad_x f(x) flattened to (B, d) for a binary model."""
    x = x.detach().requires_grad_(True)
    f = binary_score(model(x))
    (grad,) = torch.autograd.grad(f.sum(), x)
    return f.detach(), grad.flatten(1)


def second_order_adv_loss(f: torch.Tensor, grad_norm: torch.Tensor, y: torch.Tensor, eta) -> torch.Tensor:
    """Zhang et al. (2021) eq. (5) / eq. (6), per example:

    l_adv(eta) = l(f, y) + eta |g(f) - y| ||grad f|| + eta^2 / 2 g(f)(1 - g(f)) ||grad f||^2,

    the maximum over ||delta||_2 <= eta of the second-order Taylor expansion of the logistic
    loss l = log(1 + e^f) - y f in delta, when f is linear in x near x (grad^2 f = 0).
    ``eta`` is a number or a tensor (B,) (radius eps_i sqrt(d) per example).
    """
    g = torch.sigmoid(f)
    eta = torch.as_tensor(eta, dtype=f.dtype, device=f.device)
    return (logistic_loss(f, y.to(f.dtype), reduction="none") + eta * (g - y).abs() * grad_norm
            + 0.5 * eta**2 * g * (1 - g) * grad_norm**2)


def second_order_adv_loss_model(model, x, y, eta) -> torch.Tensor:
    """``second_order_adv_loss`` of a binary model at (x, y): Lemma 3.2 (linear f), eq. (6) (ReLU nets)."""
    f, grad = score_and_input_grad(model, x)
    return second_order_adv_loss(f, grad.norm(dim=1), y, eta)


def in_theta(model, x, y) -> bool:
    """theta in Theta of Zhang et al. (2021): y_i f(x_i) + (y_i - 1) f(x_i) >= 0, i.e. (2 y_i - 1) f(x_i) >= 0 for all i."""
    with torch.no_grad():
        f = binary_score(model(x))
    return bool(((2 * y.to(f.dtype) - 1) * f >= 0).all())


def robust_radii(model, x, a: float, b: float | None = None) -> dict:
    """Theorem 3.1 (linear f, grad f = theta) and Theorem 3.3 (ReLU nets) quantities.

    R_i = |cos(grad f(x_i), x_i)|, R = min_i R_i, c_x = min_i ||x_i|| / sqrt(d) (the largest
    constant with ||x_i|| >= c_x sqrt(d)), m1 = E_{lam ~ D~}[1 - lam] for D~ the label-weight
    law of Beta(a, b), eps_i = R_i c_x m1 and eps_mix = R c_x m1. Tensors are (n,).
    """
    _, grad = score_and_input_grad(model, x)
    xf = x.detach().flatten(1).to(grad.dtype)
    d = xf.shape[1]
    r_i = F.cosine_similarity(grad, xf, dim=1, eps=1e-30).abs()
    c_x = float(xf.norm(dim=1).min()) / math.sqrt(d)
    m1 = 1.0 - LabelWeight(a, b).mean()
    return {"R_i": r_i, "R": float(r_i.min()), "c_x": c_x, "m1": m1, "d": d,
            "eps_i": r_i * c_x * m1, "eps_mix": float(r_i.min()) * c_x * m1}

