"""`onestep teacher`: train (or resume) the embedded teacher."""

from __future__ import annotations

from pathlib import Path

from onestep.configs.base import override, parse_overrides
from onestep.configs.teacher import PRESETS
from onestep.errors import UserError


def run(*, out: Path, preset: str, overrides: list[str], max_steps: int | None, probe: bool) -> Path:
    from onestep.train.teacher import train

    if preset not in PRESETS:
        raise UserError(f"unknown teacher preset {preset!r}: choose one of {', '.join(PRESETS)}")
    cfg = override(PRESETS[preset](), parse_overrides(overrides))
    probe_fn = None
    if probe and cfg.probe_every:
        from onestep.eval.probe import motion_probe

        probe_fn = lambda model, encoder: motion_probe(model, encoder, n=cfg.probe_clips, sampling=cfg.sampling)  # noqa: E731
    return train(cfg, out, max_steps=max_steps, probe=probe_fn)
