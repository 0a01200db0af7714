"""FSDP2 per role (torch.distributed.fsdp.fully_shard), as torchtitan applies it: each transformer
block its own unit, then the root, so a block's parameters are gathered only while it runs.

Every role is sharded over all processes: the frozen teacher (no optimiser; a LoRA fake score lives in
its blocks and is sharded with them), the student, its EMA (updated on the local shards: the EMA's and
the student's shards line up, the same units over the same mesh) and the small critics (the head, as
one unit). Parameters become DTensors; optimisers, gradient clipping and DCP checkpoints take them as
they are. `full_state` gathers a role's whole weights for export.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method
from torch.distributed.tensor import DTensor

from onestep.models.lora import LoraScore
from onestep.types import Roles


def shard_module(module: nn.Module, reshard: bool = True, mp: MixedPrecisionPolicy | None = None) -> None:
    kw = {"reshard_after_forward": reshard} | ({"mp_policy": mp} if mp is not None else {})
    for block in getattr(module, "blocks", []):
        fully_shard(block, **kw)
    fully_shard(module, **kw)
    if hasattr(module, "features"):  # the truncated forward gathers the root's parameters as forward does
        register_fsdp_forward_method(module, "features")


def shard_roles(roles: Roles, bf16: bool = False) -> Callable[[], None]:
    """Shard every role in place (a LoRA role's adapter inside its base, relinked); returns the call that
    reshards the frozen ones, for the end of each step.

    A module without trainable parameters keeps its gathered weights from its forward to that call
    (`reshard_after_forward=False`). Resharded after each forward instead, the frozen roles gave POSE's
    phase II a generator gradient 2.3x off the single-process one (its norm, measured), while phase I
    and a frozen DiT's features backpropagated to their input alone are exact either way; keeping
    either the EMA or the teacher gathered was enough. The cause inside the full step is not pinned
    down; gathered until the step ends, every logged number matches one process.

    bf16 (`train.precision=bfloat16`): a trained role computes with bfloat16 copies of its fp32 shards
    and reduces its gradients in fp32 (FSDP2's MixedPrecisionPolicy); frozen roles keep `model.dtype`.
    """
    bases = {id(m.base): m.base for m in roles.present().values() if isinstance(m, LoraScore)}
    frozen = []
    for module in [m for m in roles.present().values() if not isinstance(m, LoraScore)] + [b for b in bases.values() if not any(b is m for m in roles.present().values())]:
        trains = any(p.requires_grad for p in module.parameters())
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 and trains else None
        shard_module(module, reshard=trains, mp=mp)
        if not trains:
            frozen.append(module)
    for module in roles.present().values():
        if isinstance(module, LoraScore):
            module.relink()

    def reshard() -> None:
        for module in frozen:
            for unit in [*getattr(module, "blocks", []), module]:
                unit.reshard()

    return reshard


def full_state(module: nn.Module) -> dict:
    """The module's whole state dict on every process (a collective: every process calls it)."""
    return {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in module.state_dict().items()}
