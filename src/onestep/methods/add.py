"""ADD, adversarial diffusion distillation (Sauer et al. 2023), as the POSE paper's baseline runs it
(its appendix B; METHODS.md section 5): the student is trained at four input levels, the discriminator
is the frozen teacher read by a convolutional head.

The generator maps a real video noised to s ~ U{1/4, 1/2, 3/4, 1} (s = 1: pure noise) to
x0_g = x_s - s G(x_s, s, c). Its loss is ADD's: the adversarial term plus lambda times the
distillation loss, the guided teacher's x0 of sg(x0_g) re-noised to a level t (ADD's d(x0_g,
x0_teacher(noise(x0_g, t))); the same form as POSE's Eq. 5, so POSE's `consistency_target` computes it):

    L_D = hinge_D(D(real), D(sg(x0_g))) + r1_weight * L_R1
    L_G = -D(x0_g) + lambda || x0_g - sg(x0_teacher) ||^2,   lambda = 2.5 (ADD's)

D = conv head on the frozen teacher's features of its input re-noised to t ~ U[disc_t_lo, disc_t_hi].
L_R1 is the approximate R1 on real videos without POSE's temporal term (sigma_t = 0; pose.py).
Everything else (hinge, taps, levels) is POSE phase II's, so the two differ by the generator's input,
the backbone, the head, lambda and the temporal penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from onestep import flow
from onestep.methods.pose import PoseConfig, PoseEquilibrium
from onestep.seeding import Draws
from onestep.types import Batch


@dataclass
class AddConfig(PoseConfig):
    backbone: str = "teacher"  # frozen (ADD's discriminator features come from a frozen network)
    head: str = "conv"
    consistency_weight: float = 2.5  # ADD's lambda on the distillation loss
    sigma_t: float = 0.0  # no temporal penalty: the plain approximate R1
    student_t: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)  # the generator's input levels


class ADD(PoseEquilibrium):
    name = "add"

    def generate(self, batch: Batch, roles, d: Draws) -> Tensor:
        """x0_g from real videos noised to one of the four levels, drawn per sample."""
        x = batch.video
        levels = torch.tensor(self.cfg.student_t, dtype=x.dtype, device=x.device)
        s = levels[d.randint(len(levels), x.shape[0])]
        x_s = flow.interpolate(x, d.randn_like(x), s)
        return flow.x0_from_v(x_s, roles.student(x_s, s, batch.cond), s)
