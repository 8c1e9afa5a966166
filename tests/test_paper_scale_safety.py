"""Paper scale that finishes, refuses what it cannot run, and loads nothing unsafe (issue 26, items 1-4).

1. Sweep notebooks after training: every sweep notebook's post-training cells run at paper scale on
   fabricated runs (``fabricated_runs``: tiny data and models, a fabricated history, the library's own
   records in ``results_dir``); the README's example gathers its seeds across the sweep's points and
   skips statistics and claims, saying so, while it has one.
2. Unknown parameters are refused (sweep specs and papermill's injected cell), booleans are read
   strictly, and no message recommends a parameter a notebook lacks.
3. Training stops on a non-finite objective and says where; records are strict JSON and checked
   before they count as finished; load errors name the file and the remedy; a dry run checks the
   files a dataset needs; the results folder is checked before work; wall time sums the segments
   of a resumed run; a run being trained is locked; a sweep's points die with it.
4. Checkpoints load with ``weights_only=True`` (a crafted pickle is refused); CIFAR batches are
   checked against torchvision's MD5 sums before unpickling; the launch cell installs a pinned ref.
"""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from fabricated_runs import execute_fabricated
from mixupbook import data as D
from mixupbook import experiment as E
from mixupbook import sweep
from mixupbook.experiment import ExperimentConfig, RunLock, plan, run, validate
from mixupbook.methods import build_objective
from mixupbook.models import build_model
from mixupbook.notebook import as_bool
from mixupbook.results import check_record, load_records, write_json_atomic
from mixupbook.train import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
SPECS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "experiments").glob("*.yaml"))}


# ------------------------------------------------------------------ 1. after training, at paper scale
# Cheaper settings where a notebook's own parameters allow them (the code paths are the same).
CHEAP = {"chidambaram2022/02_distance_measure": {"n_exact": 20, "n_brute": 10},
         "chidambaram2022/03_images_beta1024": {"n_seeds": 2},
         "extending/02_worked_example": {"n_seeds": 2},
         "zou2023/05_images": {"seeds": 2},
         # fabricated runs have no gain to size the seeds by: the pilot's check would stop the run
         "synthesis/03_mechanism_arms": {"check_power": False, "n_boot": 200}}


def _sweep_notebooks() -> dict:
    """{notebook: (spec name, the spec's fixed parameters + its first grid point)}, one per notebook."""
    out = {}
    for name, spec in SPECS.items():
        nb = spec["notebook"].removeprefix("notebooks/").removesuffix(".ipynb")
        grid = {k: v[0] for k, v in (spec.get("grid") or {}).items()}
        out.setdefault(nb, (name, {**(spec.get("parameters") or {}), **grid}))
    return out


SWEEP_NOTEBOOKS = _sweep_notebooks()


@pytest.mark.parametrize("notebook", sorted(SWEEP_NOTEBOOKS))
def test_sweep_notebook_runs_its_post_training_cells_on_fabricated_records(notebook, tmp_path):
    spec, params = SWEEP_NOTEBOOKS[notebook]
    params = {**params, **CHEAP.get(notebook, {})}
    params.pop("scale", None)
    text = execute_fabricated(notebook, tmp_path, **params)   # raises on the first cell that fails
    assert "later cells skipped" not in text
    assert list((tmp_path / "results").rglob("*.json")), "no record was written or read"


def test_readme_example_sweep_finishes_every_point_gathering_its_seeds(tmp_path):
    """The README's example, experiments/zhang2021_fig1b.yaml (zhang2021/11, one seed per point), run by
    the sweep itself on fabricated runs: every point finishes; the first says it skips its statistics
    and claims (one seed), the later ones read the records of the points before them."""
    from fabricated_runs import _with_install_cell

    from notebook_runs import outputs_text

    spec = SPECS["zhang2021_fig1b"]
    assert spec["notebook"] == "notebooks/zhang2021/11_fig1b_generalization_gap.ipynb"
    assert len(spec["seeds"]) >= 2 and not spec.get("grid") and spec["parameters"] == {"scale": "paper"}
    (tmp_path / "_toc.yml").write_text("root: x\n")   # a copy of the book: the notebook with the fabrication cell
    (tmp_path / "notebooks" / "zhang2021").mkdir(parents=True)
    _with_install_cell(ROOT / spec["notebook"], tmp_path / spec["notebook"])
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "zhang2021_fig1b.yaml").write_text(yaml.safe_dump(spec))
    loaded = sweep.load_spec(tmp_path / "experiments" / "zhang2021_fig1b.yaml")
    results = sweep.run_sweep(loaded, [None], tmp_path / "sweeps", log=lambda s: None)
    assert [r["ok"] for r in results] == [True] * len(spec["seeds"]), [r.get("error") for r in results]
    texts = {r["point"]["seed"]: outputs_text(r["notebook"]) for r in results}
    first, *later = spec["seeds"]
    assert "mean over 1 seed(s)" in texts[first] and "paper scale: run" not in texts[first]
    assert f"claims: skipped, records of 1 seed(s) [{first}]" in texts[first]
    for k, s in enumerate(later, start=2):
        assert f"mean over {k} seed(s)" in texts[s] and "skipped" not in texts[s]
        assert "[Z11 · paper scale: run]" in texts[s] and f"{k} seeds" in texts[s]
    records = load_records(tmp_path / "results" / "zhang2021")
    assert sorted({r["config"]["seed"] for r in records}) == sorted(spec["seeds"])


def test_gather_seeds_reads_only_this_configuration(tmp_path):
    from mixupbook.notebook import gather_seeds

    cfg = _cfg(tmp_path)
    for s in (0, 2):
        run(ExperimentConfig(**{**cfg.__dict__, "seed": s}))
    other = ExperimentConfig(**{**cfg.__dict__, "method_kwargs": {"alpha": 0.3}, "seed": 5})
    run(other)   # another configuration in the same folder: not one of its seeds
    assert gather_seeds([cfg]) == [0, 2] and gather_seeds([cfg, other]) == []
    assert sorted(E.seed_records(cfg)) == [0, 2]


# ------------------------------------------------------------------ 2. parameters refused, booleans strict
def _tiny_notebook(folder: Path, body: str = "") -> Path:
    """A notebook with the book's common parameters (and ``alpha``) whose second cell calls setup."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('# Parameters (papermill -p NAME VALUE overrides any of them)\n'
                                       'scale = "book"\ndevice = "cpu"\nseed = 0\ndata_root = "data"\n'
                                       'results_dir = None\ndry_run = False\nalpha = 1.0\n')
    params.metadata["tags"] = ["parameters"]
    setup = ("from mixupbook import notebook\n"
             "ctx = notebook.setup(scale, device, seed, data_root, results_dir, dry_run)\n"
             "print('dry_run', repr(dry_run), ctx.dry_run)\n" + body)
    nb.cells = [params, nbformat.v4.new_code_cell(setup)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "notebooks" / "tiny" / "01_tiny.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    (folder / "_toc.yml").write_text("root: x\n")
    return path


def test_papermill_p_alhpa_stops_the_readme_example_naming_the_valid_parameters(tmp_path):
    import papermill as pm

    from notebook_runs import execute

    with pytest.raises(pm.PapermillExecutionError) as e:   # papermill itself only warns
        execute("zhang2021/11_fig1b_generalization_gap", tmp_path, alhpa=0.5)
    msg = str(e.value)
    assert "parameters: unknown 'alhpa' (did you mean 'alpha'?)" in msg
    assert "['alpha', 'data_root', 'device', 'dry_run', 'results_dir', 'scale', 'seed']" in msg


PARAMS = ('# Parameters (papermill -p NAME VALUE overrides any of them)\nscale = "book"\ndevice = "cpu"\n'
          'seed = 0\ndata_root = "data"\nresults_dir = None\ndry_run = False\nalpha = 1.0\n')


def _injected(injected: str):
    """A parameters cell, papermill's injected cell, then setup's check, in an in-process IPython
    shell (what a kernel runs, without starting one); returns (error or None, namespace)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    try:
        for cell in (PARAMS, "# Parameters\n" + injected, "from mixupbook import notebook\n"
                     "notebook.check_injected_parameters()\n"):
            result = shell.run_cell(cell, store_history=True)
        return result.error_in_exec, dict(shell.user_ns)
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("injected, error", [
    ("alhpa = 0.5\n", "unknown 'alhpa' (did you mean 'alpha'?)"),
    ("download = True\n", "unknown 'download'; this notebook's parameters are ['alpha', 'data_root'"),
    ("dry_run = 'maybe'\n", "dry_run: expected True or False, got 'maybe'"),
])
def test_setup_refuses_unknown_parameters_and_text_that_is_no_boolean(injected, error):
    err, _ = _injected(injected)
    assert isinstance(err, ValueError) and error in str(err)


@pytest.mark.parametrize("text, value", [("no", False), ("False", False), ("yes", True), ("true", True)])
def test_setup_reads_r_dry_run_no_as_false(text, value):
    """`papermill -r dry_run no` injects the text 'no', which bool() reads as True."""
    err, ns = _injected(f"dry_run = {text!r}\nalpha = 0.5\n")
    assert err is None and ns["dry_run"] is value and ns["alpha"] == 0.5


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("no", False), ("False", False),
                                             ("yes", True), ("true", True), (0, False), (1, True)])
def test_as_bool_is_strict(value, expected):
    assert as_bool("dry_run", value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, None, 0.5])
def test_as_bool_refuses_what_is_no_boolean(value):
    with pytest.raises(ValueError, match="dry_run: expected True or False"):
        as_bool("dry_run", value)


def test_experiment_config_refuses_text_for_download(tmp_path):
    with pytest.raises(ValueError, match="download: expected True or False"):
        validate(_cfg(tmp_path, download="no"))


def _spec(folder: Path, **extra) -> Path:
    _tiny_notebook(folder)
    path = folder / "experiments" / "tiny.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"notebook": "notebooks/tiny/01_tiny.ipynb", "seeds": [0], **extra}))
    return path


@pytest.mark.parametrize("section", ["parameters", "grid"])
def test_sweep_spec_refuses_a_parameter_the_notebook_lacks(tmp_path, section):
    value = {"alhpa": 0.2} if section == "parameters" else {"alhpa": [0.1, 0.2]}
    with pytest.raises(ValueError, match=rf"{section}: unknown 'alhpa' \(did you mean 'alpha'\?\)") as e:
        sweep.load_spec(_spec(tmp_path, **{section: value}))
    assert "'dry_run'" in str(e.value)
    assert sweep.load_spec(_spec(tmp_path, parameters={"alpha": 0.2}))["parameters"] == {"alpha": 0.2}


def test_every_committed_spec_names_only_its_notebooks_parameters():
    for name in SPECS:
        sweep.load_spec(ROOT / "experiments" / f"{name}.yaml")


def test_download_is_recommended_only_as_a_command_every_notebook_can_use(tmp_path):
    """The README and the missing-data messages recommend `python -m mixupbook.data download`, which
    works for every notebook (most have no `download` parameter), never `-p download True`."""
    readme = (ROOT / "README.md").read_text()
    assert "-p download True" not in readme and "python -m mixupbook.data download" in readme
    with pytest.raises(FileNotFoundError, match=r"python -m mixupbook\.data download cifar10 --root"):
        D.load_dataset("cifar10", tmp_path)
    assert "python -m mixupbook.data download cifar10" in D.data_status("cifar10", tmp_path)
    assert D.main(["check", "cifar10", "--root", str(tmp_path)]) == 1


# ------------------------------------------------------------------ 3. divergence, records, load errors
def _cfg(tmp_path, **kw):
    base = dict(dataset="two_moons", dataset_kwargs={"n": 64, "n_test": 32}, model="mlp",
                model_kwargs={"hidden": (8,)}, method="mixup", method_kwargs={"alpha": 1.0},
                train={"epochs": 3, "batch_size": 16, "lr": 0.1}, results_dir=str(tmp_path / "results"),
                device="cpu")
    base.update(kw)
    return ExperimentConfig(**base)


class _PoisonedAt:
    """ERM whose loss becomes NaN at one call (epoch 2, step 3 with 4 steps an epoch)."""

    def __init__(self, at):
        self.inner, self.calls, self.at = build_objective("erm", 2), 0, at
        self.name, self.step_cost = "erm", 1.0

    def __call__(self, net, x, y, gen):
        self.calls += 1
        loss = self.inner(net, x, y, gen)
        return loss * float("nan") if self.calls == self.at else loss


def test_training_stops_on_a_non_finite_objective_naming_epoch_and_step(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    monkeypatch.setattr(E, "build_objective", lambda *a, **k: _PoisonedAt(4 + 3))
    with pytest.raises(FloatingPointError, match=r"objective is nan at epoch 2 of 3, first at step 3 of 4"):
        run(cfg)
    assert not cfg.record_path().exists()   # no "finished" record of a diverged run


def test_non_finite_inputs_and_an_infinite_lr_are_refused_before_training():
    data = D.load_dataset("two_moons", n=32, n_test=16)
    data.x_train[5, 1] = float("nan")
    model = build_model("mlp", 2, data.input_shape, hidden=(4,))
    with pytest.raises(ValueError, match="x_train holds 1 non-finite value.*example 5"):
        fit(model, build_objective("erm", 2), data, TrainConfig(epochs=1), device="cpu", progress=False)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        TrainConfig(lr=float("inf")).validate()


def test_records_are_strict_json(tmp_path):
    with pytest.raises(ValueError, match=r"r\.json: not written.*strict JSON"):
        write_json_atomic({"final": {"test_loss": float("nan")}}, tmp_path / "r.json")
    assert not list(tmp_path.iterdir())   # nothing half-written
    rec = run(_cfg(tmp_path))
    json.loads(_cfg(tmp_path).record_path().read_text(), parse_constant=lambda c: pytest.fail(f"{c} in a record"))
    assert check_record(rec, "r", run=True) is rec


@pytest.mark.parametrize("content, why", [("{}", "schema None"), ('{"schema": 1}', "no "),
                                          ('{"schema": 1, "key"', "cannot be read as JSON"), ("[]", "a JSON list")])
def test_a_cached_record_must_be_a_finished_record_of_this_configuration(tmp_path, content, why):
    cfg = _cfg(tmp_path)
    cfg.record_path().parent.mkdir(parents=True)
    cfg.record_path().write_text(content)
    with pytest.raises(ValueError) as e:
        run(cfg)
    assert str(cfg.record_path()) in str(e.value) and why in str(e.value) and "delete it" in str(e.value)


def test_a_record_of_another_configuration_is_not_taken(tmp_path):
    cfg = _cfg(tmp_path)
    rec = run(cfg)
    write_json_atomic({**rec, "key": "0123456789ab"}, cfg.record_path())
    with pytest.raises(ValueError, match="not of this configuration"):
        run(cfg)


def test_a_truncated_checkpoint_names_the_file_and_the_remedy(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(RuntimeError, match="stopped after 1"):
        run(cfg, stop_after=1)
    ckpt = next((tmp_path / "results" / "checkpoints").glob("*.pt"))
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(RuntimeError) as e:
        run(cfg)
    assert str(ckpt) in str(e.value) and "Delete it to train this run from its first epoch" in str(e.value)


def test_load_records_names_a_damaged_file(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "r.json").write_text('{"schema": 1, "ke')
    with pytest.raises(ValueError, match=r"x/r\.json: cannot be read as JSON.*truncated"):
        load_records(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_a_truncated_dataset_file_names_the_file_and_the_remedy(tmp_path, gz):
    import gzip

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, shape in [("train-images-idx3-ubyte", (3, 28, 28)), ("train-labels-idx1-ubyte", (3,)),
                        ("t10k-images-idx3-ubyte", (2, 28, 28)), ("t10k-labels-idx1-ubyte", (2,))]:
        arr = np.zeros(shape, np.uint8)
        raw_bytes = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in shape) + arr.tobytes()
        raw_bytes = raw_bytes[: len(raw_bytes) // 2] if stem.startswith("train-images") else raw_bytes
        if gz:
            with gzip.open(raw / f"{stem}.gz", "wb") as fh:
                fh.write(raw_bytes)
        else:
            (raw / stem).write_bytes(raw_bytes)
    with pytest.raises(ValueError) as e:
        D.load_dataset("mnist", tmp_path)
    assert "train-images-idx3-ubyte" in str(e.value) and "truncated or damaged" in str(e.value)
    assert f"python -m mixupbook.data download mnist --root {tmp_path}" in str(e.value)


def test_dry_run_and_validate_check_the_files_a_dataset_needs(tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)   # the folder exists, its batches do not
    (folder / "data_batch_1").write_bytes(b"x")
    cfg = _cfg(tmp_path, dataset="cifar10", model="small_cnn", model_kwargs={}, data_root=str(tmp_path / "data"))
    assert "MISSING 5 of 6 files" in plan(cfg)["data"] and "data_batch_2" in plan(cfg)["data"]
    with pytest.raises(FileNotFoundError, match="data_batch_2"):
        validate(cfg)
    assert D.missing_files("mnist", tmp_path) and not D.dataset_available("svhn", tmp_path)


def test_an_unwritable_results_folder_fails_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    cfg = _cfg(tmp_path, results_dir=str(tmp_path / "a_file" / "results"))   # cannot be created
    monkeypatch.setattr(E, "build", lambda cfg: pytest.fail("work started before the folder was checked"))
    with pytest.raises(PermissionError, match=r"results_dir: cannot write to .*a_file/results"):
        run(cfg)


def test_wall_seconds_sum_every_segment_of_a_resumed_run(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(RuntimeError, match="stopped after 2"):
        run(cfg, stop_after=2)
    ckpt = next((tmp_path / "results" / "checkpoints").glob("*.pt"))
    state = torch.load(ckpt, weights_only=True)
    assert 0 < state["wall_seconds"] < 1000
    state["wall_seconds"] = 1000.0   # as if the first segment had taken 1000 s
    torch.save(state, ckpt)
    assert 1000 < run(cfg)["wall_seconds"] < 1100


def test_a_run_being_trained_is_locked(tmp_path):
    cfg = _cfg(tmp_path)
    lock = tmp_path / "results" / "checkpoints" / f"{cfg.name}-{cfg.key()}-seed{cfg.seed}.pt.lock"
    with RunLock(lock):   # another trainer holds this run
        with pytest.raises(RuntimeError, match=rf"another process \(pid {os.getpid()}\) is training this run"):
            run(cfg)
        assert not cfg.record_path().exists()
    assert run(cfg)["final"]   # released: it trains


SLEEPER = ("import os, time\nfrom pathlib import Path\n"
           "Path(pidfile).write_text(f'{os.getpid()} {os.getppid()}')\ntime.sleep(300)\n")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_a_killed_sweep_takes_its_points_with_it(tmp_path, sig):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seed = 0\nresults_dir = 'results'\npidfile = ''\n")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(SLEEPER)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks" / "t").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "notebooks" / "t" / "01_sleep.ipynb")
    (tmp_path / "_toc.yml").write_text("root: x\n")
    pidfile = tmp_path / "pids"
    spec = tmp_path / "sleep.yaml"
    spec.write_text(yaml.safe_dump({"notebook": "notebooks/t/01_sleep.ipynb", "seeds": [0],
                                    "parameters": {"pidfile": str(pidfile)}, "results_dir": "results"}))
    proc = subprocess.Popen([sys.executable, "-m", "mixupbook.sweep", str(spec), "--out", str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while not pidfile.exists() or not pidfile.read_text():
            assert proc.poll() is None and time.time() < deadline, "the point never started"
            time.sleep(0.2)
        kernel, papermill = map(int, pidfile.read_text().split())
        proc.send_signal(sig)
        proc.wait(timeout=60)
        deadline = time.time() + 30
        while (_alive(kernel) or _alive(papermill)) and time.time() < deadline:
            time.sleep(0.2)
        assert not _alive(papermill), "papermill outlived its sweep"
        assert not _alive(kernel), "the notebook kernel outlived its sweep"
    finally:
        proc.kill()
        for pid in (locals().get("kernel"), locals().get("papermill")):
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_second_sweep_on_a_point_being_run_refuses_it(tmp_path):
    spec = sweep.load_spec(_spec(tmp_path))
    point = sweep.points(spec)[0]
    out = tmp_path / "out"
    with RunLock(out / f".{sweep.point_id(point)}.lock"):   # the first sweep is running this point
        status = sweep.run_point(spec, point, out, None)
    assert not status["ok"] and "another process" in status["error"] and "seed=0" in status["error"]
    assert not (out / f"{sweep.point_id(point)}.ipynb").exists()   # no second papermill was started


def test_a_truncated_done_marker_is_not_done(tmp_path):
    marker = tmp_path / "p.done.json"
    marker.write_text('{"ok": tr')
    assert not sweep.is_done(marker)
    write_json_atomic({"ok": True}, marker)
    assert sweep.is_done(marker)


# ------------------------------------------------------------------ 4. nothing unsafe is loaded
class _Payload:
    """Unpickling this writes a file: what a crafted .pt planted in a results folder could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_a_crafted_checkpoint_is_refused_not_run(tmp_path):
    cfg = _cfg(tmp_path)
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "results" / "checkpoints" / f"{cfg.name}-{cfg.key()}-seed{cfg.seed}.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"model": _Payload(marker)}, ckpt)
    with pytest.raises(RuntimeError) as e:
        run(cfg)
    assert not marker.exists(), "the planted pickle ran code"
    assert str(ckpt) in str(e.value) and "weights_only=True" in str(e.value)


def test_every_torch_load_is_weights_only():
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]:
        for line in path.read_text().splitlines():
            if "torch.load(" in line and "def " not in line:
                assert "weights_only=True" in line, f"{path.relative_to(ROOT)}: {line.strip()}"


def test_a_cifar_batch_is_checked_against_torchvision_md5_before_unpickling(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / f).write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError) as e:
        D.load_dataset("cifar10", tmp_path)
    assert not marker.exists(), "an unchecked pickle was loaded"
    msg = str(e.value)
    assert "data_batch_1: MD5" in msg and "c99cafc152244af753f735de768cd75f" in msg
    assert f"python -m mixupbook.data download cifar10 --root {tmp_path}" in msg
    assert set(D.CIFAR_MD5) == {f"cifar-10-batches-py/{f.name}" for f in folder.iterdir()} | \
        {"cifar-100-python/train", "cifar-100-python/test"}


def test_the_launch_cells_install_a_pinned_ref_not_a_branch():
    sys.path.insert(0, str(ROOT / "tools"))
    import add_launch_cell

    url, branch = add_launch_cell.repository()
    for nb in sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb")):
        ref = add_launch_cell.installed_ref(nb)
        assert ref and ref != branch, f"{nb.relative_to(ROOT)} installs {ref!r}"
        assert len(ref) == 40 and int(ref, 16) >= 0 or ref.startswith("v"), f"{nb.relative_to(ROOT)}: {ref!r}"
    with pytest.raises(SystemExit, match="is a branch"):
        add_launch_cell.pinned_ref(branch)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_launch_cell_check_reports_a_ref_whose_library_is_not_the_books(tmp_path, capsys):
    import shutil

    sys.path.insert(0, str(ROOT / "tools"))
    import add_launch_cell

    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split()[0]   # the first commit: its library is long gone
    src = ROOT / "notebooks" / "foundations" / "01_mixing_and_the_mixup_loss"
    for suffix in (".ipynb", ".md"):
        shutil.copy(src.with_suffix(suffix), tmp_path / src.with_suffix(suffix).name)
    nb = tmp_path / src.with_suffix(".ipynb").name
    add_launch_cell.add_to_ipynb(nb, add_launch_cell.cell_source(add_launch_cell.repository()[0], first))
    assert add_launch_cell.installed_ref(nb) == first
    assert add_launch_cell.main([str(nb), "--check"]) == 1
    assert f"installs {first}, which does not hold the working tree's library" in capsys.readouterr().out
    assert not add_launch_cell.library_matches(first)

