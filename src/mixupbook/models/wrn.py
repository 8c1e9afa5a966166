"""Wide residual networks for 32x32 inputs (Zagoruyko and Komodakis 2016).

WRN-depth-k: a 3x3 stem of 16 channels, then three groups of (depth - 4) / 6 pre-activation
basic blocks with 16k, 32k, 64k channels (strides 1, 2, 2), BN-ReLU, global average pool
and a linear head. ``wrn16_8`` is the network of Zhang et al. (2021) Fig. 1a (SVHN, item Z10;
about 11.0M parameters), ``wrn28_10`` the usual CIFAR one (about 36.5M). ``width``
multiplies every channel count (1.0 = the paper's), so a CPU-sized network with the same
topology exists for book scale.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from . import register


class WideBlock(nn.Module):
    """BN-ReLU-conv3x3-(dropout)-BN-ReLU-conv3x3 plus an identity or 1x1 shortcut."""

    def __init__(self, cin, cout, stride, dropout=0.0):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = float(dropout)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, self.training)
        return self.conv2(out) + skip


class WideResNet(nn.Module):
    def __init__(self, depth, widen, num_classes, in_channels=3, width=1.0, dropout=0.0):
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"depth: a WideResNet needs depth = 6 n + 4 >= 10, got {depth!r}")
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        n = (depth - 4) // 6
        stem, *widths = [max(1, int(round(c * width))) for c in (16, 16 * widen, 32 * widen, 64 * widen)]
        self.conv1 = nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False)
        layers, cin = [], stem
        for i, cout in enumerate(widths):
            for s in [1 if i == 0 else 2] + [1] * (n - 1):
                layers.append(WideBlock(cin, cout, s, dropout))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):  # x: (B, C, H, W)
        out = self.layers(self.conv1(x))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


@register("wrn")
def wrn(num_classes, input_shape, depth=16, widen=8, width=1.0, dropout=0.0):
    """WRN-depth-widen for any depth = 6 n + 4."""
    return WideResNet(depth, widen, num_classes, input_shape[0], width, dropout)


@register("wrn16_8")
def wrn16_8(num_classes, input_shape, width=1.0, dropout=0.0):
    return WideResNet(16, 8, num_classes, input_shape[0], width, dropout)


@register("wrn28_10")
def wrn28_10(num_classes, input_shape, width=1.0, dropout=0.0):
    return WideResNet(28, 10, num_classes, input_shape[0], width, dropout)
