"""The motion probe logged during teacher training: a small ground-truth panel on held-out clips."""

from __future__ import annotations

from onestep.eval import suite
from onestep.eval.panel import mean_of, panel
from onestep.eval.sample import SamplerSpec, generate_for_clips
from onestep.world.clip import WorldConfig

PROBE_SEED = 10_000_000  # probe clip i: held-out world seed PROBE_SEED + i (not the suite's clips)


def motion_probe(model, encoder, *, n: int = 32, sampling=None, steps: int = 20, seed: int = 1234) -> dict[str, float]:
    """Per-track means of the panel on n held-out clips (half shapes, half photocam), I2V with CFG,
    with the training grammar's prompts (`shapes/...`) and with held-out phrasings of the same facts
    (`paraphrase/shapes/...`, suite.heldout_clips) on the same clips and noise."""
    guidance = getattr(sampling, "guidance", 3.0)
    shift = getattr(sampling, "shift", 3.0)
    spec = SamplerSpec("euler", steps, guidance, shift)
    out = {}
    was_training = model.training
    model.eval()
    for track in ("shapes", "photocam"):
        for prefix, prompts in (("", "template"), ("paraphrase/", "paraphrase")):
            clips = suite.heldout_clips(track, n // 2, WorldConfig(), seed=PROBE_SEED, prompts=prompts)
            videos = generate_for_clips(model, encoder, clips, spec, seed=seed)
            out.update({f"{prefix}{track}/{k}": v for k, v in mean_of(panel(videos, clips)).items()})
    model.train(was_training)
    return out
