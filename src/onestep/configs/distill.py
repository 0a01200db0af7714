"""Distillation runs in sections (STYLE.md 8): `model` (which teacher, in which dtype), `data` (the
batches and the ODE pairs), `phases` (each one method with its own steps and optimiser settings),
`train` (seed, logging, checkpoints, precision) and `parallel` (where it runs). `--set
section.key=value` addresses any field; a phase by its name ("priming.steps=10").

Presets are Python functions that return one: POSE's and ASD's in configs/recipes.py, the paper's
comparison in configs/baselines.py, all of them by name in configs/presets.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from onestep.errors import UserError

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
