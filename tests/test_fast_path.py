"""The GPU fast path, run on the CPU (chapter ``scale``, issue 16).

``TrainConfig(fast_cpu=True)`` turns on, on the CPU, what ``train.fit`` turns on on CUDA:
bf16 autocast and channels_last (``engine.fast_path``); ``compile=True`` adds inductor. So
these tests run the code a GPU run takes with the device the only difference. Not covered
here (CUDA only): cudnn.benchmark, pinned-memory ``non_blocking`` copies, NCCL (DDP itself
runs on gloo in ``tests/test_ddp.py``).

Every registered model (a superset of the models the sweep specs name; CoAtNet-0 only where
timm is installed) trains on synthetic CIFAR-shaped uint8 data with flip-and-crop at narrow
width (the ImageNet models at full width, ResNet-50 and CoAtNet-0 on 96x96 images), and we check:

* finite losses on the fast path;
* after one optimizer step, the objective on the bf16 path lies within ``BF16_RTOL`` of the
  fp32 path. bf16 keeps 8 significant bits (rounding error 2^-9 = 0.2% per operation); through
  tens of layers, a batch-norm over few rows and one step we allow 5% (measured when the test
  was written: about 0.3% for the CIFAR models, under 0.7% for ResNet-50 at 96x96 and ViT-B/16;
  ResNet-50 at 32x32, with 1x1 final maps, moved by 10%), so a wrong cast or a kernel
  that ignores autocast (a result orders of magnitude off, or NaN) fails;
* a run killed after one epoch and resumed ends with the same record (history) and the same
  weights, bit for bit, as the uninterrupted run (not for the full-width ImageNet models: the
  resume code does not depend on the model, and their two extra runs took minutes of ``make test``).

``test_every_objective_follows_the_input_device`` is the CUDA dry run without a GPU
(``device_audit``): every registered objective, the notebooks' ``register-variant`` cells
included, runs on the ``meta`` device under a dispatch mode that names any operation mixing
devices; a planted host tensor is caught, a read of device data on the host is listed.
"""
import importlib.util
import math

import pytest
import torch

from notebook_variants import register_notebook_variants

from mixupbook import engine
from mixupbook.data import Data
from mixupbook.device_audit import audit, audit_objective
from mixupbook.methods import OBJECTIVES, Objective, build_objective
from mixupbook.models import MODELS, build_model
from mixupbook.train import TrainConfig, fit

BF16_RTOL = 0.05
SHAPE = (3, 32, 32)                           # CIFAR-shaped
# the convolutional ImageNet models at 96x96: at 32x32 torchvision's ResNet-50 ends in 1x1 maps and a
# fresh one is so sensitive that bf16 and fp32 differ by 10% after one step (2.7% before it); at 96x96
# by < 0.5%. ViT-B/16 runs on 32x32 (4 patches), where it already agrees.
IMAGENET = {"resnet50", "coatnet_0"}
NARROW = {"small_cnn": {"width": 8}, "wrn": {"width": 0.125, "depth": 10, "widen": 2},
          "resnet50": {}, "vit_b_16": {}, "coatnet_0": {}, "mlp": {"hidden": (32,)}, "linear": {}}
FLAT = {"mlp", "linear"}                      # take flat inputs: their stand-in is 3x32x32 flattened
PAPER_CONFIGS = ["preact_resnet18", "wrn28_10"]  # the resume check also under paper-scale optimizer recipes
NOTEBOOK_VARIANTS = register_notebook_variants()  # so the audit below sees them too


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# bf16 on the CPU needs oneDNN's bf16 kernels. Where the CPU has none (an AVX2-only AMD EPYC, say),
# bf16 autocast can abort the whole process in backward (seen for the WRN), so these tests are
# skipped there with this reason; the GPU path they stand in for is unaffected.
needs_bf16 = pytest.mark.skipif(not engine.cpu_has_bf16(),
                                reason="this CPU has no oneDNN bf16 kernels: bf16 autocast can abort here")


def cifar_like(flat: bool, n: int = 16, side: int = 32) -> Data:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2 * n, 3, side, side), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (2 * n,), generator=g)
    if flat:
        x = x.float().div(255).flatten(1)
        return Data("synthetic_flat", x[:n], y[:n], x[n:], y[n:], 10)
    return Data("synthetic_cifar", x[:n], y[:n], x[n:], y[n:], 10, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def models_to_test():
    out = []
    for name in sorted(MODELS):
        marks = []
        if name == "coatnet_0" and importlib.util.find_spec("timm") is None:
            marks = [pytest.mark.skip(reason="coatnet_0 comes from timm, which is not installed")]
        out.append(pytest.param(name, marks=marks))
    return out


def _fit(name, cfg, checkpoint=None, stop_after=None, method="mixup"):
    data = cifar_like(name in FLAT, side=96 if name in IMAGENET else 32)
    torch.manual_seed(0)
    model = build_model(name, 10, data.input_shape, **NARROW.get(name, {"width": 0.125}))
    hist = fit(model, build_objective(method, 10), data, cfg, device="cpu", seed=1, checkpoint=checkpoint,
               progress=False, stop_after=stop_after)
    return hist, model


def _record(hist):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in hist]


@needs_bf16
@pytest.mark.parametrize("name", models_to_test())
def test_fast_path_trains_close_to_fp32_and_resumes_exactly(name, tmp_path):
    # one step per epoch (batch = the 16 examples): epoch 2's objective is the loss after one step
    base = dict(epochs=2, batch_size=16, lr=0.02, momentum=0.9, augment="none" if name in FLAT else "flip_crop")
    ref, _ = _fit(name, TrainConfig(**base))
    fast, fast_model = _fit(name, TrainConfig(**base, fast_cpu=True))
    assert all(math.isfinite(r["objective"]) and math.isfinite(r["train_loss"]) for r in fast)
    a, b = fast[1]["objective"], ref[1]["objective"]
    assert abs(a - b) <= BF16_RTOL * abs(b), f"{name}: bf16 {a:.5f} vs fp32 {b:.5f} after one step"
    if name not in FLAT:   # channels_last really was on
        conv = next(m for m in fast_model.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    if name in IMAGENET | {"vit_b_16"}:
        return   # resume is model-agnostic code, checked on every other model; these full-width nets cost minutes
    # killed after epoch 1, resumed in a fresh process: the same record and weights as `fast`
    ckpt = tmp_path / "run.pt"
    _fit(name, TrainConfig(**base, fast_cpu=True), checkpoint=ckpt, stop_after=1)
    resumed, model = _fit(name, TrainConfig(**base, fast_cpu=True), checkpoint=ckpt)
    assert _record(resumed) == _record(fast)
    for (k, v), w in zip(model.state_dict().items(), fast_model.state_dict().values()):
        assert torch.equal(v, w), k


@needs_bf16
@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_fast_path_resumes_under_warmup_adamw_and_average(name, tmp_path):
    cfg = dict(epochs=3, batch_size=8, optimizer="adamw", lr=1e-3, betas=[0.9, 0.99], weight_decay=0.05,
               schedule="cosine", warmup_epochs=1, final_lr_factor=1e-3, schedule_unit="step", ema_decay=0.9,
               augment="flip_crop", fast_cpu=True)
    full, full_model = _fit(name, TrainConfig(**cfg), method="mixupe")
    ckpt = tmp_path / "run.pt"
    _fit(name, TrainConfig(**cfg), checkpoint=ckpt, stop_after=2, method="mixupe")
    resumed, model = _fit(name, TrainConfig(**cfg), checkpoint=ckpt, method="mixupe")
    assert _record(resumed) == _record(full) and all(math.isfinite(r["test_loss"]) for r in full)
    for (k, v), w in zip(model.state_dict().items(), full_model.state_dict().values()):
        assert torch.equal(v, w), k


@needs_bf16
@pytest.mark.parametrize("method,kwargs", [("erm", {}), ("mixup", {}), ("manifold_mixup", {}),
                                           ("mixupe", {}), ("mixupe", {"fused": False}),
                                           ("mixupe", {"mix": False}),
                                           ("mixupe_code", {"threshold": 1.0, "alpha": 2.0})])
def test_paper_scale_objectives_under_bf16_autocast(method, kwargs):
    """The objectives the sweep specs train, on the bf16 fast path: finite, close to fp32."""
    data = cifar_like(False)
    out = {}
    for fast in (False, True):
        torch.manual_seed(0)
        model = build_model("preact_resnet18", 10, SHAPE, width=0.125)
        cfg = TrainConfig(epochs=2, batch_size=16, lr=0.02, fast_cpu=fast)
        out[fast] = fit(model, build_objective(method, 10, **kwargs), data, cfg, device="cpu", seed=2,
                        progress=False)[1]["objective"]
    assert math.isfinite(out[True]) and abs(out[True] - out[False]) <= BF16_RTOL * abs(out[False])


@needs_bf16
def test_torch_compile_on_cpu_matches_eager():
    """inductor on CPU, with bf16 autocast and channels_last: the compiled step trains like the eager one.
    On the small CNN (convolutions, batch norm): inductor compiles each fused kernel with a C++ compiler,
    about 20 s cold here, against 70 s for a PreAct ResNet-18 whose kernels are the same kinds."""
    base = dict(epochs=2, batch_size=8, lr=0.02, fast_cpu=True)
    eager, _ = _fit("small_cnn", TrainConfig(**base))
    compiled, _ = _fit("small_cnn", TrainConfig(**base, compile=True))
    for e, c in zip(eager, compiled):
        assert abs(e["objective"] - c["objective"]) <= BF16_RTOL * abs(e["objective"])


# ---------------------------------------------------------------- the CUDA dry run without a GPU
def _audit_inputs(name):
    torch.manual_seed(0)
    if "image" not in OBJECTIVES[name].inputs:   # e.g. input Jacobians / Hessians: for small flat models
        return build_model("mlp", 3, (5,), hidden=(8,)), torch.randn(8, 5), torch.randint(0, 3, (8,))
    return build_model("preact_resnet18", 3, (3, 8, 8), width=0.125), torch.randn(4, 3, 8, 8), \
        torch.randint(0, 3, (4,))


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_follows_the_input_device(name):
    model, x, y = _audit_inputs(name)
    assert audit_objective(build_objective(name, 3), model, x, y) == []


def test_audit_sees_notebook_variants_and_lists_host_reads():
    assert "between_class_mixup" in NOTEBOOK_VARIANTS["02_worked_example.ipynb"]
    model, x, y = _audit_inputs("between_class_mixup")
    rec = audit(build_objective("between_class_mixup", 3), model, x, y)
    # it draws partners from the labels on the host: a copy, not a mixed operation, listed as a host read
    assert rec.mixed == [] and any(r.startswith("_to_copy (4,) to cpu") for r in rec.host_reads)


def test_audit_names_the_objective_it_cannot_follow():
    class Opaque(Objective):
        name = "opaque"

        def loss(self, model, x, y, generator):
            return model(x).sum() * float(x.numpy().sum())       # numpy: no stand-in on meta

    model, x, y = _audit_inputs("mixup")
    with pytest.raises(RuntimeError, match="objective 'opaque': the device audit cannot follow it"):
        audit(Opaque(3), model, x, y)


def test_kept_rows_code_form_follows_the_input_device():
    torch.manual_seed(0)
    model = build_model("mlp", 3, (5,), hidden=(8,))
    obj = build_objective("mixupe_code", 3, threshold=1.0, clean_pass="kept")
    assert audit_objective(obj, model, torch.randn(8, 5), torch.randint(0, 3, (8,))) == []


class HostWeights(Objective):
    """A planted bug: per-example weights drawn on the host and never moved to the batch's device."""

    name = "host_weights"

    def loss(self, model, x, y, generator):
        w = torch.rand(x.shape[0], generator=generator)           # on the CPU, whatever x is on
        return (torch.nn.functional.cross_entropy(model(x), y, reduction="none") * w).mean()


def test_audit_catches_a_planted_host_tensor():
    model, x, y = _audit_inputs("mixup")
    mixed = audit_objective(HostWeights(3), model, x, y)
    assert mixed and mixed[0].startswith("mul") and "cpu" in mixed[0] and "meta" in mixed[0]


def test_fast_cpu_is_refused_where_the_cpu_has_no_bf16_kernels(monkeypatch):
    # bf16 autocast without oneDNN bf16 kernels can abort the process in backward: a clear error
    # naming the parameter comes first, before any training step; without amp the run is allowed
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: False)
    data = cifar_like(True)
    model = build_model("mlp", 10, data.input_shape, hidden=(8,))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="fast_cpu"):
        fit(model, build_objective("mixup", 10), data, TrainConfig(epochs=1, batch_size=16, fast_cpu=True),
            device="cpu", seed=1, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    hist = fit(model, build_objective("mixup", 10), data, TrainConfig(epochs=1, batch_size=16, fast_cpu=True, amp=False),
               device="cpu", seed=1, progress=False)
    assert math.isfinite(hist[-1]["objective"])
