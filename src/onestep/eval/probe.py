"""The motion probe logged during teacher training: a small ground-truth panel on held-out clips."""

from __future__ import annotations

from onestep import world
from onestep.eval.panel import mean_of, panel
from onestep.eval.sample import SamplerSpec, generate_for_clips


def motion_probe(model, encoder, *, n: int = 32, sampling=None, steps: int = 20, seed: int = 1234) -> dict[str, float]:
    """Per-track means of the panel on n held-out clips (half shapes, half photocam), I2V with CFG."""
    guidance = getattr(sampling, "guidance", 3.0)
    shift = getattr(sampling, "shift", 3.0)
    spec = SamplerSpec("euler", steps, guidance, shift)
    out = {}
    was_training = model.training
    model.eval()
    for track in ("shapes", "photocam"):
        clips = [world.sample(track, 10_000_000 + i, "heldout") for i in range(n // 2)]
        videos = generate_for_clips(model, encoder, clips, spec, seed=seed)
        out.update({f"{track}/{k}": v for k, v in mean_of(panel(videos, clips)).items()})
    model.train(was_training)
    return out
