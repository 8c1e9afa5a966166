"""The paper-scale configurations of the chidambaram2022 notebooks are valid: each notebook run through
papermill with scale=paper and dry_run=True finishes without data and without training or writing records;
a bad parameter stops the notebook in its first cells with a message naming it."""
import papermill as pm
import pytest
from notebook_runs import execute, paper_dry_run


def test_h3_distances_paper_scale_dry_run(tmp_path):
    text = paper_dry_run("chidambaram2022/02_distance_measure", tmp_path)
    for d, n in [("mnist", 12000), ("cifar10", 10000), ("cifar100", 10000)]:
        assert f"plan: dataset={d} " in text and f"subset={n} points" in text, d
    assert "normalisation=authors" in text and "MISSING" in text
    assert "dry run: 0 configuration(s) valid" in text


def test_h4_images_paper_scale_dry_run(tmp_path):
    text = paper_dry_run("chidambaram2022/03_images_beta1024", tmp_path)
    # 3 datasets x (ERM, mixup, mixup without self-pairs), ResNet-18, Adam, 50 epochs, batch 128
    assert "dry run: 9 configuration(s) valid" in text
    for needle in ["dataset=mnist ", "dataset=cifar10 ", "dataset=cifar100 ", "model=resnet18_cifar ",
                   "epochs=50 ", "batch_size=128 ", "'alpha': 1024.0", "method=mixup_no_self_pairs ",
                   "seeds=[0, 1, 2, 3, 4]", "MISSING"]:
        assert needle in text, needle


@pytest.mark.parametrize("notebook,params,message", [
    ("02_distance_measure", {"subset": 1.5}, "subset"),
    ("02_distance_measure", {"datasets": ["cifar10"]}, "datasets"),
    ("03_images_beta1024", {"alpha": -1.0}, "alpha"),
    ("03_images_beta1024", {"n_seeds": 1}, "n_seeds"),
    ("01_counterexample", {"n_seeds": 3}, "n_seeds"),      # claims on trained runs need at least 5 seeds
    ("01_counterexample", {"alphas": [1.0, 32.0]}, "alphas"),
    ("05_two_moons_margin", {"alphas": [1024.0]}, "alphas"),
])
def test_bad_parameters_stop_early(tmp_path, notebook, params, message):
    with pytest.raises(pm.PapermillExecutionError) as e:
        execute(f"chidambaram2022/{notebook}", tmp_path, results_dir=str(tmp_path / "r"), **params)
    assert message in str(e.value)
