"""Fabricated paper-scale runs: the post-training cells of a sweep notebook, in seconds, on a CPU.

``execute_fabricated(notebook, tmp_path, **params)`` executes a notebook through papermill at
``scale="paper"`` with one extra cell after its parameters that calls ``install()`` in the kernel:

- every download-only dataset reads as a tiny random set of its registered shape (at most 32x32
  pixels, a few images per class), so no data is needed;
- every model builds as a tiny network of the right input and output shape (the registry's name
  and keyword checks still run): on images, a nearest-class-pattern classifier of the fabricated
  data, which behaves like a trained model (accurate on clean images, less so on deformed ones);
- ``train.fit`` returns a fabricated history (finite numbers drawn from the run's checkpoint name,
  so every configuration and seed gets its own) instead of training, and moves the model's weights
  by 1% noise from the same draw, so that notebooks which score the models themselves see runs
  that differ.

Everything else is the library's own path: ``experiment.run`` validates, writes and reads the
records in ``results_dir`` (a sweep's other points are earlier executions with other seeds), and
the notebook's statistics, tables, figures and claims run on those records. Claims are recorded
in audit mode (``claims.AUDIT_ENV``): on fabricated numbers a condition may not hold, and the test
is that every cell runs, not what it finds.
"""
from __future__ import annotations

import functools
import inspect
import json
import zlib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


GRID = 8   # the class patterns vary on an 8 x 8 grid; the stand-in model averages to that grid


@functools.lru_cache(maxsize=None)
def _patterns(k: int, c: int, h: int, w: int):
    """One smooth random image per class (values in [0, 1]), fixed by the shapes alone."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(zlib.crc32(f"{k}-{c}-{h}-{w}".encode()))
    return F.interpolate(torch.rand(k, c, GRID, GRID, generator=g), size=(h, w), mode="bilinear",
                         align_corners=False)


def _image_size(shape: tuple) -> tuple:
    c, h, w = shape
    return c, min(h, 32), min(w, 32)


def _tiny_model(num_classes: int, input_shape: tuple):
    """A stand-in for a trained network, with no training: on images, the nearest class pattern of
    the fabricated data (average-pooled to the pattern grid, then one linear layer), so it is accurate
    on clean images and less so on rotated, sheared or zoomed ones, as a trained model is; on other
    inputs, a small random MLP."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if len(input_shape) != 3:
        width = input_shape[0] * (4 if len(input_shape) == 2 else 1)
        pool = nn.AdaptiveAvgPool1d(4) if len(input_shape) == 2 else nn.Identity()
        return nn.Sequential(pool, nn.Flatten(), nn.Linear(width, 16), nn.GELU(), nn.Linear(16, num_classes))
    templates = F.adaptive_avg_pool2d((_patterns(num_classes, *_image_size(input_shape)) - 0.5) / 0.25, GRID)
    templates = templates.flatten(1)
    head = nn.Linear(templates.shape[1], num_classes)
    with torch.no_grad():   # logits 2 t.f - |t|^2: the nearest template wins
        head.weight.copy_(2 * templates)
        head.bias.copy_(-(templates ** 2).sum(1))
    return nn.Sequential(nn.AdaptiveAvgPool2d(GRID), nn.Flatten(), head)


@functools.lru_cache(maxsize=None)
def _fake_arrays(name: str, k: int, shape: tuple):
    import torch

    c, h, w = _image_size(shape)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    n_train, n_test = max(2 * k, 64), max(k, 32)
    y = torch.arange(n_train + n_test) % k
    y = y[torch.randperm(len(y), generator=g)]
    x = _patterns(k, c, h, w)[y] + 1.2 * torch.randn(len(y), c, h, w, generator=g)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _fake_data(name: str, info: dict, seed: int = 0, **kwargs):
    """A tiny image set of the registered shape (at most 32 x 32): class patterns plus noise."""
    from mixupbook.data import Data

    c = info["shape"][0]
    xtr, ytr, xte, yte = (t.clone() for t in _fake_arrays(name, info["num_classes"], tuple(info["shape"])))
    return Data(name, xtr, ytr, xte, yte, info["num_classes"], (0.5,) * c, (0.25,) * c)


def _fake_fit(model, objective, data, cfg, *, device="auto", seed=0, checkpoint=None, progress=True,
              stop_after=None, **kwargs):
    import torch

    from mixupbook.train import resolve_device

    model.to(resolve_device(device))
    tag = Path(checkpoint).name if checkpoint is not None else f"{data.name}-{objective.name}-{seed}"
    g = torch.Generator().manual_seed(zlib.crc32(tag.encode()))
    with torch.no_grad():   # "training" moves the weights a little, so each run's model scores differently
        for p in model.parameters():
            p.add_(0.01 * p.abs().mean() * torch.randn(p.shape, generator=g).to(p.device))
    u = lambda lo, hi: lo + (hi - lo) * float(torch.rand((), generator=g))  # noqa: E731
    history = []
    for epoch in range(cfg.epochs if stop_after is None else min(stop_after, cfg.epochs)):
        row = {"epoch": epoch + 1, "objective": u(0.5, 2.0), "lr": cfg.lr, "seconds": 0.0}
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            row.update({"train_loss": u(0.05, 1.0), "train_acc": u(0.92, 1.0), "test_loss": u(0.3, 2.0),
                        "test_acc": u(0.6, 0.95)})
        history.append(row)
    return history


def install() -> None:
    """Patch the kernel's library: tiny data, tiny models, fabricated training (see the module)."""
    import os

    import mixupbook.data as D
    import mixupbook.experiment as E
    import mixupbook.models as M
    import mixupbook.train as T
    from mixupbook import claims

    os.environ[claims.AUDIT_ENV] = "1"
    for name, info in D.DATASETS.items():
        if not info["offline"]:
            info["fn"] = lambda root=None, download=False, seed=0, _n=name, _i=info, **kw: _fake_data(_n, _i, seed)
    D.dataset_available = lambda name, root: True
    if hasattr(D, "missing_files"):
        D.missing_files = lambda name, root: []

    def build_model(name, num_classes, input_shape, **kwargs):
        if name not in M.MODELS:
            return M.MODELS_BUILD(name, num_classes, input_shape, **kwargs)   # raises, naming the valid ones
        params = inspect.signature(M.MODELS[name]).parameters
        unknown = sorted(set(kwargs) - set(params))
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            raise ValueError(f"model_kwargs: {name!r} takes no {unknown}")
        return _tiny_model(num_classes, tuple(input_shape))

    M.MODELS_BUILD = M.build_model
    M.build_model = E.build_model = build_model
    T.fit = E.fit = _fake_fit


def _with_install_cell(src: Path, dst: Path) -> Path:
    nb = nbformat.read(src, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
                                     "import fabricated_runs\nfabricated_runs.install()\n")
    nb.cells.insert(at + 1, cell)
    nbformat.write(nb, dst)
    return dst


def execute_fabricated(notebook: str, tmp_path: Path, tag: str = "", **params) -> str:
    """Execute ``notebooks/<notebook>.ipynb`` at paper scale on fabricated runs; its outputs' text."""
    from forked_kernel import execute as execute_notebook
    from notebook_runs import outputs_text

    src = ROOT / "notebooks" / f"{notebook}.ipynb"
    nb = _with_install_cell(src, tmp_path / f"{src.stem}{tag}.in.ipynb")
    out = tmp_path / f"{src.stem}{tag}.out.ipynb"
    params = {"scale": "paper", "device": "cpu", "data_root": str(tmp_path / "data"),
              "results_dir": str(tmp_path / "results"), **params}
    execute_notebook(nb, out, parameters=params, cwd=src.parent)
    return outputs_text(out)


def records(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).rglob("*.json"))]
