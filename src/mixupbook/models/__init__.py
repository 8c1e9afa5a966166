"""Models behind one registry: ``build_model(name, num_classes, input_shape, **kwargs)``.

Ours (small, tested): ``mlp``, ``small_cnn``, ``preact_resnet18`` (CIFAR-style, with a
width multiplier so a CPU-sized version exists). Chapters register more in this
package; ``tests/test_models.py`` is parametrized over ``MODELS``.
"""
from __future__ import annotations

import torch.nn as nn

MODELS: dict[str, callable] = {}


def register(name: str):
    """Decorator for a builder ``fn(num_classes, input_shape, **kwargs) -> nn.Module``."""
    def deco(fn):
        MODELS[name] = fn
        return fn
    return deco


def list_models() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, num_classes: int, input_shape: tuple[int, ...], **kwargs) -> nn.Module:
    """Build a registered model; an unknown name lists the valid ones."""
    if name not in MODELS:
        raise ValueError(f"model: unknown {name!r}; valid models: {list_models()}")
    return MODELS[name](num_classes=num_classes, input_shape=tuple(input_shape), **kwargs)


from . import mlp, cnn, preact_resnet  # noqa: E402,F401  (fill the registry)
