"""The batch sources and speed settings behind ``train.fit`` (chapter ``scale``).

Two engines feed ``fit`` the same batches in distribution:

* ``"device"`` (default): the whole training set sits on the device as uint8;
  each epoch's permutation comes from the run's ``torch.Generator``; images are
  normalised and randomly cropped and flipped on the device, batch by batch. No
  host-device synchronisation inside a step (the loss is summed on the device and
  read once per epoch).
* ``"classic"``: a torch ``DataLoader`` whose workers normalise and augment each
  image on the CPU, for sets that do not fit on the device (ImageNet). Batches
  use the same permutation; each augmented image draws from its own seeded
  generator, so the classic engine is deterministic and resumable too.

On CUDA ``fit`` also turns on bf16 autocast, channels_last and cudnn.benchmark (the
first two also on CPU with ``fast_cpu=True``, for tests);
``compile`` wraps the model in ``torch.compile``; under ``torchrun`` the model is
wrapped in DistributedDataParallel and every rank takes its share of each global
batch (``distributed.py``). ``tests/test_engine.py`` checks that both engines
reach the same accuracy within noise.
"""
from __future__ import annotations

import contextlib

import torch

from .losses import soft_cross_entropy
from .mixing import as_soft

ENGINES = ("device", "classic")


def flip_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` and random horizontal flip; x (B, C, H, W) on any device."""
    b, _, h, w = x.shape
    shifts = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(x.device, non_blocking=True)
    flips = (torch.rand(b, generator=generator) < 0.5).to(x.device, non_blocking=True)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = shifts[0][:, None] + torch.arange(h, device=x.device)          # (B, H)
    cols = shifts[1][:, None] + torch.arange(w, device=x.device)          # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    out = xp[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)                                        # (B, H, W, C) -> (B, C, H, W)


def fast_path(dev: torch.device, cfg) -> bool:
    """True where the speed settings apply: on CUDA, and on CPU when ``cfg.fast_cpu`` asks for them
    (so tests run the code a GPU run takes, with the device the only difference)."""
    return dev.type == "cuda" or (dev.type == "cpu" and bool(getattr(cfg, "fast_cpu", False)))


def autocast(dev: torch.device, amp: bool, fast_cpu: bool = False):
    """bf16 autocast on CUDA when ``amp`` (and on CPU when also ``fast_cpu``); otherwise a no-op,
    so default CPU runs stay bit-identical."""
    if amp and dev.type == "cpu" and fast_cpu and not cpu_has_bf16():
        raise ValueError("fast_cpu: bf16 autocast on this CPU has no oneDNN bf16 kernels and can abort the "
                         "process in backward; valid here: fast_cpu=False or amp=False")
    if amp and (dev.type == "cuda" or (dev.type == "cpu" and fast_cpu)):
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_has_bf16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (an AVX2-only CPU has none)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def to_fast(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def prepare(model, dev: torch.device, cfg, image: bool):
    """Speed settings for ``model`` on ``dev``; returns the callable that the objective trains."""
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if fast_path(dev, cfg) and cfg.channels_last and image:
        model.to(memory_format=torch.channels_last)
    net = model
    from . import distributed
    if distributed.world_size() > 1:
        net = distributed.wrap(model, dev)
    return torch.compile(net) if cfg.compile else net


def is_folder(data) -> bool:
    """True for ImageFolder sets (their ``x_train`` is a Dataset of files, not a tensor)."""
    return not isinstance(data.x_train, torch.Tensor)


def chunks(perm: torch.Tensor, bs: int, rank: int = 0, world: int = 1) -> list[torch.Tensor]:
    """Global batches of ``bs`` indices in permutation order; under DDP each rank takes ``[rank::world]``.

    With several ranks a final batch smaller than the number of ranks is dropped (a rank
    with no examples would stall the gradient all-reduce).
    """
    out = [perm[s:s + bs] for s in range(0, len(perm), bs)]
    if world > 1:
        out = [c[rank::world] for c in out if len(c) >= world]
    return out


def device_batches(data, x_train, y_train, perm, bs, augment, gen, rank=0, world=1, channels_last=False):
    """The device engine: index, normalise and augment on the device, batch by batch."""
    for idx in chunks(perm, bs, rank, world):
        xb = data.normalize(x_train[idx])
        if augment == "flip_crop":
            xb = flip_crop(xb, gen)
        yield to_fast(xb, channels_last), y_train[idx]


class TensorImages(torch.utils.data.Dataset):
    """Per-example CPU transforms of an in-memory set; an item is (index, seed), seed < 0 = no augmentation."""

    def __init__(self, data, x, y, augment: str):
        self.data, self.x, self.y, self.augment = data, x, y, augment

    def __len__(self):
        return len(self.y)

    def __getitem__(self, item):
        i, s = item
        xb = self.data.normalize(self.x[i:i + 1])
        if self.augment == "flip_crop" and s >= 0:
            xb = flip_crop(xb, torch.Generator().manual_seed(s))
        return xb[0], self.y[i]


class FolderImages(torch.utils.data.Dataset):
    """An ImageFolder with the usual ImageNet transforms; an item is (index, seed), seed < 0 = evaluation."""

    def __init__(self, folder, mean, std, size: int, augment: str):
        from torchvision import transforms as T

        norm = [T.ToTensor(), T.Normalize(mean, std)]
        self.folder = folder
        self.train_tf = T.Compose(([T.RandomResizedCrop(size), T.RandomHorizontalFlip()]
                                   if augment == "flip_crop" else [T.Resize(size * 8 // 7), T.CenterCrop(size)]) + norm)
        self.eval_tf = T.Compose([T.Resize(size * 8 // 7), T.CenterCrop(size)] + norm)

    def __len__(self):
        return len(self.folder.samples)

    def __getitem__(self, item):
        i, s = item
        path, y = self.folder.samples[i]
        img = self.folder.loader(path)
        if s < 0:
            return self.eval_tf(img), y
        with torch.random.fork_rng(devices=[]):  # torchvision's transforms draw from the global RNG
            torch.manual_seed(s)
            return self.train_tf(img), y


def _dataset(data, split: str, augment: str):
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    if is_folder(data):
        return FolderImages(x, data.mean, data.std, int(data.meta.get("image_size", 224)), augment)
    return TensorImages(data, x, y, augment)


def classic_batches(data, split, index_chunks, augment, gen, dev, num_workers, channels_last=False):
    """The classic engine: a DataLoader over ``index_chunks``; workers transform each image on the CPU.

    With augmentation one base seed per epoch is drawn from ``gen``; the image at position
    j of the epoch uses seed base + j, so what a worker does never depends on scheduling.
    """
    base = int(torch.randint(0, 2 ** 62, (1,), generator=gen)) if augment != "none" else None
    sampler, j = [], 0
    for c in index_chunks:
        sampler.append([(int(i), -1 if base is None else base + j + k) for k, i in enumerate(c.tolist())])
        j += len(c)
    loader = torch.utils.data.DataLoader(_dataset(data, split, augment), batch_sampler=sampler,
                                         num_workers=num_workers, pin_memory=dev.type == "cuda")
    for xb, yb in loader:
        yield to_fast(xb.to(dev, non_blocking=True), channels_last), yb.to(dev, non_blocking=True)


@torch.no_grad()
def score(model, batches, num_classes: int) -> tuple[float, int, int]:
    """(summed clean cross-entropy, number correct, number of examples) over ``batches``."""
    total_loss, correct, n = 0.0, 0, 0
    for xb, yb in batches:
        logits = model(xb).float()
        total_loss += float(soft_cross_entropy(logits, as_soft(yb, num_classes), "sum"))
        correct += int((logits.argmax(-1) == (yb if yb.dim() == 1 else yb.argmax(-1))).sum())
        n += len(yb)
    return total_loss, correct, n
