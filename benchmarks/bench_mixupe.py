"""Training-step cost of the MixupE forms relative to mixup: counted FLOPs and wall-clock medians
(chapter ``zou2023``, issue 16).

    python benchmarks/bench_mixupe.py [--models mlp,small_cnn,plain_cnn] [--batch 100] [--repeats 30]
                                      [--threads 1] [--threshold 1.0]

Same model, same batch, same SGD optimizer for every objective; one "step" is the objective's
forward, backward and the optimizer step. FLOPs are counted with ``torch.utils.flop_counter``
(matrix multiplies and convolutions, forward and backward) over one step, so they do not depend
on the machine. Times: the objectives run interleaved (erm, mixup, mixupe, ..., erm, ...) after
warm-up steps, so a change of machine load hits all alike; we report the median over
``--repeats`` and the spread (interquartile range / median).

Forms: ``mixupe`` (paper form, clean pass separate), ``mixupe_fused`` (the book's fused pass:
one forward of 2B, batch-norm statistics from the mixed half), ``mixupe_code`` (the public
code's form: a full second pass) and ``mixupe_code_kept`` (the same value and gradient from a
no-grad selection pass plus forward and backward of the kept rows; only for models without
batch norm, so not run on ``small_cnn``). The paper form's floor is 2x mixup in FLOPs: it adds
one forward and one backward of the clean batch. Zou et al. (2023) report 1.3x mixup in time
(section 4.1, ImageNet, batched pass).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from mixupbook.methods import build_objective, check_rowwise
from mixupbook.models import build_model
from mixupbook.taylor import q_hat

SHAPES = {"mlp": (64,), "small_cnn": (3, 32, 32), "plain_cnn": (3, 32, 32), "preact_resnet18": (3, 32, 32)}


def plain_cnn(num_classes: int = 10, width: int = 32) -> torch.nn.Module:
    """small_cnn's layout without batch norm: a CNN for which the kept-rows form is exact."""
    c = torch.nn.Conv2d
    return torch.nn.Sequential(c(3, width, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               c(width, 2 * width, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(2 * width, num_classes))


def methods(threshold: float) -> dict[str, tuple[str, dict]]:
    e = {"alpha": 1.0, "eta": 1e-3}
    return {"erm": ("erm", {}), "mixup": ("mixup", {"alpha": 1.0}), "mixupe": ("mixupe", {**e, "fused": False}),
            "mixupe_fused": ("mixupe", {**e, "fused": True}),
            "mixupe_code": ("mixupe_code", {**e, "threshold": threshold}),
            "mixupe_code_kept": ("mixupe_code", {**e, "threshold": threshold, "clean_pass": "kept"})}


def step(model, opt, obj, x, y, gen):
    loss = obj(model, x, y, gen)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def measure(model_name: str, batch: int, repeats: int, threshold: float, warmup: int = 5, seed: int = 0) -> dict:
    shape = SHAPES[model_name]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = plain_cnn() if model_name == "plain_cnn" else build_model(model_name, 10, shape)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = torch.randn(batch, *shape, generator=gen), torch.randint(0, 10, (batch,), generator=gen)
    objectives = {k: build_objective(m, 10, **kw) for k, (m, kw) in methods(threshold).items()}
    try:
        check_rowwise(model, "kept")
    except ValueError:
        objectives.pop("mixupe_code_kept")   # batch norm: the kept-rows form is not exact, so not offered
    with torch.no_grad():
        kept = float((q_hat(model(x), torch.nn.functional.one_hot(y, 10).float()) < threshold).float().mean())
    flops = {}
    for name, obj in objectives.items():
        with FlopCounterMode(display=False) as counter:
            step(model, opt, obj, x, y, gen)
        flops[name] = counter.get_total_flops()
    times: dict[str, list[float]] = {name: [] for name in objectives}
    for r in range(warmup + repeats):
        for name, obj in objectives.items():
            t0 = time.perf_counter()
            step(model, opt, obj, x, y, gen)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    iqr = {k: (lambda q: (q[2] - q[0]) / med[k])(statistics.quantiles(v, n=4)) for k, v in times.items()}
    return {"model": model_name, "batch": batch, "threshold": threshold, "kept_fraction_at_start": round(kept, 3),
            "flops_vs_mixup": {k: round(v / flops["mixup"], 3) for k, v in flops.items()},
            "time_vs_mixup": {k: round(v / med["mixup"], 3) for k, v in med.items()},
            "median_step_ms": {k: round(1e3 * v, 3) for k, v in med.items()},
            "iqr_over_median": {k: round(v, 3) for k, v in iqr.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,small_cnn,plain_cnn")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=-1.0, help="mixupe_code's threshold (README: 1.0)")
    args = parser.parse_args()
    unknown = sorted(set(args.models.split(",")) - set(SHAPES))
    if unknown:
        raise ValueError(f"models: unknown {unknown}; valid: {sorted(SHAPES)}")
    torch.set_num_threads(args.threads)
    for model_name in args.models.split(","):
        out = measure(model_name, args.batch, args.repeats, args.threshold)
        out.update(threads=args.threads, machine=platform.processor() or platform.machine(), torch=torch.__version__)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
