"""A block-causal Wan (the `wan` adapter's causal_block > 0) on tiny random Wan transformers (T2V and
I2V): the KV cache computes what the full sequence under the block-causal mask computes, the mask
hides later frames, causal_block 0 is diffusers' forward bit for bit, a rollout trains, and a causal
distillation runs on a Wan teacher end to end."""

import pytest
import torch

from onestep import causal, samplers
from onestep.errors import UserError
from onestep.models.wan import TEXT_LEN, WanModel
from onestep.models.wan_causal import rope_tables
from onestep.seeding import Draws
from onestep.types import Cond
from tests.test_causal import uncached
from tests.test_wan import IMAGE_DIM, IMAGE_TOKENS, TEXT_DIM, tiny_transformer

SIZE = (4, 4, 4)  # latent frames, height, width: 4 tokens per frame with Wan's (1, 2, 2) patches

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def wan(i2v: bool, causal_block: int = 0) -> WanModel:
    """The tiny Wan of tests/test_wan.py (the same weights for every causal_block)."""
    return WanModel(tiny_transformer(i2v), SIZE, causal_block=causal_block)


def condition(i2v: bool, B: int = 2) -> Cond:
    g = torch.Generator().manual_seed(1)
    cond = Cond(torch.randn(B, 7, TEXT_DIM, generator=g), torch.ones(B, 7, dtype=torch.bool))
    if i2v:  # the condition latent of every frame: what the VAE makes of the first frame and zeros after it
        cond.latent, cond.latent_mask = torch.randn(B, 16, *SIZE, generator=g), torch.ones(B)
        cond.image_tokens = torch.randn(B, IMAGE_TOKENS, IMAGE_DIM, generator=g)
    return cond


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
@pytest.mark.parametrize("causal_block", [1, 2])
def test_the_kv_cache_computes_what_the_block_causal_mask_does(i2v, causal_block):
    model, cond = wan(i2v, causal_block), condition(i2v)
    noise = torch.randn(2, 16, *SIZE, generator=torch.Generator().manual_seed(2))
    times = causal.block_times(SIZE[0] // causal_block, 2, 3.0, first_block_steps=3)
    with torch.no_grad():
        ours = causal.generate(model, noise, cond, times, generator=torch.Generator().manual_seed(3))
        theirs = uncached(model, noise, cond, times, torch.Generator().manual_seed(3))
    assert ours.abs().mean() > 0.1
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
def test_the_mask_hides_later_frames_and_one_block_of_all_frames_is_bidirectional(i2v):
    cond, t = condition(i2v), torch.tensor([0.4, 0.8])
    x = torch.randn(2, 16, *SIZE, generator=torch.Generator().manual_seed(4))
    later = x.clone()
    later[:, :, 1:] = torch.randn(2, 16, SIZE[0] - 1, *SIZE[1:], generator=torch.Generator().manual_seed(5))
    bidirectional, one_block, causal_model = wan(i2v), wan(i2v, SIZE[0]), wan(i2v, 1)
    with torch.no_grad():
        full, ours = bidirectional(x, t, cond), causal_model(x, t, cond)
        torch.testing.assert_close(
            one_block(x, t, cond), full, rtol=1e-5, atol=1e-5
        )  # the processor is diffusers' attention
        assert all((ours[:, :, f] - full[:, :, f]).abs().max() > 1e-3 for f in range(SIZE[0]))
        torch.testing.assert_close(causal_model(later, t, cond)[:, :, 0], ours[:, :, 0], rtol=1e-6, atol=1e-6)
        assert (bidirectional(later, t, cond)[:, :, 0] - full[:, :, 0]).abs().max() > 1e-3


def test_causal_block_0_is_diffusers_forward_bit_for_bit():
    from diffusers.models.transformers.transformer_wan import WanAttnProcessor

    for i2v in (False, True):
        transformer = tiny_transformer(i2v)
        model, cond = WanModel(transformer, SIZE), condition(i2v)
        assert model.causal is None and all(type(b.attn1.processor) is WanAttnProcessor for b in model.blocks)
        x, t = torch.randn(2, 16, *SIZE), torch.tensor([0.3, 0.9])
        text = torch.cat([cond.text, torch.zeros(2, TEXT_LEN - 7, TEXT_DIM)], 1)
        hidden, image = x, None
        if i2v:
            mask = torch.zeros(2, 4, *SIZE)
            mask[:, :, 0] = 1.0
            hidden, image = torch.cat([x, mask, cond.latent], 1), cond.image_tokens
        with torch.no_grad():
            assert torch.equal(model(x, t, cond), transformer(hidden, 1000.0 * t, text, image, return_dict=False)[0])
        with pytest.raises(UserError, match="bidirectional"):
            model(x, t, cond, 0, causal.new_cache(model))


def test_rotary_positions_continue_at_the_frame_offset():
    rope = tiny_transformer(False).rope
    cos, sin = rope(torch.zeros(1, 16, *SIZE))
    assert all(
        torch.equal(a, b) for a, b in zip(rope_tables(rope, (4, 2, 2), 0), (cos, sin))
    )  # diffusers' own tables at 0
    shifted = rope_tables(rope, (2, 2, 2), 2)
    assert torch.equal(shifted[0], cos[:, 8:]) and torch.equal(shifted[1], sin[:, 8:])
    with pytest.raises(UserError, match="rotary positions"):
        rope_tables(rope, (2, 2, 2), rope.max_seq_len - 1)


def test_a_causal_wan_refuses_what_is_not_whole_blocks():
    model, cond = wan(False, 2), condition(False, 1)
    with pytest.raises(UserError, match="whole number of its 2-frame blocks"):
        model(torch.zeros(1, 16, 3, 4, 4), torch.ones(1), cond)
    with pytest.raises(UserError, match="block boundary"):
        model(torch.zeros(1, 16, 2, 4, 4), torch.ones(1), cond, 1, causal.new_cache(model))
    with pytest.raises(UserError, match="must divide the 4 latent frames"):
        wan(False, 3)


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
def test_a_rollout_on_a_causal_wan_has_gradient_at_the_exit_steps(i2v):
    model = wan(i2v, 1).train().requires_grad_(True)
    d = Draws(0, 0, 0)
    video = causal.rollout(model, condition(i2v), d, (2, 16, *SIZE), samplers.student_times(2, 3.0), [1, 0, 1, 0])
    assert video.shape == (2, 16, *SIZE) and video.requires_grad
    video.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.blocks[0].attn1.to_q.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
def test_a_causal_distillation_runs_on_a_wan_teacher(i2v, tmp_path):
    """`causal-test`'s ASD phase (its causal init regresses ODE pairs, which a latent cache has not) for
    two steps on a tiny Wan with model.student_causal_block=1: the student exports block-causal and
    samples block by block."""
    from onestep.commands import distill
    from onestep.models import wan_tiny
    from onestep.models.io import load_model, weights_hash
    from tests.test_cache import write_cache

    teacher = wan_tiny.build(tmp_path / "wan", i2v=i2v)
    cache = write_cache(
        tmp_path / "cache", i2v=i2v, teacher_hash=weights_hash(teacher), text_dim=TEXT_DIM, image_dim=IMAGE_DIM
    )
    distill.run(
        preset="causal-test",
        teacher=teacher,
        data=cache,
        out=tmp_path / "run",
        overrides=["model.student_causal_block=1", "causal_init.steps=0"],
        progress=False,
    )
    student, config = load_model(tmp_path / "run" / "student")
    assert isinstance(student, WanModel) and student.causal_block == 1 and config["sampling"]["kind"] == "causal"
    original = load_model(teacher, latent_size=(3, 4, 4))[0].state_dict()
    assert any(not torch.equal(v, original[k]) for k, v in student.state_dict().items()), (
        "the student did not move from the teacher"
    )
    cond = Cond(torch.randn(1, 6, TEXT_DIM), torch.ones(1, 6, dtype=torch.bool))
    if i2v:
        cond.latent, cond.latent_mask, cond.image_tokens = (
            torch.randn(1, 16, 3, 4, 4),
            torch.ones(1),
            torch.randn(1, IMAGE_TOKENS, IMAGE_DIM),
        )
    with torch.no_grad():
        video = causal.generate(student, torch.randn(1, 16, 3, 4, 4), cond, causal.block_times(3, 1, 3.0, 2))
    assert torch.isfinite(video).all()
