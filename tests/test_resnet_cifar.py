"""The CIFAR-style ResNet-18 of Kimura (2021) K5 (chapter kimura2021)."""
import pytest
import torch

from mixupbook.models import build_model


def test_full_width_has_the_standard_size():
    n = sum(p.numel() for p in build_model("resnet18_cifar", 10, (3, 32, 32)).parameters())
    assert n == 11_173_962  # the usual CIFAR ResNet-18 (kuangliu/pytorch-cifar) for 10 classes


def test_post_activation_output_of_a_block_is_nonnegative():
    model = build_model("resnet18_cifar", 10, (3, 32, 32), width=0.125).eval()
    with torch.no_grad():
        feats = model.layers(torch.relu(model.bn1(model.conv1(torch.randn(2, 3, 32, 32)))))
    assert float(feats.min()) >= 0.0  # ReLU after the residual sum (not pre-activation)


def test_rejects_flat_input():
    with pytest.raises(ValueError, match="input_shape"):
        build_model("resnet18_cifar", 10, (64,))
