"""Wide residual networks for 32x32 inputs (Zagoruyko and Komodakis 2016).

WRN-depth-k: a 3x3 stem of 16 channels, then three groups of (depth - 4) / 6 pre-activation
basic blocks with 16k, 32k, 64k channels (strides 1, 2, 2), BN-ReLU, global average pool
and a linear head. ``wrn16_8`` is the network of Zhang et al. (2021) Fig. 1a (SVHN, item Z10;
about 11.0M parameters), ``wrn28_10`` the usual CIFAR one (about 36.5M). ``width``
multiplies every channel count (1.0 = the paper's), so a CPU-sized network with the same
topology exists for book scale.
"""
from __future__ import annotations

from . import register
from .preact_resnet import PreActBlock, PreActResNet


class WideResNet(PreActResNet):
    """WRN-depth-widen: PreActResNet with a 16-channel stem and three stages of (depth - 4) / 6 blocks."""

    def __init__(self, depth, widen, num_classes, in_channels=3, width=1.0, dropout=0.0):
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"depth: a WideResNet needs depth = 6 n + 4 >= 10, got {depth!r}")
        n = (depth - 4) // 6
        super().__init__(PreActBlock, (n, n, n), num_classes, in_channels, width,
                         channels=(16 * widen, 32 * widen, 64 * widen), stem=16, block_kwargs={"dropout": dropout})


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
