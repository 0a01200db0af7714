"""VSD / DMD: POSE phase I, "stability priming" (POSE Eq. 1-2; DMD, Yin et al. 2024).

The generator, initialised from the teacher, maps real videos noised to s ~ U[0.9, 1] (the paper's
low-SNR regime; pure noise at s = 1 when `input_lo = 1`) to x0_g = x_s - s G(x_s, s, c). The
distribution-matching gradient (Eq. 1) in x0 form:

    t ~ shifted U[t_lo, t_hi],  x_t = (1 - t) sg(x0_g) + t eps
    grad = (x0_fake - x0_real) / mean_{C,F,H,W} |x0_g - x0_real|      (per-sample normaliser, DMD2)
    L_G  = 0.5 || x0_g - sg(x0_g - grad) ||^2

x0_real comes from the teacher with classifier-free guidance; x0_fake from the fake score, which is
the teacher's frozen weights plus a zero-initialised LoRA (so it equals the teacher at step 0;
`fake_score = "copy"`: a full trainable copy of the teacher instead), never guided, trained with the flow loss of Eq. 2:
|| F(x_t, t) - (eps - sg(x0_g)) ||^2 on fresh (t, eps).
The critic steps every iteration, the generator every `critic_ratio`-th (5 in DMD2 and Self-Forcing;
POSE does not say). With `ode_weight` = w > 0 the generator also regresses the run's ODE pairs,
L_G += w || G_x0(eps_i, 1, c_i) - x0_i ||^2 (DMD's regression loss, methods/pairs.py; not in POSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.errors import UserError
from onestep.methods.pairs import with_anchor
from onestep.models.lora import LoraScore
from onestep.samplers import guided_velocity
from onestep.seeding import Draws
from onestep.types import Batch, LossOutput, Roles, Update


@dataclass
class VSDConfig:
    input_lo: float = 0.9  # generator input level s ~ U[input_lo, 1] on real videos (1.0 = pure noise)
    t_lo: float = 0.02  # distribution-matching and fake-score times, before the shift
    t_hi: float = 0.98
    t_shift: float = 3.0
    guidance: float = 3.0  # CFG of the real score (the teacher's own default)
    critic_ratio: int = 5  # critic steps per generator step
    fake_score: str = "lora"  # "lora": a LoRA on the teacher's weights (POSE); "copy": a full trainable copy
    lora_rank: int = 16
    ode_weight: float = 0.0  # > 0: also regress the run's ODE pairs (DMD's regression loss; methods/pairs.py)

    def __post_init__(self):
        if self.fake_score not in ("lora", "copy"):
            raise UserError(f"fake_score {self.fake_score!r}: use lora or copy")


def draw_t(cfg, n: int, d: Draws) -> Tensor:
    return flow.shift(cfg.t_lo + (cfg.t_hi - cfg.t_lo) * d.rand(n), cfg.t_shift)


class VSD:
    name = "vsd"
    causal_student = False

    def __init__(self, config: VSDConfig | None = None):
        self.cfg = config or VSDConfig()
        self.roles = {"fake_score": "new" if self.cfg.fake_score == "lora" else "copy"}
        self.needs_pairs = self.cfg.ode_weight > 0

    # -- the method protocol (types.Method) ------------------------------------------------------

    def new_role(self, name: str, roles: Roles) -> LoraScore:
        return LoraScore(roles.teacher, self.cfg.lora_rank)

    def groups(self, roles: Roles) -> dict[str, list]:
        return {"student": list(roles.student.parameters()), "fake_score": list(roles["fake_score"].parameters())}

    def step(self, batch: Batch, roles: Roles, rng, step: int) -> list[Update]:
        ups = (
            [Update("student", lambda: self.student_loss(batch, roles, rng()))]
            if step % self.cfg.critic_ratio == 0
            else []
        )
        return ups + [Update("fake_score", lambda: self.fake_score_loss(batch, roles, rng()))]

    def separation(self, batch: Batch, roles: Roles, d: Draws) -> dict[str, float]:
        return {}  # no discriminator (DMD2 and ASD add one)

    # -- losses ----------------------------------------------------------------------------------

    def generate(self, batch: Batch, roles: Roles, d: Draws) -> Tensor:
        """x0_g from real videos noised to s ~ U[input_lo, 1] (the generator's own input)."""
        x = batch.video
        s = self.cfg.input_lo + (1.0 - self.cfg.input_lo) * d.rand(x.shape[0])
        x_s = flow.interpolate(x, d.randn_like(x), s)
        return flow.x0_from_v(x_s, roles.student(x_s, s, batch.cond), s)

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        return self.dm_loss(self.generate(batch, roles, d), batch, roles, d)

    def dm_loss(self, x0_g: Tensor, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        """The distribution-matching loss of the generator's x0_g (with the ODE anchor when set)."""
        cond = batch.cond
        with torch.no_grad():
            t = draw_t(self.cfg, x0_g.shape[0], d)
            x_t = flow.interpolate(x0_g, d.randn_like(x0_g), t)
            x0_fake = flow.x0_from_v(x_t, roles["fake_score"](x_t, t, cond), t)
            x0_real = flow.x0_from_v(x_t, guided_velocity(roles.teacher, x_t, t, cond, self.cfg.guidance), t)
            x0_d = x0_g.double()
            normaliser = (x0_d - x0_real.double()).abs().mean(dim=(1, 2, 3, 4), keepdim=True)
            grad = torch.nan_to_num((x0_fake.double() - x0_real.double()) / normaliser)
            target = (x0_d - grad).to(x0_g.dtype)
        loss = 0.5 * F.mse_loss(x0_g.float(), target.float())
        logs = {"vsd/dm_loss": loss.item(), "vsd/grad_abs": grad.abs().mean().item()}
        if self.cfg.ode_weight > 0:
            loss, logs = with_anchor(loss, logs, self.cfg.ode_weight, roles, batch.pairs, x0_g.shape[0], d)
        return LossOutput(loss, logs)

    def fake_score_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        with torch.no_grad():
            x0_g = self.generate(batch, roles, d)
        return self.score_loss(x0_g, batch, roles, d)

    def score_loss(self, x0_g: Tensor, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        """The fake score's flow loss (Eq. 2) on the generator's (detached) x0_g."""
        t = draw_t(self.cfg, x0_g.shape[0], d)
        noise = d.randn_like(x0_g)
        x_t = flow.interpolate(x0_g, noise, t)
        loss = F.mse_loss(roles["fake_score"](x_t, t, batch.cond).float(), flow.velocity(x0_g, noise).float())
        return LossOutput(loss, {"vsd/fake_loss": loss.item()})
