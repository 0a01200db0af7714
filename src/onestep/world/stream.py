"""Deterministic batches of world clips: the batch at step s depends only on (seed, s), so a resumed
run sees exactly the batches an uninterrupted run would, whichever process renders them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from onestep import seeding, world
from onestep.media import frames_to_tensor
from onestep.world.clip import Clip, WorldConfig


@dataclass
class Batch:
    """video (B, 3, F, H, W) and image (B, 3, H, W) in [-1, 1]; text (B, L, D) + mask once encoded."""

    video: Tensor
    image: Tensor
    prompts: list[str]
    tracks: list[str]
    clips: list[Clip] = field(default_factory=list)
    text: Tensor | None = None
    text_mask: Tensor | None = None
    neg_text: Tensor | None = None  # (1, L, D): the empty prompt, the negative of CFG
    neg_text_mask: Tensor | None = None
    image_mask: Tensor | None = None  # (B,) 1 where the first frame is the condition, 0 for a text-to-video row


T2V_STREAM = 23  # the draw that makes a row text-to-video (batch_at's p_t2v)


def clip_seed(seed: int, step: int, index: int) -> int:
    return seeding.clip_seed(seed, step, index)


def collate(clips: list[Clip], keep_clips: bool = False) -> Batch:
    video = torch.stack([frames_to_tensor(c.video) for c in clips])
    return Batch(
        video, video[:, :, 0].clone(), [c.prompt for c in clips], [c.track for c in clips], clips if keep_clips else []
    )


def batch_at(
    step: int,
    *,
    seed: int,
    batch_size: int,
    tracks: dict[str, float],
    split: str = "train",
    config: WorldConfig | None = None,
    keep_clips: bool = False,
    rows: list[int] | None = None,
    p_t2v: float = 0.0,
) -> Batch:
    """The batch of step `step`, or only its rows `rows` (a process's share: the others are not rendered);
    each row is a text-to-video row (no first frame) with probability p_t2v, drawn from its clip's seed."""
    names, weights = list(tracks), np.array(list(tracks.values()), dtype=np.float64)
    clips, given = [], []
    for i in range(batch_size) if rows is None else rows:
        s = clip_seed(seed, step, i)
        track = names[int(np.random.default_rng(s).choice(len(names), p=weights / weights.sum()))]
        clips.append(world.sample(track, s, split, config))
        given.append(float(np.random.default_rng([s, T2V_STREAM]).random() >= p_t2v))
    b = collate(clips, keep_clips)
    b.image_mask = torch.tensor(given)
    return b


class WorldStream(torch.utils.data.IterableDataset):
    """Batches for steps start, start + 1, ...; text encoded in the worker (the named encoder, cached)."""

    def __init__(
        self,
        *,
        start: int,
        seed: int,
        batch_size: int,
        tracks: dict[str, float],
        config: WorldConfig,
        max_text: int,
        text_encoder: str = "minilm",
        rows: list[int] | None = None,
        p_t2v: float = 0.0,
    ):
        self.start, self.seed, self.batch_size, self.tracks, self.config, self.max_text, self.p_t2v = (
            start,
            seed,
            batch_size,
            tracks,
            config,
            max_text,
            p_t2v,
        )
        self.text_encoder = text_encoder
        self.rows = rows

    def __iter__(self):
        from onestep.models.text import TextEncoder

        if torch.utils.data.get_worker_info() is not None:
            torch.set_num_threads(1)
        encoder = TextEncoder(self.max_text, name=self.text_encoder)
        step = self.start
        while True:
            b = batch_at(
                step,
                seed=self.seed,
                batch_size=self.batch_size,
                tracks=self.tracks,
                config=self.config,
                rows=self.rows,
                p_t2v=self.p_t2v,
            )
            b.text, b.text_mask = encoder(b.prompts)
            b.neg_text, b.neg_text_mask = encoder.null(1)
            yield b
            step += 1
