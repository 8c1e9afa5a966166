"""Losses in the forms the source papers use.

* ``soft_cross_entropy``: -sum_c y_c log softmax(logits)_c; linear in the label y,
  which is why mixing labels equals mixing losses (``foundations``, F1).
* The class of Zhang et al. (2021), eq. (2): l(f, y) = h(f) - y f for a scalar
  score f. ``GLM_H`` holds h for the logistic (h = log(1 + e^f), y in {0, 1}) and
  squared (h = f^2 / 2, the y^2 / 2 constant dropped) losses; ``h_loss`` evaluates
  h(f) - y f for any of them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, y_soft: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy against soft labels (B, C); ``reduction`` in {"mean", "sum", "none"}."""
    if logits.shape != y_soft.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and y_soft {tuple(y_soft.shape)} must have one shape")
    per = -(y_soft * F.log_softmax(logits, dim=-1)).sum(-1)
    return reduce(per, reduction)


def reduce(per: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per.mean()
    if reduction == "sum":
        return per.sum()
    if reduction == "none":
        return per
    raise ValueError(f"reduction: unknown {reduction!r}; valid: ['mean', 'none', 'sum']")


GLM_H = {
    "logistic": F.softplus,
    "squared": lambda f: 0.5 * f**2,
    "poisson": torch.exp,
}


def h_loss(f: torch.Tensor, y: torch.Tensor, h: str = "logistic", reduction: str = "mean") -> torch.Tensor:
    """l(f, y) = h(f) - y f (Zhang et al. 2021, eq. 2); y may be soft (a mixed label)."""
    if h not in GLM_H:
        raise ValueError(f"h: unknown {h!r}; valid: {sorted(GLM_H)}")
    return reduce(GLM_H[h](f) - y * f, reduction)


def logistic_loss(f: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary logistic loss log(1 + e^f) - y f for y in [0, 1]."""
    return h_loss(f, y, "logistic", reduction)


def squared_loss(f: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared loss (f - y)^2 / 2 up to the constant y^2 / 2, in the form f^2 / 2 - y f."""
    return h_loss(f, y, "squared", reduction)
