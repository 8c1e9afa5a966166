"""The synthesis part (items S1-S5): the notebook's paper-scale configurations dry-run (its sweep spec
is dry-run with every spec in test_sweep.py), bad parameters stop it in its first cells, the generated table reads claims
and stored numbers (and says "not yet recorded" without them), and MNIST-1D generation is cached."""
import sys

import papermill as pm
import pytest
import torch
from notebook_runs import ROOT, execute, paper_dry_run

from mixupbook import claims, data

NB = "synthesis/01_five_explanations_one_set_of_runs"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import synthesis_table  # noqa: E402


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_paper_scale_dry_run(tmp_path, dataset):
    text = paper_dry_run(NB, tmp_path, paper_dataset=dataset)
    assert "dry run: 8 configuration(s) valid" in text              # ERM + 7 alphas
    for needle in [f"dataset={dataset} ", "model=preact_resnet18 ", "epochs=200 ", "batch_size=128 ",
                   "'alpha': 0.1", "'alpha': 8.0", "method=erm ", "seeds=[0, 1, 2, 3, 4]", "MISSING"]:
        assert needle in text, needle


@pytest.mark.parametrize("params,message", [({"n_seeds": 3}, "n_seeds"), ({"paper_dataset": "svhn"}, "paper_dataset"),
                                            ({"fgsm_eps": -0.1}, "fgsm_eps")])
def test_bad_parameters_stop_early(tmp_path, params, message):
    with pytest.raises(pm.PapermillExecutionError) as e:
        execute(NB, tmp_path, results_dir=str(tmp_path / "r"), **params)
    assert message in str(e.value)


def _record(item, verdict, label, holds=None, **kw):
    rec = claims.make_record(item, f"a claim about {item}", verdict, holds=holds, **kw)
    return {**rec, "label": label, "notebook": "notebooks/x/01", "audit": ""}


def test_table_reads_verdicts_and_says_not_yet_recorded():
    spec = {"S1": {"name": "n", "papers": "p", "mechanism": "m", "assumptions": "a", "quantity": "q",
                   "alpha": "A", "law": "L", "data": "D", "items": ["Z1", "Z2", "C1"]}}
    records = [_record("Z1", "holds", "claim-z1", holds=True), _record("Z2", "fails", "claim-z2", holds=False),
               _record("Z2", "holds", "claim-z2-2", holds=True)]
    lines = synthesis_table.table_lines(spec, records, {})
    text = "\n".join(lines)
    verified = next(line for line in lines if line.startswith("| what the book verified"))
    failed = next(line for line in lines if line.startswith("| what failed"))
    runs = next(line for line in lines if line.startswith("| on one set of runs"))
    assert "{ref}`Z1 <claim-z1>`: holds" in verified and "C1: not yet recorded" in verified
    # an item with a failing claim sits in the failing row, with all of its parts
    assert "{ref}`Z2 <claim-z2>`: 1 fails, 1 holds" in failed and "Z2" not in verified
    assert "not yet recorded" in runs and text.count("|") > 20


def test_table_shows_stored_numbers_and_claims():
    spec = {"S3": {"name": "n", "papers": "p", "mechanism": "m", "assumptions": "a", "quantity": "q",
                   "alpha": "A", "law": "L", "data": "D", "items": ["K1"]}}
    summary = {"S3": {"quantity": "rademacher", "outcome": "gap", "across": [0.9, 0.5, 1.0, "positive"],
                      "within": [0.1, -0.4, 0.6, "no evidence either way"], "mixup1_minus_erm": [-2.4, 0.05],
                      "difference_of": "rademacher, unshrunk", "seeds": 5, "data": "MNIST-1D stand-in"}}
    records = [_record("S3", "holds narrowly", "claim-s3", holds=True, seeds=[0, 1, 2, 3, 4])]
    runs = next(line for line in synthesis_table.table_lines(spec, records, summary)
                if line.startswith("| on one set of runs"))
    assert "+0.90 [+0.50, +1.00], positive" in runs and "no evidence either way" in runs
    assert "claims: {ref}`holds narrowly <claim-s3>`" in runs
    assert "rademacher, unshrunk, mixup (α = 1) minus ERM: -2.4" in runs   # the symmetric difference


def test_explanations_spec_names_known_items():
    import yaml
    spec = yaml.safe_load((ROOT / synthesis_table.SPEC).read_text())
    assert sorted(spec) == ["S1", "S2", "S3", "S4", "S5"]
    known = claims.items()
    for entry in spec.values():
        assert all(i in known for i in entry["items"])
        assert all(entry[k] for k in ("mechanism", "assumptions", "quantity", "alpha", "law", "data"))


def test_mnist1d_cache_returns_fresh_equal_tensors():
    a = data.load_dataset("mnist1d", seed=3, num_samples=300)
    b = data.load_dataset("mnist1d", seed=3, num_samples=300)
    c = data.load_dataset("mnist1d", seed=4, num_samples=300)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    a.x_train.zero_()                                  # a caller's in-place change does not reach the cache
    assert not torch.equal(a.x_train, data.load_dataset("mnist1d", seed=3, num_samples=300).x_train)
