"""The tests' presets: each a product preset's phases for two or three steps on the tests' tiny
teacher (tests/tiny.py) or a tiny random Wan (models/wan_tiny.py). Run by name like any preset
(`onestep distill pose-test`), listed by no help or error message."""

from __future__ import annotations

from onestep.configs.distill import DataConfig, DistillConfig, ModelConfig, PairsConfig, PhaseConfig, TrainConfig
from onestep.methods.asd import AsdConfig
from onestep.methods.causal_init import CausalInitConfig
from onestep.methods.ode_regression import OdeRegressionConfig
from onestep.methods.pose import PoseConfig
from onestep.methods.vsd import VSDConfig


def pose_wan_tiny() -> DistillConfig:
    """Tests: `pose-wan-i2v-14b`'s phases for two steps each on a tiny random Wan (models/wan_tiny.py)."""
    return DistillConfig(
        phases=[
            PhaseConfig("priming", VSDConfig(lora_rank=4), steps=2, lr=1e-4, critic_lr=1e-4, ema_decay=0.0),
            PhaseConfig(
                "equilibrium",
                PoseConfig(head_dim=16, queries=2),
                steps=2,
                lr=1e-4,
                critic_lr=1e-4,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_reset=True,
            ),
        ],
        data=DataConfig(batch_size=2),
        train=TrainConfig(log_every=1, checkpoint_every=2, sample_every=0, threads=1),
    )


def pose_test() -> DistillConfig:
    """Tests: three steps of each phase, four ODE pairs (regressed in every phase), a tiny discriminator head."""
    return DistillConfig(
        data=DataConfig(batch_size=2, pairs=PairsConfig(count=4, chunk_batches=1, teacher_steps=2)),
        phases=[
            PhaseConfig("ode", OdeRegressionConfig(renoise_t=(0.5,)), steps=3, ema_decay=0.0),
            PhaseConfig("priming", VSDConfig(critic_ratio=2, lora_rank=4, ode_weight=1.0), steps=3, ema_decay=0.0),
            PhaseConfig(
                "equilibrium",
                PoseConfig(head_dim=32, queries=2, ode_weight=1.0),
                steps=3,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_reset=True,
            ),
        ],
        train=TrainConfig(log_every=1, checkpoint_every=2, sample_every=0, threads=1),
    )


def causal_test() -> DistillConfig:
    """Tests: two steps each of the causal init and ASD on the tests' tiny teacher, four ODE pairs."""
    return DistillConfig(
        model=ModelConfig(student_causal_block=1),
        data=DataConfig(batch_size=2, pairs=PairsConfig(count=4, chunk_batches=1, teacher_steps=2)),
        phases=[
            PhaseConfig("causal_init", CausalInitConfig(steps=2), steps=2, ema_decay=0.0),
            PhaseConfig(
                "asd", AsdConfig(critic_ratio=1, lora_rank=4, steps=2, max_n=1, head_dim=16), steps=2, ema_reset=True
            ),
        ],
        train=TrainConfig(log_every=1, checkpoint_every=2, sample_every=0, threads=1),
    )


PRESETS = {"pose-test": pose_test, "causal-test": causal_test, "pose-wan-tiny": pose_wan_tiny}
