"""Block-causal generation (CausVid, Self-Forcing, ASD's inference; METHODS.md section 6).

A causal student makes a video block by block. Each block is denoised from its own noise by the
re-noising few-step sampler (samplers.renoise), attending to the clean keys and values of the blocks
before it (models/kv_cache.py). Once it is clean, one pass at t = 0 writes its keys and values to the
cache. Each block has its own step schedule: First Frame Enhancement (ASD) gives the first block
dense denoising and the rest one or two steps, so `1*` is "1 step, 4 for the first block".

The video may be longer than the model was trained on (streaming): positions continue, and a
`window` keeps the cache at a bounded number of frames with `sink` frames always kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from onestep import flow, samplers
from onestep.errors import UserError
from onestep.models.kv_cache import KVCache
from onestep.types import Cond


def block_times(blocks: int, steps: int, shift: float, first_block_steps: int | None = None) -> list[list[float]]:
    """Each block's times: `steps` shifted levels, the first block `first_block_steps` (FFE)."""
    if steps < 1 or (first_block_steps is not None and first_block_steps < 1):
        raise UserError(f"steps {steps}, first-block steps {first_block_steps}: use 1 or more")
    first = samplers.student_times(first_block_steps or steps, shift)
    return [first] + [samplers.student_times(steps, shift)] * (blocks - 1)


def causal_block(model) -> int:
    """Latent frames per causal block of `model` (every VideoModel says; a LoRA its base's), 0 for a
    bidirectional one."""
    return model.causal_block or 0


def block_frames(model) -> int:
    """Video frames per causal block of `model`, or a UserError for a bidirectional model."""
    if not causal_block(model):
        raise UserError(
            "this model is bidirectional: block-causal sampling and training need a block-causal student (distill "
            "with --set model.student_causal_block=1)"
        )
    return causal_block(model) * model.spec.patch[0]


def new_cache(model, window: int | None = None, sink: int = 0, detach: bool = True) -> KVCache:
    _, h, w = model.spec.grid
    return KVCache(len(model.blocks), h * w, window, sink, detach)


@torch.no_grad()
def generate(
    model,
    noise: Tensor,
    cond: Cond,
    times: list[list[float]],
    *,
    generator: torch.Generator | None = None,
    window: int | None = None,
    sink: int = 0,
    on_block: Callable[[int, Tensor], None] | None = None,
) -> Tensor:
    """x0 (B, C, F, H, W) for `noise` of any whole number of blocks: block b denoised along times[b]
    (the last schedule repeats), then written to the cache at t = 0 (the last block, which no block
    reads, is not); on_block(b, x0_b) as each ends."""
    bf = block_frames(model)
    B, _, F, _, _ = noise.shape
    if F % bf:
        raise UserError(f"{F} frames are not a whole number of this model's {bf}-frame blocks: use a multiple of {bf}")
    cache = new_cache(model, window, sink)
    zero = torch.zeros(B, device=noise.device, dtype=noise.dtype)
    out, blocks = [], F // bf
    for b in range(blocks):
        offset = b * causal_block(model)

        def net(x, t, c, offset=offset):
            return model(x, t, c, offset, cache)

        x0 = samplers.renoise(
            net, noise[:, :, b * bf : (b + 1) * bf], cond, times=times[min(b, len(times) - 1)], generator=generator
        )
        if b + 1 < blocks:
            with cache.write():
                model(x0, zero, cond, offset, cache)
        out.append(x0)
        if on_block is not None:
            on_block(b, x0)
    return torch.cat(out, 2)


def rollout(model, cond: Cond, d, shape: tuple[int, ...], times: list[float], exits: list[int]) -> Tensor:
    """Self-Forcing's training rollout (METHODS.md section 6): block b starts from its own noise and is
    re-noised along `times` (fresh noise between steps) until step exits[b], whose x0 is the block.
    Only that step runs with gradient; the earlier ones, and the clean pass at t = 0 that writes the
    block to the cache, run without (the cache holds no graph). `d`: the loss's seeding.Draws."""
    bf = block_frames(model)
    B, C, F, H, W = shape
    grad = torch.is_grad_enabled()
    cache = new_cache(model)
    zero = torch.zeros(B, device=d.device)
    out, blocks = [], F // bf
    for b in range(blocks):
        offset = b * causal_block(model)
        x = d.randn(B, C, bf, H, W)
        for i in range(exits[b] + 1):
            t = torch.full((B,), float(times[i]), device=x.device)
            with torch.set_grad_enabled(grad and i == exits[b]):
                x0 = flow.x0_from_v(x, model(x, t, cond, offset, cache), t)
            if i < exits[b]:
                x = flow.interpolate(x0, d.randn_like(x0), times[i + 1])
        if b + 1 < blocks:  # the last block is read by none
            with torch.no_grad(), cache.write():
                model(x0.detach(), zero, cond, offset, cache)
        out.append(x0)
    return torch.cat(out, 2)
