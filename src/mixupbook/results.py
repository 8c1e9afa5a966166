"""Result records: versioned JSON written atomically, loaded into pandas tables.

A record holds everything needed to trust or redo a number (airbench's habit):
the full config, seed, device, library version and git hash, wall time, the
per-epoch history and the final metrics. ``paper_numbers(key)`` returns the
published numbers of one source paper (``paper_numbers/<key>.yaml``), each with
its table or figure id, so a notebook prints ours beside theirs.
"""
from __future__ import annotations

import datetime as _dt
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
    """Write JSON to a temporary file in the same folder, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_records(results_dir: str | os.PathLike, name: str | None = None) -> list[dict]:
    """Every record under ``results_dir`` (optionally only experiment ``name``), oldest schema checked."""
    root = Path(results_dir)
    pattern = f"{name}/*.json" if name else "**/*.json"
    out = []
    for p in sorted(root.glob(pattern)):
        rec = json.loads(p.read_text())
        if rec.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"{p}: schema {rec.get('schema')!r}, this library reads {SCHEMA_VERSION}")
        out.append(rec)
    return out


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
