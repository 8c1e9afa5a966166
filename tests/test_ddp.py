"""DDP under torchrun (``mixupbook.distributed``, ``python -m mixupbook.run``), chapter ``scale``.

Two gloo processes on CPU, each taking half of every global batch, must end with the
weights of one process trained on the same global batches: DDP averages the two
half-batch mean gradients, which equals the full-batch mean gradient up to float
rounding (tolerance 1e-5 after 3 epochs of SGD on a small MLP).
"""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
import yaml

from mixupbook import distributed
from mixupbook.engine import chunks
from mixupbook.models import build_model
from mixupbook.run import load_config, main

CONFIG = {"name": "ddp_test", "dataset": "gaussian_clouds", "dataset_kwargs": {"n": 64, "n_test": 32, "d": 5},
          "model": "mlp", "method": "erm", "device": "cpu", "seed": 3,
          "train": {"epochs": 3, "batch_size": 16, "lr": 0.1, "optimizer": "sgd"}}


def test_chunks_shard_each_global_batch():
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    parts = [chunks(perm, 4, rank=r, world=2) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 3
    for g, a, b in zip(chunks(perm, 4), *parts):
        assert sorted(torch.cat([a, b]).tolist()) == sorted(g.tolist())
    assert len(chunks(perm, 4, rank=0, world=3)) == 2  # the last batch (2 < 3 ranks) is dropped


def test_load_config_overrides_and_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({**CONFIG, "seeds": [0, 1]}))
    cfg, seeds = load_config(str(p), ["train.epochs=7", "method=mixup"])
    assert (cfg.train.epochs, cfg.method, seeds) == (7, "mixup", [0, 1])
    p.write_text(yaml.safe_dump({**CONFIG, "epochz": 3}))
    with pytest.raises(ValueError, match="epochz"):
        load_config(str(p))


def test_single_process_is_not_distributed():
    assert distributed.init() == (0, 1, 0) and distributed.world_size() == 1 and distributed.is_main()


def _worker(rank, world, port, cfg, out, errors):
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    try:
        main([cfg, "--save-model", out])  # the same path as under torchrun: distributed.init() reads the env
    except BaseException as e:  # report to the parent instead of hanging it
        errors.put(f"rank {rank}: {e!r}")
        raise


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process(tmp_path):
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    main([str(cfg), "--save-model", str(tmp_path / "one.pt")])
    # fork after the one-process run: the workers inherit the imported, warmed-up library
    ctx = mp.get_context("fork")
    errors, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, str(cfg), str(tmp_path / "ddp.pt"), errors))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), [errors.get() for _ in range(errors.qsize())]
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    ranks = [torch.load(tmp_path / f"ddp.pt.rank{r}", weights_only=True) for r in range(2)]
    torch.manual_seed(CONFIG["seed"])
    init = build_model("mlp", 2, (5,)).state_dict()
    for k in one:
        assert torch.equal(ranks[0][k], ranks[1][k]), k           # DDP keeps the replicas identical
        torch.testing.assert_close(ranks[0][k], one[k], atol=1e-5, rtol=1e-5)
    # not vacuous: training moved the weights far more than the tolerance
    assert max(float((one[k] - init[k]).abs().max()) for k in one) > 1e-2
