"""The C6 notebook's paper-scale plan (CIFAR-10/100, PreAct ResNet-18) dry-runs without data or training."""
import json
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "carratino2022" / "04_stronger_regularization.ipynb"


def test_paper_scale_dry_run_plans_without_data(tmp_path):
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NB), str(out), cwd=str(NB.parent), progress_bar=False, kernel_name="python3",
                        parameters={"scale": "paper", "dry_run": True, "data_root": str(tmp_path / "no_data"),
                                    "results_dir": str(tmp_path / "r")})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "dry run: 10 configuration(s) valid" in text
    assert "preact_resnet18" in text and "cifar100" in text and "MISSING" in text
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))
