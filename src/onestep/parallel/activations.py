"""Activation memory counted, not estimated: the bytes autograd keeps for the backward of a generator
step, read with `torch.autograd.graph.saved_tensors_hooks` while the model runs, on the meta device
for `onestep plan` (no memory allocated, any size) or on real tensors to check it.

What a POSE generator step keeps (docs/scale.md): the student's forward with its weights trained, and
the discriminator backbone's forward up to its last tap with its weights frozen (the gradient flows
through it to the generated video only, so less is kept). A saved tensor is counted once per storage;
weights and buffers are not activations and are not counted. With activation checkpointing a block
keeps only its input, and the backward recomputes one block at a time: its full set is counted once.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from onestep.models.kinds import kind_of_model
from onestep.types import Cond


def _key(t: Tensor) -> int:
    return t.untyped_storage()._cdata


class Held:
    """Bytes of distinct storages saved for the backward while active (`total`), with the bytes saved
    inside each of `blocks` (`per_block`) and each block's input (`inputs`)."""

    def __init__(self, modules: list[nn.Module], blocks: list[nn.Module] = ()):
        self.skip = {_key(t) for m in modules for t in [*m.parameters(), *m.buffers()]}
        self.seen: set[int] = set()
        self.total, self.per_block, self.inputs = 0, [], []
        self.blocks = list(blocks)

    def pack(self, t: Tensor) -> Tensor:
        k = _key(t)
        if k not in self.skip and k not in self.seen:
            self.seen.add(k)
            self.total += t.untyped_storage().nbytes()
        return t

    @contextmanager
    def active(self):
        starts: list[int] = []

        def pre(_m, args):
            starts.append(self.total)
            self.inputs.append(args[0].numel() * args[0].element_size())

        def post(_m, _args, _out):
            self.per_block.append(self.total - starts.pop())

        handles = [h for b in self.blocks for h in (b.register_forward_pre_hook(pre), b.register_forward_hook(post))]
        try:
            with torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t):
                yield self
        finally:
            for h in handles:
                h.remove()

    def checkpointed(self) -> int:
        """The same forward with every block checkpointed: its input kept, one block's set at a time."""
        inside = sum(self.per_block)
        return self.total - inside + sum(self.inputs) + max(self.per_block, default=0)


@contextmanager
def fused_attention(*models: nn.Module):
    """On the meta device `scaled_dot_product_attention` takes its math path, which keeps the (L, S)
    attention probabilities; a GPU's fused kernels (flash, memory-efficient) and the CPU's keep only
    q, k, v, the output and a log-sum-exp per query. This runs the CPU's fused op, whose meta kernel
    and backward keep exactly that set, for torch's function and for the modules of `models` holding
    it as their `attend` (the built-in DiT's self-attention)."""
    plain = F.scaled_dot_product_attention

    def fused(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if query.device.type != "meta":
            return plain(
                query,
                key,
                value,
                attn_mask=attn_mask,
                dropout_p=dropout_p,
                is_causal=is_causal,
                scale=scale,
                enable_gqa=enable_gqa,
            )
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale
        )[0]

    holders = [m for model in models for m in model.modules() if getattr(m, "attend", None) is plain]
    F.scaled_dot_product_attention = fused
    for m in holders:
        m.attend = fused
    try:
        yield
    finally:
        F.scaled_dot_product_attention = plain
        for m in holders:
            m.attend = plain


@dataclass
class StepActivations:
    without: int  # bytes kept for the backward without activation checkpointing
    with_checkpointing: int


def example_inputs(
    model: nn.Module, batch: int, device, dtype: torch.dtype, text_tokens: int = 32
) -> tuple[Tensor, Tensor, Cond]:
    """(x_t, t, cond) of the shapes `model` takes, on `device`: text states, and the zero image-to-video
    inputs its kind names (models/kinds.py `example_cond`: the built-in DiT's first frame; Wan I2V's
    condition latent and CLIP tokens)."""
    spec = model.spec
    x = torch.zeros(batch, *spec.video_shape, device=device, dtype=dtype)
    t = torch.full((batch,), 0.5, device=device, dtype=dtype)
    text = torch.zeros(batch, text_tokens, spec.text_dim, device=device, dtype=dtype)
    cond = Cond(text, torch.ones(batch, text_tokens, dtype=torch.bool, device=device))
    cond = kind_of_model(model).example_cond(model, cond)
    return x, t, cond


def generator_step(
    student: nn.Module, backbone: nn.Module, taps: tuple[int, ...] | None, inputs: tuple[Tensor, Tensor, Cond]
) -> StepActivations:
    """What a generator step keeps: the student's forward (weights trained) and, with `taps`, the
    backbone's up to its last tap (weights frozen, the gradient flowing to the input only)."""
    x, t, cond = inputs
    params = [*student.parameters(), *backbone.parameters()]
    trained = [p.requires_grad for p in params]
    try:
        for p in student.parameters():
            p.requires_grad_(True)
        with fused_attention(student), Held([student], list(student.blocks)).active() as own:
            x0 = student(x, t, cond)
        if not taps:
            return StepActivations(own.total, own.checkpointed())
        for p in backbone.parameters():
            p.requires_grad_(False)
        with fused_attention(backbone), Held([backbone], list(backbone.blocks)[: max(taps) + 1]).active() as disc:
            backbone.features(x0, t, cond, taps)
    finally:
        for p, flag in zip(params, trained):
            p.requires_grad_(flag)
    return StepActivations(own.total + disc.total, own.checkpointed() + disc.checkpointed())
