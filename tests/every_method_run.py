"""Run every registered method's phase for two steps on the tests' tiny teacher, one run folder each:
`python tests/every_method_run.py TEACHER OUT [--batch B --accum A]`, in one process or under
`torchrun --nproc-per-node 2` (tests/test_parallel_methods.py compares the two)."""

import argparse
import dataclasses
from pathlib import Path

from onestep import methods
from onestep.commands import distill
from onestep.configs.distill import DataConfig, DistillConfig, ModelConfig, PairsConfig, PhaseConfig, TrainConfig
from onestep.configs.presets import PRESETS
from tests.test_methods import VARIANTS


def contracts() -> dict[str, object]:
    """One variant of every registered method (the first of its contract variants)."""
    return {
        next(iter(VARIANTS[config_type])): next(iter(VARIANTS[config_type].values())) for config_type in methods.METHODS
    }


def preset(method_config, batch: int) -> DistillConfig:
    causal = methods.build(method_config).causal_student
    return DistillConfig(
        model=ModelConfig(student_causal_block=1 if causal else 0),
        data=DataConfig(batch_size=batch, pairs=PairsConfig(count=4, chunk_batches=1, teacher_steps=2)),
        phases=[
            PhaseConfig("only", dataclasses.replace(method_config), steps=2, lr=1e-3, critic_lr=1e-3, ema_decay=0.0)
        ],
        train=TrainConfig(log_every=1, checkpoint_every=100, sample_every=0, threads=1),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("teacher", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    for name, config in contracts().items():
        if args.only is not None and name not in args.only:
            continue
        PRESETS[f"contract-{name}"] = lambda config=config: preset(config, args.batch)
        distill.run(
            preset=f"contract-{name}",
            teacher=args.teacher,
            out=args.out / name,
            overrides=[f"train.accum={args.accum}"],
            progress=False,
        )


if __name__ == "__main__":
    main()
