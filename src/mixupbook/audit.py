"""The seed audit: re-run every notebook with a checked claim at other seeds.

``python -m mixupbook.audit [--chapters K ...] [--notebooks PATH ...] [--fresh N] [--seeds ...]``
(``make audit-seeds``) executes each such notebook through papermill with ``-p seed K`` and the
claims in audit mode (a claim whose condition fails is recorded, not raised), and writes one record
per notebook to ``results/audit/<chapter>/<notebook>.json``.

The seeds are the fixed regression set 100 and 200 plus ``--fresh`` seeds (default 1) that nobody
picks: drawn from a hash of the commit and the UTC date (``fresh_seeds``), so a later audit meets
seeds no claim was tuned to. The record holds the notebook's source hash and the hash of the
library code it imports (``claims.library_hash``), the seeds (which were fresh), the commit, date
and kernel set, and for each claim whether it held, its verdict and its evidence at each seed (the
stored run's seed first). The ledger shows "held for k of K seeds" from it, "stale" once the
notebook's code or the library code it imports changes, and ``make test`` fails when a claim that
holds (or is reported as not reproduced or inconclusive) is stale, did not hold at every seed, or
came out with another verdict.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from . import claims
from .notebook import repo_root
from .results import write_json_atomic

REGRESSION_SEEDS = (100, 200)   # fixed, far from the stored runs' seed 0 (notebooks use seed, seed + 1, ...)
KERNEL_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS")


def fresh_seeds(n: int, commit: str, day: str) -> list[int]:
    """``n`` distinct seeds nobody chose: from sha256 of ``commit`` and ``day``, in [1000, 10**6)."""
    if n < 0:
        raise ValueError(f"n: the number of fresh seeds, >= 0, got {n!r}")
    out: list[int] = []
    k = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{commit}:{day}:{k}".encode()).digest()
        seed = 1000 + int.from_bytes(digest[:8], "big") % (10**6 - 1000)
        if seed not in out:
            out.append(seed)
        k += 1
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def provenance(root: Path) -> dict:
    """The commit (with ``+dirty`` for uncommitted changes), UTC date and kernel set of an audit."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    import torch
    kernel = {v: os.environ[v] for v in KERNEL_VARS if v in os.environ}
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.machine())
    kernel.update(cpu=cpu, torch=torch.__version__,
                  capability=torch.backends.cpu.get_cpu_capability())
    return {"commit": commit, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "kernel": kernel}


def stored_seed(nb: Path) -> int:
    """The ``seed`` of the notebook's parameters cell (the stored run's seed; 0 if none)."""
    base = json.loads(Path(nb).read_text())
    return next((int(line.split("=")[1].split("#")[0]) for c in base["cells"]
                 if "parameters" in c["metadata"].get("tags", [])
                 for line in "".join(c["source"]).splitlines() if line.startswith("seed =")), 0)


def audit_notebook(root: Path, nb: Path, seeds=REGRESSION_SEEDS, fresh=(), meta=None) -> dict:
    """Execute ``nb`` once per seed in audit mode; return (and write atomically) its audit record."""
    import papermill as pm

    stored = claims.notebook_claims(nb)
    result = {r["label"]: {"item": r["item"], "verdict": r["verdict"], "held": [r["held"]],
                           "verdicts": [r["verdict"]], "evidence": [r["evidence"]]} for r in stored}
    errors = {}
    os.environ[claims.AUDIT_ENV] = "1"
    try:
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / nb.name
                try:
                    pm.execute_notebook(str(nb), str(out), parameters={"seed": int(seed)}, cwd=str(nb.parent),
                                        progress_bar=False, kernel_name="python3")
                except pm.PapermillExecutionError as e:
                    errors[str(seed)] = f"{e.ename}: {e.evalue}"[:500]
                got = {r["label"]: r for r in claims.notebook_claims(out)} if out.exists() else {}
            for lab, entry in result.items():   # a verdict chosen from the data must come out the same
                entry["held"].append(got[lab]["held"] if lab in got else False)
                entry["verdicts"].append(got[lab]["verdict"] if lab in got else None)
                entry["evidence"].append(got[lab]["evidence"] if lab in got else None)
    finally:
        os.environ.pop(claims.AUDIT_ENV, None)
    record = {"notebook": nb.relative_to(root).as_posix(), "source_hash": claims.source_hash(nb),
              "library_hash": claims.library_hash(nb),
              "seeds": [stored_seed(nb), *map(int, seeds)], "fresh_seeds": [int(s) for s in fresh],
              **(meta or provenance(root)), "claims": result, "errors": errors}
    write_json_atomic(record, claims.audit_path(root, nb))
    return record


def add_seeds(root: Path, nb: Path, record: dict, fresh, meta=None) -> dict:
    """Run ``fresh`` seeds only and append them to a current audit ``record`` of ``nb`` (its earlier
    seeds stand: the code has not changed since); the provenance of the earlier runs is kept."""
    why = claims.audit_stale(record, nb)
    if why:
        raise ValueError(f"{nb}: its audit is stale ({why}); re-run the whole audit")
    extra = audit_notebook(root, nb, fresh, fresh, meta)   # writes a record of the new seeds alone
    merged = {**record, "seeds": [*record["seeds"], *extra["seeds"][1:]],
              "fresh_seeds": [*record.get("fresh_seeds", []), *extra["fresh_seeds"]],
              "commit": extra["commit"], "date": extra["date"], "kernel": extra["kernel"],
              "earlier": [*record.get("earlier", []),
                          {k: record.get(k) for k in ("seeds", "commit", "date", "kernel")}],
              "errors": {**record.get("errors", {}), **extra["errors"]}}
    merged["claims"] = {lab: {**c, **{f: [*c.get(f, [None] * len(c["held"])), *extra["claims"][lab][f][1:]]
                                      for f in ("held", "verdicts", "evidence")}}
                        for lab, c in record["claims"].items() if lab in extra["claims"]}
    write_json_atomic(merged, claims.audit_path(root, nb))
    return merged


def failures(record: dict) -> list[str]:
    """The checked claims of an audit record that did not hold, or changed verdict, at some seed."""
    checked = {lab: c for lab, c in record["claims"].items() if c["held"][0] is not None}  # not 'stated'/'paper scale'
    # an audit written before verdicts were recorded per seed has None for those seeds: unknown
    return [lab for lab, c in checked.items()
            if not all(c["held"]) or len({v for v in c["verdicts"] if v is not None}) > 1]


def problems(root: Path, nb: Path) -> list[str]:
    """Why notebook ``nb``'s committed audit does not cover its stored claims: missing, stale (its code
    changed), fewer than three seeds, a checked claim that did not hold at some seed, an audited
    verdict that is not the stored one, or one that changed between seeds. Empty when it does (or
    when the notebook checks nothing)."""
    rel = Path(nb).resolve().relative_to(Path(root).resolve())
    checked = [r for r in claims.notebook_claims(nb) if r["held"] is not None]
    if not claims.is_audited(checked):
        return []
    path = claims.audit_path(root, nb)
    if not path.exists():
        return [f"{rel}: no seed audit (make audit-seeds AUDIT='--notebooks {rel}')"]
    record = json.loads(path.read_text())
    why = claims.audit_stale(record, nb)
    if why:
        return [f"{rel}: seed audit is stale: {why} (make audit-seeds AUDIT='--notebooks {rel}')"]
    bad = []
    for r in checked:
        audited = record["claims"].get(r["label"], {})
        held = audited.get("held", [])
        if len(held) < 3 or not all(held):
            bad.append(f"{rel}: {r['label']} ({r['verdict']}) held {held}")
        if audited.get("verdict") != r["verdict"]:
            bad.append(f"{rel}: {r['label']} is {r['verdict']!r}, audited as {audited.get('verdict')!r}")
        verdicts = audited.get("verdicts")   # None for seeds audited before verdicts were recorded
        if verdicts is not None and set(verdicts) - {None} != {r["verdict"]}:
            bad.append(f"{rel}: {r['label']} verdicts at the audit seeds: {verdicts}")
    return bad


def targets(root: Path, chapters=None, notebooks=None) -> list[Path]:
    """The notebooks to audit: those given, else every notebook of the given chapters with a checked claim."""
    if notebooks:
        return [Path(p).resolve() for p in notebooks]
    known = claims.chapters()
    for key in chapters or []:
        if key not in known:
            raise ValueError(f"chapters: unknown {key!r}; valid: {sorted(known)}")
    found = sorted((root / "notebooks").glob("*/[0-9]*.ipynb"))
    return [p for p in found if (not chapters or p.parent.name in chapters)
            and claims.is_audited(claims.notebook_claims(p))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", nargs="*", help="chapter keys (default: all)")
    ap.add_argument("--notebooks", nargs="*", help="notebook paths (default: every notebook with a checked claim)")
    ap.add_argument("--fresh", type=int, default=1, help="fresh seeds from the commit and date (default 1)")
    ap.add_argument("--seeds", nargs="*", type=int, default=None,
                    help="the seeds instead of 100, 200 and the fresh ones (for a reproduction)")
    ap.add_argument("--also", nargs="*", type=int, default=[],
                    help="more seeds besides 100, 200 and the fresh ones (e.g. a block where an earlier audit failed)")
    ap.add_argument("--stale-only", action="store_true", help="skip notebooks whose audit is current")
    ap.add_argument("--add-fresh", action="store_true",
                    help="for a current audit, run only the fresh seeds and append them (a stale one is re-run whole)")
    args = ap.parse_args(argv)
    if args.fresh < 0:
        raise SystemExit(f"--fresh: the number of fresh seeds, >= 0, got {args.fresh}")
    root = repo_root()
    meta = provenance(root)
    fresh = fresh_seeds(args.fresh, meta["commit"], meta["date"]) if args.seeds is None else []
    seeds = [*REGRESSION_SEEDS, *args.also, *fresh] if args.seeds is None else args.seeds
    if len(seeds) < 2:
        raise SystemExit(f"--seeds: give at least two seeds besides the stored run's, got {seeds}")
    print(f"audit seeds: {seeds} (fresh: {fresh or 'none'}; commit {meta['commit'][:12]}, {meta['date']})", flush=True)
    failed = 0
    for nb in targets(root, args.chapters, args.notebooks):
        path = claims.audit_path(root, nb)
        current = path.exists() and not claims.audit_stale(json.loads(path.read_text()), nb)
        if args.stale_only and current:
            continue
        if args.add_fresh and current and fresh:
            rec = add_seeds(root, nb, json.loads(path.read_text()), fresh, meta)
        else:
            rec = audit_notebook(root, nb, seeds, fresh, meta)
        bad = failures(rec)
        n = sum(c["held"][0] is not None for c in rec["claims"].values())
        failed += bool(bad)
        print(f"{rec['notebook']}: seeds {rec['seeds']}: {n - len(bad)} of {n} checked claims held at every seed"
              + (f"; not: {', '.join(bad)}" if bad else "")
              + (f"; errors: {rec['errors']}" if rec["errors"] else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
