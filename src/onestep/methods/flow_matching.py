"""Flow matching (rectified flow), the teacher's objective: || v_theta(x_t, t, c) - (noise - x0) ||^2.

x_t = (1 - t) x0 + t noise (flow.py). Per-sample loss, mean over (C, F, H, W), optionally weighted
per pixel (`motion_weights`: the pixels where the clip differs from its first frame count more).
"""

from __future__ import annotations

import torch
from torch import Tensor

from onestep import flow
from onestep.types import Cond, Denoiser


def flow_matching_loss(net: Denoiser, x0: Tensor, cond: Cond, t: Tensor, noise: Tensor, weight: Tensor | None = None) -> Tensor:
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
