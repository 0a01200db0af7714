"""Teacher training steps/s and sampling clips/s on this machine.

    .venv/bin/python benchmarks/teacher.py [--model assets/teacher] [--out teacher-bench.md]

Training: the teacher-small config, batch 16, the real data path (world rendering and MiniLM in
the loader process); sampling: 50 Euler steps with CFG (100 NFE), batch 8. Medians over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from onestep import paths
from onestep.configs.teacher import teacher_small
from onestep.eval.latency import measure
from onestep.eval.sample import SamplerSpec
from onestep.methods.flow_matching import flow_matching_loss
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.types import Cond
from onestep.world.stream import batch_at


def train_steps_per_s(steps: int = 8) -> float:
    cfg = teacher_small()
    torch.manual_seed(0)
    model = VideoDiT(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    encoder = TextEncoder(cfg.max_text, name=cfg.model.text_encoder)
    times = []
    for step in range(steps + 2):
        t0 = time.perf_counter()
        b = batch_at(step, seed=0, batch_size=cfg.batch_size, tracks=cfg.tracks)
        text, mask = encoder(b.prompts)
        loss = flow_matching_loss(
            model, b.video, Cond(text, mask, b.image), torch.rand(cfg.batch_size), torch.randn_like(b.video)
        ).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", type=Path, default=paths.TEACHER)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(2)
    sps = train_steps_per_s()
    model, config = load_model(args.model)
    s = config["sampling"]
    spec = SamplerSpec("euler", s["steps"], s["guidance"], s["shift"])
    mc = model.config
    timing = measure(
        model, TextEncoder.of(config), spec, batch=8, shape=(mc.channels, mc.frames, mc.height, mc.width), repeats=2
    )
    lines = [
        "## Teacher (`python benchmarks/teacher.py`)",
        "",
        "| what | value |",
        "|---|---|",
        f"| training steps/s (batch 16, data rendered inline) | {sps:.3f} |",
        f"| training clips/s | {sps * 16:.1f} |",
        f"| sampling clips/s (100 NFE: 50 Euler steps x CFG, batch 8) | {timing.videos_per_s:.3f} |",
        f"| sampling s/clip | {timing.denoise_s:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
