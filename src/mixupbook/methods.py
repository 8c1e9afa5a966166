"""Training objectives behind one registry.

An objective turns (model, x, y, generator) into a scalar loss. A new mixup variant
is one small class plus ``@register("name")``; ``tests/test_methods.py`` is
parametrized over ``OBJECTIVES``, so a registered variant is tested at once. Chapter
``extending`` walks through adding one.

* ``erm``: soft cross-entropy on the clean batch.
* ``mixup``: Zhang et al. (2018) eq. (1) with lam ~ Beta(alpha, alpha) or any
  ``LambdaLaw``; one lam per batch (the original recipe) or one per example.
"""
from __future__ import annotations

import torch

from .lam import Beta, LambdaLaw, check_positive
from .losses import soft_cross_entropy
from .mixing import as_soft, mix, sample_pairing

OBJECTIVES: dict[str, type] = {}


def register(name: str):
    """Class decorator: make an objective available as ``build_objective(name, ...)``."""
    def deco(cls):
        if name in OBJECTIVES and OBJECTIVES[name] is not cls:
            raise ValueError(f"objective {name!r} is already registered")
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return deco


def list_objectives() -> list[str]:
    return sorted(OBJECTIVES)


def build_objective(name: str, num_classes: int, **kwargs) -> "Objective":
    """Build a registered objective; an unknown name lists the valid ones."""
    if name not in OBJECTIVES:
        raise ValueError(f"method: unknown {name!r}; valid methods: {list_objectives()}")
    return OBJECTIVES[name](num_classes=num_classes, **kwargs)


class Objective:
    """Base class: ``loss(model, x, y, generator)`` -> scalar tensor."""

    name = "objective"

    def __init__(self, num_classes: int):
        self.num_classes = int(num_classes)

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, model, x, y, generator):
        return self.loss(model, x, y, generator)


@register("erm")
class ERM(Objective):
    """Empirical risk: soft cross-entropy on the clean batch."""

    def loss(self, model, x, y, generator):
        return soft_cross_entropy(model(x), as_soft(y, self.num_classes))


@register("mixup")
class Mixup(Objective):
    """Mixup: CE(f(lam x + (1-lam) x'), lam y + (1-lam) y') with lam ~ ``law`` (default Beta(alpha, alpha))."""

    def __init__(self, num_classes: int, alpha: float = 1.0, law: LambdaLaw | None = None,
                 per_example: bool = False):
        super().__init__(num_classes)
        self.law = law if law is not None else Beta(check_positive("alpha", alpha))
        self.per_example = bool(per_example)

    def loss(self, model, x, y, generator):
        lam, perm = sample_pairing(x.shape[0], self.law, generator, self.per_example)
        x_mix, y_mix = mix(x, as_soft(y, self.num_classes), lam.to(x.device), perm.to(x.device))
        return soft_cross_entropy(model(x_mix), y_mix)
