"""The built-in DiT's transformer block (models/video_dit.py): adaLN-zero self-attention with 3D
rotary positions and QK-norm (Wan's), cross-attention to the [text | image] tokens, adaLN-zero MLP."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from onestep.models.embeddings import apply_rope
from onestep.models.kv_cache import LayerCache


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.norm_q = nn.RMSNorm(dim // heads)  # QK-norm (as Wan) keeps logits tame at high lr
        self.norm_k = nn.RMSNorm(dim // heads)
        self.out = nn.Linear(dim, dim)
        self.attend = (
            F.scaled_dot_product_attention
        )  # (q, k, v, attn_mask) -> y; sequence parallelism swaps it (parallel/sequence.py)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor], mask: Tensor | None, cache: LayerCache | None = None
    ) -> Tensor:
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)  # 3 x (B, h, N, d)
        q, k = apply_rope(self.norm_q(q), *rope), apply_rope(self.norm_k(k), *rope)
        if cache is not None:  # the earlier frames' keys and values first (their rotary positions applied)
            k, v = cache.extend(k, v)
        y = self.attend(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.norm_q = nn.RMSNorm(dim // heads)
        self.norm_k = nn.RMSNorm(dim // heads)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, context: Tensor, context_mask: Tensor, rope_q, rope_k) -> Tensor:
        q = self.q(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, h, N, d)
        k, v = self.kv(context).unflatten(-1, (2, self.heads, -1)).permute(2, 0, 3, 1, 4)  # (B, h, L, d)
        q, k = apply_rope(self.norm_q(q), *rope_q), apply_rope(self.norm_k(k), *rope_k)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=context_mask[:, None, None, :])
        return self.out(y.transpose(1, 2).flatten(2))


class Block(nn.Module):
    """adaLN-zero self-attention, cross-attention to [text | image] tokens, adaLN-zero MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.cross = CrossAttention(dim, heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Linear(dim, 6 * dim)

    def forward(
        self,
        x: Tensor,
        c: Tensor,
        rope,
        mask,
        context: Tensor,
        context_mask: Tensor,
        rope_context,
        cache: LayerCache | None = None,
    ) -> Tensor:
        # c: (B, N or 1, D) conditioning per token
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1), rope, mask, cache)
        x = x + self.cross(self.norm2(x), context, context_mask, rope, rope_context)
        x = x + gate2 * self.mlp(modulate(self.norm3(x), shift2, scale2))
        return x
