"""`onestep bench`: latency of a model against the teacher at 100, 4 and 1 NFE, in one run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from onestep import paths
from onestep.commands.sample import sampler_for
from onestep.eval.latency import measure
from onestep.models.io import load_model
from onestep.models.text import TextEncoder


def run(*, model_dir: Path, teacher_dir: Path | None, batches: tuple[int, ...] = (1, 8), repeats: int = 3, teacher_nfes: tuple[int, ...] = (100, 4, 1), say=print) -> dict:
    model, config = load_model(model_dir)
    teacher, tconfig = load_model(teacher_dir or paths.TEACHER)
    mc = model.config
    shape = (mc.channels, mc.frames, mc.height, mc.width)
    encoder = TextEncoder(config.get("max_text", 32))
    torch.manual_seed(0)
    rows = []
    for batch in batches:
        spec = sampler_for(config, None, None, None)
        rows.append({"model": str(model_dir), "role": config.get("role", "model"), **asdict(measure(model, encoder, spec, batch=batch, shape=shape, repeats=repeats))})
        say(f"model  NFE {spec.nfe:>3} batch {batch}: {rows[-1]['denoise_s'] * 1e3:.1f} ms/video")
        for nfe in teacher_nfes:
            tspec = sampler_for(tconfig, nfe, None, None)
            rows.append({"model": str(teacher_dir or paths.TEACHER), "role": "teacher", **asdict(measure(teacher, encoder, tspec, batch=batch, shape=shape, repeats=repeats))})
            say(f"teacher NFE {tspec.nfe:>3} batch {batch}: {rows[-1]['denoise_s'] * 1e3:.1f} ms/video")
    # the speedup of the model over the teacher's 100-NFE row, batch 1, same run
    ref = next(r for r in rows if r["role"] == "teacher" and r["nfe"] == max(teacher_nfes) and r["batch"] == batches[0])
    own = next(r for r in rows if r["role"] != "teacher" and r["batch"] == batches[0])
    return {
        "rows": rows,
        "speedup": ref["denoise_s"] / own["denoise_s"],
        "speedup_end_to_end": ref["end_to_end_s"] / own["end_to_end_s"],
        "reference": {"teacher_nfe": ref["nfe"], "model_nfe": own["nfe"], "batch": batches[0]},
    }
