"""Causal initialisation from the bidirectional teacher (CausVid's asymmetric init; METHODS.md section 6).

The block-causal student (`model.student_causal_block` > 0) regresses the teacher's ODE pairs (noise_i,
x0_i) (data/pairs.py) as it will be used: one block denoised at a time, the blocks before it clean.
Each row draws a current block b and one of the student's levels t (samplers.student_times(steps,
shift)), then runs one full-sequence forward under the block-causal mask with per-frame times:

    blocks < b:  x0_i, clean, at t = 0 (what the KV cache holds at inference)
    block b:     noise_i at t = 1, or x0_i re-noised with fresh noise to t < 1 (the re-noising sampler's input)
    blocks > b:  noise_i at t = 1 (masked out for block b: it never reads them)
    L = || G_x0(x, t, c_i)[block b] - x0_i[block b] ||^2,   G_x0(x, t, c) = x - t G(x, t, c)

Block b's output equals what the KV-cached sampler computes for it (tests/test_causal.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from onestep import causal, flow, samplers
from onestep.methods.pairs import need
from onestep.methods.single import StudentOnly
from onestep.seeding import Draws
from onestep.types import Batch, LossOutput, Roles


@dataclass
class CausalInitConfig:
    steps: int = 4  # the student's levels: samplers.student_times(steps, shift)
    shift: float = 3.0


class CausalInit(StudentOnly):
    name = "causal_init"
    causal_student = True  # needs model.student_causal_block > 0
    needs_pairs = True

    def __init__(self, config: CausalInitConfig | None = None):
        self.cfg = config or CausalInitConfig()

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        B, F_ = batch.video.shape[0], batch.video.shape[2]
        noise, x0, cond = need(batch.pairs).draw(B, d)
        bf = causal.block_frames(roles.student)
        levels = torch.tensor(samplers.student_times(self.cfg.steps, self.cfg.shift), device=x0.device, dtype=x0.dtype)
        block = d.randint(F_ // bf, B).to(x0.device)  # (B,) the current block of each row
        t_now = levels[d.randint(len(levels), B).to(x0.device)]  # (B,) its level
        frame_block = torch.arange(F_, device=x0.device) // bf  # (F,)
        before, current = frame_block[None] < block[:, None], frame_block[None] == block[:, None]  # (B, F)
        noised = torch.where((t_now < 1).view(-1, 1, 1, 1, 1), flow.interpolate(x0, d.randn_like(x0), t_now), noise)
        pick = lambda m: m[:, None, :, None, None]  # noqa: E731  (B, F) -> (B, 1, F, 1, 1)
        x = torch.where(pick(before), x0, torch.where(pick(current), noised, noise))
        t = torch.where(before, 0.0, torch.where(current, t_now[:, None], 1.0)).to(x0.dtype)  # (B, F) per-frame times
        pred = flow.x0_from_v(x, roles.student(x, t, cond), t)
        mask = pick(current).expand_as(x0).float()
        loss = F.mse_loss(pred.float() * mask, x0.float() * mask, reduction="sum") / mask.sum()
        return LossOutput(loss, {"causal_init/mse": loss.item()})
