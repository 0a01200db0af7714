"""The KV cache of block-causal generation (CausVid, Self-Forcing): the self-attention keys and values
of the frames generated so far, one `LayerCache` per transformer block.

A segment (one or more causal blocks) at frame offset o attends to the cached tokens of frames < o
and to itself; that is the full sequence under the block-causal mask, computed once per block. Only
a pass with `writing` on adds the segment's keys and values: the causal sampler denoises a block
with the cache read-only, then runs the clean block once at t = 0 with writing on (METHODS.md section 6).

`window` (latent frames) bounds the cache for videos longer than the model was trained on: past it
the oldest frames are dropped, except the first `sink` frames, which stay as attention sinks
(StreamingLLM; Self-Forcing's rolling KV cache). Keys keep the rotary positions they were written
with.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor


class LayerCache:
    def __init__(self, owner: KVCache):
        self.owner = owner
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """(cached + new keys, cached + new values) along the tokens, (B, h, N, d); stored when writing."""
        if self.k is not None:
            k, v = torch.cat([self.k, k], 2), torch.cat([self.v, v], 2)
        if self.owner.writing:
            self.k, self.v = k.detach() if self.owner.detach else k, v.detach() if self.owner.detach else v
        return k, v

    def keep(self, tokens: Tensor) -> None:
        if self.k is not None:
            self.k, self.v = self.k[:, :, tokens], self.v[:, :, tokens]


class KVCache:
    """Keys and values of the frames before the next segment: `frames` latent frames, `tokens` tokens.
    `detach`: cached tensors carry no gradient (inference, and Self-Forcing's context)."""

    def __init__(
        self, depth: int, tokens_per_frame: int, window: int | None = None, sink: int = 0, detach: bool = True
    ):
        if window is not None and window <= sink:
            raise ValueError(f"a KV window of {window} frames must exceed its {sink} sink frames")
        self.layers = [LayerCache(self) for _ in range(depth)]
        self.tokens_per_frame, self.window, self.sink, self.detach = tokens_per_frame, window, sink, detach
        self.frames = 0
        self.writing = False

    @property
    def tokens(self) -> int:
        return self.frames * self.tokens_per_frame

    @contextmanager
    def write(self):
        """Within it, a forward adds its segment's keys and values (the clean pass at t = 0)."""
        self.writing = True
        try:
            yield self
        finally:
            self.writing = False

    def advance(self, tokens: int, frames: int) -> None:
        """After a forward: count a written segment, then drop frames past the window (sinks kept)."""
        if not self.writing:
            return
        self.frames += frames
        if self.window is not None and self.frames > self.window:
            n = self.tokens_per_frame
            drop = self.frames - self.window
            device = self.layers[0].k.device
            kept = torch.cat(
                [
                    torch.arange(self.sink * n, device=device),
                    torch.arange((self.sink + drop) * n, self.frames * n, device=device),
                ]
            )
            for layer in self.layers:
                layer.keep(kept)
            self.frames = self.window
