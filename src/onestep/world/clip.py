"""A clip of the world: the video, its prompt, its first frame and the exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class WorldConfig:
    frames: int = 8
    size: int = 32  # square frames, pixels


@dataclass
class Clip:
    """video: (F, H, W, 3) float32 in [0, 1]; truth: track-specific ground truth."""

    track: str
    video: np.ndarray
    prompt: str
    truth: dict = field(default_factory=dict)

    @property
    def first_frame(self) -> np.ndarray:
        return self.video[0]
