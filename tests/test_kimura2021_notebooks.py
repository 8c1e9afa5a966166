"""The paper-scale grid of notebooks/kimura2021/05_generalisation_gap (K5) is valid: a dry run
through papermill finishes without data and without training (chapter kimura2021)."""
import papermill as pm
import pytest
from notebook_runs import execute, paper_dry_run


def test_paper_scale_dry_run(tmp_path):
    # one of the four datasets keeps the test short; its grid (ERM + 7 alphas, 10 seeds) is complete
    text = paper_dry_run("kimura2021/05_generalisation_gap", tmp_path, paper_datasets="cifar10")
    assert "dry run: 8 configuration(s) valid" in text
    assert "model=resnet18_cifar" in text and "epochs=200" in text and "seeds=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in text
    assert "MISSING" in text                      # no data was needed


def test_bad_paper_dataset_is_rejected(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="paper_datasets"):
        execute("kimura2021/05_generalisation_gap", tmp_path, scale="paper", dry_run=True, paper_datasets="mnist")
