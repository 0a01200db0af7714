"""The one place randomness is derived: every generator of a run is a function of (run seed, step,
rank, stream), made on the device it draws on, so a resumed run draws exactly what an uninterrupted
one would without storing RNG state (STYLE.md 10).

Streams in use: 0, 1, ... the losses of one training step in the order a method draws them; PAIRS
the noise of ODE-pair chunk k (step = k). `init` seeds the global generator that module
initialisers (peft's LoRA, heads) read, from (run seed, phase); `fresh_weights` the initialisation
of a model trained from scratch. `clip` is the per-clip noise of the
evaluation suite, the same for every model (paired seeds).
"""

from __future__ import annotations

import numpy as np
import torch

PAIRS = 11  # the stream of the ODE pairs' noise


def _derive(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)


def seed(run_seed: int, step: int, rank: int = 0, stream: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of (run seed, step, rank, stream) on `device`."""
    g = torch.Generator(device=device)
    g.manual_seed(_derive(run_seed, rank, step, stream))
    return g


def streams(run_seed: int, step: int, rank: int = 0, device: torch.device | str = "cpu"):
    """A callable giving step `step`'s generators for streams 0, 1, 2, ... one per call (types.Rng)."""
    count = iter(range(1 << 30))
    return lambda: seed(run_seed, step, rank, next(count), device)


def init(run_seed: int, phase: int) -> None:
    """Seed the global generator before building a phase's new modules: they start the same in every run."""
    torch.manual_seed(run_seed * 1000 + phase)


def fresh_weights(run_seed: int) -> None:
    """Seed the global generator before initialising a model trained from scratch (the teacher)."""
    torch.manual_seed(run_seed)


def clip_seed(run_seed: int, step: int, index: int) -> int:
    """The world's seed of clip `index` in the batch of step `step` (world/stream.py renders it)."""
    return int(np.random.SeedSequence([run_seed, step, index]).generate_state(1)[0])


def clip(seed_: int, index: int, device: torch.device | str = "cpu", *extra: int) -> torch.Generator:
    """The evaluation noise of clip `index` (and of sampler draws keyed by `extra`)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(np.random.SeedSequence([seed_, index, *extra]).generate_state(1)[0]))
    return g
