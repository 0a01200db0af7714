"""The one convention (flow.py) and the samplers, pinned to diffusers where diffusers defines them."""

import math

import pytest
import torch

from onestep import flow, samplers
from onestep.types import Cond


def test_interpolate_and_inverses():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 3, 4, 8, 8, generator=g), torch.randn(2, 3, 4, 8, 8, generator=g)
    t = torch.tensor([0.3, 0.9])
    x_t = flow.interpolate(x0, noise, t)
    v = flow.velocity(x0, noise)
    assert torch.allclose(flow.x0_from_v(x_t, v, t), x0, atol=1e-5)
    assert torch.allclose(flow.noise_from_v(x_t, v, t), noise, atol=1e-5)
    assert torch.allclose(flow.v_from_x0(x_t, x0, t), v, atol=1e-4)
    assert torch.equal(flow.interpolate(x0, noise, 1.0), noise)


def test_per_frame_times_broadcast_over_frames():
    x0, noise = torch.zeros(1, 2, 3, 4, 4), torch.ones(1, 2, 3, 4, 4)
    x_t = flow.interpolate(x0, noise, torch.tensor([[0.0, 0.5, 1.0]]))
    assert x_t[0, :, 0].max() == 0 and x_t[0, :, 1].mean() == 0.5 and x_t[0, :, 2].min() == 1


def test_shift_matches_diffusers_sigmas():
    from diffusers import FlowMatchEulerDiscreteScheduler

    sched = FlowMatchEulerDiscreteScheduler(shift=3.0)
    sched.set_timesteps(10)
    ours = flow.timesteps(10, 3.0)
    # diffusers shifts a grid from 1 to its sigma_min (it stops short of 0); compare on that grid
    unshifted = torch.linspace(1.0, float(sched.sigma_min), 10, dtype=torch.float64)
    assert torch.allclose(sched.sigmas[:-1].double(), flow.shift(unshifted, 3.0), atol=1e-6)
    assert ours[0] == 1.0 and ours[-1] == 0.0 and torch.all(ours[1:] < ours[:-1])


def test_one_euler_step_equals_diffusers_step():
    """Our x + (t_next - t) v against FlowMatchEulerDiscreteScheduler.step on the same velocity."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    sched = FlowMatchEulerDiscreteScheduler(shift=5.0)
    sched.set_timesteps(8)
    g = torch.Generator().manual_seed(1)
    x, v = torch.randn(1, 3, 2, 4, 4, generator=g), torch.randn(1, 3, 2, 4, 4, generator=g)
    for i in (0, 3, 7):
        sched._step_index = i
        theirs = sched.step(v, sched.timesteps[i], x).prev_sample
        t, t_next = sched.sigmas[i], sched.sigmas[i + 1]
        ours = x + (t_next - t) * v
        assert torch.allclose(ours, theirs, atol=1e-6)


class LinearNet(torch.nn.Module):
    """v = a x + b c, where c is the text's mean: enough to test guidance arithmetic exactly."""

    blocks = torch.nn.ModuleList()

    def forward(self, x, t, cond):
        return 0.5 * x + cond.text.mean(dim=(1, 2)).view(-1, 1, 1, 1, 1)


def test_cfg_standard_form():
    net = LinearNet()
    x, t = torch.randn(2, 1, 1, 2, 2), torch.full((2,), 0.5)
    cond = Cond(torch.full((2, 3, 4), 2.0), torch.ones(2, 3, dtype=torch.bool)).with_negative(
        torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.bool)
    )
    uncond = Cond(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    v = samplers.guided_velocity(net, x, t, cond, guidance=3.0)
    v_c, v_u = net(x, t, cond), net(x, t, uncond)
    assert torch.allclose(v, v_u + 3.0 * (v_c - v_u))
    assert torch.allclose(samplers.guided_velocity(net, x, t, cond, 1.0), v_c)
    with pytest.raises(ValueError, match="negative prompt"):
        samplers.guided_velocity(net, x, t, Cond(cond.text, cond.text_mask), guidance=3.0)


def test_euler_integrates_straight_path_exactly():
    """For a model that predicts the true velocity of a point mass, Euler lands on x0 in one step."""
    target = torch.randn(1, 3, 2, 4, 4)

    class Oracle(torch.nn.Module):
        blocks = torch.nn.ModuleList()

        def forward(self, x, t, cond):
            return flow.v_from_x0(x, target, t)

    cond = Cond(torch.zeros(1, 1, 4), torch.ones(1, 1, dtype=torch.bool))
    noise = torch.randn(1, 3, 2, 4, 4)
    for steps in (1, 7):
        out = samplers.euler(Oracle(), noise, cond, steps=steps, shift=3.0)
        assert torch.allclose(out, target, atol=1e-5)
    out = samplers.renoise(Oracle(), noise, cond, times=samplers.student_times(4, 3.0))
    assert torch.allclose(out, target, atol=1e-5)


@pytest.mark.parametrize("kind", ["uniform", "logit_normal"])
def test_sample_t_in_range(kind):
    g = torch.Generator().manual_seed(0)
    t = flow.sample_t(
        torch.randn(1000, generator=g) if kind == "logit_normal" else torch.rand(1000, generator=g), kind=kind, s=3.0
    )
    assert t.min() >= 0 and t.max() <= 1 and math.isclose(float(flow.shift(torch.tensor(0.5), 3.0)), 0.75)
    assert t.median() > 0.5  # the shift spends more time at high noise


def test_motion_weights_favour_moved_pixels_and_keep_the_loss_scale():
    from onestep.methods.flow_matching import motion_weights

    x0 = torch.zeros(2, 3, 4, 8, 8)
    x0[0, :, 2:, :2, :2] = 1.0  # clip 0: a corner changes after frame 1; clip 1: static
    w = motion_weights(x0, 4.0)
    assert w.shape == (2, 1, 4, 8, 8)
    assert torch.allclose(w.mean(dim=(1, 2, 3, 4)), torch.ones(2))
    assert w[0, 0, 2, 0, 0] > 4 * w[0, 0, 2, 5, 5] and torch.allclose(w[1], torch.ones_like(w[1]))
