"""The paper-scale configurations of the zhang2021 notebooks dry-run cleanly (no training, no data needed)."""
import pytest
from notebook_runs import paper_dry_run


@pytest.mark.parametrize("name", ["10_fig1a_fgsm_robustness", "11_fig1b_generalization_gap"])
def test_paper_scale_dry_run(name, tmp_path):
    text = paper_dry_run(f"zhang2021/{name}", tmp_path)
    assert "dry run:" in text and "scale=paper" in text and "epochs=" in text
    assert "robust acc" not in text and "Final epoch" not in text  # nothing trained or evaluated
