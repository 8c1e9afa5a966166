"""The CIFAR-style ResNet-18 (He et al. 2016, post-activation basic blocks, 3x3 stem, no max-pool).

The "ResNet-18" of Kimura (2021), section 6 and Table 1 (chapter ``kimura2021``, item K5), as in
the widely used kuangliu/pytorch-cifar code. ``width`` multiplies every channel count
(1.0 = 64-128-256-512), so a CPU-sized network with the same topology exists for book scale.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from . import register


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))  # activation after the sum: post-activation


class ResNetCifar(nn.Module):
    def __init__(self, num_blocks, num_classes, in_channels=3, width=1.0):
        super().__init__()
        widths = [max(1, int(round(c * width))) for c in (64, 128, 256, 512)]
        self.conv1, self.bn1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0])
        layers, cin = [], widths[0]
        for i, (cout, n) in enumerate(zip(widths, num_blocks)):
            for s in [1 if i == 0 else 2] + [1] * (n - 1):
                layers.append(BasicBlock(cin, cout, s))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, num_classes)

    def features(self, x):  # x: (B, C, H, W) -> (B, channels): the last hidden layer
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def head(self, h):      # where manifold mixup mixes (mixing.split_model)
        return self.linear(h)

    def forward(self, x):
        return self.head(self.features(x))


@register("resnet18_cifar")
def resnet18_cifar(num_classes, input_shape, width=1.0):
    if len(input_shape) != 3:
        raise ValueError(f"input_shape: resnet18_cifar takes (C, H, W), got {input_shape}")
    return ResNetCifar((2, 2, 2, 2), num_classes, input_shape[0], width)
