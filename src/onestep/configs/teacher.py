"""The teacher's training config and its presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from onestep.errors import UserError
from onestep.methods.flow_matching import TimeConfig
from onestep.models.video_dit import DiTConfig


@dataclass
class SamplingConfig:
    """How this model is sampled by default (written into the model's config.json)."""

    steps: int = 50
    guidance: float = 3.0
    shift: float = 3.0


@dataclass
class TeacherConfig:
    model: DiTConfig = field(default_factory=lambda: DiTConfig(dim=128, depth=6, heads=4, patch=(2, 4, 4)))
    tracks: dict = field(default_factory=lambda: {"shapes": 0.5, "photocam": 0.5})
    frames: int = 8
    size: int = 32
    max_text: int = 32
    seed: int = 0
    steps: int = 20000  # about 6 CPU-hours on 2 cores
    batch_size: int = 16
    lr: float = 3e-4
    warmup: int = 500
    lr_decay_from: float = 0.75  # constant lr until this share of the steps, then linear to 10%
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    p_drop_text: float = 0.1  # classifier-free guidance: the empty prompt instead
    p_drop_image: float = 0.2  # text-to-video samples: no first frame
    motion_weight: float = 0.0  # > 0: pixels that differ from the first frame weigh more (flow_matching.motion_weights)
    p_drop_token: float = 0.0  # token dropout: each prompt token state but the first hidden with this probability
    time: TimeConfig = field(default_factory=TimeConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    log_every: int = 25
    checkpoint_every: int = 250
    probe_every: int = 500  # motion probe on held-out clips (the motion metric in the training log)
    probe_clips: int = 32
    threads: int = 2
    init_from: str = ""  # a model directory whose weights start a new run (modules it lacks keep their init)
    text_stats_prompts: int = 2048  # training prompts that set the DiT's pooled-text standardisation

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = DiTConfig(**self.model)
        if isinstance(self.time, dict):
            self.time = TimeConfig(**self.time)
        if isinstance(self.sampling, dict):
            self.sampling = SamplingConfig(**self.sampling)
        # the model's video size follows the world's (one place for each default)
        self.model = dataclasses.replace(self.model, frames=self.frames, height=self.size, width=self.size)
        unknown = set(self.tracks) - {"shapes", "photocam"}
        if unknown:
            raise UserError(f"unknown track(s) {sorted(unknown)}: tracks are shapes and photocam")


def teacher_small() -> TeacherConfig:
    """The bundled teacher: 2.5M parameters, 8 frames of 32x32, both tracks."""
    return TeacherConfig()


def teacher_tiny() -> TeacherConfig:
    """For tests: a 2-block model and a few steps."""
    return TeacherConfig(
        model=DiTConfig(dim=32, depth=2, heads=2, patch=(2, 4, 4)),
        steps=4,
        batch_size=2,
        warmup=1,
        log_every=1,
        checkpoint_every=2,
        probe_every=0,
        text_stats_prompts=64,
    )


PRESETS = {"teacher-small": teacher_small, "teacher-tiny": teacher_tiny}
