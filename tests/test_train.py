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
