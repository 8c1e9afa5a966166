"""The C6 notebook's paper-scale plan (CIFAR-10/100, PreAct ResNet-18) dry-runs without data or training."""
from notebook_runs import paper_dry_run


def test_paper_scale_dry_run_plans_without_data(tmp_path):
    text = paper_dry_run("carratino2022/04_stronger_regularization", tmp_path)
    assert "dry run: 10 configuration(s) valid" in text
    assert "preact_resnet18" in text and "cifar100" in text and "MISSING" in text
