"""``fit``: one training loop for every objective in ``methods.OBJECTIVES``.

The training set is held as one tensor on the device; each epoch draws its
permutation (and the objective its lambdas and pairings) from one seeded
``torch.Generator``, and images are normalised and (optionally) randomly cropped and
flipped on the device, batch by batch. A checkpoint written atomically after every
epoch holds model, optimizer, scheduler, generator and history, so a killed run
resumed from it ends with bitwise-identical weights on CPU (``tests/test_train.py``).

The batch sources and GPU speed settings (bf16 autocast, channels_last,
cudnn.benchmark, ``torch.compile``, the classic DataLoader path, DDP) live in
``engine.py`` and ``distributed.py``; on CPU with the default ``engine="device"``
they change nothing, unless ``fast_cpu=True`` turns on the same bf16 autocast and
channels_last on the CPU (``tests/test_fast_path.py`` trains every model that way).

The recipe options of Zou et al. (2023) section 4.1 (Table 3): ``optimizer="adamw"``
with ``betas``, a linear ``warmup_epochs`` (``LinearLR`` then the schedule, joined by
``SequentialLR``), a cosine that ends at ``final_lr_factor`` x lr, the schedule stepped
per epoch or per optimizer step (``schedule_unit``), and a Polyak / EMA average of
parameters and buffers (``ema_decay``, ``torch.optim.swa_utils.AveragedModel``), which is
what gets evaluated. All of it is in the checkpoint, so resuming stays exact.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import distributed, engine
from .data import Data
from .engine import ENGINES, flip_crop  # noqa: F401  (flip_crop: part of this module's API)
from .mixing import to_device

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step")
SCHEDULE_UNITS = ("epoch", "step")
AUGMENTS = ("flip_crop", "none")


@dataclass
class TrainConfig:
    epochs: int = 10             # passes over the training set
    batch_size: int = 128        # 0 means full batch
    optimizer: str = "sgd"       # "sgd", "adam" or "adamw" (decoupled weight decay)
    lr: float = 0.1              # initial learning rate
    momentum: float = 0.9        # SGD momentum (ignored by Adam)
    weight_decay: float = 0.0    # L2 penalty folded into the optimizer
    nesterov: bool = False
    schedule: str = "constant"   # "constant", "cosine" (to 0 over epochs) or "step"
    milestones: list = field(default_factory=list)  # epochs where "step" multiplies lr by gamma
    gamma: float = 0.1
    betas: list = field(default_factory=lambda: [0.9, 0.999])  # Adam / AdamW betas
    warmup_epochs: float = 0.0   # linear warm-up from warmup_start_factor x lr to lr, then the schedule
    warmup_start_factor: float = 0.01  # in (0, 1]; LinearLR cannot start at exactly 0
    final_lr_factor: float = 0.0  # "cosine" decays to this x lr (Table 3 of Zou et al.: 1e-3)
    schedule_unit: str = "epoch"  # "epoch": the schedule steps once an epoch; "step": once an optimizer step
    ema_decay: float = 0.0       # > 0: Polyak / EMA average of parameters and buffers, updated every step; evaluated
    augment: str = "none"        # "flip_crop": random 4-pixel-padded crop + horizontal flip, on device
    eval_every: int = 1          # evaluate clean train/test loss every k epochs (and at the end)
    eval_batch_size: int = 1024
    # How to run, not what to compute (left out of ExperimentConfig.key, like the device):
    engine: str = "device"       # "device": data held on the device; "classic": DataLoader + CPU transforms
    amp: bool = True             # bf16 autocast on CUDA (no effect on CPU)
    channels_last: bool = True   # NHWC memory format for image models on CUDA (no effect on CPU)
    compile: bool = False        # wrap the model in torch.compile
    fast_cpu: bool = False       # on CPU too: bf16 autocast (if amp) and channels_last (if set), as on CUDA
    num_workers: int = 4         # DataLoader worker processes (classic engine)

    def validate(self) -> "TrainConfig":
        for name, value, valid in [("optimizer", self.optimizer, OPTIMIZERS),
                                   ("schedule", self.schedule, SCHEDULES),
                                   ("augment", self.augment, AUGMENTS),
                                   ("engine", self.engine, ENGINES),
                                   ("schedule_unit", self.schedule_unit, SCHEDULE_UNITS)]:
            if value not in valid:
                raise ValueError(f"{name}: unknown {value!r}; valid: {list(valid)}")
        for name in ("epochs", "eval_every", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.batch_size < 0:
            raise ValueError(f"batch_size must be >= 0 (0 = full batch), got {self.batch_size!r}")
        if int(self.num_workers) < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.betas, (list, tuple)) and len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must lie in [0, epochs={self.epochs}), got {self.warmup_epochs!r}")
        if not 0 < self.warmup_start_factor <= 1:
            raise ValueError(f"warmup_start_factor must lie in (0, 1], got {self.warmup_start_factor!r}")
        if not 0 <= self.final_lr_factor <= 1:
            raise ValueError(f"final_lr_factor must lie in [0, 1], got {self.final_lr_factor!r}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in [0, 1) (0 = no averaging), got {self.ema_decay!r}")
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
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def make_scheduler(opt, cfg: TrainConfig, steps_per_epoch: int = 1):
    """The learning-rate schedule, counted in epochs or (``schedule_unit="step"``) in optimizer steps.

    With ``warmup_epochs`` a ``LinearLR`` warm-up comes first and ``SequentialLR`` hands over to
    the schedule, which then spans the remaining epochs (its step milestones still count from
    the start of training).
    """
    lrs = torch.optim.lr_scheduler
    unit = steps_per_epoch if cfg.schedule_unit == "step" else 1
    total, warm = cfg.epochs * unit, int(round(cfg.warmup_epochs * unit))
    if cfg.schedule == "cosine":
        main = lrs.CosineAnnealingLR(opt, T_max=total - warm, eta_min=cfg.final_lr_factor * cfg.lr)
    elif cfg.schedule == "step":
        main = lrs.MultiStepLR(opt, milestones=[int(m) * unit - warm for m in cfg.milestones], gamma=cfg.gamma)
    else:
        main = lrs.LambdaLR(opt, lambda epoch: 1.0)
    if warm == 0:
        return main
    warmup = lrs.LinearLR(opt, start_factor=cfg.warmup_start_factor, end_factor=1.0, total_iters=warm)
    return lrs.SequentialLR(opt, [warmup, main], milestones=[warm])


def make_ema(model, cfg: TrainConfig):
    """Polyak / exponential moving average of parameters *and* buffers (batch-norm statistics), or None."""
    if not cfg.ema_decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)


ENGINE_FIELDS = ("engine", "amp", "channels_last", "compile", "num_workers", "fast_cpu")
# Fields added after the first records were written: at these values they are left out of
# ExperimentConfig.key, so a configuration that does not use them keeps the key it had.
LATER_FIELDS = {"betas": [0.9, 0.999], "warmup_epochs": 0.0, "warmup_start_factor": 0.01,
                "final_lr_factor": 0.0, "schedule_unit": "epoch", "ema_decay": 0.0}


@torch.no_grad()
def evaluate(model, data: Data, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> dict:
    """Clean mean cross-entropy and accuracy of ``model`` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batches = ((data.normalize(x[s:s + batch_size].to(device)), y[s:s + batch_size].to(device))
               for s in range(0, len(y), batch_size))
    total_loss, correct, n = engine.score(model, batches, data.num_classes)
    model.train(was_training)
    return {"loss": total_loss / n, "acc": correct / n}


def evaluate_splits(model, data: Data, cfg: TrainConfig, dev: torch.device) -> dict:
    """Clean loss and accuracy on train and test, sharded over DDP ranks, with either engine."""
    rank, world = distributed.rank(), distributed.world_size()
    if world == 1 and cfg.engine == "device":
        return {f"{split}_{k}": v for split, (x, y) in {"train": (data.x_train, data.y_train),
                                                        "test": (data.x_test, data.y_test)}.items()
                for k, v in evaluate(model, data, x, y, cfg.eval_batch_size).items()}
    if world > 1:
        distributed.broadcast_buffers(model)
    was_training, row = model.training, {}
    model.eval()
    for split in ("train", "test"):
        x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
        idx = engine.chunks(torch.arange(len(y))[rank::world], cfg.eval_batch_size)
        if cfg.engine == "classic":
            batches = engine.classic_batches(data, split, idx, "none", None, dev, cfg.num_workers)
        else:
            batches = ((data.normalize(x[i].to(dev)), y[i].to(dev)) for i in idx)
        loss, correct, n = distributed.all_sum(list(engine.score(model, batches, data.num_classes)), dev)
        row[f"{split}_loss"], row[f"{split}_acc"] = loss / n, correct / n
    model.train(was_training)
    return row


def save_atomic(obj, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, device) -> dict:
    """A checkpoint written by ``fit``, read with ``weights_only=True`` (tensors and plain containers;
    a pickle that would run code is refused). A file that cannot be read raises ``RuntimeError``
    naming it and what to do."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:   # truncated (EOF, zip errors), foreign pickles (UnpicklingError), ...
        raise RuntimeError(
            f"{path}: cannot be loaded as a checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:300]}); "
            "it is truncated, damaged or not written by mixupbook.train.fit (checkpoints are loaded with "
            "weights_only=True, which refuses pickled code). Delete it to train this run from its first "
            "epoch.") from None
    needed = {"model", "optimizer", "scheduler", "generator", "torch_rng", "history", "epoch"}
    if not isinstance(state, dict) or not needed <= set(state):
        raise RuntimeError(f"{path}: not a checkpoint of mixupbook.train.fit (it lacks "
                           f"{sorted(needed - set(state) if isinstance(state, dict) else needed)}). Delete it "
                           "to train this run from its first epoch.")
    return state


def _check_finite_data(data: Data) -> None:
    """Non-finite inputs (a NaN pixel of a float image set) make every later loss NaN: refuse them first."""
    for split, x in (("x_train", data.x_train), ("x_test", data.x_test)):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            bad = ~torch.isfinite(x)
            if bad.any():
                first = int(bad.flatten(1).any(1).nonzero()[0]) if x.dim() > 1 else int(bad.nonzero()[0])
                raise ValueError(f"{data.name}: {split} holds {int(bad.sum())} non-finite value(s) (the first in "
                                 f"example {first}); training on them gives a NaN objective")


def _diverged(what: str, value, epoch: int, cfg: TrainConfig, checkpoint, where: str = "") -> FloatingPointError:
    kept = (f"the checkpoint of epoch {epoch - 1} is kept" if checkpoint is not None and epoch > 1
            else "nothing is saved")
    return FloatingPointError(
        f"training diverged: {what} is {value} at epoch {epoch} of {cfg.epochs}{where}; the epoch is not saved "
        f"({kept}, no record is written). Lower the learning rate (lr={cfg.lr:g}) or check the data for "
        "non-finite values.")


def fit(model, objective, data: Data, cfg: TrainConfig, *, device: str = "auto", seed: int = 0,
        checkpoint: str | os.PathLike | None = None, progress: bool = True,
        stop_after: int | None = None, timing: dict | None = None) -> list[dict]:
    """Train ``model`` with ``objective`` on ``data``; return the per-epoch history.

    ``checkpoint``: a file written after every epoch and resumed from when present.
    ``stop_after``: return once this many epochs are done (simulates a kill, for tests).
    ``timing``: a dict; ``timing["start"]`` (a ``time.perf_counter()`` value, default: now) starts
    this segment's clock, and ``timing["wall_seconds"]`` is set to the wall time of every segment
    of the run so far (earlier segments are kept in the checkpoint across resumes).

    A non-finite objective or metric stops training with ``FloatingPointError`` naming the epoch
    (and, for the objective, the first step whose loss was not finite); that epoch is not saved.
    """
    cfg.validate()
    timing = {} if timing is None else timing
    segment_start = timing.get("start", time.perf_counter())
    previous_seconds = 0.0
    if cfg.engine == "device" and engine.is_folder(data):
        raise ValueError(f"engine: {data.name!r} is read from image files and does not fit on the device; "
                         "valid for it: ['classic']")
    dev = resolve_device(device)
    rank, world = distributed.rank(), distributed.world_size()
    model.to(dev)
    n = len(data.y_train)
    bs = n if cfg.batch_size in (0, None) else min(cfg.batch_size, n)
    per_step = cfg.schedule_unit == "step"
    opt, gen = make_optimizer(model, cfg), torch.Generator().manual_seed(seed)
    sched = make_scheduler(opt, cfg, len(engine.chunks(torch.arange(n), bs, rank, world)))
    ema = make_ema(model, cfg)
    history, start = [], 0
    _check_finite_data(data)
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, dev)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, start = state["history"], state["epoch"]
        previous_seconds = float(state.get("wall_seconds", 0.0))
    image = engine.is_folder(data) or data.is_image
    net = engine.prepare(model, dev, cfg, image)
    fast = engine.fast_path(dev, cfg) and cfg.channels_last and image
    amp = engine.autocast(dev, cfg.amp, cfg.fast_cpu)
    scored = model if ema is None else ema.module   # what evaluation reports: the average when there is one

    if cfg.engine == "device":
        x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    bar = range(start, cfg.epochs)
    if progress and rank == 0:
        from tqdm.auto import tqdm
        bar = tqdm(bar, initial=start, total=cfg.epochs, desc=f"{objective.name}", leave=False)
    for epoch in bar:
        if stop_after is not None and epoch >= stop_after:
            break
        t0, model_loss, steps, losses = time.perf_counter(), torch.zeros((), device=dev), 0, []
        model.train()
        if cfg.engine == "device":
            perm = to_device(torch.randperm(n, generator=gen), dev)
            batches = engine.device_batches(data, x_train, y_train, perm, bs, cfg.augment, gen, rank, world, fast)
        else:
            idx = engine.chunks(torch.randperm(n, generator=gen), bs, rank, world)
            batches = engine.classic_batches(data, "train", idx, cfg.augment, gen, dev, cfg.num_workers, fast)
        for xb, yb in batches:
            with amp:
                loss = objective(net, xb, yb, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            if per_step:
                sched.step()
            model_loss += loss.detach()
            losses.append(loss.detach())   # no sync: read only when the epoch's sum is not finite
            steps += 1
        if not per_step:
            sched.step()
        # the one host-device sync of the epoch: read the summed loss (averaged over ranks)
        objective_sum, steps = distributed.all_sum([float(model_loss), steps], dev)
        if not math.isfinite(objective_sum):
            local = torch.stack(losses).float().cpu() if losses else torch.zeros(0)
            bad = (~torch.isfinite(local)).nonzero()
            where = (f", first at step {int(bad[0]) + 1} of {len(losses)} (loss {float(local[bad[0]])})"
                     + (f" on rank {rank}" if world > 1 else "")) if len(bad) else " (on another rank)"
            raise _diverged("the objective", objective_sum / steps, epoch + 1, cfg, checkpoint, where)
        row = {"epoch": epoch + 1, "objective": objective_sum / steps, "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            with amp:
                row.update(evaluate_splits(scored, data, cfg, dev))
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise _diverged(k, v, epoch + 1, cfg, checkpoint)
        history.append(row)
        if checkpoint is not None and rank == 0:
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "generator": gen.get_state(),
                         "torch_rng": torch.get_rng_state(), "history": history, "epoch": epoch + 1,
                         "ema": None if ema is None else ema.state_dict(), "config": asdict(cfg),
                         "wall_seconds": previous_seconds + time.perf_counter() - segment_start}, checkpoint)
    timing["wall_seconds"] = previous_seconds + time.perf_counter() - segment_start
    return history
