"""Streaming evaluation: a block-causal student makes videos `length` times as long as it was trained
on, from the held-out clips' conditions, and each training-length segment is scored on its own, so
the table shows how quality drifts as the stream goes on (ASD's long-video setting; Self-Forcing's
rolling KV cache).

Each segment of F frames (the training length) is scored with what needs no ground truth of that
moment: the suite's Quality (its reference-free dimensions, normalised on the track's anchors, so a
segment as good as the world's own clips scores 100), the camera move on photocam (the prompted move
goes on for the whole stream), and FD in featnet space against the track's ground-truth clips. The
first segment is the ordinary video (the first frame is the condition); later ones show the drift.
Beside them, the time to the first frame and the frames per second of one stream at batch 1.

The cache keeps at most `window` latent frames (default: the training context, so no query ever sees
more frames than in training; `sink` of them always the first), and rotary positions go on past the
trained range (causal.generate).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from onestep import causal
from onestep.errors import UserError
from onestep.eval import aggregate, distance, features, proxies, suite
from onestep.eval.sample import SamplerSpec, clip_noise
from onestep.media import tensor_to_frames
from onestep.seeding import clip as clip_generator
from onestep.types import Cond
from onestep.world import instruments
from onestep.world.clip import Clip

RENOISE_STREAM = 7  # the re-noising draws: eval/sample.generate's, so a stream starts as its video does
EXTENSION_STREAM = 11  # the noise of the frames past the training length


def stream_noise(seed: int, index: int, shape: tuple[int, int, int, int], frames: int) -> torch.Tensor:
    """(C, F_total, H, W): the first `frames` (the training length) are clip_noise(seed, index) of that
    length, as the suite's and `onestep sample`'s videos draw them, so the stream's first segment is the
    ordinary video of the same seed (later blocks never change earlier ones); the rest from their own key."""
    C, total, H, W = shape
    head = clip_noise(seed, index, (C, min(frames, total), H, W))
    if total <= frames:
        return head
    return torch.cat(
        [head, torch.randn((C, total - frames, H, W), generator=clip_generator(seed, index, "cpu", EXTENSION_STREAM))],
        1,
    )


def default_window(model) -> int:
    """Cached latent frames such that cache + the current block equal the training context."""
    return model.spec.grid[0] - causal.causal_block(model)


def check(model, spec: SamplerSpec, length: int, window: int | None, sink: int) -> int:
    """The window to use, or a UserError naming the problem with the settings."""
    if spec.kind != "causal":
        raise UserError(
            "streaming is for block-causal students: this model samples all frames at once (distill one with a "
            "causal preset: causal-init, self-forcing, asd)"
        )
    if length < 1:
        raise UserError(f"--stream {length}: pass how many times the training length to generate (1 or more)")
    window = default_window(model) if window is None else window
    if window < 1 or not 0 <= sink < window:
        raise UserError(
            f"a KV window of {window} latent frames with {sink} sink frames: use a window of 1 or more and 0 <= sink "
            "< window"
        )
    return window


def conditions(encoder, prompts: list[str], images: torch.Tensor | None) -> Cond:
    text, mask = encoder(prompts)
    return Cond(text, mask, images).with_negative(*encoder.null(1))


@torch.no_grad()
def stream(
    model, cond: Cond, noise: torch.Tensor, spec: SamplerSpec, *, window: int, sink: int, generator=None, on_block=None
) -> torch.Tensor:
    """x0 (B, C, F, H, W) of `noise`, block by block, the cache rolling at `window` latent frames."""
    times = causal.block_times(
        noise.shape[2] // causal.block_frames(model), spec.steps, spec.shift, spec.first_block_steps or None
    )
    return causal.generate(model, noise, cond, times, generator=generator, window=window, sink=sink, on_block=on_block)


def stream_clips(
    model,
    encoder,
    clips: list[Clip],
    spec: SamplerSpec,
    length: int,
    *,
    window: int,
    sink: int,
    seed: int = 0,
    batch_size: int = 16,
    progress=None,
) -> np.ndarray:
    """Videos (N, length F, H, W, 3) in [0, 1] for the clips' prompts and first frames; clip i streams
    from stream_noise(seed, i), so every model streams from the same noise, and segment 0 is the
    suite's video of the clip (eval/sample.generate_for_clips at the same seed)."""
    F, H, W, _ = clips[0].video.shape
    shape = (3, length * F, H, W)
    out = []
    for start in range(0, len(clips), batch_size):
        part = clips[start : start + batch_size]
        images = torch.stack([torch.from_numpy(c.first_frame).permute(2, 0, 1) * 2 - 1 for c in part])
        noise = torch.stack([stream_noise(seed, start + i, shape, F) for i in range(len(part))])
        g = clip_generator(seed, start, "cpu", RENOISE_STREAM)
        x0 = stream(
            model,
            conditions(encoder, [c.prompt for c in part], images),
            noise,
            spec,
            window=window,
            sink=sink,
            generator=g,
        )
        out.extend(tensor_to_frames(v) for v in x0.clamp(-1, 1))
        if progress is not None:
            progress(len(part))
    return np.stack(out)


def segment_rows(videos: np.ndarray, clips: list[Clip], segment: int) -> list[dict[str, float]]:
    """Per clip, the reference-free dimensions of frames [segment F, (segment + 1) F) and, on photocam,
    whether the camera still makes the prompted move."""
    F = clips[0].video.shape[0]
    rows = []
    for video, clip in zip(videos[:, segment * F : (segment + 1) * F], clips):
        row = proxies.proxies(video)
        sharp = proxies.sharpness_relative(video, clip.video)
        row["imaging_quality[sharpness]"] = float(min(sharp, 1.0 / max(sharp, 1e-12)))
        if clip.track == "photocam":
            row["camera_acc"] = float(instruments.estimate_camera(video)["move"] == clip.truth["move"])
        rows.append(row)
    return rows


def quality(rows: list[dict], bounds: dict) -> float:
    """The suite's Quality (aggregate.QUALITY dimensions, normalised on the anchors) of these clips."""
    means = {k: aggregate.finite_mean([r[k] for r in rows if k in r]) for k in aggregate.QUALITY}
    return aggregate.scores(aggregate.normalise(means, bounds))["quality"]


def score_segments(
    videos: np.ndarray, clips: list[Clip], bounds: dict, featnet, length: int, seed: int = 0
) -> list[dict]:
    """One dict per segment: quality [interval], camera_acc [interval] (photocam), fd[featnet]."""
    rng = np.random.default_rng(seed)
    truth = features.extract(featnet, np.stack([c.video for c in clips]))
    F = clips[0].video.shape[0]
    out = []
    for s in range(length):
        rows = segment_rows(videos, clips, s)
        draws = [
            quality([rows[i] for i in rng.integers(0, len(rows), len(rows))], bounds) for _ in range(suite.BOOTSTRAP)
        ]
        seg = {
            "segment": s,
            "frames": [s * F, (s + 1) * F],
            "quality": quality(rows, bounds),
            "intervals": {"quality": (float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5)))},
            "fd[featnet]": distance.frechet_distance(
                features.extract(featnet, np.ascontiguousarray(videos[:, s * F : (s + 1) * F])), truth
            ),
        }
        if all("camera_acc" in r for r in rows):
            seg["camera_acc"] = float(np.mean([r["camera_acc"] for r in rows]))
            seg["intervals"]["camera_acc"] = suite.bootstrap(
                {"photocam": np.array([r["camera_acc"] for r in rows])}, rng
            )
        out.append(seg)
    return out


def latency(
    model, encoder, spec: SamplerSpec, frames: int, *, window: int, sink: int, repeats: int = 3, i2v: bool = True
) -> dict[str, float]:
    """Median over `repeats` streams of `frames` frames at batch 1: seconds to the first block's frames
    (time to first frame) and frames per second over the whole stream."""
    c = model.config
    cond = conditions(encoder, ["a red circle moves right"], torch.zeros(1, 3, c.height, c.width) if i2v else None)
    noise = clip_noise(0, 0, (c.channels, frames, c.height, c.width))[None]
    first, total = [], []
    stream(model, cond, noise[:, :, : causal.block_frames(model)], spec, window=window, sink=sink)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        marks = []
        stream(
            model,
            cond,
            noise,
            spec,
            window=window,
            sink=sink,
            on_block=lambda b, x: marks.append(time.perf_counter() - t0),
        )
        first.append(marks[0])
        total.append(time.perf_counter() - t0)
    return {
        "time_to_first_frame_s": float(np.median(first)),
        "frames_per_s": float(frames / np.median(total)),
        "frames": frames,
    }
