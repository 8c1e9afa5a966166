"""ImageNet-size architectures taken from torchvision and timm, not rewritten (chapter ``scale``).

Used by the paper-scale configurations of MixupE's Tables 1-3 (Zou et al. 2023:
ResNet-50, ViT-B/16, CoAtNet-0 on ImageNet) and Tiny-ImageNet runs. Weights start
random (``weights=None``): nothing is downloaded. CoAtNet-0 needs the optional
``timm`` package; building it without timm raises an error that says so.
"""
from __future__ import annotations

from . import register


def _torchvision(name: str, num_classes: int, input_shape, **kwargs):
    import torchvision

    if input_shape[0] != 3:
        raise ValueError(f"input_shape: {name} takes 3-channel images, got {input_shape}")
    kw = dict(kwargs)
    if name == "vit_b_16":
        kw.setdefault("image_size", input_shape[-1])
    return getattr(torchvision.models, name)(weights=None, num_classes=num_classes, **kw)


@register("resnet50")
def resnet50(num_classes, input_shape, **kwargs):
    """torchvision's ResNet-50 (He et al. 2016)."""
    return _torchvision("resnet50", num_classes, input_shape, **kwargs)


@register("vit_b_16")
def vit_b_16(num_classes, input_shape, **kwargs):
    """torchvision's ViT-B/16 (Dosovitskiy et al. 2021); image size from ``input_shape`` (a multiple of 16)."""
    if input_shape[-1] % 16:
        raise ValueError(f"input_shape: vit_b_16 needs a side divisible by 16, got {input_shape}")
    return _torchvision("vit_b_16", num_classes, input_shape, **kwargs)


@register("coatnet_0")
def coatnet_0(num_classes, input_shape, **kwargs):
    """timm's CoAtNet-0 (Dai et al. 2021); needs ``pip install timm``."""
    try:
        import timm
    except ImportError as e:
        raise ImportError("model 'coatnet_0' comes from timm, which is not installed: pip install timm") from e
    return timm.create_model("coatnet_0_rw_224", pretrained=False, num_classes=num_classes,
                             img_size=input_shape[-1], **kwargs)
