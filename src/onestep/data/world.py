"""The procedural world as a run's training data: `types.Batch`es for steps start, start + 1, ...

The batch of step s depends only on (seed, s) (world/stream.py), so a resumed run reads exactly the
batches an uninterrupted one would. Clips are rendered and their prompts encoded (MiniLM) in one
worker process; the batch is moved to the run's device in the main process.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from onestep.types import Batch, Cond, ModelSpec, Pairs
from onestep.world.clip import WorldConfig
from onestep.world.stream import WorldStream


def as_batch(b, device="cpu", pairs: Pairs | None = None) -> Batch:
    """A world batch (pixels, encoded prompts) as what a method reads; the first frame is the condition
    of the rows whose image_mask is 1 (text-to-video rows have it masked, as CFG dropout masks it)."""
    cond = Cond(b.text, b.text_mask, b.image, b.image_mask)
    if b.neg_text is not None:
        cond = cond.with_negative(b.neg_text, b.neg_text_mask)
    return Batch(b.video.to(device), cond.to(device), pairs)


class WorldData:
    """batches(start) -> iterator of Batch, with the run's ODE pairs attached when it has them."""

    def __init__(
        self,
        *,
        seed: int,
        batch_size: int,
        tracks: dict,
        spec: ModelSpec,
        max_text: int,
        text_encoder: str = "minilm",
        device="cpu",
        pairs: Pairs | None = None,
        p_t2v: float = 0.0,
    ):
        if spec.channels != 3 or spec.height != spec.width:
            raise ValueError(
                f"the world renders square RGB clips; this model takes {spec.video_shape}: train it on a latent cache "
                "instead"
            )
        self.seed, self.batch_size, self.tracks, self.max_text, self.text_encoder = (
            seed,
            batch_size,
            tracks,
            max_text,
            text_encoder,
        )
        self.world = WorldConfig(spec.frames, spec.height)
        self.device, self.pairs, self.p_t2v = torch.device(device), pairs, p_t2v
        self.rows: list[int] | None = None

    def shard(self, chunks: list[int], n_chunks: int) -> bool:
        """Render only these chunks of each global batch (this process's share), in this order."""
        b = self.batch_size // n_chunks
        self.rows = [i for c in chunks for i in range(c * b, (c + 1) * b)]
        return True

    def __call__(self, start: int) -> Iterator[Batch]:
        stream = WorldStream(
            start=start,
            seed=self.seed,
            batch_size=self.batch_size,
            tracks=self.tracks,
            config=self.world,
            max_text=self.max_text,
            text_encoder=self.text_encoder,
            rows=self.rows,
            p_t2v=self.p_t2v,
        )
        for b in torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=2):
            yield as_batch(b, self.device, self.pairs)
