"""APT, adversarial post-training (Lin et al. 2025), the adversarial phase as the POSE paper's baseline
runs it (its appendix B; METHODS.md section 5): one step from pure noise at t = 1 against a
discriminator on the frozen teacher with APT's cross-attention head. It follows a consistency-
distillation phase (methods/consistency.py; the `apt` preset), as APT does.

APT's discriminator is the diffusion backbone read at a level t ~ shift(U[disc_t_lo, disc_t_hi],
disc_t_shift) (APT's shifted-uniform timestep, shift 3 here), and, as every diffusion backbone reads
the level it is told, its input is the video re-noised to t: D(x0) = head(teacher features of
(1 - t) x0 + t eps at t), the levels carried to the model's resolution by critic.Levels as POSE's.
(A backbone told t but shown the clean video reads an input it never saw in training; on the
embedded teacher such a head stayed at chance and separated only when told t near 0: docs/results.md.)
Non-saturating losses, and APT's approximated R1 on real videos (no second derivative):

    L_D = softplus(-D(x)) + softplus(D(sg(x0_g))) + r1_weight || D(x) - D(x + sigma_s n) ||^2
    L_G = softplus(-D(x0_g))

with r1_weight = 100 and sigma_s = 0.1 (APT's values for video; frame 0 is left unperturbed where the
sample has a first-frame condition). POSE freezes the backbone that APT trains (appendix B).
"""

from __future__ import annotations

from dataclasses import dataclass

from onestep.methods.critic import ns_d, ns_g, r1_apt
from onestep.methods.pose import PoseConfig, PoseEquilibrium
from onestep.seeding import Draws
from onestep.types import Batch, LossOutput, Roles


@dataclass
class AptConfig(PoseConfig):
    backbone: str = "teacher"
    head: str = "xattn"  # APT's cross-attention head: learned queries, no image or text tokens
    disc_t_lo: float = 0.0
    disc_t_hi: float = 1.0
    disc_t_shift: float = 3.0  # APT draws D's timestep from a shifted uniform
    r1_weight: float = 100.0  # APT's lambda
    sigma_s: float = 0.1  # APT's sigma for video
    consistency_weight: float = 0.0  # APT has no distillation term


class APT(PoseEquilibrium):
    name = "apt"

    def disc_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        cond, real = batch.cond, batch.video
        d_real, d_fake, t_r, eps_r = self.real_and_fake(batch, roles, d)
        adv = ns_d(d_real, d_fake)
        e_s, _ = self.perturbation(real, cond, d)
        r1 = r1_apt(lambda x: self.logits(roles, x, cond, t_r, eps_r), real, d_real, e_s).mean()
        logs = {
            "apt/d_loss": adv.item(),
            "apt/r1": r1.item(),
            "apt/d_real": d_real.mean().item(),
            "apt/d_fake": d_fake.mean().item(),
        }
        return LossOutput(adv + self.cfg.r1_weight * r1, logs)

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        x0_g = self.generate(batch, roles, d)
        t, eps = self.draw(x0_g, d)
        adv = ns_g(self.logits(roles, x0_g, batch.cond, t, eps))
        return LossOutput(adv, {"apt/g_adv": adv.item()})
