"""Exponential moving average of weights: ema <- decay * ema + (1 - decay) * param (no gradients).

The EMA is a role of its own, loaded from the model directory like the others (train/roles.py).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def warmup_decay(decay: float, step: int) -> float:
    """Decay ramped in early, as (1 + step) / (10 + step) capped at `decay` (a fresh model moves fast)."""
    return min(decay, (1.0 + step) / (10.0 + step))
