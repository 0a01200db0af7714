"""The evaluation version moves with the numbers (eval/shipped.py): the suite's output on fixed inputs
(two held-out clips per track, their truth and a blur of it, and a tiny DiT sampled by each sampler:
guided Euler, the re-noising student sampler, the block-causal one) is recorded in
tests/data/eval_fingerprint.json with the EVAL_VERSION it was made at. A change that moves any of it
fails here until EVAL_VERSION is bumped and the fingerprint re-recorded:

    .venv/bin/python -m tests.test_eval_version --record
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from onestep import paths
from onestep.commands.featnet import load as load_featnet
from onestep.eval import aggregate, features, shipped
from onestep.eval.sample import SamplerSpec, generate_for_clips
from onestep.eval.suite import TRACKS, heldout_clips, i2v
from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.world.clip import WorldConfig
from tests.tiny import tiny_teacher

FINGERPRINT = Path(__file__).parent / "data" / "eval_fingerprint.json"
SAMPLERS = {
    "euler": SamplerSpec("euler", 2, 3.0, 3.0),
    "renoise": SamplerSpec("renoise", 1, 1.0, 3.0),
    "causal": SamplerSpec("causal", 1, 1.0, 3.0, first_block_steps=2),
}


def tiny(causal: bool) -> VideoDiT:
    """The tests' tiny DiT, bidirectional or block-causal (one latent frame per block) with the same weights."""
    model = tiny_teacher()
    if not causal:
        return model
    blocked = VideoDiT(dataclasses.replace(model.config, causal_block=1))
    blocked.load_state_dict(model.state_dict())
    return blocked.eval()


def fingerprint() -> dict[str, float]:
    """Every number the suite computes on the fixed inputs, by name."""
    torch.manual_seed(0)
    encoder = TextEncoder(32)
    net = load_featnet(paths.FEATNET)
    out: dict[str, float] = {}
    for track in TRACKS:
        clips = heldout_clips(track, 2, WorldConfig())
        bounds = aggregate.anchors(clips, track=track)
        videos = {
            "truth": [c.video for c in clips],
            "blur": [np.stack([ndimage.gaussian_filter(f, (1.0, 1.0, 0)) for f in c.video]) for c in clips],
        }
        for name, spec in SAMPLERS.items():
            videos[name] = list(generate_for_clips(tiny(causal=name == "causal"), encoder, clips, spec, i2v=i2v(track)))
        for name, vids in videos.items():
            rows = aggregate.rows(vids, clips, track)
            means = {
                k: aggregate.finite_mean([r[k] for r in rows if k in r]) for k in sorted({k for r in rows for k in r})
            }
            out |= {f"{track}/{name}/{k}": v for k, v in means.items()}
            out |= {
                f"{track}/{name}/score/{k}": v for k, v in aggregate.scores(aggregate.normalise(means, bounds)).items()
            }
            feats = features.extract(net, np.stack(vids))
            out |= {f"{track}/{name}/featnet/{i}": v for i, v in enumerate(feats.mean(0)[:8])}
        out |= {f"{track}/anchor/{k}/{i}": float(v) for k, pair in bounds.items() for i, v in enumerate(pair)}
    return {k: float(v) for k, v in out.items()}


def test_the_suites_numbers_on_fixed_inputs_are_those_recorded_at_this_eval_version():
    recorded = json.loads(FINGERPRINT.read_text())
    now = fingerprint()
    assert recorded["version"] == shipped.EVAL_VERSION, (
        f"EVAL_VERSION is {shipped.EVAL_VERSION} and the fingerprint was recorded at {recorded['version']}: re-record "
        "it (module docstring)"
    )
    moved = [
        k
        for k in recorded["values"].keys() | now.keys()
        if not np.isclose(recorded["values"].get(k, np.nan), now.get(k, np.inf), rtol=1e-3, atol=1e-6, equal_nan=True)
    ]
    assert not moved, (
        f"the suite's numbers moved at EVAL_VERSION {shipped.EVAL_VERSION} ({', '.join(sorted(moved)[:6])}): bump "
        "EVAL_VERSION and re-record (module docstring)"
    )


if __name__ == "__main__" and "--record" in sys.argv:
    FINGERPRINT.write_text(
        json.dumps({"version": shipped.EVAL_VERSION, "values": fingerprint()}, indent=1, sort_keys=True) + "\n"
    )
    print(f"recorded {FINGERPRINT} at EVAL_VERSION {shipped.EVAL_VERSION}")
