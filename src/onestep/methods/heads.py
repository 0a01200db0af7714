"""Discriminator heads on multi-layer backbone features.

The features come from the backbone's own truncated forward (`VideoModel.features`: the tokens after
each tapped block, later blocks never run); a head sees the model only through its `ModelSpec` and
the condition latent the adapter hands it (`condition_image`), never a concrete model class.

- `SemanticHead` (POSE Sec. 3.3, Fig. 4): n learnable query tokens, concatenated with the condition
  image's tokens and the text tokens (plus learned modality embeddings), self-attention over that set,
  the noise level injected into the queries (adaLN), then for each tapped layer the queries
  cross-attend to its features; the per-layer query outputs are concatenated along channels and
  projected to one logit per query: (B, n) logits. With `semantics=False` the queries attend only to
  each other before reading the features: APT's cross-attention head, the ablation without the
  condition image and text (POSE Table 3, "Cross-Attn Head").
- `ConvHead`: the ablation's convolutional head: per tapped layer a small 3D conv over the token grid,
  pooled to one logit: (B, n_taps).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from onestep.models.embeddings import timestep_embedding
from onestep.types import Cond, ModelSpec


class Attention(nn.Module):
    """Pre-norm multi-head attention + MLP, with an optional key mask (True = attend)."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(kv_dim or dim)
        self.attn = nn.MultiheadAttention(dim, heads, kdim=kv_dim or dim, vdim=kv_dim or dim, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor, kv: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        kv = self.norm_kv(x if kv is None else kv)
        y, _ = self.attn(self.norm_q(x), kv, kv, key_padding_mask=None if mask is None else ~mask, need_weights=False)
        x = x + y
        return x + self.mlp(self.norm_mlp(x))


class SemanticHead(nn.Module):
    def __init__(
        self, spec: ModelSpec, n_taps: int, *, queries: int = 4, dim: int = 128, heads: int = 4, semantics: bool = True
    ):
        super().__init__()
        backbone_dim, patch = spec.dim, spec.patch[1:]
        self.queries = nn.Parameter(torch.randn(queries, dim) * 0.02)
        self.modality = nn.Parameter(torch.randn(3, dim) * 0.02)  # query, image, text
        self.text_proj = nn.Linear(spec.text_dim, dim) if semantics else None
        self.image_embed = (
            nn.Conv2d(spec.cond_channels, dim, patch, stride=patch) if spec.cond_channels and semantics else None
        )
        self.mix = Attention(dim, heads)
        self.time = nn.Sequential(nn.Linear(256, dim), nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.feature_proj = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(backbone_dim), nn.Linear(backbone_dim, dim)) for _ in range(n_taps)]
        )
        self.read = nn.ModuleList([Attention(dim, heads) for _ in range(n_taps)])
        self.out = nn.Linear(n_taps * dim, 1)

    def forward(self, features: list[Tensor], cond: Cond, t: Tensor, image: Tensor | None) -> Tensor:
        """features [(B, N, D)], t (B,), image (B, C, H, W) the condition latent or None -> (B, n)."""
        B = features[0].shape[0]
        q = self.queries.expand(B, -1, -1) + self.modality[0]
        tokens, mask = [q], [torch.ones(B, q.shape[1], dtype=torch.bool, device=q.device)]
        if self.text_proj is not None:
            tokens.append(self.text_proj(cond.text) + self.modality[2])
            mask.append(cond.text_mask.bool())
        if image is not None and self.image_embed is not None:
            img = self.image_embed(image).flatten(2).transpose(1, 2) + self.modality[1]
            tokens.append(img)
            mask.append((cond.latent_mask > 0)[:, None].expand(-1, img.shape[1]))
        mixed = self.mix(torch.cat(tokens, 1), mask=torch.cat(mask, 1))[:, : q.shape[1]]  # (B, n, dim)
        shift, scale = self.time(timestep_embedding(t, 256)).chunk(2, dim=-1)
        mixed = mixed * (1 + scale[:, None]) + shift[:, None]  # noise-level injection
        per_layer = [read(mixed, proj(f)) for read, proj, f in zip(self.read, self.feature_proj, features)]
        return self.out(torch.cat(per_layer, dim=-1)).squeeze(-1)  # (B, n)


class ConvHead(nn.Module):
    def __init__(self, spec: ModelSpec, n_taps: int, width: int = 64):
        super().__init__()
        self.grid, backbone_dim = spec.grid, spec.dim
        self.convs = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv3d(backbone_dim, width, 3, padding=1),
                    nn.SiLU(),
                    nn.Conv3d(width, width, 3, padding=1),
                    nn.SiLU(),
                    nn.Conv3d(width, 1, 1),
                )
                for _ in range(n_taps)
            ]
        )

    def forward(self, features: list[Tensor], cond: Cond, t: Tensor, image: Tensor | None) -> Tensor:
        f, h, w = self.grid
        logits = []
        for conv, x in zip(self.convs, features):
            x = x.transpose(1, 2).reshape(x.shape[0], -1, f, h, w)  # (B, N, D) -> (B, D, f, h, w)
            logits.append(conv(x).mean(dim=(1, 2, 3, 4)))
        return torch.stack(logits, dim=-1)  # (B, n_taps)
