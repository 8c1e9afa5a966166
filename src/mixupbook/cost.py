"""What a paper-scale run costs: an estimate from two counts, FLOPs and ATen operations (chapter ``scale``).

Eager training time on a GPU is bounded below twice over. The arithmetic: the planned FLOPs
(``experiment.plan``'s ``train_PFLOP``) at the device's sustained throughput. The per-operation
floor: every ATen operation a training step dispatches costs the host a few microseconds
(Python, the dispatcher, a kernel launch), whatever its size; with a small model at a small
batch the GPU finishes each kernel before the host has launched the next, and this floor, not
the FLOPs, sets the pace. ``step_ops`` counts the operations of one step of ``train.fit``
(batch indexing and on-device augmentation, the objective, backward, the optimizer step as
CUDA runs it (``foreach``), the EMA update, the loss sum) by running it on the ``meta`` device
under a dispatch mode (``device_audit``), so no data and no arithmetic are needed. Not counted:
autocast's casts (CUDA only; they add operations, so the count is a lower bound) and evaluation
(a forward per 1024 examples once per epoch, about 1% of a CIFAR epoch's steps).

``estimate_hours`` turns the two counts into a range. Optimistic: host and GPU overlap
perfectly, so time = max(FLOPs at the high throughput, operations at the low cost per op).
Pessimistic: no overlap, time = FLOPs at the low throughput + operations at the high cost per
op. Both rates are **assumptions** (``ASSUMED_TFLOPS``, ``ASSUMED_OP_US``), not measurements:
no GPU has been lent to measure them (``benchmarks/README.md`` says what has been measured), and
the range is printed as an estimate.

Counting costs seconds per configuration (a ResNet on the meta device), and a dry run counts every
configuration of a notebook in a fresh kernel. Counts are cached in the process; with
``MIXUPBOOK_COUNT_CACHE`` set to a folder they are also kept there as JSON files, one per key and
torch version, so that kernels and processes share them (the test suite points it at a folder of
its own session).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from .device_audit import AUDIT_DEVICE, DeviceAudit

# (optimistic, pessimistic) sustained TFLOP/s of an H100 in bf16: 35% and 10% of its dense peak
# (989 TFLOP/s). Assumed, not measured.
ASSUMED_TFLOPS = (350.0, 100.0)
# (optimistic, pessimistic) host cost of one eager ATen operation on a GPU, in microseconds (Python,
# dispatcher, kernel launch): the range usually quoted for eager PyTorch. Assumed, not measured;
# benchmarks/step_ops.py counts the operations and compares the floor with the FLOP time.
ASSUMED_OP_US = (5.0, 10.0)


class OpCount(DeviceAudit):
    """Counts the ATen operations dispatched, by name: ``ops`` those that compute or allocate (on a
    GPU, a kernel launch or an allocation each), ``views`` the aliasing ones (``detach``, ``view``,
    ``t``, ...: host work, no kernel). With the device audit's meta-device stand-ins."""

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()
        self.views: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        (self.views if func.is_view else self.ops)[func.overloadpacket.__name__] += 1
        return super().__torch_dispatch__(func, types, args, kwargs)


def step_ops(cfg, num_classes: int, shape: tuple, batch_size: int | None = None) -> int:
    """Non-view ATen operations one steady-state training step of ``cfg`` (an ``ExperimentConfig``)
    dispatches at ``batch_size`` (default: the config's); cached. ``step_counts`` gives them by
    name, with the views."""
    return sum(step_counts(cfg, num_classes, shape, batch_size)[0].values())


def step_counts(cfg, num_classes: int, shape: tuple, batch_size: int | None = None) -> tuple[Counter, Counter]:
    """(operations, views) of one steady-state training step of ``cfg``, by name; cached by the
    config's model, objective and training settings."""
    bs = batch_size or cfg.train.batch_size or 1
    key = json.dumps([cfg.model, cfg.model_kwargs, cfg.method, cfg.method_kwargs, asdict(cfg.train), bs,
                      num_classes, list(shape)], sort_keys=True, default=repr)   # repr: e.g. a LambdaLaw
    if key not in _COUNTS:
        path = _cache_file(key)
        if path is not None and _claim_or_wait(path):
            ops, views = json.loads(path.read_text())
            _COUNTS[key] = Counter(ops), Counter(views)
        else:
            try:
                _COUNTS[key] = _step_counts(cfg, int(num_classes), tuple(shape), bs)
            except BaseException:   # no count will come: let a waiting process trace it itself
                if path is not None:
                    path.with_suffix(".lock").unlink(missing_ok=True)
                raise
            if path is not None:    # written atomically: a reader sees a whole file or none
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(_COUNTS[key]))
                os.replace(tmp, path)
    return _COUNTS[key]


def _claim_or_wait(path: Path, patience: float = 300.0) -> bool:
    """True when ``path`` holds a count (already, or once another process tracing it has written
    it); False when this process should trace it (it has claimed it, or waited ``patience`` s)."""
    lock = path.with_suffix(".lock")
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return path.exists()
    except FileExistsError:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and lock.exists():
            if path.exists():
                return True
            time.sleep(0.2)
        return path.exists()


def _cache_file(key: str) -> Path | None:
    """The file of ``key`` in the ``MIXUPBOOK_COUNT_CACHE`` folder (None when it is not set)."""
    root = os.environ.get("MIXUPBOOK_COUNT_CACHE")
    if not root:
        return None
    return Path(root) / (hashlib.sha256(f"{torch.__version__}|{key}".encode()).hexdigest()[:32] + ".json")


_COUNTS: dict[str, tuple[Counter, Counter]] = {}


def _step_counts(cfg, num_classes: int, shape: tuple, bs: int) -> tuple[Counter, Counter]:
    from . import engine
    from .data import Data
    from .methods import build_objective
    from .models import build_model
    from .train import TrainConfig, make_ema, make_optimizer

    t = TrainConfig(**{**asdict(cfg.train), "batch_size": bs})
    with torch.device(AUDIT_DEVICE):   # built there: no time spent initialising weights
        model = build_model(cfg.model, num_classes, shape, **cfg.model_kwargs)
    objective = build_objective(cfg.method, num_classes, **cfg.method_kwargs)
    opt = make_optimizer(model, t)
    for group in opt.param_groups:      # what CUDA picks by default; on meta the default is a per-tensor loop
        group["foreach"] = True
    ema = make_ema(model, t)
    image = len(shape) == 3
    gen = torch.Generator().manual_seed(0)
    if t.engine == "device":        # the data sit on the device: index, normalise, augment there
        x = torch.empty((bs, *shape), dtype=torch.uint8 if image else torch.float32, device=AUDIT_DEVICE)
        y = torch.zeros(bs, dtype=torch.long, device=AUDIT_DEVICE)
        data = Data("meta", x, y, x, y, num_classes, *(((0.5,) * shape[0], (0.25,) * shape[0]) if image
                                                       else (None, None)))
        perm = torch.arange(bs, device=AUDIT_DEVICE)
    model_loss = torch.zeros((), device=AUDIT_DEVICE)

    def step():                     # the body of train.fit's loop
        nonlocal model_loss
        if t.engine == "device":
            xb, yb = next(engine.device_batches(data, x, y, perm, bs, t.augment, gen, 0, 1, image))
        else:                       # a DataLoader batch prepared on the host, copied in
            xb = torch.empty((bs, *shape)).to(AUDIT_DEVICE)
            yb = torch.zeros(bs, dtype=torch.long).to(AUDIT_DEVICE)
        loss = objective(model, xb, yb, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        model_loss += loss.detach()

    with OpCount():
        step()                      # the first step also creates the optimizer's and the EMA's state
    with OpCount() as count:
        step()                      # a steady-state step: the one counted
    return count.ops, count.views


def train_ops(cfg, num_classes: int, shape: tuple, n: int, seeds: int = 1) -> float:
    """ATen operations of all training steps of ``cfg`` on ``n`` examples, over ``seeds`` seeds."""
    bs = min(cfg.train.batch_size or n, n)
    return step_ops(cfg, num_classes, shape, bs) * math.ceil(n / bs) * cfg.train.epochs * seeds


def estimate_hours(pflop: float, ops: float, tflops=ASSUMED_TFLOPS, op_us=ASSUMED_OP_US) -> tuple[float, float]:
    """(optimistic, pessimistic) GPU-hours for ``pflop`` PFLOP and ``ops`` ATen operations, at the
    (optimistic, pessimistic) throughputs ``tflops`` (TFLOP/s) and per-operation costs ``op_us`` (us)."""
    for name, pair in (("tflops", tflops), ("op_us", op_us)):
        if len(pair) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in pair):
            raise ValueError(f"{name}: need two positive numbers (optimistic, pessimistic), got {pair!r}")
    flop_s = [pflop * 1e15 / (t * 1e12) for t in tflops]
    floor_s = [ops * us * 1e-6 for us in op_us]
    return max(flop_s[0], floor_s[0]) / 3600, (flop_s[1] + floor_s[1]) / 3600


def describe(pflop: float, ops: float, tflops=ASSUMED_TFLOPS, op_us=ASSUMED_OP_US) -> str:
    """The estimate as one printed phrase, with its assumptions."""
    lo, hi = estimate_hours(pflop, ops, tflops, op_us)
    return (f"estimated {_hours(lo)}-{_hours(hi)} GPU-hours (an estimate, not a timing: "
            f"{tflops[0]:g}-{tflops[1]:g} TFLOP/s and {op_us[0]:g}-{op_us[1]:g} us per ATen op assumed, "
            "neither measured on a GPU)")


def _hours(h: float) -> str:
    return f"{h:.2f}" if h >= 0.01 else "<0.01"
