"""DMD2 (Yin et al. 2024), the POSE paper's first baseline (its appendix B; METHODS.md section 5):
distribution matching and a GAN jointly from the first step.

The generator maps pure noise at t = 1 to x0_g (`input_lo` = 1). The fake score is a full trainable
copy of the teacher (`fake_score = "copy"`), and it is also the discriminator's backbone: a
classifier head reads its features of a video re-noised to t ~ U[gan_t_lo, gan_t_hi] (DMD2 draws the
real and fake noise levels uniformly; `gan_t_reference`: the range is at the papers' resolution and is
carried to the model's by critic.Levels), one logit per tapped block. With the non-saturating loss
(softplus) of DMD2's Eq. 5-6:

    critic (fake score + head, every step):
        L = || F(x_t, t) - (eps - sg(x0_g)) ||^2 + gan_d_weight [softplus(-D(real)) + softplus(D(sg(x0_g)))]
    generator (every `critic_ratio`-th step, 5 as in DMD2):
        L = L_DMD(x0_g) + gan_g_weight softplus(-D(x0_g))

L_DMD is VSD's (methods/vsd.py). The weights are DMD2's SDXL values (generator 3e-3, classifier
1e-2); the paper's ImageNet and SD1.5 runs use others, and the POSE paper does not give its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from onestep.methods.critic import Levels, default_taps, ns_d, ns_g, paired_accuracy, read
from onestep.methods.heads import ConvHead
from onestep.methods.vsd import VSD, VSDConfig
from onestep.seeding import Draws
from onestep.types import Batch, Cond, LossOutput, Roles


@dataclass
class Dmd2Config(VSDConfig):
    input_lo: float = 1.0  # the generator starts from pure noise at t = 1
    t_shift: float = 1.0  # distribution-matching times uniform in [t_lo, t_hi]
    fake_score: str = "copy"  # DMD2's fake score starts as the teacher and trains in full
    gan_g_weight: float = 3e-3  # the generator's GAN term (DMD2, SDXL)
    gan_d_weight: float = 1e-2  # the classifier's term in the fake score's loss (DMD2, SDXL)
    gan_t_lo: float = 0.0  # the GAN's re-noising level t ~ U[gan_t_lo, gan_t_hi]
    gan_t_hi: float = 1.0
    gan_t_reference: bool = True  # the range is at the papers' resolution (critic.Levels); False: at the model's
    taps: tuple[int, ...] = ()  # fake-score blocks the head reads; () = default_taps(depth)
    head_width: int = 64


class DMD2(VSD):
    name = "dmd2"

    def __init__(self, config: Dmd2Config | None = None):
        super().__init__(config or Dmd2Config())
        self.roles = {**self.roles, "disc_head": "new"}

    # -- the method protocol (types.Method) ------------------------------------------------------

    def taps(self, spec) -> tuple[int, ...]:
        return tuple(self.cfg.taps) or default_taps(spec.depth)

    def new_role(self, name: str, roles: Roles):
        if name == "disc_head":
            return ConvHead(roles.teacher.spec, len(self.taps(roles.teacher.spec)), self.cfg.head_width)
        return super().new_role(name, roles)

    def groups(self, roles: Roles) -> dict[str, list]:
        """The head trains with the fake score, its backbone: one critic update."""
        groups = super().groups(roles)
        return {**groups, "fake_score": groups["fake_score"] + list(roles["disc_head"].parameters())}

    # -- losses ----------------------------------------------------------------------------------

    def logits(self, x0: Tensor, cond: Cond, roles: Roles, d: Draws) -> Tensor:
        """D(x0) (B, taps): the head on the fake score's features of x0 re-noised to a uniform level."""
        c = self.cfg
        t, eps = Levels(c.gan_t_lo, c.gan_t_hi, reference=c.gan_t_reference).draw(x0, d)
        return read(roles["fake_score"], roles["disc_head"], self.taps(roles["fake_score"].spec), x0, cond, t, eps)

    @torch.no_grad()
    def separation(self, batch: Batch, roles: Roles, d: Draws) -> dict[str, float]:
        """The classifier's paired accuracy on `batch`: real against the generator's video of the same condition."""
        fake = self.generate(batch, roles, d)
        return {
            "disc/accuracy": paired_accuracy(
                self.logits(batch.video, batch.cond, roles, d), self.logits(fake, batch.cond, roles, d)
            )
        }

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        x0_g = self.generate(batch, roles, d)
        dm = self.dm_loss(x0_g, batch, roles, d)
        adv = ns_g(self.logits(x0_g, batch.cond, roles, d))
        return LossOutput(dm.loss + self.cfg.gan_g_weight * adv, dm.logs | {"dmd2/g_adv": adv.item()})

    def fake_score_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        with torch.no_grad():
            x0_g = self.generate(batch, roles, d)
        flow_loss = self.score_loss(x0_g, batch, roles, d)
        real, fake = self.logits(batch.video, batch.cond, roles, d), self.logits(x0_g, batch.cond, roles, d)
        adv = ns_d(real, fake)
        logs = flow_loss.logs | {
            "dmd2/d_loss": adv.item(),
            "dmd2/d_real": real.mean().item(),
            "dmd2/d_fake": fake.mean().item(),
        }
        return LossOutput(flow_loss.loss + self.cfg.gan_d_weight * adv, logs)
