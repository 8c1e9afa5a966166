"""Models behind one registry: ``build_model(name, num_classes, input_shape, **kwargs)``.

Ours (small, tested): ``mlp``, ``small_cnn``, ``preact_resnet18`` (CIFAR-style, with a
width multiplier so a CPU-sized version exists). A new file in this package
registers more (every module here is imported); ``tests/test_models.py`` is parametrized over ``MODELS``.
"""
from __future__ import annotations

import inspect

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
    params = inspect.signature(MODELS[name]).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        valid = sorted(set(params) - {"num_classes", "input_shape"})
        raise ValueError(f"model_kwargs: {name!r} takes no {unknown}; valid: {valid}")
    return MODELS[name](num_classes=num_classes, input_shape=tuple(input_shape), **kwargs)


def _import_all() -> None:
    """Import every module of this package so its ``@register`` calls fill ``MODELS``."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_import_all()
