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
KINDS = ("flat", "image")
# every objective on every kind of batch it declares (Objective.inputs): flat (B, d), images (B, C, H, W)
CASES = [(name, kind) for name in sorted(OBJECTIVES) for kind in OBJECTIVES[name].inputs]


def _batch(kind, gen):
    """A small model and a batch of 8 (flat: an MLP on 5 inputs; image: a PreActResNet-18 at width 1/8
    on 3 x 8 x 8), 3 classes."""
    from mixupbook.models import build_model

    torch.manual_seed(0)
    if kind == "flat":
        return build_model("mlp", 3, (5,), hidden=(8,)), torch.randn(8, 5, generator=gen), \
            torch.randint(0, 3, (8,), generator=gen)
    return build_model("preact_resnet18", 3, (3, 8, 8), width=0.125), torch.randn(8, 3, 8, 8, generator=gen), \
        torch.randint(0, 3, (8,), generator=gen)


def test_every_objective_declares_the_inputs_it_takes():
    for name, cls in OBJECTIVES.items():
        assert cls.inputs and set(cls.inputs) <= set(KINDS), (name, cls.inputs)
    assert {kind for _, kind in CASES} == set(KINDS)


@pytest.mark.parametrize("name, kind", CASES)
def test_objective_gives_finite_scalar_with_gradients(name, kind, gen):
    model, x, y = _batch(kind, gen)
    obj = build_objective(name, num_classes=3)
    loss = obj(model, x, y, gen)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name, kind", CASES)
def test_objective_is_deterministic_given_generator(name, kind, gen):
    model, x, y = _batch(kind, gen)
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
@pytest.mark.parametrize("name, kind", CASES)
def test_objective_on_cuda_matches_cpu(name, kind, gen):
    # lam and perm reach the GPU through pinned memory without blocking: same draws, same loss
    model, x, y = _batch(kind, gen)
    obj = build_objective(name, num_classes=3)
    cpu = obj(model.double(), x.double(), y, torch.Generator().manual_seed(3))
    gpu = obj(model.cuda(), x.double().cuda(), y.cuda(), torch.Generator().manual_seed(3))
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-9, atol=1e-12)


def test_notebook_variants_are_in_the_registry():
    assert NOTEBOOK_VARIANTS, "no notebook in notebooks/extending/ has a cell tagged register-variant"
    for notebook, names in NOTEBOOK_VARIANTS.items():
        assert names, f"{notebook}: its register-variant cells register no objective"
        assert set(names) <= set(OBJECTIVES)
    assert NOTEBOOK_VARIANTS["02_worked_example.ipynb"] == ["between_class_mixup"]   # not the base it imports


def test_a_kept_variant_still_counts_as_the_notebooks_variant(tmp_path):
    # "Keeping it" (chapter extending): the class moves into mixupbook.methods and the cell becomes its import
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("from mixupbook.methods import CutMix  # kept: now in the library\n")
    cell.metadata["tags"] = ["register-variant"]
    nb.cells = [cell]
    path = tmp_path / "notebooks" / "extending" / "03_kept.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    assert register_notebook_variants(root=tmp_path) == {"03_kept.ipynb": ["cutmix"]}


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


# ---------------------------------------------------------------- CutMix, label smoothing, switching
ROLL = torch.arange(8).roll(1)   # torchvision pairs example i with i - 1: x[ROLL] == x.roll(1, 0)


class _Fixed:
    """Stands in for a torchvision transform's Beta distribution: always gives ``lam``."""

    def __init__(self, lam):
        self.lam = lam

    def sample(self, shape=()):
        return torch.tensor(self.lam)


def _images(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 5, (8,), generator=g)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.71875, 1.0])
def test_cutmix_matches_torchvision_on_the_same_draws(lam):
    from torchvision.transforms.v2 import CutMix

    from mixupbook.mixing import box_lam, cutmix, sample_box

    x, y = _images()
    ours_box = sample_box(lam, 8, 8, torch.Generator().manual_seed(11))
    tv = CutMix(alpha=1.0, num_classes=5)
    tv._dist = _Fixed(lam)
    torch.manual_seed(11)                     # torchvision draws the centre from the global RNG
    params = tv.make_params([x])
    assert tuple(params["box"]) == ours_box and params["lam_adjusted"] == box_lam(ours_box, 8, 8)
    params.update(labels=y, batch_size=8)
    x_mix, y_mix = cutmix(x, one_hot(y, 5), ours_box, ROLL)
    assert torch.equal(x_mix, tv.transform(x, params)) and torch.equal(y_mix, tv.transform(y, params))
    assert torch.allclose(y_mix.sum(1), torch.ones(8))


@pytest.mark.parametrize("lam", [0.0, 0.25, 0.6, 1.0])
def test_mixup_matches_torchvision_on_the_same_draws(lam):
    from torchvision.transforms.v2 import MixUp

    from mixupbook.mixing import mix

    x, y = _images()
    lam = float(torch.tensor(lam))           # a draw of our laws: a float32 value, passed on exactly
    params = {"lam": lam, "labels": y, "batch_size": 8}
    tv = MixUp(alpha=1.0, num_classes=5)
    x_mix, y_mix = mix(x, one_hot(y, 5), torch.tensor(lam), ROLL)
    assert torch.equal(x_mix, tv.transform(x, params)) and torch.equal(y_mix, tv.transform(y, params))


def _replayed_cutmix(x, y_soft, alpha, g):
    """The draws of the ``cutmix`` objective, replayed: perm, lam ~ Beta(alpha), then the box."""
    from mixupbook.mixing import cutmix, sample_box

    perm = torch.randperm(len(x), generator=g)
    lam = float(Beta(alpha).sample(1, g)[0])
    return cutmix(x, y_soft, sample_box(lam, x.shape[-2], x.shape[-1], g), perm)


def test_cutmix_objective_is_cutmix_of_its_draws():
    model, x, y = _batch("image", torch.Generator().manual_seed(1))
    loss = build_objective("cutmix", 3, alpha=0.5)(model, x, y, torch.Generator().manual_seed(4))
    x_mix, y_mix = _replayed_cutmix(x, one_hot(y, 3), 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(loss, soft_cross_entropy(model(x_mix), y_mix))


def test_label_smoothing_is_torch_cross_entropy_with_smoothing(mlp_batch, gen):
    model, x, y = mlp_batch
    loss = build_objective("label_smoothing", 3, smoothing=0.2)(model, x, y, gen)
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.2))


@pytest.mark.parametrize("switch_prob, branch", [(1.0, "cutmix"), (0.0, "mixup")])
def test_mixup_cutmix_switches_per_batch(switch_prob, branch):
    from mixupbook.mixing import mix, sample_pairing, smooth_labels

    model, x, y = _batch("image", torch.Generator().manual_seed(2))
    obj = build_objective("mixup_cutmix", 3, mixup_alpha=0.4, cutmix_alpha=2.0, switch_prob=switch_prob,
                          smoothing=0.1)
    loss = obj(model, x, y, torch.Generator().manual_seed(6))
    g = torch.Generator().manual_seed(6)
    torch.rand((), generator=g)                                   # the switch
    y_soft = smooth_labels(one_hot(y, 3), 0.1)
    if branch == "cutmix":
        x_mix, y_mix = _replayed_cutmix(x, y_soft, 2.0, g)
    else:
        lam, perm = sample_pairing(len(x), Beta(0.4), g)
        x_mix, y_mix = mix(x, y_soft, lam, perm)
    assert torch.equal(loss, soft_cross_entropy(model(x_mix), y_mix))


def test_mixup_cutmix_uses_both_branches_at_its_switch_probability():
    # the switch is one uniform draw per batch: over 200 batches cutmix's share lies within 4 s.e. of 0.3
    from unittest import mock

    from mixupbook import methods

    obj = build_objective("mixup_cutmix", 3, switch_prob=0.3)
    x, y = torch.randn(2, 1, 4, 4), torch.tensor([0, 1])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    g = torch.Generator().manual_seed(0)
    with mock.patch.object(methods, "cutmix", wraps=methods.cutmix) as spy:
        for _ in range(200):
            obj(model, x, y, g)
    share, se = spy.call_count / 200, (0.3 * 0.7 / 200) ** 0.5
    assert abs(share - 0.3) < 4 * se


@pytest.mark.parametrize("name", [n for n in sorted(OBJECTIVES) if OBJECTIVES[n].inputs == ("image",)])
def test_image_only_objectives_refuse_flat_batches(name, mlp_batch, gen):
    model, x, y = mlp_batch
    with pytest.raises(ValueError, match=r"x: .*\(B, C, H, W\)"):
        build_objective(name, 3)(model, x, y, gen)


@pytest.mark.parametrize("name, kwargs, match", [
    ("cutmix", {"alpha": 0.0}, "alpha"), ("label_smoothing", {"smoothing": 1.5}, "smoothing"),
    ("mixup_cutmix", {"switch_prob": -0.1}, "switch_prob"), ("mixup_cutmix", {"cutmix_alpha": -1}, "cutmix_alpha")])
def test_new_variants_refuse_bad_hyperparameters(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_objective(name, 3, **kwargs)
