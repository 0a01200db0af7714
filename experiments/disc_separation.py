"""Can a fresh discriminator head tell real videos from a student's? (the probe behind docs/pose.md)

    .venv/bin/python experiments/disc_separation.py runs/pose5/student --t 0.3 0.9 --lr 2e-4 [--steps 150] [--r1
    split|joint --r1-weight 0.01]

POSE's phase II reads the generator's (EMA) weights on re-noised videos and trains only the head. This
probe freezes a student, takes its one-step videos and real training videos for the same conditions, and
trains a fresh `SemanticHead` with the hinge loss on backbone features at t ~ U[lo, hi] (Adam (0.5, 0.999),
batch 8, both tracks). Printed every 50 steps: the mean hinge loss (2 = no separation) and the gap
D(real) - D(fake). It isolates the head's learning problem from the generator's moves in a real run.
`--r1 split` adds phase II's ST-R1 (methods/pose.py: a spatial and a temporal term, each normalised by
its own energy); `--r1 joint` the form used before session 12, one difference along e_s + e_t times
d / ||e_s + e_t||^2 (its temporal part about H * W times the R1 of its subspace, its spatial part a
hundredth of R1), to measure what that penalty did to the head.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from onestep import flow
from onestep.methods.critic import default_taps, hinge_d
from onestep.methods.heads import SemanticHead
from onestep.methods.pose import PoseConfig, PoseEquilibrium, st_r1
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
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--r1", choices=("none", "split", "joint"), default="none")
    p.add_argument("--r1-weight", type=float, default=0.01)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    student, _config = load_model(args.student)
    student.eval().requires_grad_(False)
    spec, (lo, hi) = student.spec, args.t
    taps = default_taps(spec.depth)
    head = SemanticHead(spec, len(taps))
    opt = torch.optim.Adam(head.parameters(), lr=args.lr, betas=(0.5, 0.999))
    encoder = TextEncoder.of(_config)
    pose, gen = PoseEquilibrium(PoseConfig()), torch.Generator().manual_seed(1)
    read = lambda x, t, cond: student.features(x, t, cond, taps)  # noqa: E731
    history, start = [], time.time()
    for step in range(args.steps):
        batch = batch_at(10_000 + step, seed=1, batch_size=8, tracks={"shapes": 0.5, "photocam": 0.5})
        cond = Cond(*encoder(batch.prompts), batch.image)
        with torch.no_grad():
            noise, one = torch.randn_like(batch.video), torch.ones(8)
            fake = flow.x0_from_v(noise, student(noise, one, cond), one)
            t_r, t_f, eps_r = lo + (hi - lo) * torch.rand(8), lo + (hi - lo) * torch.rand(8), torch.randn_like(noise)
            real_feats = read(flow.interpolate(batch.video, eps_r, t_r), t_r, cond)
            fake_feats = read(flow.interpolate(fake, torch.randn_like(noise), t_f), t_f, cond)
        d_real, d_fake = head(real_feats, cond, t_r, cond.latent), head(fake_feats, cond, t_f, cond.latent)
        loss = hinge_d(d_real, d_fake)
        if args.r1 != "none":
            e_s, e_t = pose.perturbation(batch.video, cond, gen)
            D = lambda x: head(read(flow.interpolate(x, eps_r, t_r), t_r, cond), cond, t_r, cond.latent)  # noqa: E731
            if args.r1 == "split":
                r1 = sum(st_r1(D, batch.video, d_real, e_s, e_t)).mean()
            else:
                e = e_s + e_t
                r1 = ((D(batch.video + e) - d_real) ** 2).sum(-1) * e[0].numel() / e.flatten(1).pow(2).sum(-1)
                r1 = r1.mean()
            loss = loss + args.r1_weight * r1
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((hinge_d(d_real, d_fake).item(), (d_real.mean() - d_fake.mean()).item()))
        if (step + 1) % args.every == 0:
            h = np.array(history[-args.every :])
            print(
                f"step {step + 1}: hinge {h[:, 0].mean():.3f}, D(real) - D(fake) {h[:, 1].mean():.3f} "
                f"({time.time() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
