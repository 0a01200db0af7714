"""The shared vocabulary: the Denoiser every model is adapted to, and the condition it takes.

Shapes: videos are (B, C, F, H, W); times are (B,) or (B, F) for per-frame (causal) times.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@dataclass
class Cond:
    """What a denoiser is conditioned on.

    text:       (B, L, D) token states of the prompt.
    text_mask:  (B, L) bool, True where a token is real.
    image:      (B, C, H, W) first-frame condition for image-to-video, or None (text-to-video).
    image_mask: (B,) float, 1 where the sample has an image condition, 0 where it is dropped.
    """

    text: Tensor
    text_mask: Tensor
    image: Tensor | None = None
    image_mask: Tensor | None = None

    def __post_init__(self):
        if self.image is not None and self.image_mask is None:
            self.image_mask = torch.ones(self.image.shape[0], device=self.image.device)

    @property
    def batch_size(self) -> int:
        return self.text.shape[0]

    def map(self, fn) -> "Cond":
        """Apply fn to every tensor field (None stays None)."""
        return Cond(**{f.name: None if (v := getattr(self, f.name)) is None else fn(v) for f in dataclasses.fields(self)})

    def index(self, idx) -> "Cond":
        return self.map(lambda v: v[idx])

    def repeat(self, n: int) -> "Cond":
        """Each sample repeated n times in a row: (B, ...) -> (B * n, ...)."""
        return self.map(lambda v: v.repeat_interleave(n, dim=0))

    def with_text(self, text: Tensor, text_mask: Tensor) -> "Cond":
        """The same condition with other text (for CFG the unconditional branch keeps the image)."""
        return dataclasses.replace(self, text=text, text_mask=text_mask)

    @staticmethod
    def cat(conds: list["Cond"]) -> "Cond":
        """Concatenate along the batch; text is right-padded to the longest L."""
        length = max(c.text.shape[1] for c in conds)

        def pad(x: Tensor, value) -> Tensor:
            extra = length - x.shape[1]
            if extra == 0:
                return x
            shape = (x.shape[0], extra, *x.shape[2:])
            return torch.cat([x, x.new_full(shape, value)], dim=1)

        text = torch.cat([pad(c.text, 0.0) for c in conds])
        mask = torch.cat([pad(c.text_mask, False) for c in conds])
        images = [c.image for c in conds]
        if all(i is None for i in images):
            return Cond(text, mask)
        ref = next(i for i in images if i is not None)
        image = torch.cat([torch.zeros((c.batch_size, *ref.shape[1:]), dtype=ref.dtype, device=ref.device) if c.image is None else c.image for c in conds])
        image_mask = torch.cat([torch.zeros(c.batch_size, device=ref.device) if c.image is None else c.image_mask for c in conds])
        return Cond(text, mask, image, image_mask)


@runtime_checkable
class Denoiser(Protocol):
    """A network that predicts velocity v = noise - x0 (see flow.py).

    forward(x_t (B, C, F, H, W), t (B,) or (B, F) in [0, 1], cond) -> v (B, C, F, H, W).
    `blocks` is the ModuleList that FSDP shards and feature taps hook.
    """

    blocks: nn.ModuleList

    def __call__(self, x_t: Tensor, t: Tensor, cond: Cond) -> Tensor: ...


@dataclass
class Nets:
    """The roles of a distillation run. The trainer never names a recipe; methods see these.

    generator:     the student (trained).
    teacher:       frozen; the "real score". May carry a method's LoRA adapter (the fake score of
                   VSD), switched off with `models.lora.adapters_disabled` to get the teacher back.
    generator_ema: the EMA of the generator; read-only (never receives gradients).
    critic:        what a method trains besides the generator (discriminator heads), by name.
    null_text:     (1, L, D) and mask (1, L): the empty prompt, for classifier-free guidance.
    """

    generator: nn.Module
    teacher: nn.Module
    generator_ema: nn.Module
    critic: nn.ModuleDict
    null_text: Tensor
    null_mask: Tensor

    def uncond(self, cond: Cond) -> Cond:
        """The unconditional branch of CFG: the empty prompt, the image condition kept (I2V)."""
        B = cond.batch_size
        return cond.with_text(self.null_text.expand(B, -1, -1), self.null_mask.expand(B, -1))


@dataclass
class LossOutput:
    """A scalar loss to backpropagate into one role, and named floats to log (`method/metric`)."""

    loss: Tensor
    logs: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclass
class Update:
    """One optimiser step of `role` on `loss(nets, batch, generator) -> LossOutput`."""

    role: str
    loss: object  # Callable[[Nets, Batch, torch.Generator], LossOutput]
