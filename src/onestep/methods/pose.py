"""POSE phase II, "unified adversarial equilibrium", with conditional adversarial consistency.

(POSE Sec. 3.2-3.3, Eq. 3-5.) The generator samples in one step from pure noise, x0_g = G(eps, t=1).
The discriminator D = [backbone; head]: the backbone is the generator's EMA weights (no separate
trainable backbone; `backbone = "teacher"` and `"trainable"`, a copy of the teacher trained with the
head, are the ablations), read at several
blocks on the sample re-noised to a low-SNR level t ~ U[disc_t_lo, disc_t_hi]; only the head is trained
by the discriminator loss. Losses:

    L_D = hinge_D(D(real), D(sg(x0_g))) + r1_weight * L_STR1
    L_G = -D(x0_g) + lambda_c * L_consist

ST-R1 (Eq. 4) without double backward, the form chosen here: a finite difference along a structured
perturbation e = e_s + e_t of the real video, e_s ~ sigma_s N(0, I) per pixel and e_t ~ sigma_t N(0, I)
per frame and channel broadcast over space (a temporal flicker), frame 0 kept clean where the sample
has a first-frame condition; both points noised with the same (t, eps):

    L_STR1 = E[ || D(x + e) - D(x) ||^2 * d / ||e||^2 ],   d = elements per video

For isotropic e, (D(x + e) - D(x))^2 / (||e||^2 / d) estimates ||grad_x D||^2 (the R1 penalty); with
the structured e it weighs the spatial and temporal directions the paper names. r1_weight = 0.01 makes
the spatial part equal to APT's lambda = 100 on sigma = 0.01 without the division.

Frame consistency (Eq. 5): x_t = noise(sg(x0_g), t), x0_teacher from the frozen teacher (CFG,
conditioned on the first frame), L_consist = || x0_g - sg(x0_teacher) ||^2. `consistency_steps` = k > 1
replaces the teacher's one x0 prediction by k guided Euler steps from t to 0 (an option beyond the paper,
measured in docs/pose.md; k = 1 is Eq. 5). With `ode_weight` = w > 0 the generator also regresses the
run's ODE pairs, L_G += w || G_x0(eps_i, 1, c_i) - x0_i ||^2 (DMD's regression loss, methods/pairs.py;
not in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.errors import UserError
from onestep.methods.heads import ConvHead, SemanticHead, default_taps, hinge_d, hinge_g
from onestep.methods.pairs import with_anchor
from onestep.samplers import guided_velocity
from onestep.types import Batch, Cond, LossOutput, Roles, Update


@dataclass
class PoseConfig:
    backbone: str = "ema"  # "ema" (POSE's self-discriminator) | "teacher" (frozen) | "trainable" (separate copy)
    head: str = "semantic"  # "semantic" | "conv"
    taps: tuple[int, ...] = ()  # backbone blocks to read; () = three spread over the depth
    queries: int = 4
    head_dim: int = 128
    disc_t_lo: float = 0.7  # "highly diffused" inputs of D (the paper gives no range)
    disc_t_hi: float = 0.98
    r1_weight: float = 0.01
    sigma_s: float = 0.01
    sigma_t: float = 0.1
    consistency_weight: float = 10.0
    consistency_t_lo: float = 0.02
    consistency_t_hi: float = 0.98
    consistency_t_shift: float = 3.0
    guidance: float = 3.0  # CFG of the teacher in the consistency loss
    consistency_steps: int = 1  # 1: Eq. 5's one x0 prediction; k > 1: k guided Euler steps from t to 0 (not in the paper)
    ode_weight: float = 0.0  # > 0: also regress the run's ODE pairs (DMD's regression loss; methods/pairs.py)

    def __post_init__(self):
        if self.backbone not in ("ema", "teacher", "trainable") or self.head not in ("semantic", "conv"):
            raise UserError(f"backbone {self.backbone!r}, head {self.head!r}: backbone is ema, teacher or trainable; head is semantic or conv")
        if self.consistency_steps < 1:
            raise UserError(f"consistency_steps = {self.consistency_steps}: use 1 (Eq. 5) or more")


def st_r1(d_pert: Tensor, d_real: Tensor, e: Tensor) -> Tensor:
    """Per-sample finite-difference R1: ||D(x + e) - D(x)||^2 * d / ||e||^2, logits (B, n), e (B, ...)."""
    d = e[0].numel()
    return ((d_pert - d_real) ** 2).sum(-1) * d / e.flatten(1).pow(2).sum(-1)


class PoseEquilibrium:
    name = "pose"

    def __init__(self, config: PoseConfig | None = None):
        self.cfg = config or PoseConfig()
        self.roles = {"disc_head": "new"} | ({"disc_backbone": "copy"} if self.cfg.backbone == "trainable" else {})
        self.needs_pairs = self.cfg.ode_weight > 0

    # -- the method protocol (types.Method) ------------------------------------------------------

    def taps(self, spec) -> tuple[int, ...]:
        return self.cfg.taps or default_taps(spec.depth)

    def new_role(self, name: str, roles: Roles):
        c, spec = self.cfg, roles.student.spec
        n_taps = len(self.taps(spec))
        if c.head == "semantic":
            return SemanticHead(spec, n_taps, queries=c.queries, dim=c.head_dim)
        return ConvHead(spec, n_taps)

    def groups(self, roles: Roles) -> dict[str, list]:
        disc = list(roles.disc_head.parameters()) + (list(roles.disc_backbone.parameters()) if self.cfg.backbone == "trainable" else [])
        return {"disc_head": disc, "student": list(roles.student.parameters())}

    def step(self, batch: Batch, roles: Roles, rng, step: int) -> list[Update]:
        return [Update("disc_head", lambda: self.disc_loss(batch, roles, rng())), Update("student", lambda: self.student_loss(batch, roles, rng()))]

    # -- pieces ----------------------------------------------------------------------------------

    def backbone(self, roles: Roles):
        return {"ema": roles.ema, "teacher": roles.teacher, "trainable": roles.disc_backbone}[self.cfg.backbone]

    def generate(self, batch: Batch, roles: Roles, g: torch.Generator) -> Tensor:
        """One step from pure noise: x0_g = eps - 1 * G(eps, 1)."""
        x = batch.video
        noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
        t = torch.ones(noise.shape[0], device=x.device, dtype=x.dtype)
        return flow.x0_from_v(noise, roles.student(noise, t, batch.cond), t)

    def logits(self, roles: Roles, x0: Tensor, cond: Cond, t: Tensor, eps: Tensor) -> Tensor:
        """D(x0): the backbone on x0 re-noised to t, read at the taps by the head; (B, n) logits."""
        backbone = self.backbone(roles)
        feats = backbone.features(flow.interpolate(x0, eps, t), t, cond, self.taps(backbone.spec))
        return roles.disc_head(feats, cond, t, backbone.condition_image(cond))

    def draw(self, x: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
        c = self.cfg
        t = c.disc_t_lo + (c.disc_t_hi - c.disc_t_lo) * torch.rand(x.shape[0], generator=g, device=x.device)
        return t, torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)

    def perturbation(self, x: Tensor, cond: Cond, g: torch.Generator) -> Tensor:
        """e = e_s + e_t: per-pixel noise plus per-frame, per-channel offsets; frame 0 clean under I2V."""
        B, C, Fr = x.shape[:3]
        draw = lambda *shape: torch.randn(shape, generator=g, device=x.device, dtype=x.dtype)  # noqa: E731
        e = self.cfg.sigma_s * draw(*x.shape) + self.cfg.sigma_t * draw(B, C, Fr, 1, 1)
        if cond.latent is not None:
            keep = (cond.latent_mask > 0).to(x.dtype).view(B, 1, 1, 1)
            e[:, :, 0] = e[:, :, 0] * (1 - keep)
        return e

    @torch.no_grad()
    def consistency_target(self, roles: Roles, x0: Tensor, cond: Cond, g: torch.Generator) -> Tensor:
        """sg(x0_teacher) of Eq. 5: the frozen, guided teacher's x0 from x_t = noise(x0, t).

        With `consistency_steps` = k > 1 the teacher integrates its guided ODE from each sample's t to 0 in k
        uniform Euler steps instead of one (k = 1 is exactly the single x0 prediction of Eq. 5).
        """
        c = self.cfg
        u = torch.rand(x0.shape[0], generator=g, device=x0.device)
        t = flow.shift(c.consistency_t_lo + (c.consistency_t_hi - c.consistency_t_lo) * u, c.consistency_t_shift)
        x = flow.interpolate(x0, torch.randn(x0.shape, generator=g, device=x0.device, dtype=x0.dtype), t)
        for i in range(c.consistency_steps):
            t_now, t_next = t * (1 - i / c.consistency_steps), t * (1 - (i + 1) / c.consistency_steps)
            v = guided_velocity(roles.teacher, x, t_now, cond, c.guidance)
            x = flow.x0_from_v(x, v, t_now - t_next)  # an Euler step to t_next: x - (t_now - t_next) v; to 0 it is x0
        return x

    # -- losses ----------------------------------------------------------------------------------

    def disc_loss(self, batch: Batch, roles: Roles, g: torch.Generator) -> LossOutput:
        cond, real = batch.cond, batch.video
        with torch.no_grad():
            fake = self.generate(batch, roles, g)
        t_r, eps_r = self.draw(real, g)
        t_f, eps_f = self.draw(fake, g)
        d_real, d_fake = self.logits(roles, real, cond, t_r, eps_r), self.logits(roles, fake, cond, t_f, eps_f)
        adv = hinge_d(d_real, d_fake)
        e = self.perturbation(real, cond, g)
        r1 = st_r1(self.logits(roles, real + e, cond, t_r, eps_r), d_real, e)
        loss = adv + self.cfg.r1_weight * r1.mean()
        return LossOutput(loss, {"pose/d_hinge": adv.item(), "pose/st_r1": r1.mean().item(), "pose/d_real": d_real.mean().item(), "pose/d_fake": d_fake.mean().item()})

    def student_loss(self, batch: Batch, roles: Roles, g: torch.Generator) -> LossOutput:
        cond = batch.cond
        x0_g = self.generate(batch, roles, g)
        t, eps = self.draw(x0_g, g)
        adv = hinge_g(self.logits(roles, x0_g, cond, t, eps))
        logs = {"pose/g_adv": adv.item()}
        loss = adv
        if self.cfg.consistency_weight > 0:
            consist = F.mse_loss(x0_g.float(), self.consistency_target(roles, x0_g.detach(), cond, g).float())
            loss = loss + self.cfg.consistency_weight * consist
            logs["pose/consistency"] = consist.item()
        if self.cfg.ode_weight > 0:
            loss, logs = with_anchor(loss, logs, self.cfg.ode_weight, roles, batch.pairs, x0_g.shape[0], g)
        return LossOutput(loss, logs)
