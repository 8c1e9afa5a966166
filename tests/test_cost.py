"""Cost estimates of paper-scale runs (``mixupbook.cost``), chapter ``scale``: the ATen operations of one
training step, counted on the meta device, and the GPU-hour range built from them and the FLOPs."""
import contextlib
import io
import json
import threading

import pytest
import torch

from mixupbook import cost, notebook, sweep
from mixupbook.experiment import ExperimentConfig, plan

# Zhang et al. 2021 Fig. 1b (Z11): CIFAR-10, PreActResNet-18, batch 64, 200 epochs
Z11 = dict(name="z11", scale="paper", dataset="cifar10", model="preact_resnet18", method="mixup",
           method_kwargs={"alpha": 1.0}, train={"epochs": 200, "batch_size": 64, "lr": 0.1, "augment": "flip_crop"})


def _small(method="mixup", **train):
    return ExperimentConfig(name="s", dataset="cifar10", model="preact_resnet18", model_kwargs={"width": 0.125},
                            method=method, train={"epochs": 1, "batch_size": 8, **train})


def test_meta_count_matches_a_real_cpu_step():
    # the same step run for real on the CPU dispatches nearly the same operations (CPU kernels add a few)
    from mixupbook import engine
    from mixupbook.data import Data
    from mixupbook.methods import build_objective
    from mixupbook.models import build_model
    from mixupbook.train import make_optimizer

    cfg = _small(augment="flip_crop")
    counted = cost.step_ops(cfg, 10, (3, 8, 8))
    torch.manual_seed(0)
    model = build_model("preact_resnet18", 10, (3, 8, 8), width=0.125)
    objective, opt = build_objective("mixup", 10), make_optimizer(model, cfg.train)
    for group in opt.param_groups:
        group["foreach"] = True
    x, y = torch.randint(0, 255, (8, 3, 8, 8), dtype=torch.uint8), torch.randint(0, 10, (8,))
    data, gen = Data("d", x, y, x, y, 10, (0.5,) * 3, (0.25,) * 3), torch.Generator().manual_seed(0)
    for i in range(2):
        with cost.OpCount() as count:
            xb, yb = next(engine.device_batches(data, x, y, torch.arange(8), 8, "flip_crop", gen, 0, 1, True))
            loss = objective(model, xb, yb, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    real = sum(count.ops.values())
    assert abs(counted - real) <= 0.15 * real, (counted, real)
    assert count.ops["convolution_backward"] == cost.step_counts(cfg, 10, (3, 8, 8))[0]["convolution_backward"] > 0


def test_step_count_follows_the_objective():
    erm, mixup, mixupe = (cost.step_ops(_small(m), 10, (3, 8, 8)) for m in ("erm", "mixup", "mixupe"))
    assert erm < mixup < mixupe and mixupe > 1.6 * erm     # MixupE adds a clean forward and backward
    assert cost.step_ops(_small("mixup", ema_decay=0.99), 10, (3, 8, 8)) > mixup


def test_estimate_range():
    # operations dominate: optimistic = ops at 5 us; pessimistic = FLOPs at 100 TFLOP/s + ops at 10 us
    lo, hi = cost.estimate_hours(36.0, 1e9)
    assert lo == pytest.approx(5000 / 3600) and hi == pytest.approx((360 + 10000) / 3600)
    # FLOPs dominate: optimistic = FLOPs at 350 TFLOP/s
    lo, hi = cost.estimate_hours(1000.0, 1e6)
    assert lo == pytest.approx(1e18 / 350e12 / 3600) and lo < hi
    with pytest.raises(ValueError, match="tflops"):
        cost.estimate_hours(1.0, 1.0, tflops=(350.0,))


def test_small_batch_cifar_estimate_is_not_flops_alone():
    # Z11: 782 steps per epoch; each step's operations cost more than its arithmetic at 350 TFLOP/s,
    # so the old FLOP-only projection lies below even the optimistic end of the range
    p = plan(ExperimentConfig(**Z11))
    flops_only = p["train_PFLOP"] * 1e15 / 350e12 / 3600
    lo, hi = cost.estimate_hours(p["train_PFLOP"], p["train_Gops"] * 1e9)
    assert p["train_Gops"] * 1e9 == pytest.approx(cost.step_ops(ExperimentConfig(**Z11), 10, (3, 32, 32)) * 782 * 200, rel=1e-3)
    assert lo > 1.5 * flops_only and hi > 3 * flops_only


def test_dry_run_prints_a_labelled_range_that_the_sweep_reads_back(tmp_path):
    cfg = _small()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        notebook.dry_run_stop(True, [cfg, cfg])
    text = out.getvalue()
    assert "GPU-hours (an estimate, not a timing" in text and "assumed" in text and "measured" in text
    executed = tmp_path / "nb.ipynb"
    executed.write_text(json.dumps({"cells": [{"outputs": [{"text": text}]}]}))
    pflop, gops = sweep.planned_cost(executed)
    assert gops == pytest.approx(2 * plan(cfg)["train_Gops"], rel=1e-3) and gops > 0


def test_counts_a_config_whose_objective_takes_a_law_object():
    # zhang2021/10 (Fig. 1a) passes a LambdaLaw instance, not a plain spec, in method_kwargs
    from mixupbook.lam import Beta

    cfg = ExperimentConfig(name="s", dataset="cifar10", model="preact_resnet18", model_kwargs={"width": 0.125},
                           method="mixup", method_kwargs={"law": Beta(5.0, 0.5)}, train={"epochs": 1, "batch_size": 8})
    assert cost.step_ops(cfg, 10, (3, 8, 8)) == cost.step_ops(_small("mixup"), 10, (3, 8, 8))


def test_counts_are_shared_through_the_cache_folder(tmp_path, monkeypatch):
    # a count is traced once and written as JSON; another process (here: a cleared in-process cache)
    # reads it back instead of tracing, and what it reads is what the file says
    monkeypatch.setenv("MIXUPBOOK_COUNT_CACHE", str(tmp_path))
    monkeypatch.setattr(cost, "_COUNTS", {})
    cfg = ExperimentConfig(name="c", dataset="digits", model="mlp", model_kwargs={"hidden": (4,)}, method="mixup",
                           train={"epochs": 1, "batch_size": 8})
    ops, views = cost.step_counts(cfg, 10, (64,))
    (file,) = tmp_path.glob("*.json")
    assert json.loads(file.read_text()) == [dict(ops), dict(views)]
    file.write_text(json.dumps([{"addmm": 7}, {}]))
    monkeypatch.setattr(cost, "_COUNTS", {})
    assert cost.step_ops(cfg, 10, (64,)) == 7
    # while another process holds the key's lock, this one waits for its file instead of tracing
    file.unlink()
    monkeypatch.setattr(cost, "_COUNTS", {})
    threading.Timer(0.5, lambda: file.write_text(json.dumps([{"addmm": 9}, {}]))).start()
    assert cost.step_ops(cfg, 10, (64,)) == 9
    monkeypatch.delenv("MIXUPBOOK_COUNT_CACHE")
    monkeypatch.setattr(cost, "_COUNTS", {})
    assert cost.step_ops(cfg, 10, (64,)) == sum(ops.values())
