"""Distillation runs in sections (STYLE.md 8): `model` (which teacher, in which dtype), `data` (the
batches and the ODE pairs), `phases` (each one method with its own steps and optimiser settings),
`train` (seed, logging, checkpoints, precision) and `parallel` (where it runs). `--set
section.key=value` addresses any field; a phase by its name ("priming.steps=10").

Presets are Python functions. `pose-paper` is POSE as the paper wrote it on the embedded teacher
(the bundled student); `pose-tiny` adds three things the paper does not have (its docstring);
`pose-wan-i2v-14b` carries the paper's settings (batch 32, 500 + 1000 steps, lr 1e-6 / 2e-6, Adam
betas (0.9, 0.999) / (0.5, 0.999), EMA 0.995, shift 5); `pose-wan-t2v-1.3b` the same schedule for
Wan2.1-T2V-1.3B; both train on a latent cache (`--data CACHE`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from onestep.errors import UserError
from onestep.methods.asd import AsdConfig
from onestep.methods.causal_init import CausalInitConfig
from onestep.methods.ode_regression import OdeRegressionConfig
from onestep.methods.pose import PoseConfig
from onestep.methods.self_forcing import SelfForcingConfig
from onestep.methods.vsd import VSDConfig

DTYPES = ("float32", "bfloat16")


@dataclass
class ModelConfig:
    teacher: str = ""  # the teacher's model directory; "" = the bundled teacher (or --teacher)
    dtype: str = "float32"  # the frozen roles' parameters (teacher, EMA); trained roles stay float32
    task: str = ""  # "i2v" | "t2v": the task a Wan preset was written for (checked against the teacher); "" = either
    student_lora_rank: int = 0  # > 0: train the student as a LoRA of this rank on the teacher's weights (0: in full)
    student_causal_block: int = 0  # > 0: the student is block-causal, this many latent frames per block (causal.py)
    student_init: str = (
        ""  # a model directory to start the student (and EMA) from instead of the teacher: an earlier run's student
    )

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise UserError(f"model.dtype {self.dtype!r}: use one of {', '.join(DTYPES)}")
        if self.student_causal_block < 0:
            raise UserError(
                f"model.student_causal_block {self.student_causal_block}: use 0 (bidirectional) or the latent frames "
                "per causal block"
            )
        if self.student_lora_rank < 0:
            raise UserError(
                f"model.student_lora_rank {self.student_lora_rank}: use 0 (train the student in full) or a rank of 1 "
                "or more"
            )
        if self.task not in ("", "i2v", "t2v"):
            raise UserError(f"model.task {self.task!r}: use i2v, t2v or leave it empty")


@dataclass
class PairsConfig:
    """The teacher's ODE pairs (data/pairs.py), read by the phases that regress them."""

    path: str = ""  # an `onestep pairs` folder; "" = the run makes its own in RUN/ode_pairs
    count: int = 1024
    chunk_batches: int = 8  # batches of data.batch_size per chunk file
    teacher_steps: int = 25  # guided Euler steps per solution (2 x NFE with CFG)
    guidance: float = 3.0
    shift: float = 3.0  # the teacher's time grid (its own sampling shift)

    def __post_init__(self):
        if self.count < 1 or self.chunk_batches < 1 or self.teacher_steps < 1:
            raise UserError(
                f"data.pairs needs count, chunk_batches and teacher_steps of at least 1: got {self.count}, "
                f"{self.chunk_batches}, {self.teacher_steps}"
            )


@dataclass
class DataConfig:
    batch_size: int = 8
    tracks: dict = field(default_factory=lambda: {"shapes": 0.5, "photocam": 0.5})
    max_text: int = 0  # text tokens per prompt; 0 = the teacher's own (its config.json)
    text_encoder: str = ""  # models/text.py; "" = the teacher's own
    pairs: PairsConfig = field(default_factory=PairsConfig)
    cache: str = ""  # a latent cache (`onestep prepare`, data/cache.py); "" = the embedded world
    p_t2v: float = (
        0.0  # the embedded world: share of rows given no first frame (text-to-video; the teacher trained on 0.2)
    )

    def __post_init__(self):
        if self.batch_size < 1:
            raise UserError(f"data.batch_size {self.batch_size}: use 1 or more clips per step")
        if not 0.0 <= self.p_t2v <= 1.0:
            raise UserError(f"data.p_t2v {self.p_t2v}: use a share in [0, 1] of text-to-video rows")
        unknown = set(self.tracks) - {"shapes", "photocam"}
        if unknown:
            raise UserError(f"unknown track(s) {sorted(unknown)} in data.tracks: tracks are shapes and photocam")


ROLE_OPTIM = {
    "lr": float,
    "betas": lambda b: tuple(float(x) for x in b),
    "weight_decay": float,
    "grad_clip": float,
}  # a role's own settings, each coerced


def check_clip(key: str, value) -> None:
    if not (isinstance(value, (int, float)) and value > 0 and not math.isnan(value)):
        raise UserError(f"{key} {value!r}: use a positive number (inf: no clip)")


@dataclass
class PhaseConfig:
    name: str
    method: object  # a method's config dataclass: VSDConfig, PoseConfig, ...
    steps: int
    lr: float = 1e-5  # the student
    critic_lr: float = 1e-5  # every other group (fake score, discriminator)
    betas: tuple[float, float] = (0.9, 0.999)
    critic_betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0  # every group's gradient norm (inf: no clip)
    weight_decay: float = 0.0  # AdamW's decoupled decay (0: Adam)
    role_optim: dict = field(
        default_factory=dict
    )  # {group: {lr, betas, weight_decay, grad_clip}}: one role's own settings over the above
    warmup: int = 0  # linear warm-up of every group's lr over this many steps of the phase
    lr_decay_from: float = 1.0  # constant lr until this share of the phase, then linear to 10%
    ema_decay: float = 0.995  # 0: the EMA is the student (a phase whose EMA the next phase discards keeps none)
    ema_warmup: bool = False  # ramp the decay in as (1 + step) / (10 + step) (a model trained from scratch)
    ema_reset: bool = False  # copy the student into its EMA when the phase starts

    def __post_init__(self):
        for name in ("lr", "critic_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise UserError(f"{self.name}.{name} {value!r}: use a positive finite number")
        check_clip(f"{self.name}.grad_clip", self.grad_clip)
        for group, settings in self.role_optim.items():
            if not isinstance(settings, dict) or set(settings) - set(ROLE_OPTIM):
                raise UserError(
                    f"{self.name}.role_optim.{group} {settings!r}: give a role's own {', '.join(ROLE_OPTIM)}"
                )
        self.role_optim = {
            group: {k: ROLE_OPTIM[k](v) for k, v in settings.items()} for group, settings in self.role_optim.items()
        }
        for group, settings in self.role_optim.items():
            if "lr" in settings and not (math.isfinite(settings["lr"]) and settings["lr"] > 0):
                raise UserError(f"{self.name}.role_optim.{group}.lr {settings['lr']!r}: use a positive finite number")
            if "grad_clip" in settings:
                check_clip(f"{self.name}.role_optim.{group}.grad_clip", settings["grad_clip"])

    def optim(self, group: str) -> dict:
        """The settings of `group`'s optimiser (lr, betas, weight_decay, grad_clip): the student's or every
        other role's (critic_lr, critic_betas), then the role's own in `role_optim`."""
        lr, betas = (self.lr, self.betas) if group == "student" else (self.critic_lr, self.critic_betas)
        return {
            "lr": lr,
            "betas": tuple(betas),
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            **self.role_optim.get(group, {}),
        }

    def lr_scale(self, step: int) -> float:
        """The schedule's factor on the base learning rates at step `step` of the phase."""
        scale = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        decay_start = self.lr_decay_from * self.steps
        if step >= decay_start:
            scale *= 1.0 - 0.9 * (step - decay_start) / max(self.steps - decay_start, 1)
        return scale


@dataclass
class TrainConfig:
    seed: int = 0
    student_shift: float = 3.0  # the times a few-step student visits (flow.shift of linspace)
    precision: str = "float32"  # "bfloat16": the losses under torch.autocast
    log_every: int = 10
    checkpoint_every: int = 50
    sample_every: int = 100
    threads: int = 2
    accum: int = (
        1  # micro-batches per step: each process computes data.batch_size / (processes * accum) clips at a time
    )

    def __post_init__(self):
        if self.precision not in DTYPES:
            raise UserError(f"train.precision {self.precision!r}: use one of {', '.join(DTYPES)}")
        if self.accum < 1:
            raise UserError(f"train.accum {self.accum}: use 1 (no accumulation) or more micro-batches per step")
        for name in ("log_every", "checkpoint_every", "threads"):
            if getattr(self, name) < 1:
                raise UserError(f"train.{name} {getattr(self, name)}: use 1 or more")
        if self.sample_every < 0:
            raise UserError(f"train.sample_every {self.sample_every}: use 0 (no sample grids) or a number of steps")


@dataclass
class ParallelConfig:
    device: str = "cpu"  # "cpu", "cuda", "cuda:N", or "auto" (cuda when there is one)
    activation_checkpointing: bool = (
        False  # recompute each block's activations in the backward (parallel/checkpointing.py)
    )
    sp: int = 1  # processes per sequence-parallel group (Ulysses, the built-in DiT; parallel/sequence.py)

    def __post_init__(self):
        if self.sp < 1:
            raise UserError(f"parallel.sp {self.sp}: use 1 (no sequence parallelism) or the processes per group")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(self.device)):
            raise UserError(f"parallel.device {self.device!r}: use cpu, cuda, cuda:N or auto")


@dataclass
class DistillConfig:
    phases: list = field(default_factory=list)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)

    def __post_init__(self):
        if not self.phases:
            raise UserError("a distillation run needs at least one phase")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise UserError(f"phase names must differ: {names}")
        for p in self.phases:
            if p.steps < 0:
                raise UserError(f"phase {p.name} has {p.steps} steps: use 0 or more")
        ran = [p for p in self.phases if p.steps > 0]
        for p, after in zip(ran, ran[1:]):
            if p.ema_decay > 0 and (after.ema_reset or after.ema_decay == 0):
                why = "resets it to the student when it starts" if after.ema_reset else "keeps none (ema_decay 0)"
                raise UserError(
                    f"phase {p.name} keeps an EMA of the student that phase {after.name} discards ({why}): set "
                    f"{p.name}.ema_decay=0"
                )

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


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


def pose_wan_i2v_14b() -> DistillConfig:
    """The paper's settings for Wan2.1-I2V-14B (POSE Sec. 4.1), on a latent cache of the user's videos."""
    return DistillConfig(
        phases=[
            PhaseConfig(
                "priming",
                VSDConfig(guidance=6.0, t_shift=5.0),
                steps=500,
                lr=1e-6,
                critic_lr=1e-6,
                betas=(0.9, 0.999),
                ema_decay=0.0,
            ),
            PhaseConfig(
                "equilibrium",
                PoseConfig(guidance=6.0, consistency_t_shift=5.0),
                steps=1000,
                lr=2e-6,
                critic_lr=2e-6,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_decay=0.995,
                ema_reset=True,
            ),
        ],
        model=ModelConfig(task="i2v", dtype="bfloat16"),
        data=DataConfig(batch_size=32),
        train=TrainConfig(student_shift=5.0, sample_every=0, precision="bfloat16"),
    )


def pose_wan_t2v_1_3b() -> DistillConfig:
    """POSE's two phases at the paper's schedule on Wan2.1-T2V-1.3B (480p: flow shift 3.0, guidance 5.0,
    the values of diffusers' Wan2.1-T2V-1.3B example); text-to-video, so no first frame to keep."""
    return DistillConfig(
        phases=[
            PhaseConfig(
                "priming",
                VSDConfig(guidance=5.0, t_shift=3.0),
                steps=500,
                lr=1e-6,
                critic_lr=1e-6,
                betas=(0.9, 0.999),
                ema_decay=0.0,
            ),
            PhaseConfig(
                "equilibrium",
                PoseConfig(guidance=5.0, consistency_t_shift=3.0),
                steps=1000,
                lr=2e-6,
                critic_lr=2e-6,
                betas=(0.5, 0.999),
                critic_betas=(0.5, 0.999),
                ema_decay=0.995,
                ema_reset=True,
            ),
        ],
        model=ModelConfig(task="t2v", dtype="bfloat16"),
        data=DataConfig(batch_size=32),
        train=TrainConfig(student_shift=3.0, sample_every=0, precision="bfloat16"),
    )


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
