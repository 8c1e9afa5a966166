"""The published numbers we target at paper scale, beside our reproductions in ``results/``.

``TARGETS[key](paper)`` picks, from paper ``key``'s published numbers, the rows a paper-scale
notebook of ours measures, and says for each which records reproduce it (``where``: record
config fields and their values) and which record metric to read (``metric``, a function of
the record's ``final``). ``paper_table(key, results_root)`` fills every row from the matching
paper-scale records (seeds, mean +- std, hardware, date) or writes "not yet run". The
``paper-tables`` directive of the book (``book/_ext/book_status.py``) renders it.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .results import load_records, paper_numbers, run_name

NOT_RUN = "not yet run"
TARGETS: dict = {}


def target(key: str):
    def deco(fn):
        TARGETS[key] = fn
        return fn
    return deco


def _error_pct(final):
    return 100 * (1 - final["test_acc"])


def _acc_pct(final):
    return 100 * final["test_acc"]


# the names the MixupE tables print, and ours
ZOU_DATASETS = {"CIFAR-10": "cifar10", "CIFAR-100": "cifar100", "SVHN": "svhn",
                "Tiny-ImageNet": "tiny_imagenet", "ImageNet": "imagenet"}
ZOU_MODELS = {"PreActResNet18": "preact_resnet18", "PreActResNet34": "preact_resnet34",
              "PreActResNet50": "preact_resnet50", "PreActResNet101": "preact_resnet101",
              "Wide-Resnet-28-10": "wrn28_10", "ResNet-50": "resnet50", "ViT-B/16": "vit_b_16",
              "CoAtNet-0": "coatnet_0"}


@target("zou2023")
def _zou(paper: pd.DataFrame):
    """Tables 1-3 and 7 and the eta sensitivity (top-1 only: we do not measure top-5), and Table 8,
    from notebooks/zou2023/05_images at paper scale."""
    for i, p in paper.iterrows():
        ds, mo = ZOU_DATASETS.get(p.dataset), ZOU_MODELS.get(p.model)
        if ds is None or mo is None or p.metric == "top-5 accuracy %":
            continue
        if p.source == "Table 8":
            # the name notebooks/zou2023/05_images gives its Table 8 deformation records
            name = run_name("zou", "Table 8", "cifar100", "preact_resnet18", p.method) + "_deformations"
            yield i, {"name": name}, lambda f, d=p.deformation: f[f"test_acc% {d}"]
            continue
        method = {"erm": ("erm", None), "mixup": ("mixup", None), "mixupe": ("mixupe", True),
                  "erm+R": ("mixupe", False)}[p.method]
        where = {"dataset": ds, "model": mo, "method": method[0]}
        if method[1] is not None:
            where["method_kwargs.mix"] = method[1]
        if not (isinstance(p.eta, float) and math.isnan(p.eta)):
            where["method_kwargs.eta"] = float(p.eta)
        yield i, where, _error_pct if p.metric == "test error %" else _acc_pct


@target("kimura2021")
def _kimura(paper: pd.DataFrame):
    """Table 1, from notebooks/kimura2021/05_generalisation_gap at paper scale."""
    for i, p in paper.iterrows():
        yield i, {"dataset": p.dataset, "model": "resnet18_cifar", "method": "mixup",
                  "method_kwargs.alpha": float(p.alpha)}, lambda f: f["gap_loss"]


@target("chidambaram2022")
def _chidambaram(paper: pd.DataFrame):
    """H3's distance table, from notebooks/chidambaram2022/02_distance_measure at paper scale
    (the authors' sampled protocol, which is what the paper reports)."""
    for i, p in paper[paper.item == "H3"].iterrows():
        stat = p.metric.split("_")[0]   # mean_distance -> mean
        yield i, {"name": "chid_h3_distances", "dataset": p.dataset}, lambda f, k=f"sampled_{stat}": f[k]


def _matches(config: dict, where: dict) -> bool:
    for field, want in where.items():
        have = config
        for part in field.split("."):
            have = have.get(part) if isinstance(have, dict) else None
        if have is None and field == "method_kwargs.mix":
            have = True   # MixupE mixes unless told not to
        if isinstance(want, float) and isinstance(have, (int, float)) and not isinstance(have, bool):
            if not math.isclose(have, want, rel_tol=1e-9):
                return False
        elif have != want:
            return False
    return True


def reproduction(records: list[dict], where: dict, metric) -> dict:
    """Seeds, mean +- std, hardware and last date of the paper-scale records matching ``where``."""
    found = [r for r in records if r["config"].get("scale") == "paper" and _matches(r["config"], where)]
    if not found:
        return {"ours": NOT_RUN, "seeds": 0, "hardware": "", "date": ""}
    values = np.array([metric(r["final"]) for r in found], dtype=float)
    std = f" ± {values.std(ddof=1):.2f}" if len(values) > 1 else ""
    return {"ours": f"{values.mean():.2f}{std}", "seeds": len(values),
            "hardware": ", ".join(sorted({r["env"].get("device_name", "?") for r in found})),
            "date": max(r["env"].get("date", "") for r in found)[:10]}


def paper_table(key: str, results_root: str | Path = "results") -> pd.DataFrame:
    """Every targeted published number of paper ``key`` beside our reproduction, or "not yet run"."""
    if key not in TARGETS:
        raise ValueError(f"paper tables: no targets for {key!r}; valid: {sorted(TARGETS)}")
    paper = paper_numbers(key)
    folder = Path(results_root) / key
    records = load_records(folder) if folder.exists() else []
    rows = []
    for i, where, metric in TARGETS[key](paper):
        p = paper.loc[i]
        published = f"{p.value:g}" + ("" if _blank(p.get("std")) else f" ± {p['std']:g}")
        if not _blank(p.get("n_seeds")):
            published += f" ({p.n_seeds:g} seeds)"
        rows.append({**{c: p[c] for c in paper.columns if c not in ("value", "std", "n_seeds")},
                     "paper": published, **reproduction(records, where, metric)})
    table = pd.DataFrame(rows)
    return table[[c for c in table.columns if not table[c].map(_blank).all()]]


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


#: The column a published table spreads across its columns, in order of preference: the first of
#: these that takes more than one value within a source table (methods side by side; else the knob
#: the table sweeps; else the statistic).
SPREAD = ("method", "alpha", "eta", "metric")
_SEEDS = re.compile(r" \((\d+) seeds\)$")
#: Columns that describe the reproduction rather than the setting.
_RECORD = ("paper", "ours", "seeds", "hardware", "date")


def by_setting(table: pd.DataFrame) -> list[dict]:
    """``paper_table`` laid out as the papers print it: per source table, one row per setting and a
    column per method (or per swept knob). Each returned block has ``source``, ``fixed`` (the
    setting columns that one value covers, e.g. the dataset of a one-dataset table), ``spread``
    (the column spread across) and its ``values``, ``header`` and ``rows``; a cell is ``"<paper> / <ours>"``, with
    ours "—" where no paper-scale record exists (``NOT_RUN``) and "" where the paper prints none;
    ``runs`` lists the hardware and dates of the records a row holds."""
    first = "item" if "item" in table.columns else "source"
    blocks = []
    for source, group in table.groupby(first, sort=False):
        group = group.dropna(axis=1, how="all")
        setting = [c for c in group.columns if c not in (first, "source", *_RECORD)]
        spread = next((c for c in SPREAD if c in setting and group[c].nunique() > 1), None)
        rest = [c for c in setting if c != spread]
        varying = [c for c in rest if group[c].astype(str).nunique() > 1]
        fixed = {c: _text(group[c].iloc[0]) for c in rest if c not in varying}
        if "source" in group.columns and first != "source":
            fixed = {"source": _text(group["source"].iloc[0]), **fixed}
        spread_values = list(dict.fromkeys(_text(v) for v in group[spread])) if spread else ["paper / ours"]
        rows: dict[tuple, dict] = {}
        for _, r in group.iterrows():
            key = tuple(_text(r[c]) for c in varying)
            row = rows.setdefault(key, {"cells": {}, "runs": set()})
            ours = "—" if r["ours"] == NOT_RUN else f"{r['ours']} ({r['seeds']} seeds)"
            row["cells"][_text(r[spread]) if spread else "paper / ours"] = f"{r['paper']} / {ours}"
            if r["ours"] != NOT_RUN:
                row["runs"].add(", ".join(v for v in (r["hardware"], r["date"]) if v))
        # the paper's seed count, when one count covers the whole table, is said once
        cells = [c for row in rows.values() for c in row["cells"].values()]
        counts = {m.group(1) if (m := _SEEDS.search(c.split(" / ")[0])) else None for c in cells}
        if len(counts) == 1 and None not in counts:
            fixed["paper"] = f"{counts.pop()} seeds"
            for row in rows.values():
                row["cells"] = {k: _SEEDS.sub("", c.split(" / ")[0]) + " / " + c.split(" / ", 1)[1]
                                for k, c in row["cells"].items()}
        blocks.append({
            "source": _text(source), "fixed": fixed, "spread": spread, "values": spread_values,
            "header": varying + spread_values,
            "rows": [list(key) + [row["cells"].get(v, "") for v in spread_values] for key, row in rows.items()],
            "runs": ["; ".join(sorted(row["runs"])) for row in rows.values()],
        })
    return blocks


def _text(v) -> str:
    if _blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)
