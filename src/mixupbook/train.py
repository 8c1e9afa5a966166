"""``fit``: one training loop for every objective in ``methods.OBJECTIVES``.

The training set is held as one tensor on the device; each epoch draws its
permutation (and the objective its lambdas and pairings) from one seeded
``torch.Generator``, and images are normalised and (optionally) randomly cropped and
flipped on the device, batch by batch. A checkpoint written atomically after every
epoch holds model, optimizer, scheduler, generator and history, so a killed run
resumed from it ends with bitwise-identical weights on CPU (``tests/test_train.py``).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .data import Data
from .losses import soft_cross_entropy
from .mixing import as_soft

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine", "step")
AUGMENTS = ("flip_crop", "none")


@dataclass
class TrainConfig:
    epochs: int = 10             # passes over the training set
    batch_size: int = 128        # 0 means full batch
    optimizer: str = "sgd"       # "sgd" or "adam"
    lr: float = 0.1              # initial learning rate
    momentum: float = 0.9        # SGD momentum (ignored by Adam)
    weight_decay: float = 0.0    # L2 penalty folded into the optimizer
    nesterov: bool = False
    schedule: str = "constant"   # "constant", "cosine" (to 0 over epochs) or "step"
    milestones: list = field(default_factory=list)  # epochs where "step" multiplies lr by gamma
    gamma: float = 0.1
    augment: str = "none"        # "flip_crop": random 4-pixel-padded crop + horizontal flip, on device
    eval_every: int = 1          # evaluate clean train/test loss every k epochs (and at the end)
    eval_batch_size: int = 1024

    def validate(self) -> "TrainConfig":
        for name, value, valid in [("optimizer", self.optimizer, OPTIMIZERS),
                                   ("schedule", self.schedule, SCHEDULES),
                                   ("augment", self.augment, AUGMENTS)]:
            if value not in valid:
                raise ValueError(f"{name}: unknown {value!r}; valid: {list(valid)}")
        for name in ("epochs", "eval_every", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.batch_size < 0:
            raise ValueError(f"batch_size must be >= 0 (0 = full batch), got {self.batch_size!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        return self


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for but CUDA is not available; valid here: ['auto', 'cpu']")
    return torch.device(device)


def make_optimizer(model, cfg: TrainConfig):
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt, cfg: TrainConfig):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)


def flip_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` and random horizontal flip; x (B, C, H, W) on any device."""
    b, _, h, w = x.shape
    shifts = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(x.device)
    flips = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = shifts[0][:, None] + torch.arange(h, device=x.device)          # (B, H)
    cols = shifts[1][:, None] + torch.arange(w, device=x.device)          # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    out = xp[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)                                        # (B, H, W, C) -> (B, C, H, W)


@torch.no_grad()
def evaluate(model, data: Data, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> dict:
    """Clean mean cross-entropy and accuracy of ``model`` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        xb = data.normalize(x[start:start + batch_size].to(device))
        yb = y[start:start + batch_size].to(device)
        logits = model(xb)
        total_loss += float(soft_cross_entropy(logits, as_soft(yb, data.num_classes), "sum"))
        correct += int((logits.argmax(-1) == (yb if yb.dim() == 1 else yb.argmax(-1))).sum())
    model.train(was_training)
    return {"loss": total_loss / len(y), "acc": correct / len(y)}


def save_atomic(obj, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def fit(model, objective, data: Data, cfg: TrainConfig, *, device: str = "auto", seed: int = 0,
        checkpoint: str | os.PathLike | None = None, progress: bool = True,
        stop_after: int | None = None) -> list[dict]:
    """Train ``model`` with ``objective`` on ``data``; return the per-epoch history.

    ``checkpoint``: a file written after every epoch and resumed from when present.
    ``stop_after``: return once this many epochs are done (simulates a kill, for tests).
    """
    cfg.validate()
    dev = resolve_device(device)
    model.to(dev)
    opt, gen = make_optimizer(model, cfg), torch.Generator().manual_seed(seed)
    sched = make_scheduler(opt, cfg)
    history, start = [], 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=dev, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, start = state["history"], state["epoch"]

    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    n = len(y_train)
    bs = n if cfg.batch_size in (0, None) else min(cfg.batch_size, n)
    steps = math.ceil(n / bs)
    bar = range(start, cfg.epochs)
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(bar, initial=start, total=cfg.epochs, desc=f"{objective.name}", leave=False)
    for epoch in bar:
        if stop_after is not None and epoch >= stop_after:
            break
        t0, model_loss = time.perf_counter(), torch.zeros((), device=dev)
        model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        for s in range(steps):
            idx = perm[s * bs:(s + 1) * bs]
            xb = data.normalize(x_train[idx])
            if cfg.augment == "flip_crop":
                xb = flip_crop(xb, gen)
            loss = objective(model, xb, y_train[idx], gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model_loss += loss.detach()
        sched.step()
        row = {"epoch": epoch + 1, "objective": float(model_loss) / steps, "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            for split, (x, y) in {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}.items():
                for k, v in evaluate(model, data, x, y, cfg.eval_batch_size).items():
                    row[f"{split}_{k}"] = v
        history.append(row)
        if checkpoint is not None:
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "generator": gen.get_state(),
                         "torch_rng": torch.get_rng_state(), "history": history, "epoch": epoch + 1,
                         "config": asdict(cfg)}, checkpoint)
    return history
