"""Phase II memory: POSE's EMA self-discriminator against a separate trainable discriminator backbone.

    .venv/bin/python benchmarks/pose_memory.py [--teacher assets/teacher] [--steps 2]

Both variants run the same POSE phase II (semantic head, batch 8) for a few steps at the embedded
teacher's size; the trainable state (parameters, gradients, optimiser states, EMA) is counted from
the actual tensors after the steps, and peak RSS is sampled during them. Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from onestep import methods, paths, seeding
from onestep.configs.distill import DataConfig, DistillConfig, PhaseConfig, TrainConfig
from onestep.data.world import WorldData
from onestep.eval.latency import PeakRSS
from onestep.methods.pose import PoseConfig
from onestep.train.memory import trainable_state_bytes
from onestep.train.roles import build_roles
from onestep.train.trainer import Trainer, phase_at


def measure(teacher: Path, backbone: str, steps: int, out: Path) -> tuple[dict, float]:
    phase = PhaseConfig(
        "equilibrium", PoseConfig(backbone=backbone), steps=steps, betas=(0.5, 0.999), critic_betas=(0.5, 0.999)
    )
    cfg = DistillConfig(
        phases=[phase],
        data=DataConfig(batch_size=8),
        train=TrainConfig(sample_every=0, checkpoint_every=10**9, log_every=10**9),
    )
    roles = build_roles(teacher, [methods.build(phase.method)], seed=0, device=torch.device("cpu"))
    trainer = Trainer(
        cfg,
        roles,
        out,
        WorldData(seed=0, batch_size=8, tracks=cfg.data.tracks, spec=roles.student.spec, max_text=32),
        progress=False,
    )
    trainer.enter_phase(0, fresh=True)
    batches = trainer.data(0)
    with PeakRSS() as mem:
        for step in range(steps):
            batch = next(batches)
            rng = seeding.streams(0, step)
            for update in trainer.methods[0].step(batch, roles, rng, phase_at(cfg, step)[1]):
                trainer.apply([update], step)
    return trainable_state_bytes(trainer.groups, trainer.optimizers, roles.ema), mem.increase_mb


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--teacher", type=Path, default=paths.TEACHER)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--variant", default=None, help="internal: measure one variant and print JSON")
    args = p.parse_args()
    torch.set_num_threads(2)
    if args.variant:
        state, peak = measure(args.teacher, args.variant, args.steps, Path("/tmp/pose_memory") / args.variant)
        print(json.dumps({"state": state, "peak": peak}))
        return
    rows = {}
    for b in ("ema", "trainable"):  # a fresh process each, so peak RSS is comparable
        cmd = [sys.executable, __file__, "--teacher", str(args.teacher), "--steps", str(args.steps), "--variant", b]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        rows[b] = (r["state"], r["peak"])
    mb = lambda x: x / 2**20  # noqa: E731
    lines = [
        "## POSE phase II memory (`python benchmarks/pose_memory.py`)",
        "",
        "| discriminator backbone | params MB | grads MB | optimiser MB | EMA MB | trainable state MB | peak RSS "
        "increase MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (("ema", "generator EMA (POSE)"), ("trainable", "separate trainable copy")):
        s, peak = rows[name]
        lines.append(
            f"| {label} | {mb(s['params']):.1f} | {mb(s['grads']):.1f} | {mb(s['optimizer']):.1f} | "
            f"{mb(s['ema']):.1f} | {mb(s['total']):.1f} | {peak:.0f} |"
        )
    ratio = rows["ema"][0]["total"] / rows["trainable"][0]["total"]
    lines += [
        "",
        f"Trainable-state ratio, self-discriminator / separate backbone: **{ratio:.3f}** (target <= 0.65).",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
