"""Every registered objective, tested the moment it is registered (parametrized over the registry).

The registry includes the variants that notebooks define in cells tagged ``register-variant``
(chapter ``extending``): they are registered below, before the parametrized tests are collected.
"""
import pytest
import torch
from notebook_variants import register_notebook_variants

from mixupbook.lam import Beta
from mixupbook.losses import soft_cross_entropy
from mixupbook.methods import OBJECTIVES, Objective, build_objective, register
from mixupbook.mixing import one_hot

NOTEBOOK_VARIANTS = register_notebook_variants()


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objective_gives_finite_scalar_with_gradients(name, mlp_batch, gen):
    model, x, y = mlp_batch
    obj = build_objective(name, num_classes=3)
    loss = obj(model, x, y, gen)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objective_is_deterministic_given_generator(name, mlp_batch):
    model, x, y = mlp_batch
    obj = build_objective(name, num_classes=3)
    a = obj(model, x, y, torch.Generator().manual_seed(5))
    b = obj(model, x, y, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_mixup_with_point_mass_near_one_is_erm(mlp_batch, gen):
    model, x, y = mlp_batch
    erm = build_objective("erm", 3)(model, x, y, gen)
    near_one = build_objective("mixup", 3, law=Beta(1e6, 1e-3))(model, x, y, gen)
    assert float(near_one.detach()) == pytest.approx(float(erm.detach()), rel=1e-3)


def test_mixup_loss_equals_explicit_formula(mlp_batch):
    model, x, y = mlp_batch
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    obj = build_objective("mixup", 3, alpha=0.5)
    loss = obj(model, x, y, g1)
    perm = torch.randperm(len(x), generator=g2)
    lam = Beta(0.5).sample(1, g2)[0]
    yh = one_hot(y, 3)
    expected = soft_cross_entropy(model(lam * x + (1 - lam) * x[perm]), lam * yh + (1 - lam) * yh[perm])
    assert torch.allclose(loss, expected)


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_mixup_alpha_must_be_positive(bad):
    with pytest.raises(ValueError, match="alpha"):
        build_objective("mixup", 3, alpha=bad)


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="valid methods") as e:
        build_objective("cutmix_pro", 3)
    assert "mixup" in str(e.value) and "erm" in str(e.value)


def test_register_adds_to_registry_and_refuses_duplicates():
    @register("_test_variant")
    class Variant(Objective):
        def loss(self, model, x, y, generator):
            return model(x).pow(2).mean()

    try:
        assert "_test_variant" in OBJECTIVES
        with pytest.raises(ValueError, match="already registered"):
            register("_test_variant")(type("Other", (Objective,), {}))
    finally:
        OBJECTIVES.pop("_test_variant")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objective_on_cuda_matches_cpu(name, mlp_batch):
    # lam and perm reach the GPU through pinned memory without blocking: same draws, same loss
    model, x, y = mlp_batch
    obj = build_objective(name, num_classes=3)
    cpu = obj(model.double(), x.double(), y, torch.Generator().manual_seed(3))
    gpu = obj(model.cuda(), x.double().cuda(), y.cuda(), torch.Generator().manual_seed(3))
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-9, atol=1e-12)


def test_notebook_variants_are_in_the_registry():
    assert NOTEBOOK_VARIANTS, "no notebook in notebooks/extending/ has a cell tagged register-variant"
    for notebook, names in NOTEBOOK_VARIANTS.items():
        assert names, f"{notebook}: its register-variant cells register no objective"
        assert set(names) <= set(OBJECTIVES)
    assert "between_class_mixup" in NOTEBOOK_VARIANTS["02_worked_example.ipynb"]


def test_register_accepts_a_redefinition_of_the_same_class():
    source = ("from mixupbook.methods import Objective, register\n"
              "@register('_test_redefined')\n"
              "class Redefined(Objective):\n"
              "    def loss(self, model, x, y, generator):\n"
              "        return model(x).sum()\n")
    try:
        exec(source, {"__name__": "_test_cell"})
        first = OBJECTIVES["_test_redefined"]
        exec(source, {"__name__": "_test_cell"})       # the same cell run again
        assert OBJECTIVES["_test_redefined"] is not first
        with pytest.raises(ValueError, match="already registered"):
            exec(source, {"__name__": "_other_cell"})  # same class name, another module
    finally:
        OBJECTIVES.pop("_test_redefined", None)
