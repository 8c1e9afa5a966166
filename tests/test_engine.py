"""The two engines behind ``train.fit`` (``mixupbook.engine``), chapter ``scale``.

Without augmentation the classic DataLoader path sees the same batches as the device
path, so both end with the same weights. With random crop and flip the augmentations
differ (device: one generator per run; classic: one seeded generator per image), so
the two reach the same test accuracy only within noise: we train a small CNN on
synthetic uint8 colour patches (a book-scale stand-in) and require
|acc_device - acc_classic| < 4 standard errors of a difference of two binomial
proportions on the test set (plus both well above chance).
"""
import math

import pytest
import torch

from mixupbook.data import Data, load_dataset
from mixupbook.engine import chunks
from mixupbook.methods import build_objective
from mixupbook.models import build_model
from mixupbook.train import TrainConfig, fit


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def patches():
    """Noisy 8x8 colour patches, 4 classes by mean colour (crop/flip keep the class): a synthetic stand-in."""
    g = torch.Generator().manual_seed(0)
    colours = torch.tensor([[1.0, -1, 0], [-1, 1, 0], [0, -1, 1], [1, 0, -1]])

    def make(n):
        y = torch.randint(0, 4, (n,), generator=g)
        x = 128 + 12 * colours[y][:, :, None, None] + 40 * torch.randn(n, 3, 8, 8, generator=g)
        return x.clamp(0, 255).round().to(torch.uint8), y

    return Data("patches", *make(512), *make(1024), 4, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def _train(data, engine, augment, seed=0, epochs=4):
    torch.manual_seed(seed)
    model = build_model("small_cnn", 4, data.input_shape, width=8)
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, augment=augment, engine=engine, num_workers=0,
                      schedule="cosine")
    hist = fit(model, build_objective("erm", 4), data, cfg, device="cpu", seed=seed, progress=False)
    return model, hist


def test_without_augmentation_engines_give_the_same_weights(patches):
    m1, h1 = _train(patches, "device", "none", epochs=2)
    m2, h2 = _train(patches, "classic", "none", epochs=2)
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert abs(h1[-1]["test_acc"] - h2[-1]["test_acc"]) <= 2 / len(patches.y_test)


def test_with_augmentation_engines_agree_within_noise(patches):
    acc = {e: _train(patches, e, "flip_crop", seed=1)[1][-1]["test_acc"] for e in ("device", "classic")}
    n = len(patches.y_test)
    p = (acc["device"] + acc["classic"]) / 2
    se = math.sqrt(2 * p * (1 - p) / n)
    assert min(acc.values()) > 0.5                                  # chance is 0.25
    assert abs(acc["device"] - acc["classic"]) < 4 * max(se, 1 / n), acc


def test_classic_engine_is_deterministic(patches):
    _, h1 = _train(patches, "classic", "flip_crop", seed=2, epochs=1)
    _, h2 = _train(patches, "classic", "flip_crop", seed=2, epochs=1)
    assert [r["objective"] for r in h1] == [r["objective"] for r in h2]


def test_bad_engine_and_folder_sets_on_device_fail_first(patches):
    with pytest.raises(ValueError, match="engine"):
        TrainConfig(engine="gpu").validate()
    folder = Data("folder", [], torch.zeros(3), [], torch.zeros(3), 10)  # x_train not a tensor
    with pytest.raises(ValueError, match="classic"):
        fit(build_model("mlp", 10, (4,)), build_objective("erm", 10), folder, TrainConfig(), device="cpu")


def test_chunks_cover_the_permutation_once():
    perm = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    got = torch.cat(chunks(perm, 10))
    assert torch.equal(got, perm)
