"""Embeddings shared by models and discriminator heads: timesteps, and 3D rotary positions."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of 1000 t (the diffusers timestep scale), (...,) -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_tables(
    grid: tuple[int, int, int], head_dim: int, theta: float, frame_offset: int = 0, device=None
) -> tuple[Tensor, Tensor]:
    """cos, sin of 3D rotary positions, each (N, head_dim) in rotate-half layout; head_dim is split
    between axes as Wan does (frame | row | column)."""
    d_hw = 2 * (head_dim // 6)
    dims = (head_dim - 2 * d_hw, d_hw, d_hw)
    f, h, w = grid
    pos = (
        torch.stack(
            torch.meshgrid(
                torch.arange(frame_offset, frame_offset + f, device=device),
                torch.arange(h, device=device),
                torch.arange(w, device=device),
                indexing="ij",
            ),
            dim=-1,
        )
        .reshape(-1, 3)
        .float()
    )  # (N, 3)
    angles = []
    for axis, d in enumerate(dims):
        freqs = theta ** (-torch.arange(0, d, 2, device=device).float() / d)  # (d / 2,)
        angles.append(pos[:, axis : axis + 1] * freqs)
    angles = torch.cat(angles, dim=-1)  # (N, head_dim / 2)
    angles = torch.cat([angles, angles], dim=-1)  # (N, head_dim): pairs (i, i + head_dim / 2)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs (i, i + d/2) by the position angle: x (B, heads, N, head_dim)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos.to(x.dtype) + torch.cat([-x2, x1], dim=-1) * sin.to(x.dtype)
