import pytest
import torch

from mixupbook.lam import Beta
from mixupbook.losses import h_loss, soft_cross_entropy
from mixupbook.mixing import all_pairs, mix, one_hot, sample_pairing


@pytest.fixture
def batch(gen):
    x = torch.randn(6, 3, 4, 4, generator=gen)
    y = one_hot(torch.tensor([0, 1, 2, 1, 0, 2]), 3)
    return x, y


def test_lam_one_returns_input(batch):
    x, y = batch
    perm = torch.tensor([5, 4, 3, 2, 1, 0])
    xm, ym = mix(x, y, 1.0, perm)
    assert torch.equal(xm, x) and torch.equal(ym, y)


def test_lam_zero_returns_partner(batch):
    x, y = batch
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    xm, ym = mix(x, y, 0.0, perm)
    assert torch.equal(xm, x[perm]) and torch.equal(ym, y[perm])


@pytest.mark.parametrize("per_example", [False, True])
def test_mixed_rows_sum_to_one(batch, gen, per_example):
    x, y = batch
    lam, perm = sample_pairing(len(x), Beta(0.4), gen, per_example)
    _, ym = mix(x, y, lam, perm)
    assert torch.allclose(ym.sum(1), torch.ones(len(x)), atol=1e-6)
    assert (ym >= 0).all()


def test_per_example_lam_mixes_each_row_with_its_own_weight(batch):
    x, y = batch
    lam = torch.linspace(0, 1, 6)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    xm, _ = mix(x, y, lam, perm)
    for k in range(6):
        assert torch.allclose(xm[k], lam[k] * x[k] + (1 - lam[k]) * x[perm[k]])


def test_wrong_lam_shape_is_refused(batch):
    x, y = batch
    with pytest.raises(ValueError, match="lam"):
        mix(x, y, torch.ones(5), torch.arange(6))


def test_mix_does_not_modify_inputs(batch):
    x, y = batch
    x0, y0 = x.clone(), y.clone()
    mix(x, y, 0.3, torch.tensor([1, 2, 3, 4, 5, 0]))
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_soft_ce_is_linear_in_label(gen):
    logits = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    yi = one_hot(torch.tensor([0, 1, 2, 3, 0]), 4).double()
    yj = one_hot(torch.tensor([3, 3, 1, 0, 2]), 4).double()
    lam = 0.37
    lhs = soft_cross_entropy(logits, lam * yi + (1 - lam) * yj, "none")
    rhs = lam * soft_cross_entropy(logits, yi, "none") + (1 - lam) * soft_cross_entropy(logits, yj, "none")
    assert torch.allclose(lhs, rhs, atol=1e-12)


def test_soft_ce_of_one_hot_is_standard_ce(gen):
    logits = torch.randn(5, 4, generator=gen)
    y = torch.tensor([0, 1, 2, 3, 0])
    assert torch.allclose(soft_cross_entropy(logits, one_hot(y, 4)), torch.nn.functional.cross_entropy(logits, y))


def test_h_loss_logistic_matches_bce(gen):
    f = torch.randn(10, generator=gen)
    y = (torch.rand(10, generator=gen) > 0.5).float()
    assert torch.allclose(h_loss(f, y, "logistic"), torch.nn.functional.binary_cross_entropy_with_logits(f, y))
    with pytest.raises(ValueError, match="valid"):
        h_loss(f, y, "hinge")


def test_one_hot_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        one_hot(torch.tensor([0, 3]), 3)


def test_all_pairs_enumerates_n_squared():
    i, j = all_pairs(4)
    assert len(i) == 16 and len(set(zip(i.tolist(), j.tolist()))) == 16
