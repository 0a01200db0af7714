"""`onestep sample --stream`: a block-causal student's video, written frame by frame as each block is
denoised, as long as asked (past the training length, with a rolling KV cache: eval/stream.py).

The .mp4 is fragmented (each block's frames are a playable fragment once written), so a player can
open OUT.partial.mp4 while the stream goes on; it becomes OUT when the last block is written.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from onestep import causal
from onestep.commands.sample import first_frame, sampler_for
from onestep.errors import UserError
from onestep.eval import stream as stream_eval
from onestep.media import tensor_to_frames, to_uint8
from onestep.models.io import load_model
from onestep.models.kinds import kind_of
from onestep.models.text import TextEncoder
from onestep.seeding import clip as clip_generator

SCALE, FPS = 4, 8  # as media.write_video


class Mp4Stream:
    """Frames appended as they come to a fragmented H.264 .mp4 at `path`.partial.mp4, renamed to `path`
    on close (a failed stream leaves the partial file, never a truncated `path`)."""

    def __init__(self, path: Path, width: int, height: int, fps: int = FPS):
        import av

        self.path, self.tmp = path, path.with_name(path.name + ".partial.mp4")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(
            str(self.tmp),
            mode="w",
            format="mp4",
            options={"movflags": "frag_keyframe+empty_moov", "flush_packets": "1"},
        )
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.options = {
            "crf": "12",
            "g": "1",
            "tune": "zerolatency",
        }  # no lookahead, every frame a keyframe: each block is a fragment
        self.frames = 0

    def write(self, frames: np.ndarray) -> None:
        import av

        for f in to_uint8(frames).repeat(SCALE, axis=1).repeat(SCALE, axis=2):
            for packet in self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                self.container.mux(packet)
            self.frames += 1

    def close(self) -> Path:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.tmp.replace(self.path)
        return self.path


def run(
    *,
    model_dir: Path,
    prompt: str,
    image: Path | None,
    nfe: int | None,
    steps: int | None,
    seed: int,
    out: Path,
    frames: int | None = None,
    first_block_steps: int | None = None,
    window: int | None = None,
    sink: int = 0,
    say=print,
    on_block=None,
) -> dict:
    """Stream `frames` frames (default 4x the training length) to `out` (.mp4); returns the timings."""
    if out.suffix.lower() != ".mp4":
        raise UserError(
            f"cannot stream to {out.name}: --stream writes a fragmented .mp4 as blocks finish; use an .mp4 --out"
        )
    kind = kind_of(model_dir)
    model, config = load_model(model_dir)
    if kind.data != "world":
        raise UserError(
            f"{model_dir} is a {kind.name} model: --stream is for a block-causal student of the built-in DiT"
        )
    if config.get("sampling", {}).get("kind") != "causal":
        raise UserError(
            "--stream is for block-causal students: this model samples all frames at once (distill one with a causal "
            "preset: causal-init, self-forcing, asd)"
        )
    spec = sampler_for(config, nfe, steps, None, first_block_steps)
    mc = model.config
    frames = 4 * mc.frames if frames is None else frames
    window = stream_eval.check(model, spec, 1, window, sink)
    bf = causal.block_frames(model)
    if frames < bf or frames % bf:
        raise UserError(
            f"--frames {frames} is not a whole number of this model's {bf}-frame blocks: use a multiple of {bf}"
        )
    cond = stream_eval.conditions(TextEncoder.of(config), [prompt], first_frame(image, (mc.height, mc.width), say))
    noise = stream_eval.stream_noise(seed, 0, (mc.channels, frames, mc.height, mc.width), mc.frames)[
        None
    ]  # starts as `onestep sample` does
    writer = Mp4Stream(out, mc.width * SCALE, mc.height * SCALE)
    marks: list[float] = []
    t0 = time.perf_counter()

    def block_done(b: int, x0: torch.Tensor) -> None:
        writer.write(tensor_to_frames(x0[0].clamp(-1, 1)))
        marks.append(time.perf_counter() - t0)
        if on_block is not None:
            on_block(b, writer.frames)

    try:
        stream_eval.stream(
            model,
            cond,
            noise,
            spec,
            window=window,
            sink=sink,
            generator=clip_generator(seed, 0, "cpu", stream_eval.RENOISE_STREAM),
            on_block=block_done,
        )
    except BaseException:
        writer.container.close()  # the frames so far stay readable in the partial file
        raise
    writer.close()
    timings = {
        "frames": frames,
        "time_to_first_frame_s": marks[0],
        "frames_per_s": frames / marks[-1],
        "window": window,
        "sink": sink,
    }
    say(
        f"wrote {out} ({frames} frames, {frames / mc.frames:g}x the training length; {spec.steps} step(s) per block"
        f"{f', {spec.first_block_steps} for the first' if spec.first_block_steps else ''}; first frame after "
        f"{marks[0]:.2f} s, {timings['frames_per_s']:.1f} frames/s)"
    )
    return timings
