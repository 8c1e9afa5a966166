"""Result records: versioned JSON written atomically, loaded into pandas tables.

A record holds everything needed to trust or redo a number (airbench's habit):
the full config, seed, device, library version and git hash, wall time, the
per-epoch history and the final metrics. ``paper_numbers(key)`` returns the
published numbers of one source paper (``paper_numbers/<key>.yaml``), each with
its table or figure id, so a notebook prints ours beside theirs.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
import re
import subprocess
from pathlib import Path

import pandas as pd
import yaml

SCHEMA_VERSION = 1
_PAPER_DIR = Path(__file__).with_name("paper_numbers")


@functools.lru_cache(maxsize=1)
def git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device) -> dict:
    import torch

    from . import __version__

    dev = str(device)
    name = torch.cuda.get_device_name(device) if dev.startswith("cuda") else platform.processor() or "cpu"
    return {"device": dev, "device_name": name, "torch": torch.__version__, "mixupbook": __version__,
            "git": git_hash(), "python": platform.python_version(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def write_json_atomic(obj, path: str | os.PathLike) -> Path:
    """Write strict JSON (no NaN or Infinity) to a temporary file in the same folder, then rename
    it over ``path``. A value JSON cannot hold raises ``ValueError`` naming the file, before
    anything is written."""
    path = Path(path)
    try:
        text = json.dumps(obj, indent=1, sort_keys=True, default=str, allow_nan=False)
    except ValueError as e:
        raise ValueError(f"{path}: not written: {e} (records are strict JSON: finite numbers only)") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


RECORD_KEYS = ("schema", "key", "config", "env", "final")    # every record (training, attack, distances)
RUN_KEYS = RECORD_KEYS + ("history", "wall_seconds")         # a finished training run (experiment.run)
RUN_METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "gap_loss")


def read_json(path: str | os.PathLike, remedy: str = "delete it to write it again"):
    """JSON from ``path``; a file that cannot be read or parsed raises ``ValueError`` naming it and ``remedy``."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: cannot be read as JSON ({type(e).__name__}: {e}); it is truncated or "
                         f"damaged: {remedy}") from None


def _finite(value) -> bool:
    import math

    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


def check_record(rec, path: str | os.PathLike, run: bool = False,
                 remedy: str = "delete it to write it again") -> dict:
    """``rec`` if it is a record of this library's schema, else ``ValueError`` naming ``path``, the
    problem and ``remedy``. ``run=True``: also a finished training run (history, wall time and the
    final metrics that ``experiment.run`` writes)."""
    def bad(why):
        return ValueError(f"{path}: not a valid record ({why}): {remedy}")

    if not isinstance(rec, dict):
        raise bad(f"a JSON {type(rec).__name__}, not an object")
    if rec.get("schema") != SCHEMA_VERSION:
        raise bad(f"schema {rec.get('schema')!r}, this library reads {SCHEMA_VERSION}")
    missing = [k for k in (RUN_KEYS if run else RECORD_KEYS) if k not in rec]
    if missing:
        raise bad(f"no {missing}")
    for k, kind in [("key", str), ("config", dict), ("env", dict), ("final", dict)]:
        if not isinstance(rec[k], kind):
            raise bad(f"{k!r} is a {type(rec[k]).__name__}, not a {kind.__name__}")
    if run:
        lacking = [m for m in RUN_METRICS if not isinstance(rec["final"].get(m), (int, float))]
        if lacking:
            raise bad(f"final metrics {lacking} missing")
        if not isinstance(rec["history"], list) or not rec["history"] or \
                not all(isinstance(r, dict) for r in rec["history"]):
            raise bad("'history' is not a non-empty list of epochs")
        if not isinstance(rec["wall_seconds"], (int, float)):
            raise bad("'wall_seconds' is not a number")
    if not _finite(rec["final"]) or (run and not _finite(rec["history"])):
        raise bad("non-finite numbers")
    return rec


def load_records(results_dir: str | os.PathLike, name: str | None = None) -> list[dict]:
    """Every record under ``results_dir`` (optionally only experiment ``name``), each checked
    (``check_record``): a damaged or foreign file raises ``ValueError`` naming it."""
    root = Path(results_dir)
    pattern = f"{name}/*.json" if name else "**/*.json"
    remedy = "move it out of the results folder, or delete it and run its configuration again"
    return [check_record(read_json(p, remedy), p, remedy=remedy) for p in sorted(root.glob(pattern))]


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: flattened config (``cfg.*``), final metrics, device and seed."""
    rows = []
    for r in records:
        row = {f"cfg.{k}": v for k, v in pd.json_normalize(r["config"], sep=".").iloc[0].items()}
        row.update(r.get("final", {}))
        row.update({"seed": r["config"].get("seed"), "device": r["env"]["device_name"],
                    "wall_s": r.get("wall_seconds")})
        rows.append(row)
    return pd.DataFrame(rows)


def table(frame: pd.DataFrame, by: list[str], metrics: list[str], digits: int = 2) -> pd.DataFrame:
    """mean +- std (n) of ``metrics`` over seeds, grouped by ``by``."""
    g = frame.groupby(by)[metrics]
    mean, std, n = g.mean(), g.std(ddof=1).fillna(0.0), g.size()
    out = pd.DataFrame(index=mean.index)
    for m in metrics:
        out[m] = [f"{a:.{digits}f} ± {b:.{digits}f}" for a, b in zip(mean[m], std[m])]
    out["n"] = n
    return out.reset_index()


def run_name(*parts) -> str:
    """A record folder name from its parts: lower case, runs of other characters become "_"."""
    return re.sub(r"[^a-z0-9]+", "_", " ".join(map(str, parts)).lower()).strip("_")


def paper_numbers(key: str) -> pd.DataFrame:
    """The published numbers of paper ``key`` (one row each, with ``source`` = table/figure id)."""
    path = _PAPER_DIR / f"{key}.yaml"
    if not path.exists():
        valid = sorted(p.stem for p in _PAPER_DIR.glob("*.yaml"))
        raise ValueError(f"paper: no published numbers for {key!r}; valid: {valid}")
    return pd.DataFrame(yaml.safe_load(path.read_text())["numbers"])
