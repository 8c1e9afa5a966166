"""What a notebook calls: ``validate`` a config, ``run`` it, get a record back.

The one way through the library: notebook parameters -> ``ExperimentConfig`` ->
``run`` (seed, data, model, objective, ``train.fit``) -> a JSON record in
``results_dir`` -> ``results.table``. Every check happens in ``validate``, before
any work, so a bad parameter fails in a notebook's first cell with a message naming
the parameter and its valid values. ``plan`` is the dry run: it validates, builds
the model, says where the data would come from, and estimates the cost.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from . import cost
from . import data as D
from . import distributed
from .methods import build_objective
from .models import build_model
from .results import SCHEMA_VERSION, environment, write_json_atomic
from .train import ENGINE_FIELDS, LATER_FIELDS, TrainConfig, fit, resolve_device

SCALES = ("book", "paper")


@dataclass
class ExperimentConfig:
    name: str = "run"                 # experiment name: records go to results_dir/name/
    scale: str = "book"               # "book" (CPU, minutes, offline stand-in) or "paper" (GPU, paper setup)
    dataset: str = "two_moons"        # a name in data.DATASETS
    dataset_kwargs: dict = field(default_factory=dict)
    n_train: int | None = None        # seeded subset of the training set (None = all)
    n_test: int | None = None
    model: str = "mlp"                # a name in models.MODELS
    model_kwargs: dict = field(default_factory=dict)
    method: str = "erm"               # a name in methods.OBJECTIVES
    method_kwargs: dict = field(default_factory=dict)  # e.g. {"alpha": 1.0}
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0                     # fixes init, data order, lambdas and pairings
    device: str = "auto"              # "auto", "cpu", "cuda", "cuda:1", ...
    data_root: str = "data"           # where download-only datasets live
    download: bool = False            # fetch missing datasets with torchvision (needs internet)
    results_dir: str = "results"      # records are written under here
    progress: bool = False            # tqdm bar over epochs

    def __post_init__(self):
        if isinstance(self.train, dict):
            known = {f.name for f in fields(TrainConfig)}
            unknown = sorted(set(self.train) - known)
            if unknown:
                raise ValueError(f"train: unknown keys {unknown}; valid: {sorted(known)}")
            self.train = TrainConfig(**self.train)

    def key(self) -> str:
        """A short hash of everything that changes the result (not device, paths or progress)."""
        d = asdict(self)
        for k in ("device", "data_root", "download", "results_dir", "progress"):
            d.pop(k)
        for k in ENGINE_FIELDS:  # how to run (engine, amp, ...), not what: same key on every machine
            d["train"].pop(k, None)
        for k, default in LATER_FIELDS.items():  # newer recipe options at their defaults: the old key
            if d["train"].get(k) == default:
                d["train"].pop(k)
        return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def record_path(self) -> Path:
        return Path(self.results_dir) / self.name / f"{self.key()}-seed{self.seed}.json"


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Check every field before any work; raise ValueError / FileNotFoundError naming the problem."""
    if cfg.scale not in SCALES:
        raise ValueError(f"scale: unknown {cfg.scale!r}; valid: {list(SCALES)}")
    D.check_dataset_name(cfg.dataset)
    num_classes, shape = dataset_shape(cfg)
    build_objective(cfg.method, num_classes, **cfg.method_kwargs)
    build_model(cfg.model, num_classes, shape, **cfg.model_kwargs)
    cfg.train.validate()
    resolve_device(cfg.device)
    if not cfg.download and not D.dataset_available(cfg.dataset, cfg.data_root):
        D.load_dataset(cfg.dataset, cfg.data_root)  # raises FileNotFoundError naming the path
    return cfg


def dataset_shape(cfg: ExperimentConfig) -> tuple[int, tuple[int, ...]]:
    """(num_classes, input_shape) without reading a download-only dataset's files."""
    info = D.DATASETS[cfg.dataset]
    if info["shape"] is not None:
        return info["num_classes"], tuple(info["shape"])
    d = D.load_dataset(cfg.dataset, cfg.data_root, seed=cfg.seed, **cfg.dataset_kwargs)
    return d.num_classes, d.input_shape


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (used only by module initialisers) and return a fresh generator."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def plan(cfg: ExperimentConfig, seeds: list[int] | None = None) -> dict:
    """The dry run: validate what can be validated without the data, build the model, estimate cost."""
    if cfg.scale not in SCALES:
        raise ValueError(f"scale: unknown {cfg.scale!r}; valid: {list(SCALES)}")
    D.check_dataset_name(cfg.dataset)
    num_classes, shape = dataset_shape(cfg)
    step_cost = build_objective(cfg.method, num_classes, **cfg.method_kwargs).step_cost
    params, flops = model_cost(cfg.model, json.dumps(cfg.model_kwargs, sort_keys=True), num_classes, shape)
    cfg.train.validate()
    info = D.DATASETS[cfg.dataset]
    n = cfg.n_train or info["n_train"] or len(D.load_dataset(cfg.dataset, seed=cfg.seed,
                                                             **cfg.dataset_kwargs).y_train)
    path = D.dataset_path(cfg.dataset, cfg.data_root)
    seeds = seeds or [cfg.seed]
    out = {"name": cfg.name, "scale": cfg.scale, "dataset": cfg.dataset, "model": cfg.model,
           "params_M": round(params / 1e6, 3),
           "method": cfg.method, "method_kwargs": cfg.method_kwargs, "epochs": cfg.train.epochs,
           "batch_size": cfg.train.batch_size, "seeds": seeds, "n_train": n,
           "data": "offline (generated or shipped)" if path is None else
                   f"{path} ({'present' if path.exists() else 'MISSING: pass download=True or copy it there'})",
           # training step ~ 3x forward FLOPs x the objective's step cost; times examples, epochs and seeds
           "train_PFLOP": round(3 * step_cost * flops * n * cfg.train.epochs * len(seeds) / 1e15, 3),
           # ATen operations of every step (cost.step_ops, counted on the meta device): eager's per-op floor
           "train_Gops": float(f"{cost.train_ops(cfg, num_classes, shape, n, len(seeds)) / 1e9:.4g}")}
    t = cfg.train
    if t.optimizer != "sgd" or t.warmup_epochs or t.ema_decay:   # the recipe options a plan should show
        out["recipe"] = (f"{t.optimizer} lr={t.lr:g} wd={t.weight_decay:g} warmup={t.warmup_epochs:g} ep "
                         f"{t.schedule}/{t.schedule_unit} ema={t.ema_decay:g}")
    return out


@functools.lru_cache(maxsize=None)
def model_cost(name: str, kwargs_json: str, num_classes: int, shape: tuple) -> tuple[int, int]:
    """(parameters, forward FLOPs for one example) of a model; cached, since a sweep plans many copies."""
    model = build_model(name, num_classes, shape, **json.loads(kwargs_json))
    return sum(p.numel() for p in model.parameters()), forward_flops(model, shape)


def forward_flops(model, shape) -> int:
    """FLOPs of one forward pass of a single example of ``shape`` (eval mode, no grad)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape))
    return counter.get_total_flops()


def build(cfg: ExperimentConfig):
    """Seed, then (data, model, objective) for ``cfg``: for notebooks that need the trained model itself."""
    seed_everything(cfg.seed)
    data = D.load_dataset(cfg.dataset, cfg.data_root, download=cfg.download, seed=cfg.seed, **cfg.dataset_kwargs)
    data = data.subset(cfg.n_train, cfg.n_test, seed=cfg.seed)
    model = build_model(cfg.model, data.num_classes, data.input_shape, **cfg.model_kwargs)
    objective = build_objective(cfg.method, data.num_classes, **cfg.method_kwargs)
    return data, model, objective


def run(cfg: ExperimentConfig, checkpoint_dir: str | None = None, stop_after: int | None = None,
        keep_model: bool = False):
    """Validate, seed, train and write the record; an existing finished record is returned as is.

    ``keep_model=True``: keep the last checkpoint and return ``(record, trained model)``; a
    later call loads the model from that checkpoint instead of training again.
    """
    validate(cfg)
    path = cfg.record_path()
    if path.exists() and not keep_model:
        return json.loads(path.read_text())
    data, model, objective = build(cfg)
    ckpt = Path(checkpoint_dir or Path(cfg.results_dir) / "checkpoints") / f"{cfg.name}-{cfg.key()}-seed{cfg.seed}.pt"
    t0 = time.perf_counter()
    history = fit(model, objective, data, cfg.train, device=cfg.device, seed=cfg.seed, checkpoint=ckpt,
                  progress=cfg.progress, stop_after=stop_after)
    if len(history) < cfg.train.epochs:
        raise RuntimeError(f"stopped after {len(history)} of {cfg.train.epochs} epochs; run again to resume")
    if path.exists():   # keep_model with a finished record: the checkpoint only restored the weights
        record = json.loads(path.read_text())
    else:
        final = {k: v for k, v in history[-1].items() if k.startswith(("train_", "test_"))}
        final["gap_loss"] = final["test_loss"] - final["train_loss"]
        final["gap_acc"] = final["train_acc"] - final["test_acc"]
        record = {"schema": SCHEMA_VERSION, "key": cfg.key(), "config": asdict(cfg),
                  "env": environment(resolve_device(cfg.device)), "wall_seconds": time.perf_counter() - t0,
                  "history": history, "final": final}
        if distributed.is_main():  # under torchrun every rank trains; rank 0 alone writes
            write_json_atomic(record, path)
    if keep_model:
        return record, model
    if distributed.is_main():
        ckpt.unlink(missing_ok=True)
    return record
