"""Block-causal Wan (the `wan` adapter's `causal_block` > 0): diffusers' Wan blocks with a
block-causal self-attention and a KV cache, as the built-in DiT has (models/video_dit.py, causal.py).

diffusers' own forward still runs; two things are swapped in around it:
- each block's self-attention processor (`attn1`) is `CausalAttnProcessor`: q, k, v, the q/k RMS
  norms and the rotary embedding as diffusers' `WanAttnProcessor` computes them, then the segment's
  keys and values appended to the cached ones (`LayerCache.extend`) and attention under the
  block-causal mask: a query sees its own and earlier causal blocks of the segment and every cached
  token (the frames before it);
- a forward hook on the transformer's `rope` (`WanRotaryPosEmbed`) gives the segment the rotary
  tables of latent frames frame_offset.. (diffusers' forward starts them at 0); cached keys keep the
  positions they were written with.
What a forward's segment is (frame offset, KV cache) is held by `CausalWan` for the length of the
call (`CausalWan.segment`); outside one, a forward is the whole video from frame 0 under the mask
(the truncated forward `features` included). Cross-attention is untouched: the text and, for I2V, the
CLIP image tokens reach every segment.

Activation checkpointing would recompute a block in the backward after the call has ended and the
cache has moved on: `onestep distill` refuses it for causal students (as for the built-in DiT). Sequence
parallelism splits the tokens the mask is built for: the processor refuses it. Attention is torch's
scaled_dot_product_attention with a boolean mask, whatever diffusers' attention backend.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from onestep.errors import UserError
from onestep.models import shared
from onestep.models.kv_cache import KVCache


def rope_tables(rope: nn.Module, grid: tuple[int, int, int], frame_offset: int) -> tuple[Tensor, Tensor]:
    """diffusers' rotary tables (cos, sin), each (1, f h w, 1, d), of a (f, h, w) token grid whose
    first frame is latent frame `frame_offset` (WanRotaryPosEmbed.forward's tables, frames shifted)."""
    f, h, w = grid
    if frame_offset + f > rope.max_seq_len:
        raise UserError(
            f"latent frames up to {frame_offset + f} are past Wan's {rope.max_seq_len} rotary positions: generate "
            "fewer frames"
        )
    tables = []
    for freqs in (rope.freqs_cos, rope.freqs_sin):
        t, r, c = freqs.split([rope.t_dim, rope.h_dim, rope.w_dim], dim=1)
        t = t[frame_offset : frame_offset + f].view(f, 1, 1, -1).expand(f, h, w, -1)
        r = r[:h].view(1, h, 1, -1).expand(f, h, w, -1)
        c = c[:w].view(1, 1, w, -1).expand(f, h, w, -1)
        tables.append(torch.cat([t, r, c], dim=-1).reshape(1, f * h * w, 1, -1))
    return tables[0], tables[1]


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """The rotary embedding on (B, N, heads, d) as diffusers' WanAttnProcessor applies it (interleaved pairs)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2).type_as(x)


def condition_frames(latent: Tensor, frame_offset: int, frames: int) -> Tensor:
    """The condition latent (B, C, frames, H, W) of a segment at `frame_offset`: the full video's
    condition latent there (what the whole video's forward gives those frames), zeros past its end."""
    part = latent[:, :, frame_offset : frame_offset + frames]
    missing = frames - part.shape[2]
    return torch.cat([part, part.new_zeros(*part.shape[:2], missing, *part.shape[3:])], 2) if missing else part


class CausalWan:
    """Makes a WanTransformer3DModel's self-attention block-causal (processors and rope hook) and holds
    what its attention reads during one forward: the segment's frame offset and KV cache."""

    def __init__(self, transformer: nn.Module, causal_block: int, tokens_per_frame: int):
        self.causal_block, self.tokens_per_frame = causal_block, tokens_per_frame
        self.frame_offset, self.cache = 0, None
        self._mask: tuple[tuple, Tensor] | None = None
        for i, block in enumerate(transformer.blocks):
            block.attn1.set_processor(CausalAttnProcessor(self, i))
        transformer.rope.register_forward_hook(self.shift_rope)

    @contextmanager
    def segment(self, frame_offset: int, cache: KVCache | None):
        """Within it, a forward is the segment at `frame_offset` reading (and when writing, adding to) `cache`."""
        self.frame_offset, self.cache = frame_offset, cache
        try:
            yield
        finally:
            self.frame_offset, self.cache = 0, None

    def shift_rope(self, rope: nn.Module, args: tuple, tables: tuple[Tensor, Tensor]):
        """Forward hook on the transformer's rope: the segment's frames at their own positions."""
        if not self.frame_offset:
            return tables
        _, _, frames, height, width = args[0].shape
        pf, ph, pw = rope.patch_size
        return rope_tables(rope, (frames // pf, height // ph, width // pw), self.frame_offset)

    def mask(self, tokens: int, cached: int, device) -> Tensor:
        """The block mask of a segment of `tokens` queries after `cached` keys (kept for the next block)."""
        key = (tokens, cached, str(device))
        if self._mask is None or self._mask[0] != key:
            self._mask = (
                key,
                shared.block_mask(
                    tokens // self.tokens_per_frame, self.tokens_per_frame, self.causal_block, cached, device
                ),
            )
        return self._mask[1]


class CausalAttnProcessor:
    """Self-attention (`attn1`) of Wan block `index`: diffusers' WanAttnProcessor's q, k, v, norms and
    rotary embedding, the KV cache's earlier frames prepended, attention under the block-causal mask."""

    _attention_backend = None
    _parallel_config = None  # set by sequence parallelism (parallel/sequence.py), which a causal Wan refuses

    def __init__(self, state: CausalWan, index: int):
        self.state, self.index = state, index

    def __call__(
        self, attn: nn.Module, hidden_states: Tensor, encoder_hidden_states=None, attention_mask=None, rotary_emb=None
    ) -> Tensor:
        if self._parallel_config is not None:
            raise UserError("a block-causal Wan student does not run sequence-parallel: use parallel.sp=1")
        x = hidden_states
        q, k, v = (
            attn.to_qkv(x).chunk(3, dim=-1) if attn.fused_projections else (attn.to_q(x), attn.to_k(x), attn.to_v(x))
        )
        q, k = attn.norm_q(q), attn.norm_k(k)
        q, k, v = (y.unflatten(2, (attn.heads, -1)) for y in (q, k, v))  # (B, N, heads, d)
        q, k = rotate(q, *rotary_emb), rotate(k, *rotary_emb)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (B, heads, N, d)
        cache = self.state.cache
        if cache is not None:  # the earlier frames' keys and values first (their rotary positions applied)
            k, v = cache.layers[self.index].extend(k, v)
        mask = self.state.mask(q.shape[2], k.shape[2] - q.shape[2], q.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).flatten(2, 3).type_as(q)
        return attn.to_out[1](attn.to_out[0](y))


def forward(model, x_t: Tensor, t: Tensor, cond, frame_offset: int, cache: KVCache | None) -> Tensor:
    """A causal WanModel's forward of the segment x_t at latent frame `frame_offset` (causal.py's contract)."""
    causal = model.causal
    if frame_offset % causal.causal_block:
        raise UserError(
            f"frame offset {frame_offset} is not at a causal block boundary: use a multiple of {causal.causal_block}"
        )
    with causal.segment(frame_offset, cache):
        v = model.transformer(**model.inputs(x_t, t, cond, frame_offset), return_dict=False)[0].to(x_t.dtype)
    if cache is not None:
        frames = x_t.shape[2] // model.transformer.config.patch_size[0]
        cache.advance(frames * causal.tokens_per_frame, frames)
    return v
