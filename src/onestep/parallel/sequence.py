"""Sequence parallelism for the built-in DiT and Wan (DeepSpeed-Ulysses, Jacobs et al. 2023), applied
from outside: K processes of a sequence group share each sample, and inside every block each runs the
attention's projections, the cross-attention and the MLP on 1/K of the tokens. Wan's self-attention
exchange is diffusers' own (context parallelism's Ulysses attention); the built-in DiT's is below.

- Entering a block, a process keeps its contiguous 1/K of the tokens (and of the per-token
  conditioning and rotary tables); leaving it, the K parts are gathered again, so the model between
  blocks, the feature taps and the output see every token (one all-gather per block).
- Self-attention needs every token: its query, key and value heads are exchanged (all-to-all) so each
  process holds all tokens of h / K heads, attends with the full mask (block-causal included), and the
  result is exchanged back to its tokens with all heads.
Every process of the group computes the same loss on the gathered output; the all-gather's backward
sums the K processes' gradients for each part, and FSDP's average over all processes then gives the
gradient of the mean over the data-parallel batch. Needs heads and tokens divisible by K. (diffusers'
own `enable_parallelism` keeps the tokens split between blocks and its gather's backward returns only
the local part, which would leave out the cross terms when one network's output feeds another, as
the generator's feeds the discriminator, so only its attention is used.)
"""

from __future__ import annotations

import functools

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributed.nn.functional import all_gather, all_to_all_single

from onestep.errors import UserError


def groups(sp: int) -> tuple[dist.ProcessGroup, int, int]:
    """(this process's sequence group, data-parallel rank, data-parallel size) for groups of `sp` consecutive ranks."""
    world, rank = dist.get_world_size(), dist.get_rank()
    if world % sp:
        raise UserError(
            f"parallel.sp {sp} does not divide the {world} processes: use a process count that is a multiple of it"
        )
    mine = None
    for start in range(0, world, sp):
        group = dist.new_group(list(range(start, start + sp)))  # every process creates every group
        if start <= rank < start + sp:
            mine = group
    return mine, rank // sp, world // sp


def _exchange(x: Tensor, group) -> Tensor:
    """all-to-all along dim 0 (K equal parts), differentiable; both buffers contiguous (empty_like of a
    transposed view would keep its strides and scramble what the collective writes)."""
    x = x.contiguous()
    return all_to_all_single(torch.empty_like(x), x, group=group)


def ulysses(group, k: int):
    """An attention function over 1/k of the tokens: (B, h, n, d) x 3 -> (B, h, n, d)."""

    def attend(q: Tensor, k_: Tensor, v: Tensor, attn_mask=None) -> Tensor:
        B, h, n, d = q.shape

        def to_heads(t):  # (B, h, n, d) -> (B, h / k, k n, d): all tokens of this process's heads
            parts = _exchange(
                t.reshape(B, k, h // k, n, d).transpose(0, 1), group
            )  # (k, B, h/k, n, d), part j from process j
            return parts.permute(1, 2, 0, 3, 4).reshape(B, h // k, k * n, d)

        y = F.scaled_dot_product_attention(
            to_heads(q), to_heads(k_), to_heads(v), attn_mask=attn_mask
        )  # (B, h/k, N, d)
        parts = _exchange(
            y.reshape(B, h // k, k, n, d).permute(2, 0, 1, 3, 4), group
        )  # (k, B, h/k, n, d): head group j from process j
        return parts.transpose(0, 1).reshape(B, h, n, d)

    return attend


def _split(heads: int, tokens: int, k: int, index: int) -> slice:
    if heads % k or tokens % k:
        raise UserError(
            f"parallel.sp {k} must divide the model's {heads} heads and {tokens} tokens: use a divisor of both"
        )
    n = tokens // k
    return slice(index * n, (index + 1) * n)


def _gather_after(block: nn.Module, group) -> None:
    """The K token parts of the block's output joined again (the all-gather's backward sums the group's gradients)."""

    def leave(_block, _args, _kwargs, out):
        return torch.cat(all_gather(out.contiguous(), group=group), dim=1)

    block.register_forward_hook(leave, with_kwargs=True)


def apply(model: nn.Module, group, k: int, index: int) -> None:
    """Make `model` run its blocks sequence-parallel over `group` (this process: part `index`), by its
    kind's plan (models/kinds.py: `split_dit` or `split_wan` below)."""
    from onestep.models.kinds import kind_of_model

    kind = kind_of_model(model)
    if kind.sequence_parallel is None:
        raise UserError(f"a {kind.title} model does not run sequence-parallel: use parallel.sp=1")
    kind.sequence_parallel(model, group, k, index)


def split_dit(model: nn.Module, group, k: int, index: int) -> None:
    """The built-in DiT's plan: its blocks' inputs split, its self-attention's `attend` the Ulysses
    exchange above."""
    tokens = model.config.grid[0] * model.config.grid[1] * model.config.grid[2]
    part = _split(model.config.heads, tokens, k, index)

    def local(t: Tensor) -> Tensor:  # this process's tokens of a (B, N, D) tensor; (B, 1, D) is shared
        return t[:, part] if t.ndim == 3 and t.shape[1] == tokens else t

    def enter(_block, args, kwargs):  # blocks are called block(x, c=..., rope=..., ...) (VideoDiT.forward)
        kwargs = dict(kwargs, c=local(kwargs["c"]), rope=tuple(r[part] for r in kwargs["rope"]))
        return (local(args[0]), *args[1:]), kwargs

    for block in model.blocks:
        block.attn.attend = ulysses(group, k)
        block.register_forward_pre_hook(enter, with_kwargs=True)
        _gather_after(block, group)


@functools.cache
def wan_mesh(k: int, device_type: str):
    """The (data, ring, ulysses) mesh of diffusers' context parallelism: groups of k consecutive ranks."""
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh(device_type, (dist.get_world_size() // k, 1, k), mesh_dim_names=("data", "ring", "ulysses"))


def split_wan(model: nn.Module, group, k: int, index: int) -> None:
    """The same split for diffusers' Wan blocks, called block(hidden_states, text, temb, (cos, sin)):
    entering, this process's tokens of the hidden states, of per-token time embeddings (B, N, 6, D)
    and of the rotary tables (1, N, 1, d); self-attention by diffusers' own Ulysses attention
    (context parallelism's templated attention, on the native backend) over the ulysses dimension of
    the mesh every Wan network of the run shares (`wan_mesh`, made once); cross-attention on the local
    queries; leaving, the parts gathered."""
    from diffusers.models._modeling_parallel import ContextParallelConfig, ParallelConfig

    c = model.transformer.config
    tokens = model.spec.grid[0] * model.spec.grid[1] * model.spec.grid[2]
    part = _split(c.num_attention_heads, tokens, k, index)

    def enter(_block, args):
        hidden, text, temb, (cos, sin) = args
        temb = temb[:, part] if temb.ndim == 4 else temb
        return hidden[:, part], text, temb, (cos[:, part], sin[:, part])

    mesh = wan_mesh(k, next(model.parameters()).device.type)
    cp = ContextParallelConfig(ulysses_degree=k)
    device = (
        torch.device(mesh.device_type, torch.accelerator.current_device_index())
        if mesh.device_type != "cpu"
        else torch.device("cpu")
    )
    cp.setup(dist.get_rank(), dist.get_world_size(), device, mesh["ring", "ulysses"])
    config = ParallelConfig(context_parallel_config=cp)
    for block in model.blocks:
        block.attn1.processor._parallel_config = config
        block.register_forward_pre_hook(enter)
        _gather_after(block, group)
