"""The objectives of the mechanism-arm experiment (notebooks/synthesis/03_mechanism_arms)."""
import pytest
import torch

from mixupbook import taylor
from mixupbook.losses import soft_cross_entropy
from mixupbook.methods import build_objective, same_class_pairing
from mixupbook.mixing import one_hot


def test_first_order_mixup_is_erm_plus_lemma31_r1_over_all_pairs(mlp_batch, gen):
    # R1 is linear in the partner, so its mean over all n partners is the first-order term at x_bar
    model, x, y = mlp_batch
    model = model.double()
    x = x.double()
    obj = build_objective("first_order_mixup", num_classes=3, alpha=2.0)
    t = taylor.lemma31_terms(model, x, y, alpha=2.0, loss="cross_entropy")
    assert torch.allclose(obj(model, x, y, gen), t["L_std"] + t["R1"], rtol=1e-10, atol=1e-12)
    assert abs(obj.gap - 2.0 / 5.0) < 1e-12   # E[1 - lam] = alpha / (2 alpha + 1) under D~


def test_same_class_pairing_is_a_permutation_within_each_class(gen):
    y = torch.tensor([0, 1, 0, 2, 1, 0, 2, 1, 3])
    perm = same_class_pairing(y, gen)
    assert sorted(perm.tolist()) == list(range(len(y)))
    assert torch.equal(y[perm], y)
    assert perm[8] == 8                          # alone in its class: paired with itself
    assert torch.equal(same_class_pairing(one_hot(y, 4), torch.Generator().manual_seed(0)),
                       same_class_pairing(y, torch.Generator().manual_seed(0)))   # soft labels: argmax


def test_same_class_pairing_draws_differ_between_seeds():
    y = torch.zeros(50, dtype=torch.long)
    a = same_class_pairing(y, torch.Generator().manual_seed(0))
    b = same_class_pairing(y, torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)


def test_same_class_mixup_keeps_one_hot_labels(mlp_batch):
    model, x, y = mlp_batch
    obj = build_objective("same_class_mixup", num_classes=3, alpha=1.0)
    g = torch.Generator().manual_seed(4)
    perm = same_class_pairing(y, g)
    lam = obj.law.sample(1, g)[0]
    want = soft_cross_entropy(model(lam * x + (1 - lam) * x[perm]), one_hot(y, 3))
    assert torch.allclose(obj(model, x, y, torch.Generator().manual_seed(4)), want, rtol=1e-6)


def test_fgsm_training_at_radius_zero_is_erm_and_grows_with_the_radius(mlp_batch, gen):
    model, x, y = mlp_batch
    erm = build_objective("erm", num_classes=3)(model, x, y, gen)
    at = {eps: build_objective("fgsm_training", num_classes=3, eps=eps)(model, x, y, gen) for eps in (0.0, 0.1, 0.5)}
    assert torch.allclose(at[0.0], erm)
    assert erm < at[0.1] < at[0.5]   # a step up the loss's gradient raises the loss (small steps)


def test_fgsm_training_l2_step_has_the_radius(mlp_batch):
    from mixupbook.adversarial import fgsm

    model, x, y = mlp_batch
    delta = fgsm(model, x, y, 0.3, norm="l2") - x
    assert torch.allclose(delta.norm(dim=1), torch.full((len(x),), 0.3), atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [({"eps": -1.0}, "eps"), ({"norm": "l1"}, "norm"),
                                           ({"clip": (1.0, 0.0)}, "clip")])
def test_fgsm_training_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_objective("fgsm_training", num_classes=3, **kwargs)


def _arms_table():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
    import synthesis_table

    return synthesis_table


def test_arms_table_rows_come_from_the_s6_claims():
    from mixupbook import claims

    table = _arms_table()
    assert table.arms_table_lines([]) == [f"*Mechanism arms: {table.NOT_YET}.*"]
    gain = claims.make_record("S6", "mixup beats ERM", "holds", holds=True,
                              evidence={"test loss, ERM - mixup": "+0.50 +- 0.05"}, seeds=list(range(10)))
    arm = claims.make_record("S6", "the arm beats ERM", "inconclusive at book scale", holds=True,
                             evidence={"arm": "shrunk points", "explanation": "S1/S3 shrinkage", "isolates": "x",
                                       "share of the gain, test loss": "0.86 +- 0.05",
                                       "95% interval, test loss": [0.7594, 0.9381]},
                             seeds=list(range(10)))
    other = claims.make_record("S1", "something else", "holds", holds=True)
    for rec, lab in ((gain, "claim-s6-gain"), (arm, "claim-s6-shrunk-points"), (other, "claim-s1")):
        rec["label"] = lab
    lines = table.arms_table_lines([gain, arm, other])
    assert len(lines) == 4                       # header, rule, the gain, one arm; S1 is not an arm
    assert "+0.50 +- 0.05" in lines[2] and "claim-s6-gain" in lines[2]
    assert "shrunk points" in lines[3] and "0.86 +- 0.05 [0.76, 0.94]" in lines[3]
    assert "{ref}`inconclusive at book scale <claim-s6-shrunk-points>`" in lines[3]


def test_laws_table_rows_come_from_the_s7_claims():
    from mixupbook import claims

    table = _arms_table()
    assert table.laws_table_lines([]) == [f"*Laws with equal label-weight moments: {table.NOT_YET}.*"]
    ev = {"test loss, two bands - centre and ends": "+0.11 +- 0.02", "95% t interval": [0.0692, 0.1551]}
    recs = [claims.make_record("S7", "S1 regulariser reading: equal loss, in a regime", "inconclusive at book scale",
                               holds=True, evidence=ev, seeds=list(range(10))),
            claims.make_record("S7", "S3 shrinkage reading: lower loss, in a regime", "holds", holds=True,
                               evidence=ev, seeds=list(range(10))),
            claims.make_record("S6", "an arm", "holds", holds=True)]
    for rec, lab in zip(recs, ("claim-s7-regulariser", "claim-s7-shrinkage", "claim-s6-x")):
        rec["label"] = lab
    lines = table.laws_table_lines(recs)
    assert len(lines) == 4                       # header, rule, two readings; S6 is not here
    assert lines[2].startswith("| S1 regulariser reading |") and "[0.07, 0.16]" in lines[2]
    assert "{ref}`inconclusive at book scale <claim-s7-regulariser>`" in lines[2]
    assert "{ref}`holds <claim-s7-shrinkage>`" in lines[3] and "+0.11 ± 0.02" in lines[3]   # in symbols


def test_paper_scale_plans_the_arms_with_an_image_form(tmp_path):
    from notebook_runs import paper_dry_run

    text = paper_dry_run("synthesis/03_mechanism_arms", tmp_path, paper_dataset="cifar100")
    # 7 arms (9 less the two with flat inputs only), 2 laws, ERM and mixup on the planted set
    assert "dry run: 11 configuration(s) valid" in text
    for needle in ["dataset=cifar100 ", "model=preact_resnet18 ", "epochs=200 ", "method=fgsm_training ",
                   "method=same_class_mixup ", "method=first_order_mixup ", "seeds=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
                   "MISSING"]:
        assert needle in text, needle
    assert "method=approx_mixup " not in text and "method=carratino_approx " not in text


def test_a_bad_paper_dataset_stops_the_notebook_naming_it(tmp_path):
    import papermill as pm
    from notebook_runs import execute

    with pytest.raises(pm.PapermillExecutionError, match="paper_dataset"):
        execute("synthesis/03_mechanism_arms", tmp_path, scale="paper", dry_run=True, paper_dataset="svhn")
