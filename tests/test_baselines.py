"""The baselines of the POSE paper's Table 1 on known inputs: LCM/PCM's consistency target and loss,
ADD's four input levels, APT's re-noised discriminator input and approximated R1, the cross-attention
head without semantics."""

import pytest
import torch

from onestep import flow, methods, seeding
from onestep.methods.add import AddConfig
from onestep.methods.apt import AptConfig
from onestep.methods.consistency import ConsistencyConfig, huber
from onestep.methods.heads import SemanticHead
from onestep.samplers import guided_velocity
from tests.test_methods import batch, pairs, roles_for, teacher_dir, world_batch  # noqa: F401 (fixtures)


def build(config, teacher_dir):  # noqa: F811
    method = methods.build(config)
    return method, roles_for(method, teacher_dir)


def test_huber_is_quadratic_near_zero_and_linear_far_from_it():
    a = torch.zeros(4)
    assert huber(a, torch.full((4,), 1e-4), 1e-3).item() == pytest.approx(0.5 * 1e-8 / 1e-3, rel=1e-2)  # d^2 / 2c
    assert huber(a, torch.full((4,), 2.0), 1e-3).item() == pytest.approx(2.0 - 1e-3, rel=1e-5)


def test_the_consistency_target_is_one_guided_teacher_step_then_the_ema(teacher_dir, batch):  # noqa: F811
    """With one trajectory point the step goes from t = 1 to t = 0, where the target is the teacher's
    Euler step itself (f(x, 0) = x, the boundary); with more it is the EMA's x0 one point on."""
    method, roles = build(ConsistencyConfig(points=1), teacher_dir)
    x_t, t, target = method.pair(batch, roles, seeding.streams(0, 0)())
    assert torch.all(t == 1.0)
    v = guided_velocity(roles.teacher, x_t, t, batch.cond, 3.0)
    torch.testing.assert_close(target, x_t - v)
    method, roles = build(ConsistencyConfig(points=4, shift=1.0), teacher_dir)
    x_t, t, target = method.pair(batch, roles, seeding.streams(0, 0)())
    assert set(t.tolist()) <= {0.25, 0.5, 0.75, 1.0}
    x_hat = x_t - (0.25 * v.new_ones(len(t))).view(-1, 1, 1, 1, 1) * guided_velocity(
        roles.teacher, x_t, t, batch.cond, 3.0
    )
    torch.testing.assert_close(target, flow.x0_from_v(x_hat, roles.ema(x_hat, t - 0.25, batch.cond), t - 0.25))


def test_pcms_adversarial_term_leaves_the_consistency_loss_and_reads_the_target_as_real(
    teacher_dir, batch, monkeypatch
):  # noqa: F811
    lcm, lcm_roles = build(ConsistencyConfig(points=8), teacher_dir)
    pcm, pcm_roles = build(ConsistencyConfig(points=8, adv_weight=0.1, head_width=8), teacher_dir)
    plain = lcm.student_loss(batch, lcm_roles, seeding.streams(0, 0)())
    adv = pcm.student_loss(batch, pcm_roles, seeding.streams(0, 0)())
    assert adv.logs["consistency/huber"] == pytest.approx(plain.logs["consistency/huber"], rel=1e-6)
    assert adv.loss.item() == pytest.approx(plain.loss.item() + 0.1 * adv.logs["consistency/g_adv"], rel=1e-5)
    seen = []
    monkeypatch.setattr(
        pcm, "logits", lambda x0, cond, s, eps, roles: seen.append(x0.clone()) or x0.new_zeros(x0.shape[0], 1)
    )
    pcm.disc_loss(batch, pcm_roles, seeding.streams(0, 0)())
    _, _, target = pcm.pair(batch, pcm_roles, seeding.streams(0, 0)())
    torch.testing.assert_close(seen[0], target)  # real = the consistency target, not the data video
    assert not torch.allclose(seen[0], batch.video)


def test_add_trains_the_student_at_its_four_levels(teacher_dir, batch):  # noqa: F811
    method, roles = build(AddConfig(), teacher_dir)
    levels = []
    student = roles.student
    roles.student = lambda x, t, cond: levels.extend(t.tolist()) or student(x, t, cond)
    for step in range(8):
        method.generate(batch, roles, seeding.streams(0, step)())
    assert set(levels) <= {0.25, 0.5, 0.75, 1.0} and len(set(levels)) >= 3


def test_apts_discriminator_reads_the_video_at_the_level_it_is_told_and_its_r1_is_a_finite_difference(
    teacher_dir, batch
):  # noqa: F811
    method, roles = build(AptConfig(head_dim=16, queries=2), teacher_dir)
    inputs = []
    features = roles.teacher.features
    roles.teacher.features = lambda x, t, cond, taps: inputs.append((x, t)) or features(x, t, cond, taps)
    t, eps = method.draw(batch.video, seeding.streams(0, 0)())
    method.logits(roles, batch.video, batch.cond, t, eps)
    x_in, t_in = inputs[0]
    torch.testing.assert_close(
        x_in, flow.interpolate(batch.video, eps, t)
    )  # re-noised to the level the backbone is told
    assert torch.equal(t_in, t) and t.min() > 0
    off = methods.build(AptConfig(head_dim=16, queries=2, sigma_s=0.0)).disc_loss(batch, roles, seeding.streams(0, 0)())
    on = method.disc_loss(batch, roles, seeding.streams(0, 0)())
    assert off.logs["apt/r1"] == 0.0 and on.logs["apt/r1"] > 0.0
    assert on.loss.item() == pytest.approx(on.logs["apt/d_loss"] + 100.0 * on.logs["apt/r1"], rel=1e-5)


def test_the_cross_attention_head_without_semantics_ignores_the_prompt(teacher_dir, batch):  # noqa: F811
    _, roles = build(AptConfig(head_dim=16, queries=2), teacher_dir)
    spec = roles.teacher.spec
    t = torch.full((batch.video.shape[0],), 0.5)
    feats = roles.teacher.features(batch.video, t, batch.cond, (0, 2))
    other = batch.cond.uncond()  # the negative prompt's text, the image kept
    for semantics in (True, False):
        torch.manual_seed(0)
        head = SemanticHead(spec, 2, queries=2, dim=16, semantics=semantics)
        a, b = head(feats, batch.cond, t, None), head(feats, other, t, None)
        assert torch.allclose(a, b) != semantics
