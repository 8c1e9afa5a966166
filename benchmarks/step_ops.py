"""ATen operations per training step of the sweep specs' models (chapter ``scale``): counts and ratios.

    python benchmarks/step_ops.py

For the model / batch / objective combinations of the sweep specs in ``experiments/``, prints
the operations one steady-state step of ``train.fit`` dispatches (``mixupbook.cost.step_counts``,
counted on the meta device: operations that compute or allocate, and views), the steps per
epoch, and the ratio of the per-operation floor to the FLOP time of one step at the assumed
rates of ``mixupbook.cost``, optimistic (5 us per op against 350 TFLOP/s) and pessimistic (10 us
against 100 TFLOP/s): above 1, the floor, not the arithmetic, sets the pace. No timing: the
rates are assumptions until a GPU measures them.
"""
from __future__ import annotations

import argparse
import json
import platform

import torch

from mixupbook import cost
from mixupbook.experiment import ExperimentConfig, model_cost

# (spec, dataset, input shape, classes, model, batch, method, train settings): as the notebooks set them
CASES = [
    ("zhang2021_fig1b", "cifar10", (3, 32, 32), 10, "preact_resnet18", 64, "mixup", {}),
    ("zhang2021_fig1a", "svhn", (3, 32, 32), 10, "wrn16_8", 128, "mixup", {}),
    ("kimura2021_table1", "cifar10", (3, 32, 32), 10, "resnet18_cifar", 128, "mixup", {}),
    ("chidambaram2022_h4", "cifar10", (3, 32, 32), 10, "resnet18_cifar", 128, "mixup",
     {"optimizer": "adam", "augment": "none"}),
    ("zou2023 Table 1a", "cifar10", (3, 32, 32), 10, "wrn28_10", 100, "mixupe", {"weight_decay": 1e-4}),
    ("zou2023 Table 1a", "cifar10", (3, 32, 32), 10, "preact_resnet50", 100, "mixupe", {"weight_decay": 1e-4}),
    ("zou2023 Table 3", "imagenet", (3, 224, 224), 1000, "resnet50", 4096, "mixupe",
     {"engine": "classic", "ema_decay": 0.999, "weight_decay": 1e-4}),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.parse_args(argv)
    print(json.dumps({"torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                      "assumed_tflops": cost.ASSUMED_TFLOPS, "assumed_op_us": cost.ASSUMED_OP_US}))
    n_train = {"cifar10": 50000, "cifar100": 50000, "svhn": 73257, "imagenet": 1281167}
    for spec, dataset, shape, classes, model, bs, method, extras in CASES:
        cfg = ExperimentConfig(name="b", dataset=dataset, model=model, method=method,
                               method_kwargs={"fused": method == "mixupe" and dataset == "imagenet"}
                               if method == "mixupe" else {},
                               train={"epochs": 1, "batch_size": bs, "augment": "flip_crop", **extras})
        ops, views = cost.step_counts(cfg, classes, shape)
        _, flops = model_cost(model, "{}", classes, shape)
        step_cost = {"mixupe": 2.0}.get(method, 1.0)
        flop_s = [3 * step_cost * flops * bs / (t * 1e12) for t in cost.ASSUMED_TFLOPS]
        floor_s = [sum(ops.values()) * us * 1e-6 for us in cost.ASSUMED_OP_US]
        print(json.dumps({"spec": spec, "model": model, "batch": bs, "method": method,
                          "ops_per_step": sum(ops.values()), "views_per_step": sum(views.values()),
                          "steps_per_epoch": -(-n_train[dataset] // bs),
                          # per step: op floor / FLOP time, optimistic (5 us vs 350 TFLOP/s) and pessimistic
                          "floor_over_flops": [round(floor_s[0] / flop_s[0], 2), round(floor_s[1] / flop_s[1], 2)]}))


if __name__ == "__main__":
    main()
