"""Self-Forcing (Huang et al. 2025): DMD on a block-causal student's own rollouts. This is the `self-forcing`
baseline of ASD, and its DMD half (METHODS.md section 6).

The student (`model.student_causal_block` > 0) makes the whole video block by block from noise, as at
inference, attending to the clean blocks it has already made (causal.rollout). Each block stops at one
exit step drawn from its `steps` levels, and only that step carries gradient. The rolled-out video then
takes VSD's distribution-matching loss (methods/vsd.py: one t for all frames, the guided bidirectional
teacher against the fake score), and the fake score learns the rollouts' distribution every iteration.
The generator steps every `critic_ratio`-th iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from onestep import causal, samplers
from onestep.errors import UserError
from onestep.methods.vsd import VSD, VSDConfig
from onestep.seeding import Draws
from onestep.types import Batch, Roles


@dataclass
class SelfForcingConfig(VSDConfig):
    steps: int = 4  # the student's denoising levels per block in training (exits are drawn among them)
    shift: float = 3.0  # of those levels (samplers.student_times)


class SelfForcing(VSD):
    name = "self_forcing"
    causal_student = True  # needs model.student_causal_block > 0

    def __init__(self, config: SelfForcingConfig | None = None):
        super().__init__(config or SelfForcingConfig())

    def times(self, steps: int | None = None) -> list[float]:
        """`steps` levels of the training grid (its `cfg.steps` levels by default), evenly spaced by index:
        on a 4-level grid [t0, t1, t2, t3] 1 step is [t0], 2 are [t0, t2], 3 are [t0, t1, t3]. A model
        trained on the grid skips within it (ASD trains on 4 levels; METHODS.md section 6)."""
        grid = samplers.student_times(self.cfg.steps, self.cfg.shift)
        n = steps or self.cfg.steps
        if n > len(grid):
            raise UserError(f"{n} steps from a grid of {len(grid)} levels: raise the method's steps to {n} or more")
        return [grid[round(k * len(grid) / n)] for k in range(n)]

    def generate(self, batch: Batch, roles: Roles, d: Draws) -> Tensor:
        """A rollout of the batch's shape, each block's exit step drawn once for the whole batch."""
        x = batch.video
        blocks = x.shape[2] // causal.block_frames(roles.student)
        exits = torch.randint(self.cfg.steps, (blocks,), generator=d.shared(), device=d.device).tolist()
        return causal.rollout(roles.student, batch.cond, d, x.shape, self.times(), exits)
