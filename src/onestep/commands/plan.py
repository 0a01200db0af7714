"""`onestep plan PRESET --gpus N [--gpu-mem GB]`: the memory of each role per GPU, before renting them.

The run's roles are built on the meta device (no weights read or allocated) by the teacher's kind
(models/kinds.py `meta`) from its folder's config, or for the Wan presets without one from Wan2.1's
published configs, and each is counted as onestep holds it (docs/scale.md):

    frozen (teacher; a LoRA student's base):   dtype bytes / parameter   (model.dtype)
    trained (student, LoRA adapters, heads):   4 + 4 + 8 = 16 bytes      (fp32 weights, gradients, Adam's moments)
    EMA of a full student:                     4 bytes;  of a LoRA student: its base (dtype) + 4 per adapter parameter

Every role is sharded evenly over the N GPUs (FSDP2); a GPU gathers one unit (a block, or a model's
root) at a time while it runs, which is not counted. Activations are counted, not estimated: the
bytes autograd keeps for the backward of the per-GPU micro-batch's generator step, read while the
network runs on the meta device at the planned size (parallel/activations.py; fused attention, so no
attention probabilities), with and without activation checkpointing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from onestep import methods, paths
from onestep.configs import presets
from onestep.configs.distill import DistillConfig
from onestep.errors import UserError
from onestep.media import parse_size
from onestep.models import kinds
from onestep.models.lora import LoraScore
from onestep.types import Roles

GB = 1e9
# the published teacher a preset was written for (models/kinds.py `published`), planned without its folder
PUBLISHED = {"pose-wan-i2v-14b": "Wan2.1-I2V-14B", "pose-wan-t2v-1.3b": "Wan2.1-T2V-1.3B"}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2}


def meta_model(preset: str, teacher: Path | None, frames: int, size: str) -> nn.Module:
    """The teacher's network on the meta device, from its folder's config (or the published config of
    the preset's teacher); a kind with a codec builds it for the latent video of `frames` x `size`."""

    def latent(kind):
        return kind.codec.latent_size(frames, *parse_size(size)) if kind.codec is not None else None

    if teacher is None and preset in PUBLISHED:
        kind = kinds.published(PUBLISHED[preset])
        return kind.meta(kind.published[PUBLISHED[preset]], latent(kind))
    teacher = Path(teacher or paths.TEACHER)
    kind = kinds.kind_of(teacher)
    return kind.meta(teacher, latent(kind))


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def role_bytes(cfg: DistillConfig, make) -> dict[str, int]:
    """Bytes of each role as onestep holds them; make() -> a fresh meta copy of the teacher's network."""
    frozen = DTYPE_BYTES[cfg.model.dtype]
    teacher = make()
    n = count(teacher)
    out = {"teacher": frozen * n}
    rank = cfg.model.student_lora_rank
    if rank:
        with torch.device("meta"):
            student = LoraScore(make(), rank, name="student")
        out["student"], out["ema"] = frozen * n + 16 * count(student), frozen * n + 4 * count(student)
    else:
        student = make()
        out["student"], out["ema"] = 16 * n, 4 * n
    roles = Roles(teacher=teacher, student=student, ema=student)
    for method in [methods.build(p.method) for p in cfg.phases if p.steps > 0]:
        for name, how in method.roles.items():
            if name not in out:
                with torch.device("meta"):
                    module = make() if how == "copy" else method.new_role(name, roles)
                out[name] = 16 * count(module)
                setattr(roles, name, module)
    return out


def activations(cfg: DistillConfig, model: nn.Module, gpus: int) -> dict[bool, int]:
    """{checkpointing: bytes} a GPU keeps for the backward of its micro-batch's generator step,
    counted on the meta device (parallel/activations.py): the student's forward, and the frozen
    discriminator backbone's up to its last tap in a phase that has one (the largest phase counts)."""
    from onestep.parallel.activations import example_inputs, generator_step

    micro = cfg.data.batch_size // (gpus * cfg.train.accum)
    dtype = torch.bfloat16 if "bfloat16" in (cfg.train.precision, cfg.model.dtype) else torch.float32
    model = model.to(dtype)
    inputs = example_inputs(model, micro, "meta", dtype)
    out = {False: 0, True: 0}
    for method in [methods.build(p.method) for p in cfg.phases if p.steps > 0]:
        taps = method.taps(model.spec) if "disc_head" in method.roles else None
        step = generator_step(model, model, taps, inputs)
        out = {False: max(out[False], step.without), True: max(out[True], step.with_checkpointing)}
    return out


def plan(
    preset: str,
    gpus: int,
    gpu_mem: float | None = None,
    teacher: Path | None = None,
    overrides: list[str] = (),
    frames: int = 81,
    size: str = "480x832",
    checkpointing: bool | None = None,
) -> tuple[list[str], dict]:
    """(Markdown lines, figures in bytes) of `preset` (with `--set` overrides) on `gpus` GPUs."""
    from onestep.configs.base import override, parse_overrides

    if gpus < 1:
        raise UserError(f"--gpus {gpus}: pass 1 or more")
    cfg = override(presets.preset(preset), parse_overrides(list(overrides)))
    if cfg.data.batch_size % (gpus * cfg.train.accum):
        raise UserError(
            f"data.batch_size {cfg.data.batch_size} does not split over {gpus} GPUs x {cfg.train.accum} "
            "micro-batches: use a GPU count that divides it"
        )
    make = lambda: meta_model(preset, teacher, frames, size)  # noqa: E731
    model = make()
    roles = role_bytes(cfg, make)
    ac = cfg.parallel.activation_checkpointing if checkpointing is None else checkpointing
    sharded = sum(roles.values()) / gpus
    acts = activations(cfg, model, gpus)
    peak = sharded + acts[ac]
    f, h, w = model.spec.video_shape[1:]
    lines = [
        f"{preset} on {gpus} GPU(s): {count(model) / 1e9:.3g}B parameters per network, batch {cfg.data.batch_size} "
        f"({cfg.data.batch_size // gpus} per GPU), video {f}x{h}x{w} (latent)",
        "",
    ]
    lines += ["| role | total GB | per GPU (sharded) GB |", "|---|---|---|"]
    lines += [f"| {name} | {b / GB:.2f} | {b / gpus / GB:.2f} |" for name, b in roles.items()]
    lines += [f"| activations, without / with checkpointing | | {acts[False] / GB:.2f} / {acts[True] / GB:.2f} |"]
    verdict = f" on {gpu_mem:g} GB GPUs: {'fits' if peak <= gpu_mem * GB else 'does not fit'}" if gpu_mem else ""
    lines += [
        "",
        f"Peak per GPU ({'with' if ac else 'without'} activation checkpointing): **{peak / GB:.1f} GB**{verdict}.",
    ]
    return lines, {"roles": roles, "sharded": sharded, "activations": acts, "peak": peak}


def run(
    *, preset: str, gpus: int, gpu_mem: float | None, teacher: Path | None, overrides: list[str] = (), say=print
) -> dict:
    lines, figures = plan(preset, gpus, gpu_mem, teacher, overrides)
    say("\n".join(lines))
    return figures
