"""The presets of POSE and ASD (and of the causal init and Self-Forcing that ASD starts from), each a
function returning a fresh DistillConfig (configs/distill.py).

`pose-paper` is POSE as the paper wrote it on the embedded teacher (the bundled student); `pose-tiny`
adds three things the paper does not have (its docstring); `pose-wan-i2v-14b` carries the paper's
settings (batch 32, 500 + 1000 steps, lr 1e-6 / 2e-6, Adam betas (0.9, 0.999) / (0.5, 0.999), EMA
0.995, shift 5); `pose-wan-t2v-1.3b` the same schedule for Wan2.1-T2V-1.3B; both train on a latent
cache (`--data CACHE`).
"""

from __future__ import annotations

from onestep.configs.distill import (
    DataConfig,
    DistillConfig,
    ModelConfig,
    PairsConfig,
    PhaseConfig,
    TrainConfig,
)
from onestep.methods.asd import AsdConfig
from onestep.methods.causal_init import CausalInitConfig
from onestep.methods.ode_regression import OdeRegressionConfig
from onestep.methods.pose import PoseConfig
from onestep.methods.self_forcing import SelfForcingConfig
from onestep.methods.vsd import VSDConfig

KEPT_LEVELS = {
    "disc_t_lo": 0.3,
    "disc_t_hi": 0.9,
    "disc_t_reference": False,
}  # the built-in presets' D levels, on the model's clips (docs/pose.md)


def pose_tiny() -> DistillConfig:
    """POSE's two phases on the embedded teacher with three additions the paper does not have: an
    ODE-regression init, the pairs kept as a regression anchor, and a 4-step consistency target.

    The generator first regresses 1,024 of the guided teacher's ODE solutions (CausVid's initialisation,
    not in the POSE paper), from pure noise and from the targets re-noised to the 4-step sampler's later
    levels: without it no POSE phase taught the one-step student the prompt's camera move, and the
    re-noised term keeps the zero-shot few-step sampler above the teacher (docs/pose.md).

    Learning rates are higher than the paper's (1e-6 / 2e-6 for 14B parameters): the student has 2.5M
    and a budget of a few hundred steps on 2 CPU cores. Phase I steps the critic twice per generator
    step and draws its distribution-matching times unshifted. The discriminator reads t ~ U[0.3, 0.9]
    on the model's clips (KEPT_LEVELS, as `pose-paper`), and the consistency target is taken at t ~
    U[0.2, 0.6], where the guided teacher's x0 carries the prompt's motion (docs/pose.md). Both phases keep
    regressing the ODE pairs (`ode_weight`, DMD's regression loss: 1 in phase I, 20 in phase II), and
    phase II takes its consistency target from 4 guided teacher steps rather than one x0 prediction:
    together they hold the camera moves the init taught while the phases sharpen the video. Phase I
    runs 400 steps: the anchored distribution matching is what makes the moves readable (docs/pose.md).
    """
    equilibrium = PoseConfig(
        **KEPT_LEVELS,
        consistency_t_lo=0.2,
        consistency_t_hi=0.6,
        consistency_t_shift=1.0,
        consistency_steps=4,
        ode_weight=20.0,
    )
    return DistillConfig(
        data=DataConfig(pairs=PairsConfig(count=1024, teacher_steps=25)),
        phases=[
            PhaseConfig("ode", OdeRegressionConfig(renoise_t=(0.9, 0.75, 0.5)), steps=600, lr=1e-4, ema_decay=0.0),
            PhaseConfig(
                "priming",
                VSDConfig(critic_ratio=2, t_shift=1.0, ode_weight=1.0),
                steps=400,
                lr=5e-5,
                critic_lr=2e-4,
                betas=(0.9, 0.999),
                ema_decay=0.0,
            ),
            PhaseConfig(
                "equilibrium",
                equilibrium,
                steps=400,
                lr=5e-5,
                critic_lr=2e-4,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_decay=0.995,
                ema_reset=True,
            ),
        ],
    )


def pose_paper() -> DistillConfig:
    """POSE as the paper wrote it (Sec. 3 and 4.1, appendix B), on the embedded teacher at `pose-tiny`'s
    budget (1,400 steps) and batch (8). No ODE pairs, no regression anchor, no multi-step target.

    Phase I, stability priming (Eq. 1-2): VSD on real videos noised to s ~ U[0.9, 1] (the low-SNR
    generator input), the teacher's weights plus a zero-initialised LoRA (rank 16) as the fake score,
    CFG on the real score only, Adam (0.9, 0.999), 500 steps (the paper's). Phase II, unified adversarial
    equilibrium (Eq. 3-5): one step from pure noise; the generator's EMA (decay 0.995, reset to the
    primed generator) read at three blocks by the semantic head; hinge loss; ST-R1; frame consistency
    on the teacher's one x0 prediction with lambda = 10; Adam (0.5, 0.999); the other 900 steps.

    What the paper leaves open takes `pose-tiny`'s value, so the two differ only by the additions:
    learning rates 5e-5 (generator) and 2e-4 (fake score, head), for 2.5M parameters and a few hundred
    steps rather than the paper's 1e-6 / 2e-6 for 14B; critic:generator 2:1 in phase I; distribution-
    matching times unshifted; the discriminator's inputs at t ~ U[0.3, 0.9] on the model's clips
    (KEPT_LEVELS); the consistency target's t ~ U[0.2, 0.6], where the guided teacher's x0 still carries
    the camera move; ST-R1's weight eta = 0.01; the trainer's gradient clip at 1. The level rule's
    levels with no clip on phase II's student (PoseConfig's defaults) separate real from generated
    videos but make a worse student; docs/pose.md has both measurements.
    """
    equilibrium = PoseConfig(**KEPT_LEVELS, consistency_t_lo=0.2, consistency_t_hi=0.6, consistency_t_shift=1.0)
    return DistillConfig(
        phases=[
            PhaseConfig(
                "priming",
                VSDConfig(critic_ratio=2, t_shift=1.0),
                steps=500,
                lr=5e-5,
                critic_lr=2e-4,
                betas=(0.9, 0.999),
                ema_decay=0.0,
            ),
            PhaseConfig(
                "equilibrium",
                equilibrium,
                steps=900,
                lr=5e-5,
                critic_lr=2e-4,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_decay=0.995,
                ema_reset=True,
            ),
        ],
    )


def pose_demo() -> DistillConfig:
    """`make demo`: `pose-tiny` shortened to about 6 minutes of distillation on 2 CPU cores.

    The same phases and losses as `pose-tiny` (the ODE-pair init, then POSE's phases I and II with the
    pairs' regression anchor and the 4-step consistency target), with these changes, chosen on held-out
    evaluations (docs/log/2026-12-04-demo.md; the budget in docs/log/2026-12-07-demo-time.md):
    - 128 ODE pairs from 10 guided Euler steps (20 NFE) instead of 1,024 from 25: about a minute
      instead of 17;
    - 70 + 10 + 20 steps instead of 600 + 400 + 400: the regression gives most of the Total, phase II
      the camera moves (120 + 20 + 30 scored the same within the intervals and took 190 s more);
    - batches of 70% photocam clips (the full recipe: 50%), so the short phase II spends most of its
      steps on the camera moves it teaches;
    - a fifth of the rows text-to-video (no first frame), as the teacher trained, so the student is
      taught the suite's t2v track too.
    """
    cfg = pose_tiny()
    cfg.data.tracks = {"shapes": 0.3, "photocam": 0.7}
    cfg.data.p_t2v = 0.2
    cfg.data.pairs = PairsConfig(count=128, teacher_steps=10)
    for phase, steps in zip(cfg.phases, (70, 10, 20)):
        phase.steps = steps
    cfg.train.checkpoint_every, cfg.train.sample_every = 50, 0
    return cfg


def pose_wan(task: str, guidance: float, shift: float) -> DistillConfig:
    """POSE's two phases at the paper's schedule on a Wan teacher (POSE Sec. 4.1): batch 32, 500 + 1000
    steps, lr 1e-6 / 2e-6, Adam betas (0.9, 0.999) / (0.5, 0.999), EMA 0.995, bf16; the teacher's
    `guidance` and flow `shift` in every phase and in the student's times."""
    return DistillConfig(
        phases=[
            PhaseConfig(
                "priming",
                VSDConfig(guidance=guidance, t_shift=shift),
                steps=500,
                lr=1e-6,
                critic_lr=1e-6,
                betas=(0.9, 0.999),
                ema_decay=0.0,
            ),
            PhaseConfig(
                "equilibrium",
                PoseConfig(guidance=guidance, consistency_t_shift=shift),
                steps=1000,
                lr=2e-6,
                critic_lr=2e-6,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_decay=0.995,
                ema_reset=True,
            ),
        ],
        model=ModelConfig(task=task, dtype="bfloat16"),
        data=DataConfig(batch_size=32),
        train=TrainConfig(student_shift=shift, sample_every=0, precision="bfloat16"),
    )


def pose_wan_i2v_14b() -> DistillConfig:
    """The paper's settings for Wan2.1-I2V-14B (POSE Sec. 4.1: guidance 6, shift 5), on a latent cache of
    the user's videos."""
    return pose_wan("i2v", guidance=6.0, shift=5.0)


def pose_wan_t2v_1_3b() -> DistillConfig:
    """POSE's two phases at the paper's schedule on Wan2.1-T2V-1.3B (480p: flow shift 3.0, guidance 5.0,
    the values of diffusers' Wan2.1-T2V-1.3B example); text-to-video, so no first frame to keep."""
    return pose_wan("t2v", guidance=5.0, shift=3.0)


def causal_init() -> DistillConfig:
    """ASD's first stage on the embedded teacher: a block-causal student (one latent frame, 2 video
    frames, per block: 4 blocks) regresses 192 of the guided teacher's ODE solutions (10 Euler steps,
    `pose-demo`'s pairs) one block at a time, the blocks before it clean (CausVid's asymmetric init,
    methods/causal_init.py)."""
    return DistillConfig(
        model=ModelConfig(student_causal_block=1),
        data=DataConfig(pairs=PairsConfig(count=192, teacher_steps=10)),
        phases=[PhaseConfig("causal_init", CausalInitConfig(steps=4), steps=600, lr=1e-4, ema_decay=0.0)],
    )


def self_forcing() -> DistillConfig:
    """The baseline of ASD: `causal-init`, then Self-Forcing's DMD on the student's own 4-level rollouts
    (methods/self_forcing.py), critic:generator 5:1 as in Self-Forcing, a LoRA fake score."""
    cfg = causal_init()
    cfg.phases.append(
        PhaseConfig(
            "self_forcing",
            SelfForcingConfig(critic_ratio=5, t_shift=1.0),
            steps=400,
            lr=5e-5,
            critic_lr=2e-4,
            betas=(0.9, 0.999),
            ema_decay=0.99,
            ema_reset=True,
        )
    )
    return cfg


def asd() -> DistillConfig:
    """ASD: `self-forcing` with the n-step vs (n+1)-step relativistic GAN added (n in 1..3), the same
    steps, learning rates and data: the two differ by the adversarial term alone. alpha 0.03: of 1, 0.1
    and 0.03 on the embedded teacher, the one that did not lower Total (docs/asd.md)."""
    cfg = causal_init()
    method = AsdConfig(critic_ratio=5, t_shift=1.0, alpha=0.03, max_n=3)
    disc = {"disc_head": {"betas": (0.5, 0.999)}}  # the discriminator's own betas; the fake score keeps Self-Forcing's
    cfg.phases.append(
        PhaseConfig(
            "asd",
            method,
            steps=400,
            lr=5e-5,
            critic_lr=2e-4,
            betas=(0.9, 0.999),
            role_optim=disc,
            ema_decay=0.99,
            ema_reset=True,
        )
    )
    return cfg


PRESETS = {
    "pose-tiny": pose_tiny,
    "pose-paper": pose_paper,
    "pose-demo": pose_demo,
    "pose-wan-i2v-14b": pose_wan_i2v_14b,
    "pose-wan-t2v-1.3b": pose_wan_t2v_1_3b,
    "causal-init": causal_init,
    "self-forcing": self_forcing,
    "asd": asd,
}
