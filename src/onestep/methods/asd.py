"""Adversarial Self-Distillation (ASD, ICLR 2026; METHODS.md section 6): Self-Forcing's DMD plus a
relativistic GAN between the student's own n-step and (n+1)-step videos.

Each step draws n ~ U{1..N} once for the batch. The same block-causal student makes x_n = G^n(z1) and
x_{n+1} = G^{n+1}(z2), each block at n (or n + 1) levels of the training grid
(SelfForcing.times: the paper trains on 4 levels and skips within them). Both are re-noised to
t ~ U[t_lo, t_hi] (Psi; critic.Levels). D_n reads them: one backbone, the frozen fake score, tapped at `taps`, and a
semantic head with N queries whose n-th logit is D_n (almost no parameters per n). The (n+1)-step
video plays "real". The RpGAN losses take R3GAN's bounded form, f = softplus:

    L_D = f(D_n(Psi(x_n)) - D_n(Psi(x_{n+1}))) + gamma/2 (R1 + R2)
    L_G = L_DMD + alpha f(D_n(Psi(x_{n+1})) - D_n(Psi(x_n)))

so the discriminator pushes the (n+1)-step score above the n-step one and the generator the reverse.
The gradient reaches the generator through the n-step branch alone; its rollout keeps gradient at
each block's last step (the video the n-step sampler makes), and x_{n+1} is made without gradient.
R1 (on x_{n+1}) and R2 (on x_n) are approximated by finite differences,
|| D(x + sigma eps) - D(x) ||^2 / sigma^2 (APT's approximation). That is E || grad D ||^2 for small
sigma, with no second-order backward. The fake score trains as in Self-Forcing. The updates of a step
run in the order fake score, discriminator, generator (every `critic_ratio`-th).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from onestep import causal
from onestep.errors import UserError
from onestep.methods.critic import Levels, default_taps, paired_accuracy, r1_apt, read, rpgan_d, rpgan_g
from onestep.methods.heads import SemanticHead
from onestep.methods.self_forcing import SelfForcing, SelfForcingConfig
from onestep.seeding import Draws
from onestep.types import Batch, LossOutput, Roles, Update


@dataclass
class AsdConfig(SelfForcingConfig):
    alpha: float = 1.0  # L_G = L_DMD + alpha L_ASD (the paper gives no value)
    max_n: int = 3  # N: n ~ U{1..N}, so the pairs (1, 2) ... (N, N + 1)
    disc_t_lo: float = 0.2  # Psi: both videos re-noised to t ~ U[disc_t_lo, disc_t_hi] at the papers' resolution,
    disc_t_hi: float = 0.8  # POSE's levels by the level rule ([0.018, 0.22] on the world's clips; docs/asd.md)
    disc_t_reference: bool = True  # the range is at the papers' resolution (critic.Levels); False: at the model's
    r_weight: float = 1.0  # gamma of R1 + R2
    r_sigma: float = 0.01  # the finite difference's step
    taps: tuple[int, ...] = ()  # fake-score blocks the head reads; () = default_taps(depth)
    head_dim: int = 64


class AdversarialSelfDistillation(SelfForcing):
    name = "asd"

    def __init__(self, config: AsdConfig | None = None):
        super().__init__(config or AsdConfig())
        self.roles = {**self.roles, "disc_head": "new"}
        if self.cfg.max_n + 1 > self.cfg.steps:
            raise UserError(
                f"asd max_n {self.cfg.max_n} needs {self.cfg.max_n + 1}-step videos from a grid of {self.cfg.steps} "
                "levels: lower max_n or raise steps"
            )

    # -- the method protocol (types.Method) ------------------------------------------------------

    def taps(self, spec) -> tuple[int, ...]:
        return tuple(self.cfg.taps) or default_taps(spec.depth)

    def new_role(self, name: str, roles: Roles):
        if name == "disc_head":
            return SemanticHead(
                roles.teacher.spec, len(self.taps(roles.teacher.spec)), queries=self.cfg.max_n, dim=self.cfg.head_dim
            )
        return super().new_role(name, roles)

    def groups(self, roles: Roles) -> dict[str, list]:
        return {**super().groups(roles), "disc_head": list(roles["disc_head"].parameters())}

    def step(self, batch: Batch, roles: Roles, rng, step: int) -> list[Update]:
        critic = Update("fake_score", lambda d=rng(): self.fake_score_loss(batch, roles, d))
        disc = Update("disc_head", lambda d=rng(): self.disc_loss(batch, roles, d))
        student = Update("student", lambda d=rng(): self.student_loss(batch, roles, d))
        return [critic, disc] + ([student] if step % self.cfg.critic_ratio == 0 else [])

    # -- pieces ----------------------------------------------------------------------------------

    def draw_n(self, d: Draws) -> int:
        return 1 + int(torch.randint(self.cfg.max_n, (1,), generator=d.shared(), device=d.device))

    def video(self, batch: Batch, roles: Roles, d: Draws, steps: int) -> Tensor:
        """The student's `steps`-step video, with gradient at each block's last step."""
        x = batch.video
        blocks = x.shape[2] // causal.block_frames(roles.student)
        return causal.rollout(roles.student, batch.cond, d, x.shape, self.times(steps), [steps - 1] * blocks)

    def critic(self, roles: Roles, cond, n: int, t: Tensor, eps: Tensor):
        """x -> D_n(Psi(x)): the fake score's features of x re-noised to t with eps, read by the head."""
        taps = self.taps(roles["fake_score"].spec)
        return lambda x: read(roles["fake_score"], roles["disc_head"], taps, x, cond, t, eps)[:, n - 1 : n]  # (B, 1)

    def renoise(self, x: Tensor, d: Draws) -> tuple[Tensor, Tensor]:
        c = self.cfg
        return Levels(c.disc_t_lo, c.disc_t_hi, reference=c.disc_t_reference).draw(x, d)

    def sides(self, batch: Batch, roles: Roles, d: Draws) -> tuple[int, Tensor, Tensor, Tensor, Tensor]:
        """(n, x_n, x_{n+1}, D_n(x_{n+1}), D_n(x_n)) with x_n and x_{n+1} made without gradient; the
        critics of x_{n+1} and x_n (each its own level and noise) are returned for R1 and R2."""
        n, cond = self.draw_n(d), batch.cond
        with torch.no_grad():
            fake, real = self.video(batch, roles, d, n), self.video(batch, roles, d, n + 1)
        D_fake, D_real = (
            self.critic(roles, cond, n, *self.renoise(fake, d)),
            self.critic(roles, cond, n, *self.renoise(real, d)),
        )
        return n, fake, real, D_real, D_fake

    @torch.no_grad()
    def separation(self, batch: Batch, roles: Roles, d: Draws) -> dict[str, float]:
        """D_n's paired accuracy on `batch`: the (n+1)-step video against the n-step one of the same condition."""
        _, fake, real, D_real, D_fake = self.sides(batch, roles, d)
        return {"disc/accuracy": paired_accuracy(D_real(real), D_fake(fake))}

    # -- losses ----------------------------------------------------------------------------------

    def disc_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        n, fake, real, D_real, D_fake = self.sides(batch, roles, d)
        d_fake, d_real = D_fake(fake), D_real(real)
        adv = rpgan_d(d_real, d_fake)
        s = self.cfg.r_sigma
        r1 = r1_apt(D_real, real, d_real, s * d.randn_like(real)).mean() / s**2
        r2 = r1_apt(D_fake, fake, d_fake, s * d.randn_like(fake)).mean() / s**2
        loss = adv + 0.5 * self.cfg.r_weight * (r1 + r2)
        return LossOutput(
            loss,
            {
                "asd/d_loss": adv.item(),
                "asd/r1": r1.item(),
                "asd/r2": r2.item(),
                "asd/n": float(n),
                "asd/d_gap": (d_real - d_fake).mean().item(),
            },
        )

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        dmd = super().student_loss(batch, roles, d)
        if self.cfg.alpha <= 0:
            return dmd
        n, cond = self.draw_n(d), batch.cond
        fake = self.video(batch, roles, d, n)
        with torch.no_grad():
            real = self.video(batch, roles, d, n + 1)
        adv = rpgan_g(
            self.critic(roles, cond, n, *self.renoise(real, d))(real),
            self.critic(roles, cond, n, *self.renoise(fake, d))(fake),
        )
        return LossOutput(
            dmd.loss + self.cfg.alpha * adv,
            dmd.logs | {"asd/g_loss": adv.item(), "asd/g_scale": self.scale(adv, fake, dmd.logs["vsd/dm_loss"])},
        )

    def scale(self, adv: Tensor, fake: Tensor, dm_loss: float) -> float:
        """alpha ||d L_ASD / d x_n|| / ||d L_DMD / d x||: how hard each term pushes on the video it reads.
        L_DMD = 0.5 mean((x - target)^2) over N values, so its gradient's norm is sqrt(2 L_DMD / N); the
        ASD term's is one backward through the discriminator (nothing accumulates into .grad)."""
        (grad,) = torch.autograd.grad(adv, fake, retain_graph=True)
        return self.cfg.alpha * grad.norm().item() / max(math.sqrt(2 * dm_loss / fake.numel()), 1e-12)
