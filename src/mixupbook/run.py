"""Run one experiment config from a YAML file, on one process or many (chapter ``scale``).

    python -m mixupbook.run CONFIG.yaml [--set train.epochs=2 --set seed=1] [--save-model model.pt]
    torchrun --nproc_per_node 8 -m mixupbook.run experiments/configs/imagenet_resnet50_mixup.yaml

The YAML holds the fields of ``ExperimentConfig`` (``train:`` nested) and,
optionally, ``seeds: [0, 1, 2]`` to run several seeds one after another. Under
torchrun every process trains its share of each global batch (DDP, see
``distributed.py``) on ``cuda:LOCAL_RANK``; rank 0 writes the record.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace

import torch
import yaml

from . import distributed
from .experiment import ExperimentConfig, build, run, validate

_FIELDS = {f.name for f in fields(ExperimentConfig)}


def _parse_value(text: str):
    return yaml.safe_load(text)


def load_config(path: str, overrides: list[str] = ()) -> tuple[ExperimentConfig, list[int]]:
    """An ``ExperimentConfig`` (and its seeds) from YAML, with ``key=value`` overrides (dots reach into train)."""
    with open(path) as fh:
        raw = yaml.safe_load(fh) or {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set: expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        node = raw
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _parse_value(value)
    seeds = raw.pop("seeds", None)
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; valid: {sorted(_FIELDS | {'seeds'})}")
    cfg = ExperimentConfig(**raw)
    return cfg, [int(s) for s in (seeds if seeds is not None else [cfg.seed])]


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="python -m mixupbook.run", description=__doc__.split("\n")[0])
    ap.add_argument("config", help="YAML file with ExperimentConfig fields")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    ap.add_argument("--save-model", default=None, help="also save the final weights (rank r of K adds .rank{r})")
    args = ap.parse_args(argv)
    cfg, seeds = load_config(args.config, args.set)
    rank, world, local = distributed.init()
    if world > 1 and torch.cuda.is_available():
        cfg = replace(cfg, device=f"cuda:{local}")
    records = []
    try:
        for seed in seeds:
            c = validate(replace(cfg, seed=seed))
            if args.save_model:
                records.append(_run_keep_model(c, args.save_model, rank, world))
            else:
                records.append(run(c))
            if rank == 0:
                print(json.dumps({"seed": seed, **records[-1]["final"]}, default=str))
    finally:
        distributed.close()
    return records


def _run_keep_model(cfg: ExperimentConfig, path: str, rank: int, world: int) -> dict:
    """Train without writing a record and save the weights (used by ``tests/test_ddp.py``)."""
    from .train import fit

    data, model, objective = build(cfg)
    history = fit(model, objective, data, cfg.train, device=cfg.device, seed=cfg.seed, progress=False)
    torch.save(model.state_dict(), path if world == 1 else f"{path}.rank{rank}")
    return {"history": history, "final": history[-1]}


if __name__ == "__main__":
    main()
