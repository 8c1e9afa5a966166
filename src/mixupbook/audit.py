"""The seed audit: re-run every notebook whose claims rest on training or sampling with other seeds.

``python -m mixupbook.audit [--chapters K ...] [--notebooks PATH ...] [--seeds 100 200]`` (``make
audit-seeds``) executes each such notebook through papermill with ``-p seed K`` and the claims in
audit mode (a claim whose condition fails is recorded, not raised), and writes one record per
notebook to ``results/audit/<chapter>/<notebook>.json``: the notebook's source hash, the seeds,
and for each claim whether it held and its verdict at each seed (the stored run's seed first). The ledger shows
"held for k of K seeds" from it, "stale" once the notebook's sources change, and ``make test``
fails when a ``holds`` claim is stale or did not hold for every audited seed.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from . import claims
from .notebook import repo_root
from .results import write_json_atomic

DEFAULT_SEEDS = (100, 200)   # far from the stored runs' seed 0 (notebooks use seed, seed + 1, ...)


def audit_notebook(root: Path, nb: Path, seeds=DEFAULT_SEEDS) -> dict:
    """Execute ``nb`` once per seed in audit mode; return (and write atomically) its audit record."""
    import papermill as pm

    stored = claims.notebook_claims(nb)
    base = json.loads(nb.read_text())
    seed0 = next((int(line.split("=")[1].split("#")[0]) for c in base["cells"]
                  if "parameters" in c["metadata"].get("tags", [])
                  for line in "".join(c["source"]).splitlines() if line.startswith("seed =")), 0)
    result = {r["label"]: {"item": r["item"], "verdict": r["verdict"], "held": [r["held"]], "verdicts": [r["verdict"]]}
              for r in stored}
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
    finally:
        os.environ.pop(claims.AUDIT_ENV, None)
    record = {"notebook": nb.relative_to(root).as_posix(), "source_hash": claims.source_hash(nb),
              "seeds": [seed0, *map(int, seeds)], "claims": result, "errors": errors}
    write_json_atomic(record, claims.audit_path(root, nb))
    return record


def targets(root: Path, chapters=None, notebooks=None) -> list[Path]:
    """The notebooks to audit: those given, else every sampled notebook of the given chapters."""
    if notebooks:
        return [Path(p).resolve() for p in notebooks]
    known = claims.chapters()
    for key in chapters or []:
        if key not in known:
            raise ValueError(f"chapters: unknown {key!r}; valid: {sorted(known)}")
    found = sorted((root / "notebooks").glob("*/[0-9]*.ipynb"))
    return [p for p in found if (not chapters or p.parent.name in chapters)
            and claims.is_sampled(claims.notebook_claims(p))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", nargs="*", help="chapter keys (default: all)")
    ap.add_argument("--notebooks", nargs="*", help="notebook paths (default: every sampled notebook)")
    ap.add_argument("--seeds", nargs="*", type=int, default=list(DEFAULT_SEEDS))
    ap.add_argument("--stale-only", action="store_true", help="skip notebooks whose audit is current")
    args = ap.parse_args(argv)
    if len(args.seeds) < 2:
        raise SystemExit("--seeds: give at least two other seeds")
    root = repo_root()
    failed = 0
    for nb in targets(root, args.chapters, args.notebooks):
        path = claims.audit_path(root, nb)
        if args.stale_only and path.exists() and \
                json.loads(path.read_text())["source_hash"] == claims.source_hash(nb):
            continue
        rec = audit_notebook(root, nb, args.seeds)
        checked = {lab: c for lab, c in rec["claims"].items() if c["held"][0] is not None}  # not 'stated'/'paper scale'
        bad = [lab for lab, c in checked.items() if not all(c["held"]) or len(set(c["verdicts"])) > 1]
        failed += bool(bad)
        print(f"{rec['notebook']}: seeds {rec['seeds']}: {len(checked) - len(bad)} of "
              f"{len(checked)} checked claims held at every seed" + (f"; not: {', '.join(bad)}" if bad else "")
              + (f"; errors: {rec['errors']}" if rec["errors"] else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
