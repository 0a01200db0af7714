"""Flow matching (rectified flow), the teacher's objective: || v_theta(x_t, t, c) - (noise - x0) ||^2.

x_t = (1 - t) x0 + t noise (flow.py). Per-sample loss, mean over (C, F, H, W), optionally weighted
per pixel (`motion_weights`: the pixels where the clip differs from its first frame count more).

As a method (`FlowMatching`) it trains the `student` role from scratch on data: classifier-free
guidance needs an unconditional model, so the prompt is replaced by the batch's negative (empty)
prompt with p_drop_text, and the first frame is dropped with p_drop_image, which also teaches
text-to-video. Times are logit-normal (SD3), shifted, with a share drawn uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from onestep import flow
from onestep.methods.single import StudentOnly
from onestep.seeding import Draws
from onestep.types import Batch, Cond, Denoiser, LossOutput, Roles


def flow_matching_loss(
    net: Denoiser, x0: Tensor, cond: Cond, t: Tensor, noise: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Per-sample MSE between predicted and target velocity, shape (B,); `weight` (B, 1, F, H, W)
    multiplies the squared error per pixel."""
    x_t = flow.interpolate(x0, noise, t)
    v = net(x_t, t, cond)
    err = (v.float() - flow.velocity(x0, noise).float()).pow(2)
    if weight is not None:
        err = err * weight
    return err.mean(dim=(1, 2, 3, 4))


def motion_weights(x0: Tensor, strength: float) -> Tensor:
    """w = 1 + strength * |x0 - x0[frame 0]| (mean over channels), rescaled to mean 1 per clip, shape
    (B, 1, F, H, W). Where content moved the error weighs more; the optimum is unchanged wherever the
    target is determined by the conditions (a weight that depends only on x0 rescales the error of
    each clip's pixels), and the loss scale stays that of the plain objective."""
    diff = (x0 - x0[:, :, :1]).abs().mean(dim=1, keepdim=True)
    w = 1.0 + strength * diff
    return w / w.mean(dim=(1, 2, 3, 4), keepdim=True)


@dataclass
class TimeConfig:
    kind: str = "logit_normal"  # or "uniform"
    mean: float = 0.0
    std: float = 1.0
    shift: float = 2.0  # training-time shift: more steps at high noise, where motion is decided
    uniform_fraction: float = 0.1  # this share of t is plain uniform, so no level is starved


@dataclass
class FlowMatchingConfig:
    p_drop_text: float = 0.1  # classifier-free guidance: the negative (empty) prompt instead
    p_drop_image: float = 0.2  # text-to-video samples: no first frame
    motion_weight: float = 0.0  # > 0: pixels that differ from the first frame weigh more (motion_weights)
    p_drop_token: float = 0.0  # each prompt token state but the first hidden from the model with this probability
    time: TimeConfig = field(default_factory=TimeConfig)

    def __post_init__(self):
        if isinstance(self.time, dict):
            self.time = TimeConfig(**self.time)


def sample_times(tc: TimeConfig, n: int, d: Draws) -> Tensor:
    t = flow.sample_t(
        d.randn(n) if tc.kind == "logit_normal" else d.rand(n), kind=tc.kind, mean=tc.mean, std=tc.std, s=tc.shift
    )
    uniform = d.rand(n)
    t = torch.where(d.rand(n) < tc.uniform_fraction, uniform, t)
    return t.clamp(1e-3, 1.0)


def drop_conditions(cfg: FlowMatchingConfig, cond: Cond, d: Draws) -> Cond:
    """CFG dropout: the negative (empty) prompt with p_drop_text, no first frame with p_drop_image.

    Token dropout (p_drop_token > 0): each token state of the prompt but the first ([CLS]) is masked
    out, for the cross-attention and the pooled text alike, with probability p_drop_token. The
    encoder's states are contextual, so a dropped word's meaning is partly in the others; the hope
    was a model that reads held-out words better. At 0.5 it read them worse on the bundled teacher
    (docs/log/2026-12-06-text-encoder.md); off by default."""
    B, device = cond.batch_size, cond.text.device
    drop_text = d.rand(B).to(device) < cfg.p_drop_text
    text = torch.where(drop_text[:, None, None], cond.neg_text, cond.text)
    mask = torch.where(drop_text[:, None], cond.neg_text_mask, cond.text_mask)
    keep_image = (d.rand(B) >= cfg.p_drop_image).float().to(device)
    if cfg.p_drop_token > 0:  # drawn last, so runs without it draw what they always drew
        keep = d.rand(B, mask.shape[1]).to(device) >= cfg.p_drop_token
        keep[:, 0] = True
        mask = mask & keep
    return Cond(
        text,
        mask,
        cond.latent,
        keep_image if cond.latent is not None else None,
        cond.image_tokens,
        cond.neg_text,
        cond.neg_text_mask,
    )


class FlowMatching(StudentOnly):
    name = "flow"

    def __init__(self, config: FlowMatchingConfig | None = None):
        self.cfg = config or FlowMatchingConfig()

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        x0 = batch.video
        cond = drop_conditions(self.cfg, batch.cond, d)
        t = sample_times(self.cfg.time, x0.shape[0], d).to(x0.device)
        noise = d.randn_like(x0)
        weight = motion_weights(x0, self.cfg.motion_weight) if self.cfg.motion_weight > 0 else None
        loss = flow_matching_loss(roles.student, x0, cond, t, noise, weight).mean()
        return LossOutput(loss, {"flow/loss": loss.item()})
