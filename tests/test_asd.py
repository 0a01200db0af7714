"""Self-Forcing's rollout and ASD's losses: the exit step alone carries gradient, RpGAN's signs on known
logits, n drawn once per batch, and the causal presets run end to end and sample with FFE."""

import json

import pytest
import torch

from onestep import causal, seeding
from onestep.commands import distill, sample
from onestep.errors import UserError
from onestep.methods.asd import AdversarialSelfDistillation, AsdConfig
from onestep.methods.critic import rpgan_d, rpgan_g
from tests.test_causal import causal_dit, condition
from tests.tiny import tiny_teacher_dir


def test_rpgan_signs_on_known_logits():
    high, low = torch.full((4,), 5.0), torch.full((4,), -5.0)
    assert (
        rpgan_d(real=high, fake=low) < 1e-4 < 9.9 < rpgan_d(real=low, fake=high)
    )  # D: the (n+1)-step video scores higher
    assert rpgan_g(real=high, fake=low) > 9.9 > 1e-4 > rpgan_g(real=low, fake=high)  # G: its n-step video should
    assert rpgan_d(real=torch.zeros(4), fake=torch.zeros(4)).item() == pytest.approx(
        torch.log(torch.tensor(2.0)).item()
    )
    real, fake = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    rpgan_g(real, fake).backward()
    assert (fake.grad < 0).all() and (real.grad > 0).all()  # descending it raises the fake's score


def test_the_exit_step_alone_carries_gradient():
    model = causal_dit(1).train()
    calls = []
    model.register_forward_pre_hook(
        lambda m, args: calls.append((args[3], torch.is_grad_enabled(), float(args[1].flatten()[0])))
    )
    d = seeding.Draws(0, 0, 0)
    exits, times = [1, 0, 2, 1], causal.block_times(1, 3, 3.0)[0]
    video = causal.rollout(model, condition(False), d, (2, 3, 8, 32, 32), times, exits)
    expected = []
    for b, e in enumerate(exits):
        expected += [(b, i == e, times[i]) for i in range(e + 1)] + (
            [(b, False, 0.0)] if b < 3 else []
        )  # the steps, then the clean write at t = 0 (not after the last block)
    assert [(o, g, pytest.approx(t)) for o, g, t in calls] == expected
    video.sum().backward()
    assert all(b.attn.qkv.weight.grad.abs().sum() > 0 for b in model.blocks)


def test_n_is_drawn_once_for_the_whole_batch():
    """Every micro-batch of a step draws the same n (Draws.shared), whatever its first row."""
    method = AdversarialSelfDistillation(AsdConfig(max_n=5, steps=6))
    ns = {method.draw_n(seeding.Draws(0, 7, 1, first_row=r)) for r in (0, 2, 6)}
    assert len(ns) == 1 and 1 <= ns.pop() <= 5
    assert len({method.draw_n(seeding.Draws(0, s, 1)) for s in range(40)}) == 5  # and over steps, every n


@pytest.fixture(scope="module")
def causal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("causal")
    teacher = tiny_teacher_dir(root / "teacher")
    return teacher, distill.run(preset="causal-test", teacher=teacher, out=root / "run", overrides=[], progress=False)


def test_the_causal_presets_train_a_causal_student_that_samples_with_ffe(causal_run, tmp_path):
    _, student = causal_run
    config = json.loads((student / "config.json").read_text())
    assert config["model"]["causal_block"] == 1 and config["sampling"] == {
        "kind": "causal",
        "steps": 1,
        "first_block_steps": 4,
        "shift": 3.0,
    }
    said = []
    sample.run(
        model_dir=student,
        prompt="a red square moves left",
        image=None,
        nfe=1,
        steps=None,
        cfg=None,
        seed=0,
        out=tmp_path / "v.gif",
        say=said.append,
    )
    assert "1 causal step(s), 4 for the first block" in said[-1] and (tmp_path / "v.gif").is_file()
    sample.run(
        model_dir=student,
        prompt="x",
        image=None,
        nfe=2,
        steps=None,
        cfg=None,
        seed=0,
        out=tmp_path / "w.gif",
        say=said.append,
        first_block_steps=0,
    )
    assert "2 causal step(s), guidance" in said[-1]


def test_causal_settings_are_refused_where_they_do_not_apply(causal_run, tmp_path):
    teacher, _ = causal_run
    with pytest.raises(UserError, match="--set model.student_causal_block=1"):
        distill.run(
            preset="causal-test",
            teacher=teacher,
            out=tmp_path / "r",
            overrides=["model.student_causal_block=0"],
            progress=False,
        )
    with pytest.raises(UserError, match="activation_checkpointing=false with model.student_causal_block"):
        distill.run(
            preset="causal-test",
            teacher=teacher,
            out=tmp_path / "r",
            overrides=["parallel.activation_checkpointing=true"],
            progress=False,
        )
    with pytest.raises(UserError, match="first-block-steps is for block-causal students"):
        sample.run(
            model_dir=teacher,
            prompt="x",
            image=None,
            nfe=1,
            steps=None,
            cfg=None,
            seed=0,
            out=tmp_path / "v.gif",
            first_block_steps=4,
        )


def test_a_student_starts_from_an_earlier_runs_student(causal_run, tmp_path):
    """model.student_init: the student and EMA load the causal init's weights, the teacher its own;
    a model of another shape is refused before anything is trained."""
    from safetensors.torch import load_file

    from onestep import methods
    from onestep.methods.self_forcing import SelfForcingConfig
    from onestep.train.roles import build_roles

    teacher, student = causal_run
    roles = build_roles(
        teacher,
        [methods.build(SelfForcingConfig(lora_rank=4))],
        seed=0,
        device=torch.device("cpu"),
        student_causal_block=1,
        student_init=student,
    )
    init, original = load_file(student / "model.safetensors"), load_file(teacher / "model.safetensors")
    assert all(
        torch.equal(roles.student.state_dict()[k], init[k]) and torch.equal(roles.ema.state_dict()[k], init[k])
        for k in init
    )
    held = roles.teacher.state_dict()  # (the fake score's LoRA renames the adapted layers' weights)
    plain = [k for k in original if k in held]
    assert len(plain) > 20 and all(torch.equal(held[k], original[k]) for k in plain)
    assert any(not torch.equal(init[k], original[k]) for k in init)
    from onestep.models.io import save_model
    from onestep.models.video_dit import DiTConfig, VideoDiT

    save_model(tmp_path / "other", VideoDiT(DiTConfig(dim=64, depth=2, heads=2, patch=(2, 4, 4))))
    with pytest.raises(UserError, match="not a model of the teacher's shape"):
        distill.run(
            preset="causal-test",
            teacher=teacher,
            out=tmp_path / "r",
            overrides=[f"model.student_init={tmp_path / 'other'}"],
            progress=False,
        )


def test_bench_times_a_causal_student_block_by_block(causal_run, monkeypatch):
    """`onestep bench` runs a causal student with its own sampler (the KV-cached 1*), not all frames at once."""
    from onestep.commands import bench

    teacher, student = causal_run
    calls = []
    real = causal.generate
    monkeypatch.setattr(causal, "generate", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    result = bench.run(
        model_dir=student,
        teacher_dir=teacher,
        batches=(1,),
        repeats=1,
        min_seconds=0.0,
        teacher_nfes=(1,),
        say=lambda *_: None,
    )
    assert calls and [len(t) for t in calls[0]] == [4, 1, 1, 1] and result


def test_a_lora_student_can_be_block_causal(causal_run, tmp_path):
    """model.student_lora_rank with model.student_causal_block: the LoRA passes the segment and its
    KV cache to its causal base, and the run writes a causal student that samples with FFE."""
    teacher, _ = causal_run
    student = distill.run(
        preset="causal-test",
        teacher=teacher,
        out=tmp_path / "run",
        overrides=["model.student_lora_rank=4"],
        progress=False,
    )
    config = json.loads((student / "config.json").read_text())
    assert config["model"]["causal_block"] == 1 and config["sampling"]["kind"] == "causal"
    said = []
    sample.run(
        model_dir=student,
        prompt="a red square moves left",
        image=None,
        nfe=1,
        steps=None,
        cfg=None,
        seed=0,
        out=tmp_path / "v.gif",
        say=said.append,
    )
    assert "4 for the first block" in said[-1]


def test_the_n_step_videos_take_their_levels_from_the_four_level_training_grid():
    """ASD trains on a 4-level grid and skips within it: the 1-, 2- and 3-step videos' levels are subsets
    of the 4-step one's, and a schedule longer than the grid is refused."""
    method = AdversarialSelfDistillation(AsdConfig(steps=4, shift=3.0))
    grid = method.times()
    assert grid == pytest.approx([1.0, 0.9, 0.75, 0.5])
    assert (
        method.times(1) == grid[:1]
        and method.times(2) == [grid[0], grid[2]]
        and method.times(3) == [grid[0], grid[1], grid[3]]
    )
    with pytest.raises(UserError, match="grid of 4 levels"):
        AdversarialSelfDistillation(AsdConfig(steps=4, max_n=4))


def test_the_logged_scale_compares_the_two_terms_push_on_the_video():
    """asd/g_scale = alpha ||d L_ASD / d x_n|| / ||d L_DMD / d x||, the latter sqrt(2 L_DMD / N) for
    L_DMD = 0.5 mean((x - target)^2): checked against autograd on both."""
    method = AdversarialSelfDistillation(AsdConfig(alpha=0.5))
    x = torch.randn(2, 3, 4, 8, 8, requires_grad=True)
    w, target = torch.randn_like(x), torch.randn_like(x)
    adv, dmd = (w * x).sum(), 0.5 * torch.nn.functional.mse_loss(x, target)
    (dmd_grad,) = torch.autograd.grad(dmd, x, retain_graph=True)
    assert method.scale(adv, x, dmd.item()) == pytest.approx(0.5 * w.norm().item() / dmd_grad.norm().item(), rel=1e-5)
    assert x.grad is None  # nothing accumulates
