"""POSE phase II, "unified adversarial equilibrium", with conditional adversarial consistency.

(POSE Sec. 3.2-3.3, Eq. 3-5.) The generator samples in one step from pure noise, x0_g = G(eps, t=1).
The discriminator D = [backbone; head]: the backbone is the generator's EMA weights (no separate
trainable backbone; `backbone = "teacher"` and `"trainable"` are the ablations), read at several
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

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.errors import UserError
from onestep.methods.heads import ConvHead, FeatureTaps, SemanticHead, default_taps, hinge_d, hinge_g
from onestep.methods.pairs import saved_pairs, with_anchor
from onestep.methods.vsd import batch_cond
from onestep.models.lora import adapters_disabled
from onestep.samplers import guided_velocity
from onestep.types import Cond, LossOutput, Nets, Update


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
        self.pairs: dict[str, Tensor] | None = None

    # -- the trainer's interface -----------------------------------------------------------------

    def setup(self, nets: Nets) -> None:
        c, g = self.cfg, nets.generator.config
        taps = c.taps or default_taps(g.depth)
        if "head" not in nets.critic:
            if c.head == "semantic":
                nets.critic["head"] = SemanticHead(g.dim, len(taps), text_dim=g.text_dim, channels=g.channels, patch=g.patch[1], queries=c.queries, dim=c.head_dim)
            elif c.head == "conv":
                nets.critic["head"] = ConvHead(g.dim, len(taps), g.grid)
            else:
                raise ValueError(f"unknown head {c.head!r}: use semantic or conv")
        if c.backbone == "trainable" and "backbone" not in nets.critic:
            nets.critic["backbone"] = copy.deepcopy(nets.generator)
        self.taps = taps

    def backbone(self, nets: Nets):
        return {"ema": nets.generator_ema, "teacher": nets.teacher, "trainable": nets.critic["backbone"] if "backbone" in nets.critic else None}[self.cfg.backbone]

    def prepare(self, nets: Nets, workdir: Path, batches, seed: int, progress: bool = True) -> None:
        self.pairs = saved_pairs(workdir) if self.cfg.ode_weight > 0 else None

    def trainable(self, nets: Nets) -> dict[str, list]:
        return {"generator": list(nets.generator.parameters()), "critic": list(nets.critic.parameters())}

    def updates(self, step: int) -> list[Update]:
        return [Update("critic", self.critic_loss), Update("generator", self.generator_loss)]

    # -- pieces ----------------------------------------------------------------------------------

    def generate(self, nets: Nets, batch, g: torch.Generator) -> Tensor:
        """One step from pure noise: x0_g = eps - 1 * G(eps, 1)."""
        noise = torch.randn(batch.video.shape, generator=g)
        t = torch.ones(noise.shape[0])
        return flow.x0_from_v(noise, nets.generator(noise, t, batch_cond(batch)), t)

    def logits(self, nets: Nets, x0: Tensor, cond: Cond, t: Tensor, eps: Tensor) -> Tensor:
        """D(x0): the backbone on x0 re-noised to t, read at the taps by the head; (B, n) logits."""
        x_t = flow.interpolate(x0, eps, t)
        backbone = self.backbone(nets)
        if self.cfg.backbone == "teacher":
            with adapters_disabled(nets.teacher):
                feats = FeatureTaps(backbone, self.taps)(x_t, t, cond)
        else:
            feats = FeatureTaps(backbone, self.taps)(x_t, t, cond)
        return nets.critic["head"](feats, cond, t)

    def draw(self, x: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
        c = self.cfg
        t = c.disc_t_lo + (c.disc_t_hi - c.disc_t_lo) * torch.rand(x.shape[0], generator=g)
        return t, torch.randn(x.shape, generator=g)

    def perturbation(self, x: Tensor, cond: Cond, g: torch.Generator) -> Tensor:
        """e = e_s + e_t: per-pixel noise plus per-frame, per-channel offsets; frame 0 clean under I2V."""
        B, C, Fr = x.shape[:3]
        e = self.cfg.sigma_s * torch.randn(x.shape, generator=g) + self.cfg.sigma_t * torch.randn(B, C, Fr, 1, 1, generator=g)
        if cond.image is not None:
            keep = (cond.image_mask > 0).to(x.dtype).view(B, 1, 1, 1)
            e[:, :, 0] = e[:, :, 0] * (1 - keep)
        return e

    @torch.no_grad()
    def consistency_target(self, nets: Nets, x0: Tensor, cond: Cond, g: torch.Generator) -> Tensor:
        """sg(x0_teacher) of Eq. 5: the frozen, guided teacher's x0 from x_t = noise(x0, t).

        With `consistency_steps` = k > 1 the teacher integrates its guided ODE from each sample's t to 0 in k
        uniform Euler steps instead of one (k = 1 is exactly the single x0 prediction of Eq. 5).
        """
        c = self.cfg
        t = flow.shift(c.consistency_t_lo + (c.consistency_t_hi - c.consistency_t_lo) * torch.rand(x0.shape[0], generator=g), c.consistency_t_shift)
        x, uncond = flow.interpolate(x0, torch.randn(x0.shape, generator=g), t), nets.uncond(cond)
        with adapters_disabled(nets.teacher):
            for i in range(c.consistency_steps):
                t_now, t_next = t * (1 - i / c.consistency_steps), t * (1 - (i + 1) / c.consistency_steps)
                v = guided_velocity(nets.teacher, x, t_now, cond, uncond, c.guidance)
                x = flow.x0_from_v(x, v, t_now - t_next)  # an Euler step to t_next: x - (t_now - t_next) v; to 0 it is x0
        return x

    # -- losses ----------------------------------------------------------------------------------

    def critic_loss(self, nets: Nets, batch, g: torch.Generator) -> LossOutput:
        cond, real = batch_cond(batch), batch.video
        with torch.no_grad():
            fake = self.generate(nets, batch, g)
        t_r, eps_r = self.draw(real, g)
        t_f, eps_f = self.draw(fake, g)
        d_real, d_fake = self.logits(nets, real, cond, t_r, eps_r), self.logits(nets, fake, cond, t_f, eps_f)
        adv = hinge_d(d_real, d_fake)
        e = self.perturbation(real, cond, g)
        r1 = st_r1(self.logits(nets, real + e, cond, t_r, eps_r), d_real, e)
        loss = adv + self.cfg.r1_weight * r1.mean()
        return LossOutput(loss, {"pose/d_hinge": adv.item(), "pose/st_r1": r1.mean().item(), "pose/d_real": d_real.mean().item(), "pose/d_fake": d_fake.mean().item()})

    def generator_loss(self, nets: Nets, batch, g: torch.Generator) -> LossOutput:
        cond = batch_cond(batch)
        x0_g = self.generate(nets, batch, g)
        t, eps = self.draw(x0_g, g)
        adv = hinge_g(self.logits(nets, x0_g, cond, t, eps))
        logs = {"pose/g_adv": adv.item()}
        loss = adv
        if self.cfg.consistency_weight > 0:
            consist = F.mse_loss(x0_g.float(), self.consistency_target(nets, x0_g.detach(), cond, g).float())
            loss = loss + self.cfg.consistency_weight * consist
            logs["pose/consistency"] = consist.item()
        if self.cfg.ode_weight > 0:
            loss, logs = with_anchor(loss, logs, self.cfg.ode_weight, nets, self.pairs, x0_g.shape[0], g)
        return LossOutput(loss, logs)
