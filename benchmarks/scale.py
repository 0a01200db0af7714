"""One process against two (torchrun, FSDP2 per role), and activation checkpointing, in one run.

    .venv/bin/python benchmarks/scale.py [--teacher assets/teacher] [--steps 6] [--batch 8]

POSE phase II (semantic head, batch 8) on the bundled teacher's size, a fresh process per variant:
- 1 process (2 threads) and 2 processes (torchrun, gloo, 1 thread each): each process's trainable
  state after the steps, counted from the tensors it holds (parameters, gradients, optimiser moments,
  EMA: its shards under FSDP), and the median time of a training step after one warm-up step;
- 1 process with and without `parallel.activation_checkpointing`: the peak RSS increase over the
  steps (sampled every 2 ms) and the step time.
Prints a Markdown section with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from onestep import methods, paths
from onestep.configs.distill import DataConfig, DistillConfig, ParallelConfig, PhaseConfig, TrainConfig
from onestep.data.world import WorldData
from onestep.eval.latency import PeakRSS
from onestep.methods.pose import PoseConfig
from onestep.parallel import launch
from onestep.parallel.checkpointing import checkpoint_roles
from onestep.parallel.fsdp import shard_roles
from onestep.train.memory import trainable_state_bytes
from onestep.train.roles import build_roles
from onestep.train.trainer import Trainer, phase_at


def measure(teacher: Path, steps: int, batch: int, checkpointing: bool) -> dict:
    """Run `steps` training steps in this process (or this torchrun process); return its figures."""
    launch.init(torch.device("cpu"))
    phase = PhaseConfig("equilibrium", PoseConfig(), steps=steps, betas=(0.5, 0.999), critic_betas=(0.5, 0.999))
    cfg = DistillConfig(
        phases=[phase],
        data=DataConfig(batch_size=batch),
        train=TrainConfig(sample_every=0, checkpoint_every=10**9, log_every=10**9),
        parallel=ParallelConfig(activation_checkpointing=checkpointing),
    )
    roles = build_roles(teacher, [methods.build(phase.method)], seed=0, device=torch.device("cpu"))
    if checkpointing:
        checkpoint_roles(roles)
    if launch.launched():
        shard_roles(roles)
    trainer = Trainer(
        cfg,
        roles,
        Path(tempfile.mkdtemp()),
        WorldData(seed=0, batch_size=batch, tracks=cfg.data.tracks, spec=roles.student.spec, max_text=32),
        progress=False,
    )
    trainer.enter_phase(0, fresh=True)
    batches, times = trainer.data(0), []
    with PeakRSS() as mem:
        for step in range(steps):
            launch.barrier()
            start = time.perf_counter()
            parts = trainer.micro_batches(next(batches), local=False)
            plans = [
                trainer.methods[0].step(p, roles, trainer.streams(step, c), phase_at(cfg, step)[1])
                for p, c in zip(parts, trainer.chunks)
            ]
            for updates in zip(*plans):
                trainer.apply(list(updates), step)
            launch.barrier()
            times.append(time.perf_counter() - start)
    state = trainable_state_bytes(trainer.groups, trainer.optimizers, roles.ema)
    return {"state": state, "step_s": statistics.median(times[1:]), "peak_mb": mem.increase_mb, "rank": launch.rank()}


def run(args, processes: int, checkpointing: bool) -> dict:
    results = Path(tempfile.mkdtemp())  # each process writes its own file: their stdout interleaves
    worker = [
        __file__,
        "--teacher",
        str(args.teacher),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--worker",
        str(results),
    ] + (["--checkpointing"] if checkpointing else [])
    if processes == 1:
        cmd, env = [sys.executable, *worker], {**os.environ, "OMP_NUM_THREADS": "2"}
    else:
        cmd, env = (
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc-per-node",
                str(processes),
                *worker,
            ],
            {**os.environ, "OMP_NUM_THREADS": "1"},
        )
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    rows = [json.loads(f.read_text()) for f in results.glob("rank*.json")]
    return max(rows, key=lambda r: r["state"]["total"])  # the process holding the most


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--teacher", type=Path, default=paths.TEACHER)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument(
        "--worker", type=Path, default=None, help="internal: measure in this process, write JSON into this folder"
    )
    p.add_argument("--checkpointing", action="store_true")
    args = p.parse_args()
    if args.worker:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        result = measure(args.teacher, args.steps, args.batch, args.checkpointing)
        (args.worker / f"rank{result['rank']}.json").write_text(json.dumps(result))
        return
    one, two, ac = run(args, 1, False), run(args, 2, False), run(args, 1, True)
    mb = lambda b: b / 2**20  # noqa: E731
    parts = ("params", "grads", "optimizer", "ema")
    print("## Scale-out: one process against two, and activation checkpointing (`python benchmarks/scale.py`)\n")
    print(
        f"POSE phase II on the bundled teacher's size, batch {args.batch}, {args.steps} steps, a fresh process per "
        "row; the state of the process holding the most.\n"
    )
    print("| run | params MB | grads MB | optimiser MB | EMA MB | trainable state MB | step s | peak RSS increase MB |")
    print("|---|---|---|---|---|---|---|---|")
    for label, r in (
        ("1 process, 2 threads", one),
        ("2 processes (FSDP2), 1 thread each", two),
        ("1 process, activation checkpointing", ac),
    ):
        cells = " | ".join(f"{mb(r['state'][k]):.2f}" for k in parts)
        print(f"| {label} | {cells} | {mb(r['state']['total']):.2f} | {r['step_s']:.2f} | {r['peak_mb']:.0f} |")
    print()
    print(
        f"- Per-process trainable state, 2 processes / 1: **{two['state']['total'] / one['state']['total']:.3f}** "
        "(target <= 0.55)."
    )
    print(f"- Step time, 2 processes / 1: **{two['step_s'] / one['step_s']:.2f}**.")
    print(
        "- Peak RSS increase with activation checkpointing / without: "
        f"**{ac['peak_mb'] / max(one['peak_mb'], 1e-9):.2f}**; step time **{ac['step_s'] / one['step_s']:.2f}**x."
    )


if __name__ == "__main__":
    main()
