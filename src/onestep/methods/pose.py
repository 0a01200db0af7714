"""POSE phase II, "unified adversarial equilibrium", with conditional adversarial consistency.

(POSE Sec. 3.2-3.3, Eq. 3-5.) The generator samples in one step from pure noise, x0_g = G(eps, t=1).
The discriminator D = [backbone; head]: the backbone is the generator's EMA weights (no separate
trainable backbone; `backbone = "teacher"` and `"trainable"`, a copy of the teacher trained with the
head, are the ablations), read at several
blocks on the sample re-noised to a low-SNR level t ~ U[disc_t_lo, disc_t_hi] (levels at the papers'
resolution, carried to the model's by critic.Levels); only the head is trained by the discriminator
loss. Losses:

    L_D = hinge_D(D(real), D(sg(x0_g))) + r1_weight * L_STR1
    L_G = adv_weight * (-D(x0_g)) + lambda_c * L_consist

`adv_weight` is 1 in the paper; 0 is the ablation without the adversarial term (no discriminator is
built or trained, the rest of phase II unchanged).

ST-R1 (Eq. 4) without double backward: finite differences of D along the two structured perturbations
the paper names, each normalised by its own energy. e_s = sigma_s N(0, I) per pixel (spatial), e_t =
sigma_t N(0, I) per frame and channel, broadcast over space (a temporal flicker); frame 0 is kept clean
where the sample has a first-frame condition; every point is noised with the same (t, eps):

    L_STR1 = E[ k_s ||D(x + e_s) - D(x)||^2 / ||e_s||^2 + k_t ||D(x + e_t) - D(x)||^2 / ||e_t||^2 ]

k = the number of independent entries of the perturbation (the dimension of the subspace it spans).
For a D linear near x with gradient g, the spatial term estimates ||g||^2 (the R1 penalty) and the
temporal term ||P_t g||^2, the squared norm of g projected on the per-frame, per-channel offsets (a test
checks both on a linear D). Eq. 4 divides one difference by ||e_s + e_t||^2; with sigma_t = 0.1 and
sigma_s = 0.01 the temporal energy is 100x the spatial one there, so the spatial part of that single
ratio carries a hundredth of its weight. Splitting it gives each part its stated scale: sigma_s and
sigma_t set only the finite-difference step. r1_weight = eta of L_D; 0.01 makes the spatial part equal
to APT's lambda = 100 on sigma = 0.01 without the division. sigma_t = 0 leaves the temporal term out
(the plain approximate R1 of an image GAN; ADD's setting).

Frame consistency (Eq. 5): x_t = noise(sg(x0_g), t), x0_teacher from the frozen teacher (CFG,
conditioned on the first frame), L_consist = || x0_g - sg(x0_teacher) ||^2. `consistency_steps` = k > 1
replaces the teacher's one x0 prediction by k guided Euler steps from t to 0 (an option beyond the paper,
measured in docs/pose.md; k = 1 is Eq. 5). With `ode_weight` = w > 0 the generator also regresses the
run's ODE pairs, L_G += w || G_x0(eps_i, 1, c_i) - x0_i ||^2 (DMD's regression loss, methods/pairs.py;
not in the paper).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.errors import UserError
from onestep.methods.critic import Levels, default_taps, hinge_d, hinge_g, paired_accuracy, r1_normalised, read
from onestep.methods.heads import ConvHead, SemanticHead
from onestep.methods.pairs import with_anchor
from onestep.samplers import guided_velocity
from onestep.seeding import Draws
from onestep.types import Batch, Cond, LossOutput, Roles, Update


@dataclass
class PoseConfig:
    backbone: str = "ema"  # "ema" (POSE's self-discriminator) | "teacher" (frozen) | "trainable" (separate copy)
    head: str = "semantic"  # "semantic" | "xattn" (cross-attention without the image and text tokens) | "conv"
    taps: tuple[int, ...] = ()  # backbone blocks to read; () = three spread over the depth
    queries: int = 4
    head_dim: int = 128
    disc_t_lo: float = 0.2  # D's levels at the papers' resolution (the paper: "highly diffused", no range);
    disc_t_hi: float = 0.8  # [0.2, 0.8] is [0.018, 0.22] on the world's clips, where a head separates (docs/pose.md)
    disc_t_shift: float = 1.0  # t ~ shift(U[disc_t_lo, disc_t_hi], disc_t_shift)
    disc_t_reference: bool = True  # the levels are at the papers' resolution (critic.Levels); False: at the model's
    r1_weight: float = 0.01
    sigma_s: float = 0.01
    sigma_t: float = 0.1
    adv_weight: float = 1.0  # the generator's adversarial term; 0: phase II without it (no discriminator)
    consistency_weight: float = 10.0
    consistency_t_lo: float = 0.02
    consistency_t_hi: float = 0.98
    consistency_t_shift: float = 3.0
    guidance: float = 3.0  # CFG of the teacher in the consistency loss
    consistency_steps: int = (
        1  # 1: Eq. 5's one x0 prediction; k > 1: k guided Euler steps from t to 0 (not in the paper)
    )
    ode_weight: float = 0.0  # > 0: also regress the run's ODE pairs (DMD's regression loss; methods/pairs.py)

    def __post_init__(self):
        if self.backbone not in ("ema", "teacher", "trainable") or self.head not in ("semantic", "xattn", "conv"):
            raise UserError(
                f"backbone {self.backbone!r}, head {self.head!r}: backbone is ema, teacher or trainable; head is "
                "semantic, xattn or conv"
            )
        if self.consistency_steps < 1:
            raise UserError(f"consistency_steps = {self.consistency_steps}: use 1 (Eq. 5) or more")


def st_r1(D: Callable[[Tensor], Tensor], x: Tensor, d_x: Tensor, e_s: Tensor, e_t: Tensor) -> tuple[Tensor, Tensor]:
    """ST-R1's spatial and temporal terms per sample, (B,) each; L_STR1 is their sum (module docstring)."""
    return r1_normalised(D, x, d_x, e_s), r1_normalised(D, x, d_x, e_t)


class PoseEquilibrium:
    name = "pose"
    causal_student = False

    def __init__(self, config: PoseConfig | None = None):
        self.cfg = config or PoseConfig()
        adversarial = self.cfg.adv_weight > 0
        self.roles = (
            ({"disc_head": "new"} | ({"disc_backbone": "copy"} if self.cfg.backbone == "trainable" else {}))
            if adversarial
            else {}
        )
        self.needs_pairs = self.cfg.ode_weight > 0

    # -- the method protocol (types.Method) ------------------------------------------------------

    def taps(self, spec) -> tuple[int, ...]:
        return self.cfg.taps or default_taps(spec.depth)

    def new_role(self, name: str, roles: Roles):
        c, spec = self.cfg, roles.student.spec
        n_taps = len(self.taps(spec))
        if c.head in ("semantic", "xattn"):
            return SemanticHead(spec, n_taps, queries=c.queries, dim=c.head_dim, semantics=c.head == "semantic")
        return ConvHead(spec, n_taps)

    def groups(self, roles: Roles) -> dict[str, list]:
        if not self.roles:
            return {"student": list(roles.student.parameters())}
        disc = list(roles["disc_head"].parameters()) + (
            list(roles["disc_backbone"].parameters()) if self.cfg.backbone == "trainable" else []
        )
        return {"disc_head": disc, "student": list(roles.student.parameters())}

    def step(self, batch: Batch, roles: Roles, rng, step: int) -> list[Update]:
        d_disc, d_student = (
            rng(),
            rng(),
        )  # streams 0 and 1 with or without a discriminator: an ablation draws the same noise
        student = Update("student", lambda: self.student_loss(batch, roles, d_student))
        return [Update("disc_head", lambda: self.disc_loss(batch, roles, d_disc)), student] if self.roles else [student]

    # -- pieces ----------------------------------------------------------------------------------

    def backbone(self, roles: Roles):
        """The network the head reads: the EMA (POSE), the frozen teacher, or a separate trainable copy."""
        return roles["disc_backbone" if self.cfg.backbone == "trainable" else self.cfg.backbone]

    def generate(self, batch: Batch, roles: Roles, d: Draws) -> Tensor:
        """One step from pure noise: x0_g = eps - 1 * G(eps, 1)."""
        x = batch.video
        noise = d.randn_like(x)
        t = torch.ones(noise.shape[0], device=x.device, dtype=x.dtype)
        return flow.x0_from_v(noise, roles.student(noise, t, batch.cond), t)

    def logits(self, roles: Roles, x0: Tensor, cond: Cond, t: Tensor, eps: Tensor) -> Tensor:
        """D(x0): the backbone on x0 re-noised to t, read at the taps by the head; (B, n) logits."""
        backbone = self.backbone(roles)
        return read(backbone, roles["disc_head"], self.taps(backbone.spec), x0, cond, t, eps)

    def draw(self, x: Tensor, d: Draws) -> tuple[Tensor, Tensor]:
        """(t, eps): the discriminator's level per sample and the noise that re-noises x to it."""
        c = self.cfg
        return Levels(c.disc_t_lo, c.disc_t_hi, c.disc_t_shift, c.disc_t_reference).draw(x, d)

    def perturbation(self, x: Tensor, cond: Cond, d: Draws) -> tuple[Tensor, Tensor]:
        """(e_s, e_t): per-pixel noise (B, C, F, H, W) and per-frame, per-channel offsets (B, C, F, 1, 1); frame 0 clean
        under I2V."""
        B, C, Fr = x.shape[:3]
        e_s, e_t = self.cfg.sigma_s * d.randn_like(x), self.cfg.sigma_t * d.randn(B, C, Fr, 1, 1, dtype=x.dtype)
        if cond.latent is not None:
            keep = (cond.latent_mask > 0).to(x.dtype).view(B, 1, 1, 1)
            for e in (e_s, e_t):
                e[:, :, 0] = e[:, :, 0] * (1 - keep)
        return e_s, e_t

    @torch.no_grad()
    def consistency_target(self, roles: Roles, x0: Tensor, cond: Cond, d: Draws) -> Tensor:
        """sg(x0_teacher) of Eq. 5: the frozen, guided teacher's x0 from x_t = noise(x0, t).

        With `consistency_steps` = k > 1 the teacher integrates its guided ODE from each sample's t to 0 in k
        uniform Euler steps instead of one (k = 1 is exactly the single x0 prediction of Eq. 5).
        """
        c = self.cfg
        u = d.rand(x0.shape[0])
        t = flow.shift(c.consistency_t_lo + (c.consistency_t_hi - c.consistency_t_lo) * u, c.consistency_t_shift)
        x = flow.interpolate(x0, d.randn_like(x0), t)
        for i in range(c.consistency_steps):
            t_now, t_next = t * (1 - i / c.consistency_steps), t * (1 - (i + 1) / c.consistency_steps)
            v = guided_velocity(roles.teacher, x, t_now, cond, c.guidance)
            x = flow.x0_from_v(x, v, t_now - t_next)  # an Euler step to t_next: x - (t_now - t_next) v; to 0 it is x0
        return x

    # -- losses ----------------------------------------------------------------------------------

    def real_and_fake(self, batch: Batch, roles: Roles, d: Draws) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(D(real), D(sg(x0_g)), t_r, eps_r): the discriminator's two sides, each with its own draws."""
        cond, real = batch.cond, batch.video
        with torch.no_grad():
            fake = self.generate(batch, roles, d)
        t_r, eps_r = self.draw(real, d)
        t_f, eps_f = self.draw(fake, d)
        return self.logits(roles, real, cond, t_r, eps_r), self.logits(roles, fake, cond, t_f, eps_f), t_r, eps_r

    @torch.no_grad()
    def separation(self, batch: Batch, roles: Roles, d: Draws) -> dict[str, float]:
        """The discriminator's paired accuracy on `batch`: real against the student's video of the same condition."""
        if not self.roles:
            return {}
        d_real, d_fake, _, _ = self.real_and_fake(batch, roles, d)
        return {"disc/accuracy": paired_accuracy(d_real, d_fake)}

    def disc_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        cond, real = batch.cond, batch.video
        d_real, d_fake, t_r, eps_r = self.real_and_fake(batch, roles, d)
        adv = hinge_d(d_real, d_fake)
        e_s, e_t = self.perturbation(real, cond, d)
        D = lambda x: self.logits(roles, x, cond, t_r, eps_r)  # noqa: E731
        spatial, temporal = (
            st_r1(D, real, d_real, e_s, e_t)
            if self.cfg.sigma_t > 0
            else (r1_normalised(D, real, d_real, e_s), d_real.new_zeros(real.shape[0]))
        )
        r1 = (spatial + temporal).mean()
        loss = adv + self.cfg.r1_weight * r1
        logs = {
            "pose/d_hinge": adv.item(),
            "pose/st_r1": r1.item(),
            "pose/st_r1_spatial": spatial.mean().item(),
            "pose/st_r1_temporal": temporal.mean().item(),
        }
        return LossOutput(loss, logs | {"pose/d_real": d_real.mean().item(), "pose/d_fake": d_fake.mean().item()})

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        cond = batch.cond
        x0_g = self.generate(batch, roles, d)
        t, eps = self.draw(x0_g, d)
        loss, logs = x0_g.new_zeros(()), {}
        if self.cfg.adv_weight > 0:
            adv = hinge_g(self.logits(roles, x0_g, cond, t, eps))
            loss, logs = self.cfg.adv_weight * adv, {"pose/g_adv": adv.item()}
        if self.cfg.consistency_weight > 0:
            consist = F.mse_loss(x0_g.float(), self.consistency_target(roles, x0_g.detach(), cond, d).float())
            loss = loss + self.cfg.consistency_weight * consist
            logs["pose/consistency"] = consist.item()
        if self.cfg.ode_weight > 0:
            loss, logs = with_anchor(loss, logs, self.cfg.ode_weight, roles, batch.pairs, x0_g.shape[0], d)
        return LossOutput(loss, logs)
