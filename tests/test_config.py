"""Typed configs: dotted overrides, unknown keys are errors."""

import pytest

from onestep.configs.base import override, parse_overrides
from onestep.configs.teacher import teacher_small
from onestep.errors import UserError


def test_override_types():
    cfg = override(
        teacher_small(), parse_overrides(["lr=1e-4", "model.depth=3", "betas=0.5,0.9", 'tracks={"shapes": 1}'])
    )
    assert cfg.lr == 1e-4 and cfg.model.depth == 3 and cfg.betas == (0.5, 0.9) and cfg.tracks == {"shapes": 1}


def test_unknown_key_is_an_error():
    with pytest.raises(UserError, match="unknown config key 'lrr'"):
        override(teacher_small(), {"lrr": 1})
    with pytest.raises(UserError, match="takes a int"):
        override(teacher_small(), {"steps": "many"})
    with pytest.raises(UserError, match="no '='"):
        parse_overrides(["steps"])


def test_model_follows_the_world_size():
    cfg = override(teacher_small(), {"frames": 12, "size": 24})
    assert (cfg.model.frames, cfg.model.height, cfg.model.width) == (12, 24, 24)
    with pytest.raises(UserError, match="patches"):
        override(teacher_small(), {"frames": 7})


def test_phases_by_name_index_or_shorthand():
    from onestep.configs.recipes import pose_tiny

    cfg = override(
        pose_tiny(), {"priming.steps": "0", "phases.equilibrium.method.consistency_weight": "0", "phases.2.lr": "3e-5"}
    )
    assert cfg.phases[1].steps == 0
    assert cfg.phases[2].method.consistency_weight == 0.0 and cfg.phases[2].lr == 3e-5
    with pytest.raises(UserError, match="warmup"):
        override(pose_tiny(), {"warmup.steps": "1"})
    with pytest.raises(UserError, match="consistency_steps = 0"):
        override(pose_tiny(), {"equilibrium.method.consistency_steps": "0"})


def test_an_ema_the_next_phase_discards_is_refused():
    from onestep.configs.distill import DistillConfig, PhaseConfig
    from onestep.configs.recipes import pose_tiny
    from onestep.methods.vsd import VSDConfig

    phases = lambda decay, reset: [
        PhaseConfig("a", VSDConfig(), 2, ema_decay=decay),
        PhaseConfig("b", VSDConfig(), 2, ema_reset=reset),
    ]  # noqa: E731
    with pytest.raises(UserError, match="phase a keeps an EMA of the student that phase b discards .resets it"):
        DistillConfig(phases=phases(0.995, True))
    DistillConfig(phases=phases(0.0, True))  # phase a keeps none
    DistillConfig(phases=phases(0.995, False))  # phase b continues it
    DistillConfig(
        phases=[PhaseConfig("a", VSDConfig(), 2), PhaseConfig("b", VSDConfig(), 0, ema_reset=True)]
    )  # b never runs
    assert [p.ema_decay for p in pose_tiny().phases] == [0.0, 0.0, 0.995]


def test_each_role_has_its_own_optimiser_settings():
    """`asd` and `self-forcing` differ by the adversarial term: the fake score keeps Self-Forcing's
    betas in both, only ASD's discriminator head takes (0.5, 0.999); `--set` reaches a role's own
    settings, and a clip of inf is no clip."""
    from onestep.configs.recipes import PRESETS

    asd, sf = PRESETS["asd"]().phases[-1], PRESETS["self-forcing"]().phases[-1]
    assert asd.optim("fake_score") == sf.optim("fake_score") and asd.optim("student") == sf.optim("student")
    assert asd.optim("disc_head")["betas"] == (0.5, 0.999) and asd.optim("fake_score")["betas"] == (0.9, 0.999)
    cfg = override(
        PRESETS["pose-paper"](),
        parse_overrides(["equilibrium.role_optim.student.grad_clip=inf", "equilibrium.role_optim.disc_head.lr=1e-3"]),
    )
    phase = cfg.phases[-1]
    assert phase.optim("student")["grad_clip"] == float("inf") and phase.optim("disc_head")["lr"] == 1e-3
    assert phase.optim("student")["lr"] == phase.lr and phase.optim("disc_head")["betas"] == phase.critic_betas
    with pytest.raises(UserError, match="role_optim.student"):
        override(PRESETS["pose-paper"](), {"equilibrium.role_optim.student.momentum": "0.9"})
    with pytest.raises(UserError, match="grad_clip"):
        override(PRESETS["pose-paper"](), {"equilibrium.role_optim.student.grad_clip": "-1"})
