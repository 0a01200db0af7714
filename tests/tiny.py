"""Tiny models for tests: seconds on the CPU."""

import torch

from onestep.models.io import save_model
from onestep.models.video_dit import DiTConfig, VideoDiT

TEACHER_EXTRA = {"role": "teacher", "sampling": {"kind": "euler", "steps": 4, "guidance": 3.0, "shift": 3.0}}


def tiny_teacher() -> VideoDiT:
    """A 3-block DiT whose zero-initialised layers were moved off zero, so every path carries signal."""
    torch.manual_seed(0)
    m = VideoDiT(DiTConfig(dim=32, depth=3, heads=2, patch=(2, 4, 4)))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m.eval().requires_grad_(False)


def tiny_teacher_dir(path):
    return save_model(path, tiny_teacher(), TEACHER_EXTRA)
