"""The one place randomness is derived: every generator of a run is a function of (run seed, step,
row, stream), made on the device it draws on, so a resumed run draws exactly what an uninterrupted
one would without storing RNG state (STYLE.md 10). A training loss draws through `Draws`: row i of
the global batch always reads its own generator, so N processes x A micro-batches draw the same
numbers as one process with the whole batch.

Streams in use: 0, 1, ... the losses of one training step in the order a method draws them; PAIRS
the noise of ODE-pair chunk k (step = k). `init` seeds the global generator that module
initialisers (peft's LoRA, heads) read, from (run seed, phase); `fresh_weights` the initialisation
of a model trained from scratch. `clip` is the per-clip noise of the
evaluation suite, the same for every model (paired seeds).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

PAIRS = 11  # the stream of the ODE pairs' noise
SHARED_ROW = 1 << 31  # the row key of Draws.shared: no batch row has it


def _derive(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)


def seed(
    run_seed: int, step: int, row: int = 0, stream: int = 0, device: torch.device | str = "cpu"
) -> torch.Generator:
    """The generator of (run seed, step, row, stream) on `device`."""
    g = torch.Generator(device=device)
    g.manual_seed(_derive(run_seed, row, step, stream))
    return g


class Draws:
    """One loss's random numbers, drawn row by row: a draw of shape (n, ...) takes its row k from the
    generator of global batch row `first_row + k` (made on first use, then advancing), so a
    micro-batch of rows [a, b) draws exactly rows [a, b) of what the whole batch would draw."""

    def __init__(self, run_seed: int, step: int, stream: int, first_row: int = 0, device: torch.device | str = "cpu"):
        self.key, self.first_row, self.device = (run_seed, step, stream), first_row, torch.device(device)
        self.rows: list[torch.Generator] = []
        self.batch: torch.Generator | None = None

    def shared(self) -> torch.Generator:
        """The generator of the whole batch for this loss, the same in every micro-batch and process:
        for a choice made once per step (Self-Forcing's exit steps, ASD's step count n)."""
        if self.batch is None:
            run_seed, step, stream = self.key
            self.batch = seed(run_seed, step, SHARED_ROW, stream, self.device)
        return self.batch

    def _gens(self, n: int) -> list[torch.Generator]:
        run_seed, step, stream = self.key
        while len(self.rows) < n:
            self.rows.append(seed(run_seed, step, self.first_row + len(self.rows), stream, self.device))
        return self.rows[:n]

    def _rows(self, fn, shape: tuple[int, ...], **kw) -> Tensor:
        return torch.stack([fn(shape[1:], generator=g, device=self.device, **kw) for g in self._gens(shape[0])])

    def randn(self, *shape: int, dtype: torch.dtype | None = None) -> Tensor:
        """Standard normal, shape (n, ...), row k from row k's generator."""
        return self._rows(torch.randn, shape, dtype=dtype)

    def randn_like(self, x: Tensor) -> Tensor:
        return self.randn(*x.shape, dtype=x.dtype)

    def rand(self, *shape: int) -> Tensor:
        """Uniform on [0, 1), shape (n, ...)."""
        return self._rows(torch.rand, shape)

    def randint(self, high: int, *shape: int) -> Tensor:
        """Integers in [0, high), shape (n, ...)."""
        return self._rows(lambda s, **kw: torch.randint(high, s, **kw), shape)


def streams(run_seed: int, step: int, first_row: int = 0, device: torch.device | str = "cpu"):
    """A callable giving step `step`'s Draws for streams 0, 1, 2, ... one per call (types.Rng), for a
    micro-batch whose first row is row `first_row` of the global batch."""
    count = iter(range(1 << 30))
    return lambda: Draws(run_seed, step, next(count), first_row, device)


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
