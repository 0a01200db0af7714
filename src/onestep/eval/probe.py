"""The motion probe logged during teacher training: a small ground-truth panel on held-out clips."""

from __future__ import annotations

import dataclasses

from onestep import world
from onestep.eval import paraphrase
from onestep.eval.panel import mean_of, panel
from onestep.eval.sample import SamplerSpec, generate_for_clips


def motion_probe(model, encoder, *, n: int = 32, sampling=None, steps: int = 20, seed: int = 1234) -> dict[str, float]:
    """Per-track means of the panel on n held-out clips (half shapes, half photocam), I2V with CFG,
    with the training grammar's prompts (`shapes/...`) and with held-out phrasings of the same facts
    (`paraphrase/shapes/...`, eval/paraphrase.py) on the same clips and noise."""
    guidance = getattr(sampling, "guidance", 3.0)
    shift = getattr(sampling, "shift", 3.0)
    spec = SamplerSpec("euler", steps, guidance, shift)
    out = {}
    was_training = model.training
    model.eval()
    for track in ("shapes", "photocam"):
        seeds = [10_000_000 + i for i in range(n // 2)]
        clips = [world.sample(track, s, "heldout") for s in seeds]
        for prefix, prompts in (("", None), ("paraphrase/", [paraphrase.prompt(c, s) for c, s in zip(clips, seeds)])):
            shown = clips if prompts is None else [dataclasses.replace(c, prompt=p) for c, p in zip(clips, prompts)]
            videos = generate_for_clips(model, encoder, shown, spec, seed=seed)
            out.update({f"{prefix}{track}/{k}": v for k, v in mean_of(panel(videos, shown)).items()})
    model.train(was_training)
    return out
