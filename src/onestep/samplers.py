"""Stateless samplers: functions of (net, x, times, cond), no step counters (k-diffusion style).

- `euler`: the teacher's probability-flow ODE, x_next = x + (t_next - t) v, with standard-form
  classifier-free guidance v = v_uncond + g (v_cond - v_uncond) (g = 1 is no guidance).
- `renoise`: the few-step sampler of distilled students (DMD style): predict x0, then re-noise it
  with fresh noise to the next level; one step is just x0 = G(noise, t=1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from onestep import flow
from onestep.types import Cond, Denoiser


def guided_velocity(net: Denoiser, x: Tensor, t: Tensor, cond: Cond, guidance: float, batched: bool = True) -> Tensor:
    """v = v_uncond + g (v_cond - v_uncond), the unconditional branch `cond.uncond()` (its negative
    prompt, the image kept); cond and uncond in one batch of 2B, or, with batched=False, as two
    forwards of B (as Wan's and diffusers' pipelines do; same result)."""
    if guidance == 1.0:
        return net(x, t, cond)
    uncond = cond.uncond()
    if batched:
        v_cond, v_uncond = net(torch.cat([x, x]), torch.cat([t, t]), Cond.cat([cond, uncond])).chunk(2)
    else:
        v_cond, v_uncond = net(x, t, cond), net(x, t, uncond)
    return v_uncond + guidance * (v_cond - v_uncond)


@torch.no_grad()
def euler(
    net: Denoiser,
    noise: Tensor,
    cond: Cond,
    *,
    steps: int,
    shift: float = 1.0,
    guidance: float = 1.0,
    t_max: float = 1.0,
    cfg_batched: bool = True,
    callback: Callable[[int], None] | None = None,
    times: Tensor | None = None,
) -> Tensor:
    """Integrate the ODE from t_max to 0 in `steps` Euler steps on the shifted grid; returns x0.

    NFE = steps with g = 1, 2 * steps with guidance (the POSE paper's count: 100 NFE = 50 x 2).
    `times` (steps + 1,) replaces the grid, e.g. by a diffusers scheduler's `sigmas` to step exactly as
    its pipeline does (benchmarks/wan.py).
    """
    ts = flow.timesteps(steps, shift, t_max, device=noise.device) if times is None else times.to(noise.device)
    x = noise
    for i in range(steps):
        t = ts[i].expand(x.shape[0])
        v = guided_velocity(net, x, t, cond, guidance, cfg_batched)
        x = x + (ts[i + 1] - ts[i]) * v
        if callback is not None:
            callback(i)
    return x


def student_times(steps: int, shift: float = 1.0) -> list[float]:
    """The times a few-step student visits: `steps` shifted points of linspace(1, 0) before 0."""
    return flow.timesteps(steps, shift, device="cpu")[
        :-1
    ].tolist()  # python floats: made on the CPU, whatever the default device


@torch.no_grad()
def renoise(
    net: Denoiser,
    noise: Tensor,
    cond: Cond,
    *,
    times: Sequence[float],
    generator: torch.Generator | None = None,
) -> Tensor:
    """Few-step sampling by re-noising: x0 = x - t v at each level, then fresh noise to the next."""
    x = noise  # the student's first level is treated as pure noise, as at inference
    x0 = x
    for i, t_now in enumerate(times):
        t = torch.full((x.shape[0],), float(t_now), device=x.device, dtype=x.dtype)
        x0 = flow.x0_from_v(x, net(x, t, cond), t)
        if i + 1 < len(times):
            fresh = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = flow.interpolate(x0, fresh, times[i + 1])
    return x0
