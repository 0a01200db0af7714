"""Move a built-in DiT to another text encoder, starting where its old one left off
(`scripts/swap_text_encoder.py`, docs/teacher.md).

The DiT reads text through three first layers: `text_proj.0` (every token, for the cross-attention),
`pooled_mlp.0` (the masked mean of the tokens) and `standardised_mlp.0` (that mean standardised by
`text_mean`/`text_std`). `token_map` fits a ridge regression from the new encoder's token states to
the old one's on prompts whose two tokenisations have the same length (for two uncased WordPiece
vocabularies their positions then match); `swapped` folds the map into those three layers, so the
new model reads the new states as the old one read the old, to the map's error. Mean pooling is
linear, so the token map serves the pooled paths as well; the standardisation is refitted on the new
encoder's pooled prompts and the fold absorbs the change.
"""

from __future__ import annotations

import dataclasses

import torch

from onestep.models.text import DIMS, TextEncoder
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.types import Cond


def token_map(
    old: TextEncoder, new: TextEncoder, prompts: list[str], ridge: float = 1e-2
) -> tuple[torch.Tensor, float, int]:
    """(M, relative error, prompts used): M (new_dim + 1, old_dim) with [x_new, 1] M ~ x_old token by
    token; the error is the residual's norm over the centred targets' norm."""
    xs, ys, used = [], [], 0
    for i in range(0, len(prompts), 256):
        (yo, mo), (xn, mn) = old(prompts[i : i + 256]), new(prompts[i : i + 256])
        same = mo.sum(1) == mn.sum(1)  # tokenisations of equal length: positions match
        used += int(same.sum())
        xs.append(xn[same][mn[same]])
        ys.append(yo[same][mo[same]])
    x, y = torch.cat(xs).double(), torch.cat(ys).double()
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    m = torch.linalg.solve(x1.T @ x1 + ridge * len(x) * torch.eye(x1.shape[1], dtype=x.dtype), x1.T @ y)
    error = ((x1 @ m - y).norm() / (y - y.mean(0)).norm()).item()
    return m.float(), error, used


@torch.no_grad()
def swapped(model: VideoDiT, m: torch.Tensor, new_pooled: torch.Tensor, encoder: str) -> VideoDiT:
    """A copy of `model` that reads `encoder`'s states: every weight kept but the three first text
    layers, which are the old ones composed with x_old = a x_new + c (m = [a^T; c]); `new_pooled`
    (N, new_dim): the new encoder's pooled training prompts, for the standardisation."""
    target = VideoDiT(
        DiTConfig(**{**dataclasses.asdict(model.config), "text_dim": DIMS[encoder], "text_encoder": encoder})
    )
    own = target.state_dict()
    target.load_state_dict({k: v for k, v in model.state_dict().items() if own[k].shape == v.shape}, strict=False)
    a, c = m[:-1].T, m[-1]
    for name in ("text_proj", "pooled_mlp"):
        src, dst = getattr(model, name)[0], getattr(target, name)[0]
        dst.weight.copy_(src.weight @ a)
        dst.bias.copy_(src.bias + src.weight @ c)
    target.set_text_stats(new_pooled)
    mu_o, sd_o, mu_n, sd_n = model.text_mean, model.text_std, target.text_mean, target.text_std
    src, dst = (
        model.standardised_mlp[0],
        target.standardised_mlp[0],
    )  # z_old = (a (sd_n z_new + mu_n) + c - mu_o) / sd_o
    dst.weight.copy_(src.weight @ (a * sd_n[None, :] / sd_o[:, None]))
    dst.bias.copy_(src.bias + src.weight @ ((a @ mu_n + c - mu_o) / sd_o))
    return target.eval().requires_grad_(False)


def pooled(encoder: TextEncoder, prompts: list[str]) -> torch.Tensor:
    text, mask = encoder(prompts)
    return VideoDiT.pooled_text(Cond(text, mask))
