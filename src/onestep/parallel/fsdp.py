"""FSDP2 per role (torch.distributed.fsdp.fully_shard), as torchtitan applies it: each transformer
block its own unit, then the root, so a block's parameters are gathered only while it runs.

Every role is sharded over all processes: the frozen teacher (no optimiser; a LoRA fake score lives in
its blocks and is sharded with them), the student, its EMA (updated on the local shards: the EMA's and
the student's shards line up, the same units over the same mesh) and the small critics (the head, as
one unit). Parameters become DTensors; optimisers, gradient clipping and DCP checkpoints take them as
they are. `full_state` gathers a role's whole weights for export.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method
from torch.distributed.tensor import DTensor

from onestep.models.lora import LoraScore
from onestep.types import Roles


def shard_module(module: nn.Module, mp: MixedPrecisionPolicy | None = None) -> None:
    # True for the root too: FSDP2's default keeps a root gathered after its forward until its backward
    # reshards it, which a frozen role never runs; the EMA's update then changes the shards under a
    # stale gathered root (measured: POSE's generator gradient 2.3x off the single-process one)
    kw = {"reshard_after_forward": True} | ({"mp_policy": mp} if mp is not None else {})
    for block in getattr(module, "blocks", []):
        fully_shard(block, **kw)
    fully_shard(module, **kw)
    if hasattr(module, "features"):  # the truncated forward gathers the root's parameters as forward does
        register_fsdp_forward_method(module, "features")


def shard_roles(roles: Roles, bf16: bool = False) -> None:
    """Shard every role in place (a LoRA role's adapter inside its base, relinked); every unit, the
    roots included, reshards after its forward (shard_module).

    bf16 (`train.precision=bfloat16`): a trained role computes with bfloat16 copies of its fp32 shards
    and reduces its gradients in fp32 (FSDP2's MixedPrecisionPolicy); frozen roles keep `model.dtype`.
    """
    bases = {id(m.base): m.base for m in roles.present().values() if isinstance(m, LoraScore)}
    for module in [m for m in roles.present().values() if not isinstance(m, LoraScore)] + [
        b for b in bases.values() if not any(b is m for m in roles.present().values())
    ]:
        trains = any(p.requires_grad for p in module.parameters())
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 and trains else None
        shard_module(module, mp=mp)
    for module in roles.present().values():
        if isinstance(module, LoraScore):
            module.relink()


def full_state(module: nn.Module) -> dict:
    """The module's whole state dict on every process (a collective: every process calls it)."""
    return {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in module.state_dict().items()}
