"""The paper-scale configurations of the zhang2021 notebooks dry-run cleanly (no training, no data needed)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["10_fig1a_fgsm_robustness", "11_fig1b_generalization_gap"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_paper_scale_dry_run(name, tmp_path):
    papermill = pytest.importorskip("papermill")
    src = ROOT / "notebooks" / "zhang2021" / f"{name}.ipynb"
    out = tmp_path / f"{name}.ipynb"
    nb = papermill.execute_notebook(str(src), str(out), parameters={"scale": "paper", "dry_run": True,
                                                                    "results_dir": str(tmp_path)},
                                    cwd=str(src.parent), progress_bar=False, kernel_name="python3")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "dry run:" in text and "later cells skipped" in text
    assert "scale=paper" in text and "epochs=" in text
    assert "robust acc" not in text and "Final epoch" not in text  # nothing trained or evaluated
