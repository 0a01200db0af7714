"""A feature space for distribution distances: a small 3D CNN trained only on ground-truth world clips.

Inception/I3D weights cannot be downloaded here, so FD and KID are computed in the feature space of a
network that learned the world's own facts (track, camera move and speed, object count, colours,
first object's shape, direction and speed) from ground-truth clips, plus a random-init network of
the same architecture as a second, training-free view. The trained weights ship in assets/featnet/
with the command that rebuilds them (`onestep featnet --out assets/featnet`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from onestep import world
from onestep.world import prompts
from onestep.world.shapes import COLOURS, SHAPES

HEADS = {
    "track": 2,
    "move": len(prompts.CAMERA_MOVES),
    "speed": 2,
    "count": 4,  # 0 for photocam, else 1-3
    "colours": len(COLOURS),  # multi-label
    "shape": len(SHAPES) + 1,  # first object's shape, or none
    "direction": len(prompts.DIRECTIONS) + 1,
}


class FeatureNet(nn.Module):
    """(B, 3, F, H, W) in [-1, 1] -> (B, dim) features (after global pooling)."""

    def __init__(self, dim: int = 128):
        super().__init__()
        widths = (16, 32, 64, dim)
        layers, c_in = [], 3
        for i, c in enumerate(widths):
            stride = (1, 2, 2) if i < 2 else (2, 2, 2)
            layers += [nn.Conv3d(c_in, c, 3, stride=stride, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in HEADS.items()})
        self.dim = dim

    def features(self, video: Tensor) -> Tensor:
        return self.body(video).mean(dim=(2, 3, 4))

    def forward(self, video: Tensor) -> dict[str, Tensor]:
        h = self.features(video)
        return {k: head(h) for k, head in self.heads.items()}


def labels(clip) -> dict[str, Tensor]:
    colours = torch.zeros(len(COLOURS))
    if clip.track == "photocam":
        t = clip.truth
        return dict(
            track=0,
            move=prompts.CAMERA_MOVES.index(t["move"]),
            speed=int(t["speed"] == "fast"),
            count=0,
            colours=colours,
            shape=len(SHAPES),
            direction=len(prompts.DIRECTIONS),
        )
    objs = clip.truth["objects"]
    for o in objs:
        colours[list(COLOURS).index(o["colour"])] = 1
    first = objs[0]
    return dict(
        track=1,
        move=0,
        speed=int(first["speed"] == "fast"),
        count=len(objs),
        colours=colours,
        shape=SHAPES.index(first["shape"]),
        direction=list(prompts.DIRECTIONS).index(first["direction"]),
    )


def loss_fn(out: dict[str, Tensor], target: dict[str, Tensor]) -> Tensor:
    loss = F.binary_cross_entropy_with_logits(out["colours"], target["colours"])
    for k in HEADS:
        if k != "colours":
            loss = loss + F.cross_entropy(out[k], target[k])
    return loss


@dataclass
class FeatnetConfig:
    steps: int = 1500
    batch_size: int = 32
    pool: int = 4096  # ground-truth clips rendered once and drawn from at random
    lr: float = 1e-3
    seed: int = 0
    dim: int = 128


def train_featnet(cfg: FeatnetConfig, progress=None) -> FeatureNet:
    """Train on ground-truth training-split clips of both tracks (never on generated videos)."""
    from onestep.media import frames_to_tensor

    torch.manual_seed(cfg.seed)
    net = FeatureNet(cfg.dim)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    rng = np.random.default_rng(cfg.seed)
    clips = [
        world.sample(str(rng.choice(["shapes", "photocam"])), int(rng.integers(2**31)), "train")
        for _ in range(cfg.pool)
    ]
    videos = torch.stack([frames_to_tensor(c.video) for c in clips])
    all_labels = [labels(c) for c in clips]
    targets = {k: torch.stack([torch.as_tensor(t[k]) for t in all_labels]) for k in HEADS}
    for step in range(cfg.steps):
        idx = torch.from_numpy(rng.choice(cfg.pool, cfg.batch_size, replace=False))
        video, target = videos[idx], {k: v[idx] for k, v in targets.items()}
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + np.cos(np.pi * step / cfg.steps))
        loss = loss_fn(net(video), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step, loss.item())
    return net.eval().requires_grad_(False)


@torch.no_grad()
def extract(net: FeatureNet, videos: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N, F, H, W, 3) in [0, 1] -> (N, dim) float64 features."""
    out = []
    for i in range(0, len(videos), batch_size):
        v = torch.from_numpy(np.ascontiguousarray(videos[i : i + batch_size])).permute(0, 4, 1, 2, 3).float() * 2 - 1
        out.append(net.features(v).double().numpy())
    return np.concatenate(out)


def random_net(dim: int = 128, seed: int = 0) -> FeatureNet:
    torch.manual_seed(seed)
    return FeatureNet(dim).eval().requires_grad_(False)
