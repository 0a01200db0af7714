"""The one convention for time, noise and velocity (rectified flow, as Wan and diffusers use it).

    x_t = (1 - t) * x0 + t * noise,   t in [0, 1], t = 1 is pure noise
    v   = noise - x0                   (what every Denoiser predicts)
    x0  = x_t - t * v,   noise = x_t + (1 - t) * v

Everything else in onestep imports these functions; no other file writes the formulas again.
Only the diffusers adapter knows that diffusers models take `timestep = 1000 * t`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _bcast(t: Tensor | float, x: Tensor) -> Tensor:
    """Broadcast t of shape (B,) or (B, F) against x of shape (B, C, F, H, W), on x's device and dtype."""
    if not torch.is_tensor(t):
        return torch.as_tensor(t, dtype=x.dtype, device=x.device)
    t = t.to(device=x.device, dtype=x.dtype)
    if t.ndim == 1:  # (B,) -> (B, 1, 1, 1, 1)
        return t.view(-1, *([1] * (x.ndim - 1)))
    if t.ndim == 2:  # per-frame times (B, F) -> (B, 1, F, 1, 1)
        return t[:, None, :, None, None]
    return t


def interpolate(x0: Tensor, noise: Tensor, t: Tensor | float) -> Tensor:
    """x_t = (1 - t) x0 + t noise."""
    tb = _bcast(t, x0)
    return (1 - tb) * x0 + tb * noise


def velocity(x0: Tensor, noise: Tensor) -> Tensor:
    """The regression target v = noise - x0."""
    return noise - x0


def x0_from_v(x_t: Tensor, v: Tensor, t: Tensor | float) -> Tensor:
    """x0 = x_t - t v."""
    return x_t - _bcast(t, x_t) * v


def noise_from_v(x_t: Tensor, v: Tensor, t: Tensor | float) -> Tensor:
    """noise = x_t + (1 - t) v."""
    return x_t + (1 - _bcast(t, x_t)) * v


def v_from_x0(x_t: Tensor, x0: Tensor, t: Tensor | float) -> Tensor:
    """v = (x_t - x0) / t, the velocity that points from x0 through x_t (t > 0)."""
    return (x_t - x0) / _bcast(t, x_t)


def shift(t: Tensor | float, s: float) -> Tensor | float:
    """Time shift s t / (1 + (s - 1) t) (SD3, Wan): s > 1 spends more of the schedule at high noise."""
    return s * t / (1 + (s - 1) * t)


def timesteps(steps: int, s: float = 1.0, t_max: float = 1.0, device=None) -> Tensor:
    """The Euler grid: `steps + 1` shifted times from t_max down to 0, shape (steps + 1,)."""
    grid = torch.linspace(t_max, 0.0, steps + 1, dtype=torch.float64, device=device)
    return shift(grid, s).float()


def sample_t(
    base: Tensor,
    *,
    kind: str = "logit_normal",
    s: float = 1.0,
    mean: float = 0.0,
    std: float = 1.0,
    lo: float = 0.0,
    hi: float = 1.0,
) -> Tensor:
    """Training times from base draws of the same shape, then shifted by s: `uniform` on [lo, hi] from
    U[0, 1) draws, or `logit_normal` (SD3) from standard normal draws."""
    if kind == "uniform":
        t = lo + (hi - lo) * base
    elif kind == "logit_normal":
        t = torch.sigmoid(mean + std * base)
        t = lo + (hi - lo) * t
    else:
        raise ValueError(f"unknown time distribution {kind!r}: use 'uniform' or 'logit_normal'")
    return shift(t, s)
