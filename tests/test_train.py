import pytest
import torch

from mixupbook.data import load_dataset
from mixupbook.methods import build_objective
from mixupbook.models import build_model
from mixupbook.train import TrainConfig, fit, flip_crop


def _setup(method="mixup"):
    torch.manual_seed(0)
    data = load_dataset("two_moons", n=96, n_test=64)
    model = build_model("mlp", 2, data.input_shape, hidden=(16,))
    kwargs = {"alpha": 0.5} if method == "mixup" else {}
    return data, model, build_objective(method, 2, **kwargs)


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_interrupted_fit_resumes_to_bitwise_identical_weights(tmp_path, schedule):
    cfg = TrainConfig(epochs=6, batch_size=32, lr=0.05, schedule=schedule, milestones=[2, 4])
    data, model, obj = _setup()
    full = fit(model, obj, data, cfg, device="cpu", seed=3, progress=False)
    ref = {k: v.clone() for k, v in model.state_dict().items()}

    ckpt = tmp_path / "run.pt"
    data, model, obj = _setup()
    part = fit(model, obj, data, cfg, device="cpu", seed=3, checkpoint=ckpt, progress=False, stop_after=2)
    assert len(part) == 2
    data, model, obj = _setup()  # a new process: fresh model, same config
    torch.manual_seed(123)       # global RNG disturbed: must not matter
    resumed = fit(model, obj, data, cfg, device="cpu", seed=3, checkpoint=ckpt, progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, ref[k]), k
    assert [r["objective"] for r in resumed] == [r["objective"] for r in full]


def test_fit_learns_two_moons():
    data, model, obj = _setup("erm")
    hist = fit(model, obj, data, TrainConfig(epochs=40, batch_size=32, lr=0.1), device="cpu", progress=False)
    assert hist[-1]["train_acc"] > 0.85 and hist[-1]["test_acc"] > 0.8
    assert {"epoch", "objective", "lr", "train_loss", "test_loss", "train_acc", "test_acc"} <= set(hist[-1])


def test_full_batch_and_eval_every():
    data, model, obj = _setup("erm")
    hist = fit(model, obj, data, TrainConfig(epochs=4, batch_size=0, lr=0.1, eval_every=3), device="cpu",
               progress=False)
    assert "test_acc" in hist[2] and "test_acc" not in hist[0] and "test_acc" in hist[3]


@pytest.mark.parametrize("field,value", [("optimizer", "lbfgs"), ("schedule", "linear"), ("augment", "cutout"),
                                         ("epochs", 0), ("lr", -1.0), ("batch_size", -2)])
def test_bad_train_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_flip_crop_keeps_shape_and_content(gen):
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = flip_crop(x, gen, pad=0)
    assert out.shape == x.shape
    for b in range(2):  # pad 0: each image is itself or its mirror
        assert torch.equal(out[b], x[b]) or torch.equal(out[b], x[b].flip(-1))
    out = flip_crop(x, torch.Generator().manual_seed(1), pad=2)
    assert out.shape == x.shape and (out == 0).any()  # padding shows up somewhere


def _paper_recipe(**kw):
    """Section 4.1 of Zou et al. (Table 3): AdamW, linear warm-up, cosine to 1e-3 x peak, per-step schedule, EMA."""
    return TrainConfig(**{"epochs": 5, "batch_size": 32, "optimizer": "adamw", "lr": 0.01, "betas": [0.9, 0.99],
                          "weight_decay": 0.05, "schedule": "cosine", "warmup_epochs": 1, "warmup_start_factor": 0.05,
                          "final_lr_factor": 1e-3, "schedule_unit": "step", "ema_decay": 0.9, **kw})


def test_paper_recipe_resumes_exactly_with_optimizer_warmup_and_average_state(tmp_path):
    cfg = _paper_recipe()
    data, model, obj = _setup()
    full = fit(model, obj, data, cfg, device="cpu", seed=3, progress=False)
    ckpt = tmp_path / "run.pt"
    data, model2, obj = _setup()
    fit(model2, obj, data, cfg, device="cpu", seed=3, checkpoint=ckpt, progress=False, stop_after=2)
    state = torch.load(ckpt, weights_only=True)
    assert state["ema"] is not None and "exp_avg_sq" in str(state["optimizer"]["state"][0].keys())
    data, model2, obj = _setup()
    resumed = fit(model2, obj, data, cfg, device="cpu", seed=3, checkpoint=ckpt, progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k]), k
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed] == \
           [{k: v for k, v in r.items() if k not in drop} for r in full]


def test_paper_recipe_schedule_and_average():
    cfg = _paper_recipe(eval_every=1)
    data, model, obj = _setup()
    hist = fit(model, obj, data, cfg, device="cpu", seed=0, progress=False)
    steps = 3                                        # 96 examples, batch 32
    lrs = [r["lr"] for r in hist]                    # the lr after each epoch's last step
    assert lrs[0] == pytest.approx(0.01)             # warm-up over exactly the first epoch's 3 steps
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] == pytest.approx(1e-5)  # cosine to 1e-3 x peak
    # what is evaluated is the average: the clean losses differ from the raw model's
    from mixupbook.train import evaluate
    raw = evaluate(model, data, data.x_train, data.y_train)["loss"]
    assert abs(raw - hist[-1]["train_loss"]) > 1e-4
    assert steps * cfg.epochs == 15


@pytest.mark.parametrize("field,value", [("betas", [0.9]), ("warmup_epochs", 10), ("warmup_start_factor", 0.0),
                                         ("final_lr_factor", 2.0), ("schedule_unit", "batch"), ("ema_decay", 1.0)])
def test_bad_recipe_options_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_new_options_at_defaults_keep_old_keys():
    from mixupbook.experiment import ExperimentConfig

    base = ExperimentConfig()
    assert base.key() == ExperimentConfig(train={"ema_decay": 0.0, "warmup_epochs": 0}).key()
    assert base.key() != ExperimentConfig(train={"ema_decay": 0.999}).key()
