"""Can a fresh discriminator head tell real videos from a student's? (the probe behind docs/pose.md)

    .venv/bin/python scripts/disc_separation.py runs/pose5/student --t 0.3 0.9 --lr 2e-4 [--steps 150]

POSE's phase II reads the generator's (EMA) weights on re-noised videos and trains only the head. This
probe freezes a student, takes its one-step videos and real training videos for the same conditions, and
trains a fresh `SemanticHead` with the hinge loss on backbone features at t ~ U[lo, hi] (Adam (0.5, 0.999),
batch 8, both tracks). Printed every 50 steps: the mean hinge loss (2 = no separation) and the gap
D(real) - D(fake). It isolates the head's learning problem from the generator's moves in a real run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from onestep import flow
from onestep.methods.heads import SemanticHead, default_taps, hinge_d
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.types import Cond
from onestep.world.stream import batch_at


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("student")
    p.add_argument("--t", type=float, nargs=2, default=[0.3, 0.9], metavar=("LO", "HI"))
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    student, _ = load_model(args.student)
    student.eval().requires_grad_(False)
    spec, (lo, hi) = student.spec, args.t
    taps = default_taps(spec.depth)
    head = SemanticHead(spec, len(taps))
    opt = torch.optim.Adam(head.parameters(), lr=args.lr, betas=(0.5, 0.999))
    encoder = TextEncoder()
    read = lambda x, t, cond: student.features(x, t, cond, taps)  # noqa: E731
    history, start = [], time.time()
    for step in range(args.steps):
        batch = batch_at(10_000 + step, seed=1, batch_size=8, tracks={"shapes": 0.5, "photocam": 0.5})
        cond = Cond(*encoder(batch.prompts), batch.image)
        with torch.no_grad():
            noise, one = torch.randn_like(batch.video), torch.ones(8)
            fake = flow.x0_from_v(noise, student(noise, one, cond), one)
            t_r, t_f = lo + (hi - lo) * torch.rand(8), lo + (hi - lo) * torch.rand(8)
            real_feats = read(flow.interpolate(batch.video, torch.randn_like(noise), t_r), t_r, cond)
            fake_feats = read(flow.interpolate(fake, torch.randn_like(noise), t_f), t_f, cond)
        d_real, d_fake = head(real_feats, cond, t_r, cond.latent), head(fake_feats, cond, t_f, cond.latent)
        loss = hinge_d(d_real, d_fake)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.item(), (d_real.mean() - d_fake.mean()).item()))
        if (step + 1) % 50 == 0:
            h = np.array(history[-50:])
            print(f"step {step + 1}: hinge {h[:, 0].mean():.3f}, D(real) - D(fake) {h[:, 1].mean():.3f} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
