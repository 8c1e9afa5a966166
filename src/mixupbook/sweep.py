"""Paper-scale sweeps: papermill over a grid of notebook parameters (chapter ``scale``).

    python -m mixupbook.sweep experiments/zhang2021_fig1b.yaml [--devices 0,1,2,3] [--dry-run]

A spec (``experiments/*.yaml``) names a notebook, fixed ``parameters``, a ``grid``
(every combination is one point) and ``seeds`` (each point runs once per seed)::

    notebook: notebooks/zhang2021/11_fig1b_generalization_gap.ipynb
    parameters: {scale: paper}
    grid: {dataset: [cifar10, cifar100]}
    seeds: [0, 1, 2]
    results_dir: results/zhang2021        # where the notebook writes its records
    paper: "Zhang et al. 2021, Figs. 1b and 5-8"

Each point runs in its own papermill process, one worker per device (``-p device
cuda:K``); the executed notebook goes to ``results/sweeps/<spec>/<point>.ipynb``
and a ``<point>.done.json`` marker is written when it succeeds. A finished point
is skipped. A point that crashed or was killed runs again and its notebook's
``experiment.run`` resumes from the checkpoint of the last finished epoch, so it
ends with the record an uninterrupted run writes (``tests/test_sweep.py``).
``--dry-run`` executes every grid point with ``dry_run=True`` (the notebook
validates its configs, prints its plan and stops) and estimates a range of GPU-hours
from the planned FLOPs and ATen operations at assumed rates (``cost.estimate_hours``).

``load_spec`` checks the keys of ``parameters`` and ``grid`` against the notebook's own
parameters (``papermill.inspect_notebook``): a misspelt name fails before any work instead of
running with the default. Each point's papermill process runs in a process group of its own and
dies with the sweep (``kill -9`` included, on Linux); its kernel exits when papermill does, and
``experiment.run`` locks a run while it trains, so a second sweep on the same point refuses.
"""
from __future__ import annotations

import argparse
import difflib
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from . import cost
from .experiment import RunLock
from .notebook import repo_root
from .results import write_json_atomic

SPEC_KEYS = {"notebook", "parameters", "grid", "seeds", "results_dir", "paper", "description", "runs"}
RUN_GROUP_KEYS = {"table", "dataset", "models", "recipe", "methods", "needs"}


def load_spec(path: str | os.PathLike) -> dict:
    """Read and check a sweep spec; paths are resolved against the repository root."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; valid: {sorted(SPEC_KEYS)}")
    if "notebook" not in spec:
        raise ValueError(f"{path}: 'notebook' is required (a path under notebooks/)")
    root = repo_root(path.parent)
    nb = root / spec["notebook"]
    if not nb.exists():
        raise ValueError(f"{path}: notebook {spec['notebook']!r} does not exist")
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ValueError(f"{path}: 'grid' must map parameter names to non-empty lists, got {grid!r}")
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"{path}: 'seeds' must be a non-empty list of integers >= 0, got {seeds!r}")
    fixed = spec.get("parameters") or {}
    if not isinstance(fixed, dict):
        raise ValueError(f"{path}: 'parameters' must map parameter names to values, got {fixed!r}")
    clash = sorted(set(fixed) & (set(grid) | {"seed"}))
    if clash:
        raise ValueError(f"{path}: {clash} set both in 'parameters' and in 'grid'/'seeds'")
    check_parameters(path, nb, {"parameters": fixed, "grid": grid})
    chapter = nb.parent.name
    return {"name": path.stem, "path": path, "root": root, "notebook": nb, "parameters": fixed, "grid": grid,
            "seeds": seeds, "results_dir": str(root / spec.get("results_dir", f"results/{chapter}")),
            "paper": spec.get("paper", "")}


def notebook_parameters(nb: Path) -> set[str]:
    """The names the notebook's ``parameters`` cell declares (``papermill.inspect_notebook``)."""
    import papermill

    return set(papermill.inspect_notebook(str(nb)))


def check_parameters(path: Path, nb: Path, sections: dict) -> None:
    """Every key of the spec's ``parameters`` and ``grid`` must be a parameter of the notebook, and
    the notebook must take the ``seed`` and ``results_dir`` the sweep passes to every point."""
    declared = notebook_parameters(nb)
    lacking = sorted({"seed", "results_dir"} - declared)
    if lacking:
        raise ValueError(f"{path}: notebook {nb.name} has no parameter {lacking}, which the sweep sets for "
                         f"every point; its parameters: {sorted(declared)}")
    for section, keys in sections.items():
        unknown = sorted(set(keys) - declared)
        if unknown:
            hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, declared, n=1))
                     else repr(u) for u in unknown]
            raise ValueError(f"{path}: {section}: unknown {', '.join(hints)}; the parameters of {nb.name} are "
                             f"{sorted(declared)}")


def run_list(path: str | os.PathLike) -> list[dict]:
    """The paper-scale run list in a spec's ``runs`` section, one dict per (group, model, method):
    ``table, dataset, model, label, method, kwargs, train`` (a TrainConfig's fields, from the named
    recipe). ``runs`` holds ``recipes`` (name -> TrainConfig fields) and ``groups`` (each: table,
    dataset, models, recipe, methods as [label, objective, kwargs], optional ``needs``: a package
    without which the group is left out). A relative path is taken from the repository root.
    """
    import importlib.util

    path = Path(path)
    if not path.is_absolute():
        path = repo_root() / path
    runs = (yaml.safe_load(path.read_text()) or {}).get("runs")
    if not isinstance(runs, dict) or set(runs) != {"recipes", "groups"}:
        raise ValueError(f"{path}: 'runs' must hold 'recipes' and 'groups'")
    out = []
    for g in runs["groups"]:
        unknown = sorted(set(g) - RUN_GROUP_KEYS)
        if unknown:
            raise ValueError(f"{path}: run group keys {unknown} unknown; valid: {sorted(RUN_GROUP_KEYS)}")
        if g["recipe"] not in runs["recipes"]:
            raise ValueError(f"{path}: recipe: unknown {g['recipe']!r}; valid: {sorted(runs['recipes'])}")
        if g.get("needs") and importlib.util.find_spec(g["needs"]) is None:
            print(f"{g['table']}, {', '.join(g['models'])}: not configured here (the {g['needs']} package "
                  "is not installed)")
            continue
        for model in g["models"]:
            for label, method, kwargs in g["methods"]:
                out.append({"table": g["table"], "dataset": g["dataset"], "model": model, "label": label,
                            "method": method, "kwargs": dict(kwargs), "train": dict(runs["recipes"][g["recipe"]])})
    return out


def points(spec: dict) -> list[dict]:
    """Every (grid combination, seed) as a dict of notebook parameters, in a fixed order."""
    keys = sorted(spec["grid"])
    out = []
    for values in itertools.product(*(spec["grid"][k] for k in keys)):
        for seed in spec["seeds"]:
            out.append({**dict(zip(keys, values)), "seed": seed})
    return out


def point_id(point: dict) -> str:
    """A file name for a point: key=value pairs in key order, unsafe characters replaced."""
    return re.sub(r"[^A-Za-z0-9_.=,-]", "_", ",".join(f"{k}={point[k]}" for k in sorted(point)))


# A papermill child, started through this: on Linux it asks the kernel to send it SIGKILL when its
# parent (the sweep's worker thread) dies, so a sweep killed by any signal, -9 included, takes its
# points with it (the notebook kernel exits when papermill does: ipykernel polls its parent).
_LAUNCH = ("import ctypes, os, signal, sys\n"
           "if sys.platform.startswith('linux'):\n"
           "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
           "    if os.getppid() != int(sys.argv[1]): sys.exit(1)  # the sweep died before prctl\n"
           "os.execv(sys.executable, [sys.executable, '-m', 'papermill', *sys.argv[2:]])\n")
_CHILDREN: set = set()          # live papermill processes, each the leader of its process group
_CHILDREN_LOCK = threading.Lock()
_STOP = threading.Event()        # set when the sweep is stopped: no worker starts another point


def kill_children(sig: int = signal.SIGTERM) -> None:
    """Stop the sweep: no new point starts, and the process group of every live papermill child
    gets ``sig`` (their kernels follow)."""
    _STOP.set()
    with _CHILDREN_LOCK:
        procs = list(_CHILDREN)
    for proc in procs:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def run_point(spec: dict, point: dict, out_dir: Path, device: str | None) -> dict:
    """Execute one point with papermill in a fresh process; write the done marker on success.

    The papermill process leads a process group of its own and dies with the sweep (``_LAUNCH``)."""
    params = {**spec["parameters"], **point, "results_dir": spec["results_dir"]}
    if device is not None:
        params["device"] = device
    pid = point_id(point)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    try:
        lock = RunLock(out_dir / f".{pid}.lock").__enter__()   # one sweep per point at a time
    except RuntimeError as e:
        return {"point": point, "parameters": params, "device": device, "seconds": 0.0, "ok": False,
                "notebook": str(out_dir / f"{pid}.ipynb"), "error": f"point {pid}: {e}"}
    try:
        return _run_locked(spec, point, params, pid, out_dir, device, t0)
    finally:
        lock.__exit__(None, None, None)


def _run_locked(spec, point, params, pid, out_dir, device, t0) -> dict:
    args = [str(spec["notebook"]), str(out_dir / f"{pid}.ipynb"), "--cwd", str(spec["notebook"].parent),
            "-y", yaml.safe_dump(params), "--no-progress-bar"]
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, str(os.getpid()), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
        if _STOP.is_set():   # stopped while this one started
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        _, stderr = proc.communicate()
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
        if proc.poll() is None:   # interrupted (KeyboardInterrupt, an error): the point goes with us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    status = {"point": point, "parameters": params, "device": device, "seconds": round(time.time() - t0, 1),
              "ok": proc.returncode == 0, "notebook": str(out_dir / f"{pid}.ipynb")}
    if proc.returncode == 0:
        write_json_atomic(status, out_dir / f"{pid}.done.json")
    else:
        status["error"] = stderr[-2000:]
    return status


def is_done(marker: Path) -> bool:
    """Whether a point's done marker is a complete marker of a successful run (not a truncated file)."""
    try:
        st = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(st, dict) and st.get("ok") is True


def run_sweep(spec: dict, devices: list[str | None], out_dir: Path, log=print) -> list[dict]:
    """Run every unfinished point, one worker thread (and papermill process) per device."""
    _STOP.clear()
    todo = queue.Queue()
    for p in points(spec):
        if is_done(out_dir / f"{point_id(p)}.done.json"):
            log(f"skip (finished): {point_id(p)}")
        else:
            todo.put(p)
    results, lock = [], threading.Lock()

    def worker(device):
        while not _STOP.is_set():
            try:
                p = todo.get_nowait()
            except queue.Empty:
                return
            log(f"run {point_id(p)} on {device or 'default device'}")
            st = run_point(spec, p, out_dir, device)
            log(f"{'done' if st['ok'] else 'FAILED'}: {point_id(p)} ({st['seconds']} s)")
            with lock:
                results.append(st)

    threads = [threading.Thread(target=worker, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def dry_run(spec: dict, tflops=cost.ASSUMED_TFLOPS, op_us=cost.ASSUMED_OP_US, log=print) -> dict:
    """Execute each grid point once with ``dry_run=True``; sum the planned PFLOP and ATen operations
    over points and seeds; estimate (optimistic, pessimistic) GPU-hours from them (``cost``)."""
    keys = sorted(spec["grid"])
    combos = list(itertools.product(*(spec["grid"][k] for k in keys)))
    total = total_gops = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for values in combos:
            point = {**dict(zip(keys, values)), "seed": spec["seeds"][0]}
            st = run_point({**spec, "parameters": {**spec["parameters"], "dry_run": True}}, point, Path(tmp), None)
            if not st["ok"]:
                raise RuntimeError(f"{spec['path']}: dry run of {point_id(point)} failed:\n{st['error']}")
            pflop, gops = planned_cost(Path(st["notebook"]))
            log(f"point {point_id({k: point[k] for k in keys}) or '(single)'}: {pflop:.3f} PFLOP and "
                f"{gops:.4g} G ATen ops per seed")
            total += pflop * len(spec["seeds"])
            total_gops += gops * len(spec["seeds"])
    hours = cost.estimate_hours(total, total_gops * 1e9, tflops, op_us)
    n = len(combos) * len(spec["seeds"])
    log(f"{spec['name']}: {n} point(s) ({len(combos)} grid x {len(spec['seeds'])} seeds) of {spec['notebook'].name}; "
        f"{total:.3f} PFLOP and {total_gops:.4g} G ATen ops; {cost.describe(total, total_gops * 1e9, tflops, op_us)}")
    return {"points": n, "pflop": total, "gops": total_gops, "gpu_hours": hours}


def planned_cost(executed: Path) -> tuple[float, float]:
    """(PFLOP, G ATen ops): the 'total X PFLOP and Y G ATen ops' that ``notebook.dry_run_stop``
    prints, summed over the notebook's outputs (a plan without operations counts none)."""
    nb = json.loads(executed.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    found = re.findall(r"total ([0-9.]+) PFLOP(?: and ([0-9.eE+-]+) G ATen ops)?", text)
    if not found:
        raise RuntimeError(f"{executed}: no dry-run plan printed (does the notebook call notebook.dry_run_stop?)")
    return sum(float(p) for p, _ in found), sum(float(g or 0) for _, g in found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mixupbook.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="experiments/NAME.yaml")
    ap.add_argument("--devices", default=None, help="comma-separated CUDA indices, one worker each (e.g. 0,1)")
    ap.add_argument("--dry-run", action="store_true", help="validate every point, print the plan and GPU-hours")
    ap.add_argument("--out", default=None, help="executed notebooks and markers (default results/sweeps/<spec>)")
    ap.add_argument("--tflops", type=float, nargs=2, default=cost.ASSUMED_TFLOPS, metavar=("HIGH", "LOW"),
                    help="assumed sustained TFLOP/s, optimistic and pessimistic (default %(default)s)")
    ap.add_argument("--op-us", type=float, nargs=2, default=cost.ASSUMED_OP_US, metavar=("LOW", "HIGH"),
                    help="assumed host microseconds per ATen op, optimistic and pessimistic (default %(default)s)")
    args = ap.parse_args(argv)
    spec = load_spec(args.spec)
    if args.dry_run:
        dry_run(spec, tuple(args.tflops), tuple(args.op_us))
        return 0
    devices = [None] if not args.devices else [f"cuda:{int(d)}" for d in args.devices.split(",")]
    out = Path(args.out) if args.out else spec["root"] / "results" / "sweeps" / spec["name"]

    def stop(signum, frame):   # SIGTERM, SIGINT, SIGHUP: the points running now stop with the sweep
        kill_children(signal.SIGTERM)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        results = run_sweep(spec, devices, out)
    finally:
        kill_children(signal.SIGKILL)
    failed = [r for r in results if not r["ok"]]
    for r in failed:
        print(f"FAILED {point_id(r['point'])}:\n{r['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
