"""Chapter ``extending``: the template and the worked example plan their paper-scale runs
(CIFAR-10, PreActResNet-18) without data and without training, after checking their variant."""
import pytest
from notebook_runs import paper_dry_run


@pytest.mark.parametrize("name, variant", [("01_template", "my_variant"), ("02_worked_example", "between_class_mixup")])
def test_paper_scale_dry_run(tmp_path, name, variant):
    text = paper_dry_run(f"extending/{name}", tmp_path)
    assert "contract holds" in text
    assert "dry run: 4 configuration(s) valid" in text
    for needle in ["dataset=cifar10 ", "model=preact_resnet18 ", "epochs=200", f"method={variant} ",
                   "method=mixupe ", "MISSING"]:
        assert needle in text, needle
