"""Activation checkpointing per transformer block (torch.distributed._composable.checkpoint): a
block keeps only its input for the backward and runs its forward again there, trading about one more
forward for the activations inside every block. Applied to every role that has blocks, before FSDP
(torchtitan's order); feature taps read each block's output as before (the recomputation happens in
the backward, after the taps have returned).

A model carrying a LoRA (the teacher under the fake score, a LoRA student's base) is left as it is:
its adapter is switched on only for the LoRA role's call, so a recomputation in the backward would run
another graph than the forward did (torch refuses it).
"""

from __future__ import annotations

from torch.distributed._composable import checkpoint

from onestep.models.lora import LoraScore, is_lora_layer
from onestep.types import Roles


def checkpoint_roles(roles: Roles) -> None:
    for module in roles.present().values():
        if isinstance(module, LoraScore) or any(is_lora_layer(m) for m in module.modules()):
            continue
        for block in getattr(module, "blocks", []):
            checkpoint(block)
