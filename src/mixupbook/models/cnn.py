"""A small CNN for CPU book-scale image and 1-D signal stand-ins."""
from __future__ import annotations

import torch.nn as nn

from . import register


@register("small_cnn")
def small_cnn(num_classes, input_shape, width=32):
    """Two conv blocks then a linear head; 1-D convs for (C, L) inputs, 2-D for (C, H, W)."""
    if len(input_shape) not in (2, 3):
        raise ValueError(f"input_shape: small_cnn takes (C, L) or (C, H, W), got {input_shape}")
    conv, pool, bn = ((nn.Conv1d, nn.AdaptiveAvgPool1d, nn.BatchNorm1d) if len(input_shape) == 2
                      else (nn.Conv2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d))
    c = input_shape[0]
    return nn.Sequential(
        conv(c, width, 3, padding=1), bn(width), nn.ReLU(),
        conv(width, 2 * width, 3, padding=1, stride=2), bn(2 * width), nn.ReLU(),
        conv(2 * width, 2 * width, 3, padding=1, stride=2), bn(2 * width), nn.ReLU(),
        pool(1), nn.Flatten(), nn.Linear(2 * width, num_classes),
    )
