"""The POSE paper's comparison on the embedded teacher (its Table 1 and the ablations of its Tables 2
and 3; appendix B): every preset here trains at `pose-paper`'s budget (1,400 steps), batch (8), data
and learning rates (5e-5 the student, 2e-4 every critic), so the rows differ by the method. Adversarial
phases take POSE phase II's Adam betas (0.5, 0.999) and levels; `onestep compare` rescales every
preset to one budget.
"""

from __future__ import annotations

import dataclasses

from onestep.configs.distill import DistillConfig, PhaseConfig
from onestep.configs.recipes import pose_paper
from onestep.methods.add import AddConfig
from onestep.methods.apt import AptConfig
from onestep.methods.consistency import ConsistencyConfig
from onestep.methods.dmd2 import Dmd2Config

STEPS = 1400
ADV = dict(lr=5e-5, critic_lr=2e-4, betas=(0.5, 0.999), critic_betas=(0.5, 0.999))  # pose-paper's phase II optimisers
LEVELS = {
    k: getattr(pose_paper().phases[1].method, k)
    for k in (
        "disc_t_lo",
        "disc_t_hi",
        "disc_t_reference",
        "consistency_t_lo",
        "consistency_t_hi",
        "consistency_t_shift",
    )
}  # pose-paper's phase II


def dmd2() -> DistillConfig:
    """DMD2 (methods/dmd2.py): DMD and the GAN from the first step, critic:generator 5:1 (DMD2's),
    Adam (0.9, 0.999), EMA 0.995."""
    return DistillConfig(
        phases=[PhaseConfig("dmd2", Dmd2Config(critic_ratio=5), steps=STEPS, lr=5e-5, critic_lr=2e-4, ema_decay=0.995)]
    )


def add() -> DistillConfig:
    """ADD (methods/add.py): the student at s in {1/4, 1/2, 3/4, 1}, the frozen teacher with a conv head,
    lambda 2.5; EMA 0.995 (the paper's)."""
    return DistillConfig(phases=[PhaseConfig("add", AddConfig(**LEVELS), steps=STEPS, ema_decay=0.995, **ADV)])


def lcm(adv_weight: float = 0.0) -> DistillConfig:
    """LCM (methods/consistency.py): consistency distillation on 64 points of the guided teacher's ODE,
    pseudo-Huber c = 0.001, the EMA (decay 0.95, the paper's) as the target network."""
    return DistillConfig(
        phases=[
            PhaseConfig(
                "consistency",
                ConsistencyConfig(adv_weight=adv_weight),
                steps=STEPS,
                lr=5e-5,
                critic_lr=2e-4,
                ema_decay=0.95,
            )
        ]
    )


def pcm() -> DistillConfig:
    """PCM: LCM plus the adversarial consistency term, a conv head on the frozen teacher, weight 0.1
    (our choice: the paper does not give it)."""
    return lcm(adv_weight=0.1)


def apt() -> DistillConfig:
    """APT (methods/apt.py): consistency distillation (LCM) for `pose-paper`'s phase I steps, then one
    step from noise against the frozen teacher with APT's cross-attention head for its phase II steps.
    The EMA runs on from the consistency phase's target network into the adversarial phase's 0.995."""
    first = lcm().phases[0]
    return DistillConfig(
        phases=[
            dataclasses.replace(first, steps=500),
            PhaseConfig("apt", AptConfig(), steps=900, ema_decay=0.995, **ADV),
        ]
    )


def pose_variant(**method) -> DistillConfig:
    """`pose-paper` with phase II's method config changed."""
    cfg = pose_paper()
    cfg.phases[1].method = dataclasses.replace(cfg.phases[1].method, **method)
    return cfg


def pose_prime_none() -> DistillConfig:
    """Table 2, phase I "no training": POSE phase II alone for the whole budget, from the teacher."""
    cfg = pose_paper()
    cfg.phases[0].steps, cfg.phases[1].steps = 0, STEPS
    return cfg


def pose_prime_lcm() -> DistillConfig:
    """Table 2, phase I "LCM": consistency distillation instead of VSD before the same phase II; the
    EMA runs on from the consistency target (so phase II does not reset it)."""
    cfg = pose_paper()
    cfg.phases[0] = dataclasses.replace(lcm().phases[0], name="priming", steps=cfg.phases[0].steps)
    cfg.phases[1].ema_reset = False
    return cfg


# (Table, label) of each preset for `onestep compare`'s tables; the paradigm as the paper groups them
PAPER = {
    "pose-paper": ("POSE", "AD"),
    "dmd2": ("DMD2", "VSD"),
    "add": ("ADD", "AD"),
    "apt": ("APT", "AD"),
    "lcm": ("LCM", "CD"),
    "pcm": ("PCM", "CD"),
    "pose-prime-none": ("phase I: none", "Table 2"),
    "pose-prime-lcm": ("phase I: LCM", "Table 2"),
    "pose-backbone-teacher": ("backbone: frozen teacher", "Table 3"),
    "pose-backbone-copy": ("backbone: trained copy", "Table 3"),
    "pose-head-conv": ("head: conv", "Table 3"),
    "pose-head-xattn": ("head: cross-attention", "Table 3"),
    "pose-lambda-0": ("lambda 0", "Table 3"),
    "pose-lambda-2.5": ("lambda 2.5", "Table 3"),
    "pose-lambda-100": ("lambda 100", "Table 3"),
}
TABLE1 = ("pose-paper", "dmd2", "add", "apt", "lcm", "pcm")
ABLATIONS = tuple(k for k in PAPER if k.startswith("pose-") and k != "pose-paper")

PRESETS = {
    "dmd2": dmd2,
    "add": add,
    "apt": apt,
    "lcm": lcm,
    "pcm": pcm,
    "pose-prime-none": pose_prime_none,
    "pose-prime-lcm": pose_prime_lcm,
    "pose-backbone-teacher": lambda: pose_variant(backbone="teacher"),
    "pose-backbone-copy": lambda: pose_variant(backbone="trainable"),
    "pose-head-conv": lambda: pose_variant(head="conv"),
    "pose-head-xattn": lambda: pose_variant(head="xattn"),
    "pose-lambda-0": lambda: pose_variant(consistency_weight=0.0),
    "pose-lambda-2.5": lambda: pose_variant(consistency_weight=2.5),
    "pose-lambda-100": lambda: pose_variant(consistency_weight=100.0),
}
