"""Sweeps (``mixupbook.sweep``), chapter ``scale``: spec checks, dry runs of every spec in
experiments/, skipping finished points, and resuming a killed point.

The resume test runs a tiny MLP notebook through the sweep twice: the first time the
kernel kills itself with SIGKILL after 3 of 6 epochs (the checkpoint of epoch 3 is on
disk, no record); the second run resumes from it. The record must equal the one an
uninterrupted run writes (history and final metrics exactly; timings aside).
"""
import json
from pathlib import Path

import nbformat
import pytest
import torch
import yaml
from forked_kernel import execute as execute_notebook

from mixupbook import sweep
from mixupbook.experiment import ExperimentConfig, run

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "experiments").glob("*.yaml"))

CONFIG = ("ExperimentConfig(name='tiny', dataset='gaussian_clouds', dataset_kwargs={'n': 120, 'n_test': 60}, "
          "model='mlp', method='mixup', method_kwargs={'alpha': 1.0}, device='cpu', seed=seed, "
          "results_dir=results_dir, train={'epochs': 6, 'batch_size': 32, 'lr': 0.1})")


def _tiny_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seed = 0\nresults_dir = 'results'\nkill = False\ndry_run = False\n"
                                       "alpha = 1.0\ndataset = ''\n")   # load_spec checks grid keys against these
    params.metadata["tags"] = ["parameters"]
    body = ("import os, signal, torch\nfrom mixupbook.experiment import ExperimentConfig, run\n"
            "torch.set_num_threads(1)\n"
            f"cfg = {CONFIG}\n"
            "if dry_run:\n    print('dry run: 1 configuration(s) valid; total 0.001 PFLOP; later cells skipped')\n"
            "elif kill:\n"
            "    try:\n        run(cfg, stop_after=3)\n"
            "    except RuntimeError:\n        os.kill(os.getpid(), signal.SIGKILL)  # a crash after epoch 3\n"
            "else:\n    print(run(cfg)['final']['test_acc'])\n")
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "notebooks" / "tiny" / "01_tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    (folder / "_toc.yml").write_text("root: x\n")  # marks the repository root for load_spec
    return path


def _spec(folder: Path, **extra) -> Path:
    spec = {"notebook": "notebooks/tiny/01_tiny.ipynb", "seeds": [1], "results_dir": "results/tiny", **extra}
    path = folder / "experiments" / "tiny.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(spec))
    return path


def test_points_and_ids(tmp_path):
    _tiny_notebook(tmp_path)
    spec = sweep.load_spec(_spec(tmp_path, grid={"alpha": [0.2, 1.0], "dataset": ["a/b"]}, seeds=[0, 1]))
    pts = sweep.points(spec)
    assert len(pts) == 4 and len({sweep.point_id(p) for p in pts}) == 4
    assert sweep.point_id({"dataset": "a/b", "seed": 0}) == "dataset=a_b,seed=0"


@pytest.mark.parametrize("bad, match", [({"grid": {"alpha": []}}, "grid"), ({"seeds": [-1]}, "seeds"),
                                        ({"notebook": "notebooks/none.ipynb"}, "does not exist"),
                                        ({"parameters": {"seed": 3}}, "both"), ({"typo": 1}, "unknown keys")])
def test_bad_specs_fail_before_work(tmp_path, bad, match):
    _tiny_notebook(tmp_path)
    with pytest.raises(ValueError, match=match):
        sweep.load_spec(_spec(tmp_path, **bad))


def _strip(record):
    hist = [{k: v for k, v in row.items() if k != "seconds"} for row in record["history"]]
    return hist, record["final"], record["key"]


def test_killed_point_resumes_to_the_uninterrupted_record(tmp_path):
    _tiny_notebook(tmp_path)
    out = tmp_path / "sweeps"
    spec = sweep.load_spec(_spec(tmp_path, parameters={"kill": True}))
    first = sweep.run_sweep(spec, [None], out, log=lambda s: None)
    assert len(first) == 1 and not first[0]["ok"]                      # the kernel died
    assert list((tmp_path / "results/tiny/checkpoints").glob("*.pt"))  # epoch-3 checkpoint left behind
    assert not list((tmp_path / "results/tiny/tiny").glob("*.json"))   # no record yet
    spec = sweep.load_spec(_spec(tmp_path, parameters={"kill": False}))
    second = sweep.run_sweep(spec, [None], out, log=lambda s: None)
    assert len(second) == 1 and second[0]["ok"], second[0].get("error")
    resumed = json.loads(next((tmp_path / "results/tiny/tiny").glob("*.json")).read_text())
    assert len(resumed["history"]) == 6
    # the uninterrupted run, in this process
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed, results_dir = 1, str(tmp_path / "fresh")  # noqa: F841 (read by eval)
        straight = run(eval(CONFIG, {"ExperimentConfig": ExperimentConfig},
                            {"seed": seed, "results_dir": results_dir}))
    finally:
        torch.set_num_threads(threads)
    assert _strip(resumed) == _strip(straight)
    # a third run skips the finished point without executing anything
    logs = []
    assert sweep.run_sweep(spec, [None], out, log=logs.append) == [] and logs[0].startswith("skip")


def _forked_point(spec, point, params, pid, out_dir, device, t0) -> dict:
    """``sweep._run_locked`` with the notebook in a fork (``forked_kernel``) instead of a papermill
    process: the dry runs below test each spec's points and plans; the test above and
    ``test_paper_scale_safety`` test the papermill processes."""
    out = out_dir / f"{pid}.ipynb"
    status = {"point": point, "parameters": params, "device": device, "notebook": str(out), "ok": True}
    try:
        execute_notebook(spec["notebook"], out, parameters=params, cwd=spec["notebook"].parent)
    except Exception as e:  # noqa: BLE001 (reported as the sweep reports a failed point)
        status.update(ok=False, error=str(e))
    return status


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_passes_dry_run(path, monkeypatch):
    monkeypatch.setattr(sweep, "_run_locked", _forked_point)
    spec = sweep.load_spec(path)
    plan = sweep.dry_run(spec, log=lambda s: None)
    assert plan["points"] == len(sweep.points(spec)) and plan["pflop"] > 0 and 0 < plan["gpu_hours"][0] < plan["gpu_hours"][1]
