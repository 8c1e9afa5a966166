"""Notebooks through papermill: a changed parameter reaches the record; bad parameters stop early."""
import json
import re
from pathlib import Path

import papermill as pm
import pytest
from forked_kernel import execute as execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "foundations" / "03_first_experiment.ipynb"
ALL = sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb"))
COMMON = ["scale", "device", "seed", "data_root", "results_dir", "dry_run"]


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _parameters_index(code: list) -> int:
    """Index of the parameters cell: the first code cell, or the second after a `launch-install` cell
    (tools/add_launch_cell.py: installs the library on Colab, does nothing where it imports)."""
    return 1 if code and "launch-install" in _tags(code[0]) else 0


def _execute(tmp_path, kernel=False, **params):
    """The notebook with ``params``, in a fork (``forked_kernel``) or with ``kernel`` through papermill itself."""
    out = tmp_path / "out.ipynb"
    if kernel:
        pm.execute_notebook(str(NB), str(out), parameters=params, cwd=str(NB.parent), progress_bar=False,
                            kernel_name="python3")
    else:
        execute_notebook(NB, out, parameters=params, cwd=NB.parent)
    return json.loads(out.read_text())


def test_changed_parameter_reaches_the_record(tmp_path):
    results = tmp_path / "results"
    _execute(tmp_path, kernel=True, results_dir=str(results), alpha=0.5, epochs=10, n_seeds=2, label_noise=0.0)
    records = [json.loads(p.read_text()) for p in results.rglob("*.json")]
    assert len(records) == 4
    mixup = next(r for r in records if r["config"]["method"] == "mixup")
    assert mixup["config"]["method_kwargs"] == {"alpha": 0.5}
    assert mixup["config"]["train"]["epochs"] == 10 and len(mixup["history"]) == 10


@pytest.mark.parametrize("params,message", [
    ({"alpha": -1.0}, "alpha"),
    ({"n_seeds": 1}, "n_seeds"),
    ({"label_noise": 1.0}, "label_noise"),
    ({"method": "cutmax"}, "valid methods"),
    ({"scale": "huge"}, "scale"),
    ({"dataset": "cifar10", "data_root": "/nonexistent/data"}, "/nonexistent/data"),
])
def test_bad_parameters_stop_in_the_first_cells(tmp_path, params, message):
    with pytest.raises(pm.PapermillExecutionError) as e:
        _execute(tmp_path, results_dir=str(tmp_path / "r"), **params)
    assert message in str(e.value)
    nb = json.loads((tmp_path / "out.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    # cells: [launch-install], parameters, injected parameters, setup -> the setup cell fails, nothing after it ran
    setup = _parameters_index(code) + 2
    assert failed == [setup]
    assert all(c.get("execution_count") is None for c in code[setup + 1:])


def test_dry_run_plans_and_skips_training(tmp_path):
    nb = _execute(tmp_path, results_dir=str(tmp_path / "r"), dry_run=True)
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "dry run: 20 configuration(s) valid" in text   # ERM and mixup, 5 seeds each, clean and noisy labels
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(ROOT / "notebooks")) for p in ALL])
def test_every_notebook_has_the_common_parameters_first(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = code[_parameters_index(code)]
    assert "parameters" in first["metadata"].get("tags", [])
    src = "".join(first["source"])
    for name in COMMON:
        assert f"\n{name} =" in "\n" + src, f"{path.name}: parameters cell lacks {name}"
    assert any(c.get("outputs") for c in code), f"{path.name}: no stored outputs"
    assert nb["metadata"].get("jupytext", {}).get("formats") == "ipynb,md:myst"
    assert path.with_suffix(".md").exists(), "paired MyST twin missing"
    # every source of randomness follows `seed`, so the seed audit varies all of it
    names = re.findall(r"^([A-Za-z_][A-Za-z_0-9]*)\s*=", src, flags=re.M)
    loose = [n for n in names if "seed" in n.lower() and n not in ("seed", "n_seeds", "seeds")]
    assert not loose, f"{path.name}: seed-like parameters {loose} (derive them from seed)"


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(ROOT / "notebooks")) for p in ALL])
def test_markdown_twin_has_the_same_cells(path):
    import jupytext

    ipynb = json.loads(path.read_text())["cells"]
    twin = jupytext.read(path.with_suffix(".md"))["cells"]
    strip = lambda cells: [(c["cell_type"], "".join(c["source"]).strip()) for c in cells]  # noqa: E731
    assert strip(twin) == strip(ipynb), f"{path.name}: run `jupytext --sync {path}`"
    # the twin is for diffs: run-specific metadata (papermill's timings) stays in the .ipynb
    text = path.with_suffix(".md").read_text()
    assert '"papermill":' not in text and '"execution":' not in text, f"{path.name}: run `jupytext --sync {path}`"
