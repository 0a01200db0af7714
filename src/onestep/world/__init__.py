"""The embedded world: procedural videos with exact ground truth (DESIGN.md, "The embedded default").

Tracks: `shapes` (coloured shapes with constant velocity and wall bounces) and `photocam` (camera
moves over real photos). `sample(track, seed, split)` is deterministic by seed.
"""

from __future__ import annotations

from onestep.errors import UserError
from onestep.world import photocam, shapes
from onestep.world.clip import Clip, WorldConfig

TRACKS = {"shapes": shapes.sample, "photocam": photocam.sample}


def sample(track: str, seed: int, split: str = "train", config: WorldConfig | None = None) -> Clip:
    """One clip of `track`, fully determined by (seed, split, config)."""
    if track not in TRACKS:
        raise UserError(f"unknown track {track!r}: choose one of {', '.join(TRACKS)}")
    if split not in ("train", "heldout"):
        raise UserError(f"unknown split {split!r}: use 'train' or 'heldout'")
    return TRACKS[track](seed, split, config or WorldConfig())


__all__ = ["Clip", "WorldConfig", "TRACKS", "sample"]
