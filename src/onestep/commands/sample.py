"""`onestep sample`: one video from a prompt (and an optional first frame) with any model directory."""

from __future__ import annotations

from pathlib import Path

import torch

from onestep.errors import UserError
from onestep.eval.sample import SamplerSpec, generate
from onestep.media import read_image, write_video
from onestep.models.io import load_model
from onestep.models.text import TextEncoder


def sampler_for(config: dict, nfe: int | None, steps: int | None, cfg: float | None) -> SamplerSpec:
    """The model's own sampling defaults, overridden by --nfe, or by --steps and --cfg."""
    s = config.get("sampling", {})
    student = s.get("kind", "euler") == "renoise"
    guidance = 1.0 if student else (cfg if cfg is not None else s.get("guidance", 1.0))
    shift = s.get("shift", 1.0)
    if nfe is not None and steps is not None:
        raise UserError("--nfe and --steps both set the number of steps: pass one of them")
    if nfe is not None:
        if nfe < 1:
            raise UserError(f"--nfe {nfe} is not a number of network evaluations: pass 1 or more")
        if not student and guidance != 1.0 and nfe > 1 and nfe % 2:
            raise UserError(f"--nfe {nfe} is odd but this teacher spends 2 evaluations per step with CFG: pass an even --nfe, or --cfg 1")
        return SamplerSpec.from_nfe(nfe, student=student, guidance=guidance, shift=shift)
    n = steps if steps is not None else s.get("steps", 1)
    if n < 1:
        raise UserError(f"--steps {n} must be 1 or more")
    return SamplerSpec("renoise" if student else "euler", n, guidance, shift)


def run(*, model_dir: Path, prompt: str, image: Path | None, nfe: int | None, steps: int | None, cfg: float | None, seed: int, out: Path, say=print) -> Path:
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"cannot write {out.name}: --out must end in .mp4 or .gif")
    model, config = load_model(model_dir)
    mc = model.config
    first = None
    if image is not None:
        frame, note = read_image(image, (mc.height, mc.width))
        if note:
            say(note)
        first = torch.from_numpy(frame).permute(2, 0, 1)[None] * 2 - 1
    spec = sampler_for(config, nfe, steps, cfg)
    encoder = TextEncoder(config.get("max_text", 32))
    video = generate(model, encoder, [prompt], first, spec, seed=seed, shape=(mc.channels, mc.frames, mc.height, mc.width))[0]
    write_video(out, video)
    say(f"wrote {out} ({spec.nfe} NFE: {spec.steps} {spec.kind} step(s), guidance {spec.guidance})")
    return out
