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
``nonzero`` says every element is nonzero, a scalar read (``.item()``, ``int(t)``) gives 1.
So the audit follows one path through an objective (e.g. every example kept by a threshold).
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

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        name = func.overloadpacket.__name__
        devices = {t.device for t in tensors}
        if len(devices) > 1 and name not in _EXEMPT:
            self.mixed.append(f"{name}: {sorted(str(d) for d in devices)}")
        on_meta = any(t.device.type == "meta" for t in tensors)
        if on_meta and name == "nonzero":      # data-dependent: the stand-in says "all nonzero"
            t = tensors[0]
            idx = torch.ones(t.shape, dtype=torch.bool).nonzero()
            return torch.empty(idx.shape, dtype=torch.long, device=t.device)
        if on_meta and name == "_local_scalar_dense":   # .item() / int(t) / float(t)
            return True if tensors[0].dtype == torch.bool else 1
        return func(*args, **kwargs)


def audit_objective(objective, model, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> list[str]:
    """Run ``objective`` (loss and backward) with ``model``, ``x``, ``y`` moved to the audit device;
    return the operations that mixed devices (empty: the objective follows its input's device).

    Raises ValueError if the loss itself does not come back on the audit device.
    """
    model = model.to(AUDIT_DEVICE)
    x, y = x.to(AUDIT_DEVICE), y.to(AUDIT_DEVICE)
    with DeviceAudit() as audit:
        try:
            loss = objective(model, x, y, torch.Generator().manual_seed(seed))
            loss.backward()
        except RuntimeError:
            if audit.mixed:       # the mixed operation itself failed on meta: report it by name
                return audit.mixed
            raise
    if loss.device != AUDIT_DEVICE:
        raise ValueError(f"objective {objective.name!r}: loss on {loss.device}, expected the input's device")
    return audit.mixed
