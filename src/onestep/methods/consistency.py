"""Consistency distillation: LCM (Luo et al. 2023) and PCM (Wang et al. 2024), as the POSE paper's
baselines run them (its appendix B; METHODS.md section 5): the student learns to map every point of
the guided teacher's probability-flow ODE to the trajectory's end at t = 0.

The trajectory's grid is `points` + 1 levels on the teacher's shifted time axis, t_0 = 0 < ... <
t_N = 1 (PCM's 64 points). A step draws n ~ U{1..N}, noises a real video to t_n, and takes one guided
Euler step of the frozen teacher to t_{n-1}:

    x_{t_n} = (1 - t_n) x + t_n eps
    x_hat   = x_{t_n} + (t_{n-1} - t_n) v_teacher^cfg(x_{t_n}, t_n)
    f(x, t) = x - t G(x, t)                        (the x0 prediction; f(x, 0) = x, the boundary)
    L_CD    = huber(f_student(x_{t_n}, t_n), sg(f_EMA(x_hat, t_{n-1}))),   huber(d) = sqrt(d^2 + c^2) - c

The target network is the student's EMA (the phase's `ema_decay`: 0.95 in the paper's runs), which is
also the exported student. LCM is this loss alone. PCM adds its adversarial consistency term
(`adv_weight` > 0): a discriminator on the frozen teacher's features with a convolutional head tells
the target from the student's prediction, both re-noised with fresh noise to one level s ~
U{t_0..t_{N-1}} drawn per sample, under the hinge loss:

    L_D = hinge_D(D(noise(sg(target), s)), D(noise(sg(f_student), s)))
    L_G = L_CD + adv_weight * (-D(noise(f_student, s)))

PCM's "real" side is the consistency target, not a data video (PCM's training scripts). PCM's phases
are left out: the POSE paper's PCM maps to t = 0, one phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from onestep import flow
from onestep.methods.critic import default_taps, hinge_d, hinge_g, paired_accuracy, read
from onestep.methods.heads import ConvHead
from onestep.samplers import guided_velocity
from onestep.seeding import Draws
from onestep.types import Batch, Cond, LossOutput, Roles, Update


@dataclass
class ConsistencyConfig:
    points: int = 64  # N: trajectory points the student is distilled at (PCM's 64)
    shift: float = 3.0  # the grid's shift (the teacher's sampling shift)
    guidance: float = 3.0  # CFG of the teacher's Euler step (the teacher's own default)
    huber_c: float = 0.001  # c of the pseudo-Huber distance (LCM's and PCM's value)
    adv_weight: float = 0.0  # 0: LCM; > 0: PCM's adversarial consistency term
    taps: tuple[int, ...] = ()  # teacher blocks the discriminator reads; () = default_taps(depth)
    head_width: int = 64


def huber(a: Tensor, b: Tensor, c: float) -> Tensor:
    """Mean pseudo-Huber distance sqrt((a - b)^2 + c^2) - c per element (LCM, PCM)."""
    return (torch.sqrt((a.float() - b.float()).pow(2) + c * c) - c).mean()


class Consistency:
    name = "consistency"
    causal_student = False
    needs_pairs = False

    def __init__(self, config: ConsistencyConfig | None = None):
        self.cfg = config or ConsistencyConfig()
        self.roles = {"disc_head": "new"} if self.cfg.adv_weight > 0 else {}

    # -- the method protocol (types.Method) ------------------------------------------------------

    def taps(self, spec) -> tuple[int, ...]:
        return tuple(self.cfg.taps) or default_taps(spec.depth)

    def new_role(self, name: str, roles: Roles) -> ConvHead:
        return ConvHead(roles.teacher.spec, len(self.taps(roles.teacher.spec)), self.cfg.head_width)

    def groups(self, roles: Roles) -> dict[str, list]:
        student = {"student": list(roles.student.parameters())}
        return student | ({"disc_head": list(roles["disc_head"].parameters())} if self.roles else {})

    def step(self, batch: Batch, roles: Roles, rng, step: int) -> list[Update]:
        d_disc, d_student = rng(), rng()  # the student's draws are the same with or without a discriminator
        student = Update("student", lambda: self.student_loss(batch, roles, d_student))
        return [Update("disc_head", lambda: self.disc_loss(batch, roles, d_disc)), student] if self.roles else [student]

    # -- pieces ----------------------------------------------------------------------------------

    def grid(self, like: Tensor) -> Tensor:
        """t_0 = 0 < ... < t_N = 1 on the teacher's shifted axis, (N + 1,)."""
        return flow.timesteps(self.cfg.points, self.cfg.shift, device=like.device).to(like.dtype).flip(0)

    def pair(self, batch: Batch, roles: Roles, d: Draws) -> tuple[Tensor, Tensor, Tensor]:
        """(x_{t_n}, t_n, sg(target)): a point of the teacher's trajectory and the EMA's x0 from one step on."""
        x, cond = batch.video, batch.cond
        grid = self.grid(x)
        n = 1 + d.randint(self.cfg.points, x.shape[0])
        t, t_prev = grid[n], grid[n - 1]
        x_t = flow.interpolate(x, d.randn_like(x), t)
        with torch.no_grad():
            v = guided_velocity(roles.teacher, x_t, t, cond, self.cfg.guidance)
            x_hat = flow.x0_from_v(x_t, v, t - t_prev)  # an Euler step to t_prev: x - (t - t_prev) v
            target = flow.x0_from_v(x_hat, roles.ema(x_hat, t_prev, cond), t_prev)
        return x_t, t, target

    def logits(self, x0: Tensor, cond: Cond, s: Tensor, eps: Tensor, roles: Roles) -> Tensor:
        """D: the frozen teacher's features of x0 re-noised to s, read by the conv head; (B, taps)."""
        return read(roles.teacher, roles["disc_head"], self.taps(roles.teacher.spec), x0, cond, s, eps)

    def adv_level(self, like: Tensor, d: Draws) -> tuple[Tensor, Tensor]:
        """s ~ U{t_0..t_{N-1}} per sample and its noise."""
        return self.grid(like)[d.randint(self.cfg.points, like.shape[0])], d.randn_like(like)

    # -- losses ----------------------------------------------------------------------------------

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        x_t, t, target = self.pair(batch, roles, d)
        pred = flow.x0_from_v(x_t, roles.student(x_t, t, batch.cond), t)
        loss = huber(pred, target, self.cfg.huber_c)
        logs = {"consistency/huber": loss.item()}
        if self.cfg.adv_weight > 0:
            adv = hinge_g(self.logits(pred, batch.cond, *self.adv_level(pred, d), roles))
            loss, logs = loss + self.cfg.adv_weight * adv, logs | {"consistency/g_adv": adv.item()}
        return LossOutput(loss, logs)

    def sides(self, batch: Batch, roles: Roles, d: Draws) -> tuple[Tensor, Tensor]:
        """(D(target), D(student's prediction)), both re-noised to one level s with the same noise."""
        x_t, t, target = self.pair(batch, roles, d)
        with torch.no_grad():
            pred = flow.x0_from_v(x_t, roles.student(x_t, t, batch.cond), t)
        s, eps = self.adv_level(pred, d)
        return self.logits(target, batch.cond, s, eps, roles), self.logits(pred, batch.cond, s, eps, roles)

    @torch.no_grad()
    def separation(self, batch: Batch, roles: Roles, d: Draws) -> dict[str, float]:
        """The discriminator's paired accuracy on `batch`: the consistency target against the student's prediction."""
        return {"disc/accuracy": paired_accuracy(*self.sides(batch, roles, d))} if self.roles else {}

    def disc_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        real, fake = self.sides(batch, roles, d)
        loss = hinge_d(real, fake)
        return LossOutput(
            loss,
            {
                "consistency/d_hinge": loss.item(),
                "consistency/d_real": real.mean().item(),
                "consistency/d_fake": fake.mean().item(),
            },
        )
