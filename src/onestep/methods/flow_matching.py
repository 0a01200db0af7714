"""Flow matching (rectified flow), the teacher's objective: || v_theta(x_t, t, c) - (noise - x0) ||^2.

x_t = (1 - t) x0 + t noise (flow.py). Per-sample loss, mean over (C, F, H, W).
"""

from __future__ import annotations

import torch
from torch import Tensor

from onestep import flow
from onestep.types import Cond, Denoiser


def flow_matching_loss(net: Denoiser, x0: Tensor, cond: Cond, t: Tensor, noise: Tensor) -> Tensor:
    """Per-sample MSE between predicted and target velocity, shape (B,)."""
    x_t = flow.interpolate(x0, noise, t)
    v = net(x_t, t, cond)
    return (v.float() - flow.velocity(x0, noise).float()).pow(2).mean(dim=(1, 2, 3, 4))
