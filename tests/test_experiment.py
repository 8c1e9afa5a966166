import json

import pytest
import torch

from mixupbook.experiment import ExperimentConfig, plan, run, validate
from mixupbook.results import load_records, paper_numbers, records_frame, table, write_json_atomic


def _cfg(tmp_path, **kw):
    base = dict(dataset="two_moons", dataset_kwargs={"n": 64, "n_test": 64}, model="mlp",
                model_kwargs={"hidden": (8,)}, method="mixup", method_kwargs={"alpha": 1.0},
                train={"epochs": 2, "batch_size": 32, "lr": 0.1}, results_dir=str(tmp_path), device="cpu")
    base.update(kw)
    return ExperimentConfig(**base)


@pytest.mark.parametrize("field,value,match", [
    ("scale", "huge", "scale"), ("method", "cutmax", "method"), ("model", "resnet9000", "model"),
    ("dataset", "imagenet22k", "dataset"), ("method_kwargs", {"alpha": -1.0}, "alpha"),
    ("device", "tpu", None), ("train", {"optimizer": "lbfgs"}, "optimizer"),
    ("model_kwargs", {"depth": 3}, "model_kwargs"),
])
def test_validate_names_the_bad_field(tmp_path, field, value, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        validate(_cfg(tmp_path, **{field: value}))


def test_missing_dataset_is_reported_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        validate(_cfg(tmp_path, dataset="cifar10", model="small_cnn", model_kwargs={}, data_root=str(tmp_path / "d")))


def test_unknown_train_key_is_refused():
    with pytest.raises(ValueError, match="valid"):
        ExperimentConfig(train={"epoch": 3})


def test_run_writes_a_complete_record_and_reuses_it(tmp_path):
    cfg = _cfg(tmp_path)
    rec = run(cfg)
    path = cfg.record_path()
    assert path.exists() and json.loads(path.read_text())["key"] == rec["key"]
    assert {"schema", "config", "env", "wall_seconds", "history", "final"} <= set(rec)
    assert {"device", "torch", "mixupbook", "git", "date"} <= set(rec["env"])
    assert len(rec["history"]) == 2 and "gap_loss" in rec["final"]
    assert run(cfg)["env"]["date"] == rec["env"]["date"]  # finished point is not trained again
    frame = records_frame(load_records(tmp_path))
    assert len(table(frame, by=["cfg.method"], metrics=["test_acc"])) == 1


def test_same_seed_same_record_different_seed_differs(tmp_path):
    a = run(_cfg(tmp_path / "a"))
    b = run(_cfg(tmp_path / "b"))
    c = run(_cfg(tmp_path / "c", seed=1))
    assert a["history"] == [dict(r, seconds=a["history"][i]["seconds"]) for i, r in enumerate(b["history"])]
    assert a["final"] != c["final"]


def test_key_ignores_paths_and_device(tmp_path):
    assert _cfg(tmp_path).key() == _cfg(tmp_path / "x", device="auto").key()
    assert _cfg(tmp_path).key() != _cfg(tmp_path, seed=4).key()


def test_plan_works_without_the_data(tmp_path):
    p = plan(_cfg(tmp_path, dataset="cifar10", model="preact_resnet18", model_kwargs={}, data_root=str(tmp_path)),
             seeds=[0, 1])
    assert "MISSING" in p["data"] and p["n_train"] == 50000 and p["train_PFLOP"] > 0
    assert 11.0 < p["params_M"] < 11.3


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    write_json_atomic({"a": 1}, tmp_path / "r.json")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_paper_numbers_unknown_key_lists_valid():
    with pytest.raises(ValueError, match="valid"):
        paper_numbers("nobody2099")


def test_keep_model_returns_the_trained_model_and_reloads_it_without_training(tmp_path):
    cfg = _cfg(tmp_path)
    rec, model = run(cfg, keep_model=True)
    assert run(cfg)["final"] == rec["final"]  # the record a plain run reads back
    rec2, model2 = run(cfg, keep_model=True)  # from the kept checkpoint, not trained again
    assert rec2["env"]["date"] == rec["env"]["date"]
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    plain = run(_cfg(tmp_path / "plain"))
    assert plain["final"] == rec["final"]  # keeping the model changes nothing about training
