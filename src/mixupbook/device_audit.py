"""A CUDA dry run without a GPU: does every tensor an objective uses follow the input's device?

The classic crash of a first GPU run is a tensor an objective makes on the host (a lambda,
a permutation, a mask, a constant) meeting the CUDA batch in one operation. ``audit_objective``
runs one loss and its backward with the model and the batch on PyTorch's ``meta`` device (shapes
and dtypes, no data) as the stand-in for CUDA, under a ``TorchDispatchMode`` that sees every
aten operation: an operation whose tensor arguments sit on more than one device is recorded,
with its name. The audit is stricter than CUDA: CUDA lets a 0-dim CPU tensor act as a scalar,
here it counts (it would also cost a host-device copy inside the step). Host tensors that an
objective draws with its ``torch.Generator`` and moves with ``mixing.to_device`` (a copy, not
a mixed operation) are fine, as on CUDA.

Data-dependent operations cannot run on ``meta``; the audit answers them with a stand-in:
``nonzero`` says every element is nonzero, a scalar read (``.item()``, ``int(t)``) gives 1, a
copy to the host (``.cpu()``, e.g. of the labels) gives zeros. So the audit follows one path
through an objective (e.g. every example kept by a threshold, a batch of one class). Each such
read is listed in ``host_reads``: on CUDA it is a device-to-host copy that waits for the GPU.
Chapter ``scale``; ``tests/test_fast_path.py`` runs it for every registered objective.
"""
from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

AUDIT_DEVICE = torch.device("meta")
_EXEMPT = {"_to_copy", "copy_", "to", "_copy_from", "_copy_from_and_resize", "lift_fresh"}


class DeviceAudit(TorchDispatchMode):
    """Records every aten operation whose tensor arguments are on more than one device."""

    def __init__(self):
        super().__init__()
        self.mixed: list[str] = []
        self.host_reads: list[str] = []   # reads of device data on the host (a sync on CUDA)
        self.last = ""                    # the operation being run, for errors

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        name = func.overloadpacket.__name__
        devices = {t.device for t in tensors}
        if len(devices) > 1 and name not in _EXEMPT:
            self.mixed.append(f"{name}: {sorted(str(d) for d in devices)}")
        on_meta = any(t.device.type == "meta" for t in tensors)
        self.last = name
        if on_meta and name == "nonzero":      # data-dependent: the stand-in says "all nonzero"
            self.host_reads.append("nonzero (the number of nonzero elements)")
            t = tensors[0]
            idx = torch.ones(t.shape, dtype=torch.bool).nonzero()
            return torch.empty(idx.shape, dtype=torch.long, device=t.device)
        if on_meta and name == "_local_scalar_dense":   # .item() / int(t) / float(t)
            self.host_reads.append("_local_scalar_dense (a scalar read: .item(), int(t), float(t))")
            return True if tensors[0].dtype == torch.bool else 1
        target = kwargs.get("device")
        if on_meta and name == "_to_copy" and target is not None and torch.device(target).type != "meta":
            t = tensors[0]                     # .cpu() / .to("cpu"): the stand-in reads zeros
            self.host_reads.append(f"_to_copy {tuple(t.shape)} to {target} (a device-to-host copy)")
            return torch.zeros(t.shape, dtype=kwargs.get("dtype") or t.dtype, device=target)
        return func(*args, **kwargs)


def audit(objective, model, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> DeviceAudit:
    """Run ``objective`` (loss and backward) with ``model``, ``x``, ``y`` moved to the audit device;
    return the audit: ``mixed`` (operations that mixed devices; empty: the objective follows its
    input's device) and ``host_reads`` (device data read on the host, answered by stand-ins).

    Raises ValueError if the loss itself does not come back on the audit device, and RuntimeError
    naming the objective and the operation if it cannot run on the audit device at all.
    """
    model = model.to(AUDIT_DEVICE)
    x, y = x.to(AUDIT_DEVICE), y.to(AUDIT_DEVICE)
    with DeviceAudit() as rec:
        try:
            loss = objective(model, x, y, torch.Generator().manual_seed(seed))
            loss.backward()
        except (RuntimeError, TypeError) as e:   # TypeError: e.g. .numpy() of a meta tensor
            if rec.mixed:         # the mixed operation itself failed on meta: report it by name
                return rec
            raise RuntimeError(f"objective {objective.name!r}: the device audit cannot follow it past "
                               f"aten.{rec.last} on the {AUDIT_DEVICE} device ({e})") from e
    if loss.device != AUDIT_DEVICE:
        raise ValueError(f"objective {objective.name!r}: loss on {loss.device}, expected the input's device")
    return rec


def audit_objective(objective, model, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> list[str]:
    """The operations of ``audit(...)`` that mixed devices (empty: the objective follows its input's device)."""
    return audit(objective, model, x, y, seed).mixed
