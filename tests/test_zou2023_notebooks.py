"""The paper-scale configurations of the zou2023 notebooks are valid: each notebook run through
papermill with scale=paper and dry_run=True finishes without data and without training."""
import importlib.util

from notebook_runs import paper_dry_run


def _dry_run(tmp_path, name):
    return paper_dry_run(f"zou2023/{name}", tmp_path)


def test_e3_paper_scale_dry_run(tmp_path):
    text = _dry_run(tmp_path, "02_negative_coefficients")
    assert "dry run: 2 configuration(s) valid" in text
    assert "model=preact_resnet18" in text and "model=preact_resnet50" in text and "MISSING" in text


def test_e5_paper_scale_dry_run(tmp_path):
    text = _dry_run(tmp_path, "04_tabular")
    assert "dry run: 6 configuration(s) valid" in text and "epochs=25" in text and "seeds=[0, 1, 2, 3, 4]" in text


def test_e6_to_e9_paper_scale_dry_run(tmp_path):
    text = _dry_run(tmp_path, "05_images")
    # Tables 1a, 1b, 2a (3 models x 3 methods each), 2b (3 x 3), 3 (3 x 3), Table 7's ERM+R, Table 8 (4),
    # the authors' README recipe of mixupe_code, the book's fused form and the eta = 0 clean-pass arm (1 each);
    # CoAtNet-0 (3 configurations) only where timm is installed
    timm = importlib.util.find_spec("timm") is not None
    assert f"dry run: {53 if timm else 50} configuration(s) valid" in text
    for needle in ["dataset=cifar10 ", "dataset=cifar100 ", "dataset=svhn ", "dataset=tiny_imagenet ",
                   "dataset=imagenet ", "model=wrn28_10 ", "model=vit_b_16 ", "epochs=400", "epochs=800", "'threshold': 1.0", "'fused': False", "'fused': True",
                   "'mix': False"] + (["model=coatnet_0 "] if timm else []):
        assert needle in text, needle
    assert "MISSING" in text
