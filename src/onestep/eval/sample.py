"""Conditions -> videos for any model: the teacher by Euler with CFG, a student by re-noising, a
block-causal student block by block with its KV cache (causal.py).

Noise is drawn per clip from (seed, clip index), so two models see the same noise on the same clip
(paired seeds). Videos come back as (N, F, H, W, 3) float32 in [0, 1].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from onestep import causal, samplers, seeding
from onestep.media import tensor_to_frames
from onestep.models.text import TextEncoder
from onestep.types import Cond, Denoiser
from onestep.world.clip import Clip


@dataclass(frozen=True)
class SamplerSpec:
    """How to sample: `euler` (ODE, optional CFG), `renoise` (few-step student) or `causal` (a
    block-causal student: `steps` per block, `first_block_steps` for the first when > 0, FFE)."""

    kind: str = "euler"
    steps: int = 50
    guidance: float = 1.0
    shift: float = 1.0
    cfg_batched: bool = True  # the CFG pair as one forward of 2B; False: two forwards of B (Wan's pipeline)
    first_block_steps: int = 0

    @property
    def nfe(self) -> int:
        return self.steps * (2 if self.kind == "euler" and self.guidance != 1.0 else 1)

    def described(self) -> dict:
        """The fields that decide what it samples (a shipped evaluation's key): FFE's only when causal."""
        fields = dataclasses.asdict(self)
        if self.kind != "causal":
            del fields["first_block_steps"]
        return fields

    @property
    def label(self) -> str:
        """The ASD paper's row name: `1*` is one step per block with First Frame Enhancement."""
        return f"{self.steps}*" if self.kind == "causal" and self.first_block_steps else str(self.nfe)

    @staticmethod
    def from_nfe(
        nfe: int, *, student: bool, guidance: float, shift: float, causal: bool = False, first_block_steps: int = 0
    ) -> SamplerSpec:
        """The POSE paper's count: a teacher with CFG takes nfe / 2 Euler steps; a student nfe steps
        (per block for a causal one)."""
        if causal:
            return SamplerSpec("causal", nfe, 1.0, shift, first_block_steps=first_block_steps)
        if student:
            return SamplerSpec("renoise", nfe, 1.0, shift)
        if guidance != 1.0 and nfe >= 2:
            return SamplerSpec("euler", nfe // 2, guidance, shift)
        return SamplerSpec("euler", nfe, 1.0, shift)


def clip_noise(seed: int, index: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=seeding.clip(seed, index))


@torch.no_grad()
def generate(
    model: Denoiser,
    encoder: TextEncoder,
    prompts: list[str],
    images: torch.Tensor | None,
    spec: SamplerSpec,
    *,
    seed: int = 0,
    batch_size: int = 16,
    shape: tuple[int, int, int, int] = (3, 8, 32, 32),
    callback=None,
) -> np.ndarray:
    """Videos for prompts (and first frames (N, 3, H, W) in [-1, 1], or None for text-to-video)."""
    out = []
    for start in range(0, len(prompts), batch_size):
        idx = list(range(start, min(start + batch_size, len(prompts))))
        text, mask = encoder([prompts[i] for i in idx])
        cond = Cond(text, mask, None if images is None else images[idx]).with_negative(*encoder.null(1))
        noise = torch.stack([clip_noise(seed, i, shape) for i in idx])
        if spec.kind == "euler":
            x0 = samplers.euler(model, noise, cond, steps=spec.steps, shift=spec.shift, guidance=spec.guidance)
        elif spec.kind == "causal":
            g = seeding.clip(seed, start, "cpu", 7)
            times = causal.block_times(
                shape[1] // causal.block_frames(model), spec.steps, spec.shift, spec.first_block_steps or None
            )
            x0 = causal.generate(model, noise, cond, times, generator=g)
        else:
            g = seeding.clip(seed, start, "cpu", 7)
            x0 = samplers.renoise(model, noise, cond, times=samplers.student_times(spec.steps, spec.shift), generator=g)
        out.extend(tensor_to_frames(v) for v in x0.clamp(-1, 1))
        if callback is not None:
            callback(len(idx))
    return np.stack(out)


def generate_for_clips(
    model: Denoiser, encoder: TextEncoder, clips: list[Clip], spec: SamplerSpec, *, i2v: bool = True, **kwargs
) -> np.ndarray:
    images = torch.stack([torch.from_numpy(c.first_frame).permute(2, 0, 1) * 2 - 1 for c in clips]) if i2v else None
    shape = (3, *clips[0].video.shape[:3])
    return generate(model, encoder, [c.prompt for c in clips], images, spec, shape=shape, **kwargs)
