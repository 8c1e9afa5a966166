"""WideResNets: the paper-size networks have the published parameter counts; the width multiplier works."""
import pytest
import torch

from mixupbook.models import build_model


@pytest.mark.parametrize("name, lo, hi", [("wrn16_8", 10.9e6, 11.1e6), ("wrn28_10", 36.4e6, 36.6e6)])
def test_full_width_wrn_has_published_size(name, lo, hi):
    # Zagoruyko & Komodakis (2016), Table: WRN-16-8 11.0M, WRN-28-10 36.5M parameters (CIFAR-10)
    n = sum(p.numel() for p in build_model(name, 10, (3, 32, 32)).parameters())
    assert lo < n < hi


def test_small_wrn_runs_on_svhn_shaped_batch():
    model = build_model("wrn16_8", 10, (3, 32, 32), width=0.125).eval()
    assert sum(p.numel() for p in model.parameters()) < 0.25e6
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_wrn_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        build_model("wrn", 10, (3, 32, 32), depth=15)
