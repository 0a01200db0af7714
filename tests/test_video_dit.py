"""The built-in video DiT: shapes, the I2V layout, block-causal attention, and input errors."""

import pytest
import torch

from onestep.errors import UserError
from onestep.models.video_dit import DiTConfig, VideoDiT, preset
from onestep.types import Cond


def tiny(**kw) -> VideoDiT:
    torch.manual_seed(0)
    return VideoDiT(DiTConfig(dim=32, depth=2, heads=2, frames=4, height=16, width=16, **kw))


def cond_for(B, image=True, L=5):
    g = torch.Generator().manual_seed(3)
    text = torch.randn(B, L, 384, generator=g)
    img = torch.randn(B, 3, 16, 16, generator=g) if image else None
    return Cond(text, torch.ones(B, L, dtype=torch.bool), img)


def perturb(model: VideoDiT) -> VideoDiT:
    """adaLN-zero makes a fresh model output zeros: give every weight a little noise for these tests."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def test_zero_init_output_and_shapes():
    m = tiny()
    x = torch.randn(2, 3, 4, 16, 16)
    v = m(x, torch.rand(2), cond_for(2))
    assert v.shape == x.shape and torch.count_nonzero(v) == 0  # adaLN-zero: the output starts at 0


@pytest.mark.parametrize("patch", [(1, 4, 4), (2, 4, 4)])
def test_t2v_and_i2v_from_one_model(patch):
    m = perturb(tiny(patch=patch))
    x = torch.randn(2, 3, 4, 16, 16)
    t = torch.rand(2)
    v_i2v = m(x, t, cond_for(2, image=True))
    v_t2v = m(x, t, cond_for(2, image=False))
    assert v_i2v.shape == v_t2v.shape == x.shape
    assert not torch.allclose(v_i2v, v_t2v)
    # a dropped image (latent_mask 0) is the same as no image
    c = cond_for(2, image=True)
    c.latent_mask = torch.zeros(2)
    assert torch.allclose(m(x, t, c), v_t2v, atol=1e-5)


def test_per_frame_times():
    m = perturb(tiny())
    x = torch.randn(1, 3, 4, 16, 16)
    same = m(x, torch.full((1,), 0.5), cond_for(1))
    per_frame = m(x, torch.full((1, 4), 0.5), cond_for(1))
    assert torch.allclose(same, per_frame, atol=1e-5)


def test_block_causal_attention_hides_the_future():
    """With causal_block=1, frame 0's output does not depend on later frames; bidirectional does."""
    x = torch.randn(1, 3, 4, 16, 16)
    x2 = x.clone()
    x2[:, :, 2:] = torch.randn_like(x2[:, :, 2:])
    t, c = torch.full((1,), 0.5), cond_for(1)
    causal = perturb(tiny(causal_block=1))
    assert torch.allclose(causal(x, t, c)[:, :, :2], causal(x2, t, c)[:, :, :2], atol=1e-5)
    full = perturb(tiny())
    assert not torch.allclose(full(x, t, c)[:, :, :2], full(x2, t, c)[:, :, :2], atol=1e-5)


def patches_alike(v: torch.Tensor) -> bool:
    """Whether every 4x4 patch of every frame of v (B, C, F, 16, 16) is the same."""
    tiles = v.unfold(3, 4, 4).unfold(4, 4, 4)  # (B, C, F, 4, 4, 4, 4)
    return torch.allclose(tiles, tiles[:, :, :, :1, :1].expand_as(tiles), atol=1e-5)


def test_absolute_positions_tell_the_model_where_it_is():
    """Rotary positions are relative: a video that is the same in every patch (one latent frame), with
    one text token and no image, gets the same output in every patch (so nothing in it can depend on
    the distance from the centre, which a zoom needs, except through the edges of the grid). The
    absolute (row, column) embedding breaks that, and starts at zero, so a model that gains it keeps its
    function (teacher init_from)."""
    x = torch.randn(1, 3, 4, 4, 4).repeat(1, 1, 1, 4, 4)
    t, c = torch.full((1,), 0.5), cond_for(1, image=False, L=1)
    relative = perturb(tiny(patch=(4, 4, 4)))
    assert patches_alike(relative(x, t, c))
    absolute = tiny(patch=(4, 4, 4), absolute_positions=True)
    absolute.load_state_dict(relative.state_dict(), strict=False)
    assert torch.equal(absolute(x, t, c), relative(x, t, c))
    with torch.no_grad():
        absolute.position_embed.normal_(std=0.1)
    assert not patches_alike(absolute(x, t, c))


@pytest.mark.parametrize("absolute_positions", [False, True])
def test_gradients_reach_every_parameter(absolute_positions):
    m = perturb(tiny(absolute_positions=absolute_positions))
    v = m(torch.randn(2, 3, 4, 16, 16), torch.rand(2), cond_for(2))
    v.square().mean().backward()
    dead = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead


def test_bad_inputs_name_the_fix():
    m = tiny()
    with pytest.raises(UserError, match="expected"):
        m(torch.randn(1, 3, 5, 16, 16), torch.rand(1), cond_for(1))
    with pytest.raises(UserError, match="first-frame"):
        m(
            torch.randn(1, 3, 4, 16, 16),
            torch.rand(1),
            Cond(torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool), torch.randn(1, 3, 8, 8)),
        )
    with pytest.raises(UserError, match="patches"):
        DiTConfig(frames=7, patch=(2, 4, 4))
    with pytest.raises(UserError, match="unknown model preset"):
        preset("huge")
