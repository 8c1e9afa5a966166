"""Training throughput: our device engine vs the classic loop, in the same run (chapter ``scale``).

    python benchmarks/throughput.py [--models preact_resnet18,wrn28_10] [--n 4096] [--batch 256] [--width 1.0]

Synthetic CIFAR-shaped data (uint8, 3x32x32, 10 classes), mixup objective, random
crop + flip. "classic" = torch DataLoader with CPU transforms per image, fp32,
contiguous (NCHW) tensors; "device" = our engine (data on the device, on-device
augmentation, bf16 autocast + channels_last + cudnn.benchmark on CUDA, optional
torch.compile). Each engine trains one warm-up epoch, then ``--epochs`` timed ones.
Achieved FLOP/s = 3 x forward FLOPs per image x images/s (the usual estimate of a
training step); on CUDA it is also given as a share of the device's dense bf16 peak.
Prints one JSON line per (model, engine) and the ratio.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import torch

from mixupbook.data import Data
from mixupbook.experiment import forward_flops
from mixupbook.methods import build_objective
from mixupbook.models import build_model
from mixupbook.train import TrainConfig, fit

BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 tensor-core peaks, FLOP/s


def synthetic_cifar(n: int, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Data("synthetic_cifar", x, y, x[:256], y[:256], 10, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))


def measure(model_name, engine, data, args, dev) -> dict:
    torch.manual_seed(0)
    kw = {} if args.width == 1.0 else {"width": args.width}
    model = build_model(model_name, 10, (3, 32, 32), **kw)
    flops = forward_flops(model, (3, 32, 32))
    fast = engine == "device"
    cfg = TrainConfig(epochs=1 + args.epochs, batch_size=args.batch, lr=0.05, augment="flip_crop",
                      engine=engine, amp=fast, channels_last=fast, compile=fast and args.compile,
                      num_workers=args.workers, eval_every=10 ** 6, eval_batch_size=1024)
    hist = fit(model, build_objective("mixup", 10, alpha=1.0), data, cfg, device=str(dev), progress=False)
    seconds = sum(r["seconds"] for r in hist[1:])  # epoch 1 is warm-up (cudnn autotune, compile, workers)
    ips = args.epochs * len(data.y_train) / seconds
    out = {"model": model_name, "width": args.width, "engine": engine, "images_per_s": round(ips, 1),
           "TFLOP_per_s": round(3 * flops * ips / 1e12, 3)}
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    peak = next((v for k, v in BF16_PEAK.items() if name and k in name), None)
    if peak:
        out["share_of_bf16_peak"] = round(3 * flops * ips / peak, 3)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="preact_resnet18,wrn28_10")
    ap.add_argument("--n", type=int, default=4096, help="training images per epoch")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    ap.add_argument("--width", type=float, default=1.0, help="width multiplier (CPU: use < 1)")
    ap.add_argument("--workers", type=int, default=4, help="DataLoader workers of the classic loop")
    ap.add_argument("--compile", action="store_true", help="torch.compile in the device engine")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    from mixupbook.train import resolve_device

    dev = resolve_device(args.device)
    data = synthetic_cifar(args.n)
    env = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({platform.processor()})",
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "date": datetime.date.today().isoformat(), "args": vars(args)}
    print(json.dumps(env))
    rows = []
    for name in args.models.split(","):
        res = {e: measure(name, e, data, args, dev) for e in ("classic", "device")}
        for r in res.values():
            print(json.dumps(r))
        ratio = res["device"]["images_per_s"] / res["classic"]["images_per_s"]
        print(json.dumps({"model": name, "speedup_device_over_classic": round(ratio, 2)}))
        rows.append({**res["device"], "speedup": ratio})
    return rows


if __name__ == "__main__":
    main()
