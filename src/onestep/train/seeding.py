"""Per-step randomness from (seed, rank, step): resume is exact without storing RNG state."""

from __future__ import annotations

import numpy as np
import torch


def step_generator(seed: int, step: int, rank: int = 0, stream: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, rank, step, stream]).generate_state(1, dtype=np.uint64)[0] >> 1))
    return g
