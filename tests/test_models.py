"""Every registered model builds and maps a batch to logits (parametrized over the registry)."""
import pytest
import torch

from mixupbook.models import MODELS, build_model

SHAPES = {"mlp": (5,), "linear": (5,), "small_cnn": (3, 16, 16)}
SKIP_SLOW = {"preact_resnet101", "preact_resnet50", "preact_resnet34"}


def shape_for(name):
    return SHAPES.get(name, (3, 32, 32))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_maps_batch_to_logits(name):
    kwargs = {"width": 0.125} if ("resnet" in name or "wrn" in name) else {}
    try:
        model = build_model(name, num_classes=7, input_shape=shape_for(name), **kwargs)
    except TypeError:
        model = build_model(name, num_classes=7, input_shape=shape_for(name))
    except ImportError as e:  # optional dependency (e.g. timm); the error must say how to get it
        assert "pip install" in str(e)
        pytest.skip(str(e))
    if name in SKIP_SLOW or sum(p.numel() for p in model.parameters()) > 30e6:
        return
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape_for(name)))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_preact_resnet18_full_width_has_paper_size():
    model = build_model("preact_resnet18", 10, (3, 32, 32))
    n = sum(p.numel() for p in model.parameters())
    assert 11.0e6 < n < 11.3e6  # PreAct ResNet-18 on CIFAR-10: about 11.2M parameters


def test_width_multiplier_shrinks_model():
    small = build_model("preact_resnet18", 10, (3, 32, 32), width=0.25)
    assert sum(p.numel() for p in small.parameters()) < 1e6


def test_small_cnn_takes_1d_signals():
    model = build_model("small_cnn", 10, (1, 40))
    assert model(torch.randn(3, 1, 40)).shape == (3, 10)


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ValueError, match="valid models"):
        build_model("resnet9000", 10, (3, 32, 32))
