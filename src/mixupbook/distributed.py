"""Multi-GPU training with PyTorch's own DistributedDataParallel (chapter ``scale``).

``torchrun --nproc_per_node K -m mixupbook.run CONFIG.yaml`` starts K processes;
``init()`` joins them (NCCL on CUDA, gloo on CPU) and ``train.fit`` then wraps the
model in DDP, gives every rank its share ``[rank::K]`` of each global batch (so the
batch size in a config is the global one, as in the papers), averages gradients,
shards evaluation and lets rank 0 alone write checkpoints and records.
``tests/test_ddp.py`` runs 2 gloo processes on CPU and checks that they end with
the weights of one process on the same global batches.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def init() -> tuple[int, int, int]:
    """Join the process group that torchrun describes in the environment; (rank, world, local_rank).

    Without torchrun's variables (a plain ``python -m mixupbook.run``) this is a no-op: (0, 1, 0).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend)
    return rank(), world_size(), local


def close() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model, dev: torch.device):
    """DDP around ``model`` (rank 0's initial weights are broadcast to every rank)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def broadcast_buffers(model) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, e.g. before evaluation."""
    for b in model.buffers():
        dist.broadcast(b, src=0)


def all_sum(values: list[float], dev: torch.device) -> list[float]:
    """Sum a few numbers over ranks (identity with one process)."""
    if world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return t.tolist()
