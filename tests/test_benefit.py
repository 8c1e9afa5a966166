"""The benefit regimes (mixupbook.benefit) and label noise (data.with_label_noise)."""
import pytest
import torch

from mixupbook import benefit
from mixupbook.data import load_dataset
from mixupbook.experiment import validate


@pytest.mark.parametrize("name", sorted(benefit.REGIMES))
@pytest.mark.parametrize("method", ["erm", "mixup"])
def test_every_regime_builds_a_valid_config(name, method, tmp_path):
    cfg = benefit.get(name).config(method, seed=3, results_dir=str(tmp_path))
    validate(cfg)
    assert cfg.seed == 3 and cfg.method == method
    assert ("alpha" in cfg.method_kwargs) == (method != "erm")


def test_regimes_have_a_control_and_benefits():
    roles = [r.role for r in benefit.REGIMES.values()]
    assert roles.count("control") >= 1 and roles.count("benefit") >= 2


def test_unknown_regime_and_role_are_refused():
    with pytest.raises(ValueError, match="valid"):
        benefit.get("digits_noisy")
    with pytest.raises(ValueError, match="role"):
        benefit.register(benefit.Regime("x", "x", "digits", role="helps"))


def test_label_noise_redraws_that_fraction_of_training_labels_only():
    clean = load_dataset("digits", seed=1)
    noisy = load_dataset("digits", seed=1, label_noise=0.4)
    n = len(clean.y_train)
    changed = int((noisy.y_train != clean.y_train).sum())
    # 40% redrawn uniformly over 10 classes: 9 in 10 of them change
    assert abs(changed - 0.4 * 0.9 * n) < 4 * (0.4 * n * 0.09) ** 0.5
    assert noisy.meta["labels_changed"] == changed
    assert torch.equal(noisy.y_test, clean.y_test) and torch.equal(noisy.x_train, clean.x_train)
    again = load_dataset("digits", seed=1, label_noise=0.4)
    assert torch.equal(again.y_train, noisy.y_train)
    other = load_dataset("digits", seed=2, label_noise=0.4)
    assert not torch.equal(other.y_train[:50], noisy.y_train[:50])


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2])
def test_label_noise_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="label_noise"):
        load_dataset("digits", label_noise=bad)


def test_calibration_error():
    y = torch.tensor([0, 0, 1, 1])
    # confident and right: ECE 0
    perfect = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert benefit.calibration(perfect, y)["ece"] == pytest.approx(0.0)
    # confidence 0.9 everywhere, half right: ECE = |0.5 - 0.9|
    half = torch.tensor([[0.9, 0.1]] * 4)
    out = benefit.calibration(half, y, bins=10)
    assert out["ece"] == pytest.approx(0.4)
    assert sum(out["count"]) == 4 and out["count"][9] == 4
    with pytest.raises(ValueError, match="bins"):
        benefit.calibration(half, y, bins=0)


def test_measure_reports_every_metric_in_range():
    from mixupbook.models import build_model

    data = load_dataset("digits", seed=0)
    torch.manual_seed(0)
    model = build_model("mlp", 10, data.input_shape, hidden=(16,))
    out = benefit.measure(model, data, eps=0.1, pgd_steps=3)
    for k in ("test_acc", "ece", "fgsm_acc", "pgd_acc"):
        assert 0.0 <= out[k] <= 1.0, k
    assert out["test_nll"] > 0


def test_deformations_match_their_kind_and_are_seeded():
    x = torch.zeros(4, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1.0
    a, b = benefit.deformed_sets(x, 0), benefit.deformed_sets(x, 0)
    assert list(a) == [name for name, _, _ in benefit.DEFORMATIONS]
    assert all(torch.equal(a[k], b[k]) and a[k].shape == x.shape for k in a)
    assert not torch.equal(a["Rotation U(-40, 40)"], x)           # it moves the pixels
    small = benefit.deform(x, "zoom", 1.4, torch.Generator().manual_seed(0))
    assert small.sum() < x.sum()                                   # zoom out shrinks the digit
    with pytest.raises(ValueError, match="kind"):
        benefit.deform(x, "twist", 1.0, torch.Generator())
