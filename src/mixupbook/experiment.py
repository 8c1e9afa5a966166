"""What a notebook calls: ``validate`` a config, ``run`` it, get a record back.

The one way through the library: notebook parameters -> ``ExperimentConfig`` ->
``run`` (seed, data, model, objective, ``train.fit``) -> a JSON record in
``results_dir`` -> ``results.table``. Every check happens in ``validate``, before
any work, so a bad parameter fails in a notebook's first cell with a message naming
the parameter and its valid values. ``plan`` is the dry run: it validates, builds
the model, says where the data would come from, and estimates the cost.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch

from . import cost
from . import data as D
from . import distributed
from .methods import build_objective
from .models import build_model
from .results import SCHEMA_VERSION, check_record, environment, read_json, write_json_atomic
from .train import ENGINE_FIELDS, LATER_FIELDS, TrainConfig, fit, resolve_device

SCALES = ("book", "paper")
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def as_bool(name: str, value) -> bool:
    """``value`` as a boolean, strictly: ``True``/``False`` (or 1/0), or one of the words YAML reads as
    a boolean (``"no"``, ``"False"``, ...: what ``papermill -r NAME VALUE`` passes as text); anything
    else is a ``ValueError`` naming the parameter. ``bool("no")`` would be True."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"{name}: expected True or False, got {value!r}; valid: True, False (or the words "
                     f"{list(TRUE_WORDS + FALSE_WORDS)})")


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
    for name in ("download", "progress"):   # bool("no") is True: a config takes real booleans only
        if not isinstance(getattr(cfg, name), bool):
            raise ValueError(f"{name}: expected True or False, got {getattr(cfg, name)!r}")
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
    seeds = seeds or [cfg.seed]
    out = {"name": cfg.name, "scale": cfg.scale, "dataset": cfg.dataset, "model": cfg.model,
           "params_M": round(params / 1e6, 3),
           "method": cfg.method, "method_kwargs": cfg.method_kwargs, "epochs": cfg.train.epochs,
           "batch_size": cfg.train.batch_size, "seeds": seeds, "n_train": n,
           "data": D.data_status(cfg.dataset, cfg.data_root),   # every file the loader reads, not a folder
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


def load_run_record(path: str | Path, cfg: ExperimentConfig | None = None) -> dict:
    """The finished record of a training run at ``path``, checked against the record schema (and,
    given ``cfg``, against its key and epochs); anything else raises ``ValueError`` naming the file and
    the remedy, so a damaged or foreign file is never taken for a finished run."""
    remedy = "delete it (and its checkpoint under checkpoints/, if any) to train this run again"
    rec = check_record(read_json(path, remedy), path, run=True, remedy=remedy)
    if cfg is not None:
        if rec["key"] != cfg.key():
            raise ValueError(f"{path}: holds the record of key {rec['key']!r}, not of this configuration "
                             f"({cfg.key()!r}): {remedy}")
        if len(rec["history"]) != cfg.train.epochs:
            raise ValueError(f"{path}: holds {len(rec['history'])} epochs, this configuration trains "
                             f"{cfg.train.epochs}: {remedy}")
    return rec


def check_writable(folder: str | Path, what: str = "results_dir") -> Path:
    """Create ``folder`` and write and delete a file in it; ``PermissionError`` naming it otherwise.

    Called before any work, so a read-only results folder fails at once, not after an epoch."""
    import tempfile

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise PermissionError(f"{what}: cannot write to {folder} ({type(e).__name__}: {e.strerror or e}); "
                              f"choose a writable folder (notebooks: -p {what} PATH)") from None
    return folder


class RunLock:
    """An exclusive lock on one (configuration, seed) while it trains: ``<checkpoint>.lock``, held with
    ``fcntl.flock`` (released by the kernel when the process ends, however it ends). A second process
    on the same run gets ``RuntimeError`` naming the holder instead of training beside it."""

    def __init__(self, path: str | Path):
        self.path, self.fh = Path(path), None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:   # not POSIX: no lock
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise RuntimeError(f"another process (pid {holder}) is training this run now: {self.path} is locked. "
                               "Wait for it to finish (or stop it), then run again; its record will be "
                               "read, not trained twice.") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()   # closing releases the lock; the file stays (removing it would race)
            self.fh = None
        return False


def seed_records(cfg: ExperimentConfig, suffix: str = "") -> dict[int, dict]:
    """Every record of ``cfg`` at any seed under its ``results_dir`` (``<key>-seed<s><suffix>.json``
    in ``results_dir/name``), checked, by seed: what a sweep's other points wrote. A file whose key is
    not this configuration's at its seed is left out."""
    folder = Path(cfg.results_dir) / cfg.name
    out = {}
    for p in sorted(folder.glob(f"*-seed*{suffix}.json")):
        m = re.fullmatch(r"([0-9a-f]+)-seed([0-9]+)" + re.escape(suffix) + r"\.json", p.name)
        if not m or replace(cfg, seed=int(m.group(2))).key() != m.group(1):
            continue
        remedy = "delete it to compute it again"
        rec = load_run_record(p) if not suffix else check_record(read_json(p, remedy), p, remedy=remedy)
        out[int(m.group(2))] = rec
    return out


def run(cfg: ExperimentConfig, checkpoint_dir: str | None = None, stop_after: int | None = None,
        keep_model: bool = False):
    """Validate, seed, train and write the record; an existing finished record is returned as is.

    ``keep_model=True``: keep the last checkpoint and return ``(record, trained model)``; a
    later call loads the model from that checkpoint instead of training again.

    Before any work: the record and checkpoint folders must be writable, and a record already at the
    record path must be a finished record of this configuration (``load_run_record``). While it
    trains, the run is locked (``RunLock``): a second process on the same run refuses. ``wall_seconds``
    is the sum over every segment of a run resumed from its checkpoint.
    """
    validate(cfg)
    path = cfg.record_path()
    if path.exists() and not keep_model:
        return load_run_record(path, cfg)
    ckpt = Path(checkpoint_dir or Path(cfg.results_dir) / "checkpoints") / f"{cfg.name}-{cfg.key()}-seed{cfg.seed}.pt"
    main = distributed.is_main()
    if main:
        check_writable(path.parent)
        check_writable(ckpt.parent, "checkpoint_dir" if checkpoint_dir else "results_dir")
    with RunLock(ckpt.with_name(ckpt.name + ".lock")) if main else contextlib.nullcontext():
        if path.exists() and not keep_model:   # finished by another process while we waited
            return load_run_record(path, cfg)
        record = load_run_record(path, cfg) if path.exists() else None
        data, model, objective = build(cfg)
        timing = {"start": time.perf_counter()}
        history = fit(model, objective, data, cfg.train, device=cfg.device, seed=cfg.seed, checkpoint=ckpt,
                      progress=cfg.progress, stop_after=stop_after, timing=timing)
        if len(history) < cfg.train.epochs:
            raise RuntimeError(f"stopped after {len(history)} of {cfg.train.epochs} epochs; run again to resume")
        if record is None:   # (keep_model with a finished record: the checkpoint only restored the weights)
            final = {k: v for k, v in history[-1].items() if k.startswith(("train_", "test_"))}
            final["gap_loss"] = final["test_loss"] - final["train_loss"]
            final["gap_acc"] = final["train_acc"] - final["test_acc"]
            wall = timing.get("wall_seconds", time.perf_counter() - timing["start"])
            record = {"schema": SCHEMA_VERSION, "key": cfg.key(), "config": asdict(cfg),
                      "env": environment(resolve_device(cfg.device)), "wall_seconds": wall,
                      "history": history, "final": final}
            if main:  # under torchrun every rank trains; rank 0 alone writes
                write_json_atomic(record, path)
    if main:   # finished: the record is there, so a process that takes the lock now only reads it
        ckpt.with_name(ckpt.name + ".lock").unlink(missing_ok=True)
        if not keep_model:
            ckpt.unlink(missing_ok=True)
    return (record, model) if keep_model else record
