"""Fully connected ReLU networks (used by every book-scale tabular and synthetic notebook)."""
from __future__ import annotations

import math

import torch.nn as nn

from . import register


class MLP(nn.Module):
    """x (B, *input_shape) -> flatten -> [Linear -> act] * len(hidden) -> Linear -> logits (B, C)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], num_classes: int, activation: str = "relu",
                 bias: bool = True):
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "softplus": nn.Softplus}
        if activation not in acts:
            raise ValueError(f"activation: unknown {activation!r}; valid: {sorted(acts)}")
        layers, prev = [nn.Flatten()], in_dim
        for width in hidden:
            layers += [nn.Linear(prev, width, bias=bias), acts[activation]()]
            prev = width
        layers.append(nn.Linear(prev, num_classes, bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@register("mlp")
def mlp(num_classes, input_shape, hidden=(128, 128), activation="relu", bias=True):
    return MLP(math.prod(input_shape), tuple(hidden), num_classes, activation, bias)


@register("linear")
def linear(num_classes, input_shape, bias=True):
    return MLP(math.prod(input_shape), (), num_classes, bias=bias)
