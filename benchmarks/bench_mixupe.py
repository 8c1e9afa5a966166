"""Training-step time of MixupE relative to mixup, and of mixup relative to ERM (chapter ``zou2023``).

    python benchmarks/bench_mixupe.py [--models mlp,small_cnn] [--batch 100] [--repeats 30] [--threads 1]

Same model, same batch, same optimizer (SGD) for every objective; one "step" is the
objective's forward, backward and the optimizer step. The objectives are timed
interleaved (erm, mixup, mixupe, mixupe_code, erm, ...) after warm-up steps, so a
change of machine load hits all of them alike; the median over ``--repeats`` is
reported. ``mixupe`` is the paper form with the clean pass fused into the mixed pass
(one forward of 2B, batch-norm statistics from the mixed half); ``mixupe_code`` is the
public code's form, whose clean pass is a second forward (as in the authors' code).
Zou et al. (2023) report MixupE at 1.3x mixup (section 4.1, ImageNet, batched pass).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from mixupbook.methods import build_objective
from mixupbook.models import build_model

SHAPES = {"mlp": (64,), "small_cnn": (3, 32, 32), "preact_resnet18": (3, 32, 32)}
METHODS = [("erm", {}), ("mixup", {"alpha": 1.0}), ("mixupe", {"alpha": 1.0, "eta": 1e-3}),
           ("mixupe_code", {"alpha": 1.0, "eta": 1e-3})]


def step_times(model_name: str, batch: int, repeats: int, warmup: int = 5, seed: int = 0) -> dict[str, float]:
    """Median seconds per training step of each objective on one model and one batch."""
    shape = SHAPES[model_name]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model(model_name, 10, shape)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch, *shape, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    objectives = {name: build_objective(name, 10, **kw) for name, kw in METHODS}
    times: dict[str, list[float]] = {name: [] for name in objectives}
    for r in range(warmup + repeats):
        for name, obj in objectives.items():
            t0 = time.perf_counter()
            loss = obj(model, x, y, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,small_cnn")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    unknown = sorted(set(args.models.split(",")) - set(SHAPES))
    if unknown:
        raise ValueError(f"models: unknown {unknown}; valid: {sorted(SHAPES)}")
    torch.set_num_threads(args.threads)
    for model_name in args.models.split(","):
        med = step_times(model_name, args.batch, args.repeats)
        print(json.dumps({"model": model_name, "batch": args.batch, "threads": args.threads,
                          "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                          "median_step_ms": {k: round(1e3 * v, 3) for k, v in med.items()},
                          "mixupe/mixup": round(med["mixupe"] / med["mixup"], 3),
                          "mixupe_code/mixup": round(med["mixupe_code"] / med["mixup"], 3),
                          "mixup/erm": round(med["mixup"] / med["erm"], 3)}))


if __name__ == "__main__":
    main()
