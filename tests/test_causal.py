"""Block-causal generation: the KV cache computes what the full sequence under the block-causal mask
computes; First Frame Enhancement's schedules; a rolling window keeps its sink frames; a stream may
run past the training length."""

import pytest
import torch

from onestep import causal, samplers
from onestep.errors import UserError
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.types import Cond


def causal_dit(causal_block: int = 1) -> VideoDiT:
    """A tiny block-causal DiT (4 latent frames of 2 video frames) with every weight random, so the
    zero-initialised gates do not hide the attention."""
    torch.manual_seed(0)
    m = VideoDiT(DiTConfig(dim=32, depth=2, heads=2, patch=(2, 4, 4), causal_block=causal_block)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return m


def condition(i2v: bool, B: int = 2) -> Cond:
    g = torch.Generator().manual_seed(1)
    cond = Cond(torch.randn(B, 5, 384, generator=g), torch.ones(B, 5, dtype=torch.bool))
    return Cond(cond.text, cond.text_mask, torch.randn(B, 3, 32, 32, generator=g)) if i2v else cond


def uncached(model, noise, cond, times, generator):
    """The same sampler without a cache: at every step the whole video runs under the block-causal
    mask, the finished blocks clean at t = 0, the current block at its t, the later ones anything
    (any model: tests/test_wan_causal.py uses it too)."""
    bf, (B, C, F, H, W) = causal.block_frames(model), noise.shape
    clean = []
    for b in range(F // bf):

        def net(x, t, c, b=b):
            later = torch.randn(B, C, F - (b + 1) * bf, H, W)
            video = torch.cat([*clean, x, later], 2)
            per_frame = torch.cat(
                [torch.zeros(B, b * bf), t[:, None].expand(B, bf), torch.ones(B, F - (b + 1) * bf)], 1
            )
            return model(video, per_frame, c)[:, :, b * bf : (b + 1) * bf]

        clean.append(
            samplers.renoise(net, noise[:, :, b * bf : (b + 1) * bf], cond, times=times[b], generator=generator)
        )
    return torch.cat(clean, 2)


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
@pytest.mark.parametrize("causal_block", [1, 2])
def test_the_kv_cache_computes_what_the_block_causal_mask_does(i2v, causal_block):
    model, cond = causal_dit(causal_block), condition(i2v)
    noise = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(2))
    times = causal.block_times(4 // causal_block, 2, 3.0, first_block_steps=3)
    with torch.no_grad():
        ours = causal.generate(model, noise, cond, times, generator=torch.Generator().manual_seed(3))
        theirs = uncached(model, noise, cond, times, torch.Generator().manual_seed(3))
    assert ours.abs().mean() > 0.1
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_first_frame_enhancement_schedules():
    one_star = causal.block_times(4, 1, 3.0, first_block_steps=4)
    assert [len(t) for t in one_star] == [4, 1, 1, 1] and one_star[0][0] == one_star[1][0] == 1.0
    assert one_star[0] == samplers.student_times(4, 3.0)
    assert causal.block_times(3, 2, 3.0) == [samplers.student_times(2, 3.0)] * 3  # no FFE: one schedule
    with pytest.raises(UserError, match="use 1 or more"):
        causal.block_times(3, 1, 3.0, first_block_steps=0)


def test_a_stream_runs_past_the_training_length_with_a_rolling_window():
    model, cond = causal_dit(1), condition(False, B=1)
    noise = torch.randn(1, 3, 24, 32, 32)  # 12 latent frames: 3x the training length
    seen = []
    with torch.no_grad():
        video = causal.generate(
            model,
            noise,
            cond,
            causal.block_times(12, 1, 3.0, 2),
            window=4,
            sink=1,
            on_block=lambda b, x: seen.append(b),
        )
    assert video.shape == noise.shape and torch.isfinite(video).all() and seen == list(range(12))


def test_the_window_drops_the_oldest_frames_but_keeps_the_sinks():
    cache = causal.new_cache(causal_dit(1), window=3, sink=1)
    n = cache.tokens_per_frame
    for frame in range(5):  # each written frame's keys are its index
        with cache.write():
            for layer in cache.layers:
                layer.extend(torch.full((1, 2, n, 16), float(frame)), torch.zeros(1, 2, n, 16))
            cache.advance(n, 1)
    kept = cache.layers[0].k[0, 0, ::n, 0].tolist()
    assert cache.frames == 3 and kept == [0.0, 3.0, 4.0]  # the sink, then the newest two


def test_bidirectional_models_refuse_what_needs_causality():
    from tests.tiny import tiny_teacher

    with pytest.raises(UserError, match="bidirectional"):
        causal.block_frames(tiny_teacher())
    with pytest.raises(UserError, match="bidirectional"):
        tiny_teacher()(torch.zeros(1, 3, 8, 32, 32), torch.ones(1), condition(False, 1), 0, causal.KVCache(3, 64))
    with pytest.raises(UserError, match="whole number of its 2-frame blocks"):
        causal_dit(1)(torch.zeros(1, 3, 3, 32, 32), torch.ones(1), condition(False, 1))
