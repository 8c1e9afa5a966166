"""Pre-activation ResNets for 32x32 inputs (He et al. 2016), as in the mixup papers' code.

``width`` multiplies every channel count (1.0 = the paper's 64-128-256-512), so a
CPU-sized network with the same topology exists for book scale.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from . import register


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-(dropout)-BN-ReLU-conv3x3 plus an identity or 1x1 shortcut (also WRN's block)."""

    expansion = 1

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
        out = F.relu(self.bn2(self.conv1(out)))
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, self.training)
        return self.conv2(out) + skip


class PreActBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        cout = planes * self.expansion
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, planes, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(planes), nn.Conv2d(planes, cout, 1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + skip


class PreActResNet(nn.Module):
    """A 3x3 stem, stages of pre-activation blocks (strides 1, 2, 2, ...), BN-ReLU, pool, linear head.

    ``channels`` are the stages' widths and ``stem`` the stem's (default: the first stage's),
    all multiplied by ``width``; ``block_kwargs`` go to every block (e.g. WRN's dropout).
    """

    def __init__(self, block, num_blocks, num_classes, in_channels=3, width=1.0,
                 channels=(64, 128, 256, 512), stem=None, block_kwargs=None):
        super().__init__()
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        stem, *widths = [max(1, int(round(c * width))) for c in (stem or channels[0], *channels)]
        self.conv1 = nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False)
        layers, cin = [], stem
        for i, (planes, n) in enumerate(zip(widths, num_blocks)):
            for s in [1 if i == 0 else 2] + [1] * (n - 1):
                layers.append(block(cin, planes, s, **(block_kwargs or {})))
                cin = planes * block.expansion
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, num_classes)

    def features(self, x):  # x: (B, C, H, W) -> (B, channels): the last hidden layer
        out = self.layers(self.conv1(x))
        return F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)

    def head(self, h):      # where manifold mixup mixes (mixing.split_model)
        return self.linear(h)

    def forward(self, x):
        return self.head(self.features(x))


def _builder(block, num_blocks):
    def build(num_classes, input_shape, width=1.0):
        return PreActResNet(block, num_blocks, num_classes, input_shape[0], width)
    return build


for _name, _block, _blocks in [("preact_resnet18", PreActBlock, (2, 2, 2, 2)),
                               ("preact_resnet34", PreActBlock, (3, 4, 6, 3)),
                               ("preact_resnet50", PreActBottleneck, (3, 4, 6, 3)),
                               ("preact_resnet101", PreActBottleneck, (3, 4, 23, 3))]:
    register(_name)(_builder(_block, _blocks))
