"""Which noise levels of the frame-consistency target carry the camera move? (docs/pose.md)

    .venv/bin/python experiments/consistency_targets.py --videos runs/eval/pose5-nfe1 [--teacher assets/teacher] [--n
    48]

POSE's Eq. 5 pulls the student's x0_g towards the frozen teacher's x0 prediction at x_t = noise(sg(x0_g), t)
and leaves t open. This script takes a student's held-out photocam videos (the `videos-photocam.npz` that
`onestep eval` wrote), re-noises them to several t, and reads the camera move back (the world's
instrument) from the teacher's x0 prediction there, unguided and with CFG, and from the teacher's own
multi-step sampler started at t (SDEdit). Printed per t: camera-move accuracy and the MSE from the student's
video (how far the target sits from where the student already is). A target whose accuracy is no better than
the student's own cannot teach the move.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from onestep import flow, samplers
from onestep.eval.suite import heldout_clips
from onestep.media import tensor_to_frames
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.types import Cond
from onestep.world import instruments
from onestep.world.clip import WorldConfig


def camera_accuracy(x0: torch.Tensor, clips) -> float:
    videos = [tensor_to_frames(v) for v in x0.clamp(-1, 1)]
    return float(np.mean([instruments.estimate_camera(v)["move"] == c.truth["move"] for v, c in zip(videos, clips)]))


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--videos", type=Path, required=True, help="an `onestep eval --out` directory")
    p.add_argument("--teacher", type=Path, default=Path("assets/teacher"))
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--levels", type=float, nargs="+", default=[0.15, 0.3, 0.45, 0.6, 0.75, 0.9])
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0, 5.0])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    teacher, tconfig = load_model(args.teacher)
    teacher.eval()
    encoder = TextEncoder.of(tconfig)
    clips = heldout_clips("photocam", args.n, WorldConfig())
    frames = np.load(args.videos / "videos-photocam.npz")["videos"][: args.n].astype(np.float32) / 255.0
    student = torch.from_numpy(frames).permute(0, 4, 1, 2, 3) * 2 - 1  # (N, 3, F, H, W) in [-1, 1]
    image = torch.stack([torch.from_numpy(c.first_frame).permute(2, 0, 1) * 2 - 1 for c in clips])
    cond = Cond(*encoder([c.prompt for c in clips]), image).with_negative(*encoder.null(1))
    print(f"student's own videos: camera {camera_accuracy(student, clips):.2f} (n = {args.n})")
    print("t     " + "  ".join(f"x0 g={g:<4g} (mse)   " for g in args.guidance) + "SDEdit g=3")
    for level in args.levels:
        t = torch.full((args.n,), level)
        x_t = flow.interpolate(student, torch.randn_like(student), t)
        row = []
        for g in args.guidance:
            x0 = flow.x0_from_v(x_t, samplers.guided_velocity(teacher, x_t, t, cond, g), t)
            row.append(f"{camera_accuracy(x0, clips):.2f} ({((x0 - student) ** 2).mean():.4f})")
        sdedit = samplers.euler(
            teacher, x_t, cond, steps=max(2, round(25 * level)), shift=3.0, guidance=3.0, t_max=level
        )
        print(f"{level:<5g} " + "  ".join(f"{r:<20}" for r in row) + f"{camera_accuracy(sdedit, clips):.2f}")


if __name__ == "__main__":
    main()
