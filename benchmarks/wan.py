"""onestep's 50-step CFG sampling of a Wan model against diffusers' own Wan pipelines, in one run.

    .venv/bin/python benchmarks/wan.py [--steps 50] [--frames 17] [--size 64] [--layers 2] [--rounds 5]

Builds tiny random Wan2.1 folders (models/wan_tiny.py: T2V and I2V) and samples the same prompt, noise
and (for I2V) first frame both ways, to latents (no VAE decode on either side):
- diffusers: `WanPipeline` / `WanImageToVideoPipeline` with its FlowMatchEulerDiscreteScheduler,
  `guidance_scale` 5, `num_inference_steps` 50: prompt encoding, image encoding and the condition
  latent inside the pipeline, two transformer forwards per step;
- onestep: the same pipeline's `encode_prompt` / `encode_image` / `prepare_latents` for the condition,
  then `samplers.euler` through the `wan` adapter on the scheduler's own sigmas (`times=`), the CFG
  pair as one forward of batch 2.
Timed runs alternate (one diffusers run, one onestep run, `--rounds` times; medians), so the
machine's drift falls on both sides. Prints a Markdown section: time ratio onestep / diffusers and the
largest difference between the two latent videos.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from onestep import samplers
from onestep.models import wan_tiny
from onestep.models.wan import load_wan
from onestep.types import Cond

PROMPT = "a red ball rolls slowly to the left"
GUIDANCE = 5.0


def sides(folder: Path, i2v: bool, args):
    """(diffusers run, onestep run): each noise -> latents (1, 16, F, H, W)."""
    from diffusers import WanImageToVideoPipeline, WanPipeline

    pipe = (WanImageToVideoPipeline if i2v else WanPipeline).from_pretrained(folder).to("cpu")
    pipe.set_progress_bar_config(disable=True)
    latent = ((args.frames - 1) // 4 + 1, args.size // 8, args.size // 8)
    model = load_wan(folder, latent)
    image = (
        Image.fromarray((np.random.default_rng(0).random((args.size, args.size, 3)) * 255).astype(np.uint8))
        if i2v
        else None
    )
    common = dict(
        height=args.size,
        width=args.size,
        num_frames=args.frames,
        guidance_scale=GUIDANCE,
        num_inference_steps=args.steps,
        output_type="latent",
    )

    def theirs(noise):
        return pipe(prompt=PROMPT, latents=noise.clone(), **common, **({"image": image} if i2v else {})).frames

    @torch.no_grad()
    def ours(noise):
        cpu = torch.device("cpu")
        text, neg = pipe.encode_prompt(PROMPT, "", do_classifier_free_guidance=True, device=cpu)
        mask = torch.ones(text.shape[:2], dtype=torch.bool)  # the pipeline's states, padding already zero
        cond = Cond(text, mask)
        if i2v:
            pixels = pipe.video_processor.preprocess(image, height=args.size, width=args.size)
            _, condition = pipe.prepare_latents(
                pixels, 1, 16, args.size, args.size, args.frames, torch.float32, cpu, None, noise.clone()
            )
            cond = Cond(text, mask, condition[:, 4:], image_tokens=pipe.encode_image(image, cpu))
        cond = cond.with_negative(neg, torch.ones(neg.shape[:2], dtype=torch.bool))
        pipe.scheduler.set_timesteps(args.steps)
        return samplers.euler(model, noise, cond, steps=args.steps, guidance=GUIDANCE, times=pipe.scheduler.sigmas)

    return theirs, ours, latent


def compare(i2v: bool, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = wan_tiny.build(Path(tmp) / "wan", i2v=i2v, layers=args.layers)
        theirs, ours, latent = sides(folder, i2v, args)
        noise = torch.randn(1, 16, *latent, generator=torch.Generator().manual_seed(0))
        a, b = theirs(noise), ours(noise)  # warm-up, and the two videos
        times = {"diffusers": [], "onestep": []}
        for _ in range(args.rounds):
            for name, fn in (("diffusers", theirs), ("onestep", ours)):
                start = time.perf_counter()
                fn(noise)
                times[name].append(time.perf_counter() - start)
    t_d, t_o = statistics.median(times["diffusers"]), statistics.median(times["onestep"])
    return {
        "task": "I2V" if i2v else "T2V",
        "diffusers_s": t_d,
        "onestep_s": t_o,
        "ratio": t_o / t_d,
        "max_abs": (a - b).abs().max().item(),
        "scale": a.abs().max().item(),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = [compare(i2v, args) for i2v in (False, True)]
    latent = ((args.frames - 1) // 4 + 1, args.size // 8, args.size // 8)
    print("## Wan sampling: onestep against diffusers' pipelines (`python benchmarks/wan.py`)\n")
    print(
        f"Tiny random Wan2.1 ({args.layers} blocks), {args.frames} frames of {args.size}x{args.size} (latent "
        f"{latent[0]}x{latent[1]}x{latent[2]}), {args.steps} Euler steps, CFG {GUIDANCE}, medians of {args.rounds} "
        "interleaved runs.\n"
    )
    print(
        "| task | diffusers (s) | onestep (s) | time ratio onestep / diffusers | max abs difference of the latents "
        "(their max abs) |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['task']} | {r['diffusers_s']:.3f} | {r['onestep_s']:.3f} | **{r['ratio']:.2f}** | "
            f"{r['max_abs']:.1e} ({r['scale']:.2f}) |"
        )


if __name__ == "__main__":
    main()
