"""Mixing a batch: the one operation every mixup variant shares.

``mix(x, y, lam, perm)`` returns (lam x + (1 - lam) x[perm], lam y + (1 - lam) y[perm])
for soft labels ``y``; it is pure (no in-place writes, no randomness). The randomness
(the pairing ``perm`` and the weights ``lam``) is drawn by the caller with an explicit
generator (``sample_pairing``). Zhang et al. (2018) eq. (1); book chapter ``foundations``, F1.
"""
from __future__ import annotations

import torch

from .lam import LambdaLaw


def one_hot(y: torch.Tensor, num_classes: int, dtype=torch.float32) -> torch.Tensor:
    """Integer labels (B,) -> one-hot rows (B, num_classes)."""
    if y.dtype.is_floating_point:
        raise ValueError("y: one_hot takes integer class labels")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"y: labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]")
    return torch.nn.functional.one_hot(y.long(), num_classes).to(dtype)


def as_soft(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Soft labels (B, C) from integer labels (B,) or soft labels (B, C)."""
    return y.float() if y.dim() == 2 else one_hot(y, num_classes)


def _broadcast(lam, like: torch.Tensor) -> torch.Tensor:
    lam = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    if lam.dim() == 0:
        return lam
    if lam.shape != like.shape[:1]:
        raise ValueError(f"lam: per-example weights need shape ({like.shape[0]},), got {tuple(lam.shape)}")
    return lam.view(-1, *([1] * (like.dim() - 1)))


def mix(x: torch.Tensor, y: torch.Tensor, lam, perm: torch.Tensor):
    """Mix inputs x (B, ...) and soft labels y (B, C) with partners ``perm`` (B,).

    ``lam`` is a scalar (one weight for the batch) or a tensor (B,) (one per example).
    lam = 1 returns (x, y); each mixed label row keeps the row sum of y.
    """
    lx, ly = _broadcast(lam, x), _broadcast(lam, y)
    return lx * x + (1 - lx) * x[perm], ly * y + (1 - ly) * y[perm]


def mix_inputs(x: torch.Tensor, lam, perm: torch.Tensor) -> torch.Tensor:
    """Only the input half of ``mix``: for hidden features (manifold mixup) or unlabeled data."""
    lx = _broadcast(lam, x)
    return lx * x + (1 - lx) * x[perm]


def sample_pairing(n: int, law: LambdaLaw, generator: torch.Generator, per_example: bool = False):
    """Draw (lam, perm) for a batch of n: a random permutation and one lam (or n lams)."""
    perm = torch.randperm(n, generator=generator)
    lam = law.sample(n if per_example else 1, generator)
    return (lam if per_example else lam[0]), perm


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor (lam, perm) on ``device``: on CUDA through pinned memory with
    ``non_blocking``, so the host goes on queueing work instead of waiting for the GPU."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def all_pairs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors (i, j) over all n^2 ordered pairs: the exact mixup loss sums over them (F2)."""
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return i.reshape(-1), j.reshape(-1)


def split_model(model, layer: int = -1):
    """(features, head) with model(x) == head(features(x)): where manifold mixup mixes.

    Protocol (book chapter ``zhang2021``, Lemma 3.4; Verma et al. 2019): a model with
    attributes ``features`` and ``head`` is split there; a model whose layers are an
    ``nn.Sequential`` called ``net`` (our ``mlp`` and ``linear``) is split before module
    ``layer`` of ``net`` (default -1: before the last Linear, i.e. the last hidden layer).
    Any other model raises ValueError.
    """
    if hasattr(model, "features") and hasattr(model, "head"):
        return model.features, model.head
    net = getattr(model, "net", None)
    if isinstance(net, torch.nn.Sequential):
        k = layer if layer >= 0 else len(net) + layer
        if not 0 < k < len(net):
            raise ValueError(f"layer: split index must lie in [1, {len(net) - 1}] (or -1 .. -{len(net) - 1}), "
                             f"got {layer}")
        return net[:k], net[k:]
    raise ValueError(f"model: manifold mixing needs a model with `features` and `head` attributes or an "
                     f"nn.Sequential `net`; {type(model).__name__} has neither")


# ---------------------------------------------------------------- CutMix and label smoothing
def sample_box(lam: float, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """A CutMix box (x1, y1, x2, y2) for an image of ``height`` x ``width``: a centre drawn
    uniformly (x, then y, from ``generator``), half-sides int(r W) and int(r H) with
    r = sqrt(1 - lam) / 2, clipped to the image. The same draw as torchvision's
    ``transforms.v2.CutMix`` (Yun et al. 2019, Alg. A1), which draws from the global RNG.
    """
    r_x = torch.randint(width, (1,), generator=generator)
    r_y = torch.randint(height, (1,), generator=generator)
    r = 0.5 * (1.0 - float(lam)) ** 0.5
    w_half, h_half = int(r * width), int(r * height)
    return (int(torch.clamp(r_x - w_half, min=0)), int(torch.clamp(r_y - h_half, min=0)),
            int(torch.clamp(r_x + w_half, max=width)), int(torch.clamp(r_y + h_half, max=height)))


def box_lam(box: tuple[int, int, int, int], height: int, width: int) -> float:
    """The share of the image outside ``box``: the label weight CutMix gives the first image."""
    x1, y1, x2, y2 = box
    return 1.0 - (x2 - x1) * (y2 - y1) / (width * height)


def cutmix(x: torch.Tensor, y: torch.Tensor, box: tuple[int, int, int, int], perm: torch.Tensor):
    """CutMix (Yun et al. 2019): images x (B, C, H, W) with the ``box`` region of each partner
    x[perm] pasted in, and soft labels y (B, C) mixed with lam = ``box_lam`` (the kept area).

    Pure: ``x`` is not written. An empty box returns (x, y).
    """
    if x.dim() != 4:
        raise ValueError(f"x: cutmix needs a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    x1, y1, x2, y2 = box
    out = x.clone()
    out[..., y1:y2, x1:x2] = x[..., y1:y2, x1:x2][perm]
    lam = box_lam(box, x.shape[-2], x.shape[-1])
    return out, lam * y + (1 - lam) * y[perm]


def smooth_labels(y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label smoothing (Szegedy et al. 2016): (1 - smoothing) y + smoothing / C for soft labels y (B, C)."""
    return (1 - smoothing) * y + smoothing / y.shape[-1]
