"""Trainable-state memory counted from the actual tensors: parameters, gradients, optimiser states
and EMA copies, each storage counted once (shared tensors, like LoRA bases, are not double counted)."""

from __future__ import annotations

import torch
from torch import nn


def _add(seen: dict, t: torch.Tensor | None) -> None:
    t = t.to_local() if hasattr(t, "to_local") else t  # a sharded parameter: this process's shard
    if t is not None and torch.is_tensor(t) and t.numel():
        seen.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())


def trainable_state_bytes(
    trainable: dict[str, list[nn.Parameter]], optimizers: dict[str, torch.optim.Optimizer], ema: nn.Module | None
) -> dict[str, int]:
    """Bytes of what training keeps for the trainable roles: {params, grads, optimizer, ema, total}."""
    parts = {}
    for name in ("params", "grads", "optimizer", "ema"):
        seen: dict = {}
        if name == "params":
            for ps in trainable.values():
                for p in ps:
                    _add(seen, p)
        elif name == "grads":
            # a gradient buffer the size of each trainable parameter exists during its update (the
            # trainer frees it after the step, so it is counted from the parameter, not looked up)
            for ps in trainable.values():
                for p in ps:
                    local = p.to_local() if hasattr(p, "to_local") else p
                    seen.setdefault(local.untyped_storage().data_ptr(), local.untyped_storage().nbytes())
        elif name == "optimizer":
            for opt in optimizers.values():
                for state in opt.state.values():
                    for v in state.values():
                        if torch.is_tensor(v) and v.ndim > 0:
                            _add(seen, v)
        elif ema is not None:
            for p in ema.parameters():
                _add(seen, p)
        parts[name] = sum(seen.values())
    parts["total"] = sum(parts.values())
    return parts
