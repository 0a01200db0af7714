"""`onestep distill PRESET --teacher DIR --out RUN`: build the roles from a teacher and run the phases."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from onestep import paths
from onestep.configs.base import override, parse_overrides
from onestep.configs.distill import PRESETS, DistillConfig
from onestep.errors import UserError
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.train.ema import make_ema
from onestep.types import Nets
from onestep.world.clip import WorldConfig
from onestep.world.stream import WorldStream


def build_nets(teacher_dir: Path, max_text: int) -> Nets:
    teacher, _ = load_model(teacher_dir)
    generator = copy.deepcopy(teacher).requires_grad_(True).train()  # the student starts as the teacher
    null_text, null_mask = TextEncoder(max_text).null(1)
    return Nets(generator, teacher, make_ema(generator), torch.nn.ModuleDict(), null_text, null_mask)


def world_batches(cfg: DistillConfig, model_config, max_text: int):
    def batches(start: int):
        stream = WorldStream(start=start, seed=cfg.seed, batch_size=cfg.batch_size, tracks=cfg.tracks, config=WorldConfig(model_config.frames, model_config.height), max_text=max_text)
        return iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=2))

    return batches


def sample_grid(max_text: int, shift: float, n: int = 4):
    """A function (model, path) writing one-step samples of n fixed held-out clips, beside the truth."""
    from onestep import world
    from onestep.eval.sample import SamplerSpec, generate_for_clips
    from onestep.media import write_video

    clips = [world.sample(track, 1_000_000_000 + i, "heldout") for i in range(n // 2) for track in ("shapes", "photocam")]
    encoder = TextEncoder(max_text)

    def write(model, path: Path):
        was = model.training
        videos = generate_for_clips(model.eval(), encoder, clips, SamplerSpec("renoise", 1, 1.0, shift))
        model.train(was)
        top = np.concatenate(list(videos), axis=2)  # clips side by side: (F, H, n W, 3)
        truth = np.concatenate([c.video for c in clips], axis=2)
        write_video(path, np.concatenate([top, truth], axis=1))

    return write


def run(*, preset: str, teacher: Path | None, out: Path, overrides: list[str], max_steps: int | None = None, progress: bool = True) -> Path:
    from onestep.train.trainer import Trainer

    if preset not in PRESETS:
        raise UserError(f"unknown distillation preset {preset!r}: choose one of {', '.join(PRESETS)}")
    cfg = override(PRESETS[preset](), parse_overrides(overrides))
    teacher = teacher or paths.TEACHER
    nets = build_nets(teacher, 32)
    mc = nets.generator.config
    sample_fn = sample_grid(32, cfg.student_shift) if cfg.sample_every else None
    trainer = Trainer(cfg, nets, out, world_batches(cfg, mc, 32), teacher_dir=str(teacher), progress=progress, sample_fn=sample_fn)
    return trainer.run(max_steps)
