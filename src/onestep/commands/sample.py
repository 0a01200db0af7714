"""`onestep sample`: one video from a prompt (and an optional first frame) with any model directory:
a onestep model, which samples the world's pixels, or a folder of a kind with a codec (a Wan diffusers
folder, the teacher's or `onestep export`'s), whose own text and image encoders and VAE encode the
condition and decode the latents (models/kinds.py `codec`; models/wan_pipeline.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from onestep.errors import UserError
from onestep.eval.sample import SamplerSpec, generate
from onestep.media import parse_size, read_image, write_video
from onestep.models.io import load_model
from onestep.models.kinds import kind_of
from onestep.models.text import TextEncoder
from onestep.types import Cond


def sampler_for(
    config: dict, nfe: int | None, steps: int | None, cfg: float | None, first_block_steps: int | None = None
) -> SamplerSpec:
    """The model's own sampling defaults, overridden by --nfe, or by --steps and --cfg; a causal
    student's first-block steps (FFE) by --first-block-steps (0: none)."""
    s = config.get("sampling", {})
    is_causal = s.get("kind") == "causal"
    if first_block_steps is not None and not is_causal:
        raise UserError(
            "--first-block-steps is for block-causal students (First Frame Enhancement): this model samples all "
            "frames at once"
        )
    first = s.get("first_block_steps", 0) if first_block_steps is None else first_block_steps
    if first < 0:
        raise UserError(f"--first-block-steps {first}: pass 0 (no enhancement) or 1 or more")
    student = s.get("kind", "euler") in ("renoise", "causal")
    guidance = 1.0 if student else (cfg if cfg is not None else s.get("guidance", 1.0))
    shift = s.get("shift", 1.0)
    if nfe is not None and steps is not None:
        raise UserError("--nfe and --steps both set the number of steps: pass one of them")
    if nfe is not None:
        if nfe < 1:
            raise UserError(f"--nfe {nfe} is not a number of network evaluations: pass 1 or more")
        if not student and guidance != 1.0 and nfe > 1 and nfe % 2:
            raise UserError(
                f"--nfe {nfe} is odd but this teacher spends 2 evaluations per step with CFG: pass an even --nfe, or "
                "--cfg 1"
            )
        return SamplerSpec.from_nfe(
            nfe, student=student, guidance=guidance, shift=shift, causal=is_causal, first_block_steps=first
        )
    n = steps if steps is not None else s.get("steps", 1)
    if not isinstance(n, int) or n < 1:
        where = f"--steps {n}" if steps is not None else f"the model's config.json sampling.steps {n!r}"
        raise UserError(
            f"{where} must be a whole number of 1 or more"
            + ("" if steps is not None else ": restore it, or pass --steps")
        )
    return SamplerSpec(
        "causal" if is_causal else "renoise" if student else "euler",
        n,
        guidance,
        shift,
        first_block_steps=first if is_causal else 0,
    )


def first_frame(image: Path | None, size: tuple[int, int], say=print) -> torch.Tensor | None:
    """--image as the built-in DiT's first frame (1, 3, H, W) in [-1, 1], resized and cropped to `size`."""
    if image is None:
        return None
    frame, note = read_image(image, size)
    if note:
        say(note)
    return torch.from_numpy(frame).permute(2, 0, 1)[None] * 2 - 1


def run(
    *,
    model_dir: Path,
    prompt: str,
    image: Path | None,
    nfe: int | None,
    steps: int | None,
    cfg: float | None,
    seed: int,
    out: Path,
    frames: int | None = None,
    size: str | None = None,
    say=print,
    first_block_steps: int | None = None,
) -> Path:
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"cannot write {out.name}: --out must end in .mp4 or .gif")
    if seed < 0:
        raise UserError(f"--seed {seed}: use 0 or more")
    if cfg is not None and not (math.isfinite(cfg) and cfg > 0):
        raise UserError(f"--cfg {cfg}: use a positive guidance scale (1 = none)")
    kind = kind_of(model_dir)
    config = kind.read_config(Path(model_dir))
    if kind.codec is not None:
        spec = sampler_for(config, nfe, steps, cfg)
        video, (frames, height, width) = codec_video(
            model_dir, kind, config, prompt, image, spec, seed, frames, size, say
        )
        write_video(out, video, fps=16, scale=1)
        say(
            f"wrote {out} ({spec.nfe} NFE: {spec.steps} {spec.kind} step(s), guidance {spec.guidance}; {frames} "
            f"frames of {width}x{height})"
        )
        return out
    if frames is not None or size is not None:
        raise UserError("--frames and --size are for Wan models: the built-in DiT makes videos of its own size")
    model, config = load_model(model_dir)
    shape = model.spec.video_shape  # (C, F, H, W)
    first = first_frame(image, shape[2:], say)
    spec = sampler_for(config, nfe, steps, cfg, first_block_steps)
    encoder = TextEncoder.of(config)
    video = generate(model, encoder, [prompt], first, spec, seed=seed, shape=shape)[0]
    if not np.isfinite(video).all():
        raise UserError(
            f"{model_dir} made a video with non-finite values (NaN or inf weights?): nothing was written; check the "
            "model"
        )
    write_video(out, video)
    ffe = f", {spec.first_block_steps} for the first block" if spec.kind == "causal" and spec.first_block_steps else ""
    say(f"wrote {out} ({spec.nfe} NFE: {spec.steps} {spec.kind} step(s){ffe}, guidance {spec.guidance})")
    return out


class CodecSampler:
    """A folder of a kind with a codec ready to sample: its network, and its own encoders and VAE (the
    kind's `codec`, models/wan_pipeline.py for Wan), at `frames` x `size` (default: an export's own
    size, else the codec's default, 81 x 480x832 for Wan)."""

    def __init__(self, model_dir: Path, kind, config: dict, frames: int | None = None, size: str | None = None):
        codec = kind.codec
        if not codec.in_folder(Path(model_dir)):
            raise UserError(
                f"{model_dir} is a {kind.title} transformer without its VAE and encoders: sample from the teacher's "
                "pipeline folder or an `onestep export` of the run"
            )
        f, h, w = codec.pixel_size(config["latent_size"]) if config.get("latent_size") else codec.default_size
        self.frames = frames if frames is not None else f
        self.height, self.width = parse_size(size) if size else (h, w)
        self.latent = codec.latent_size(self.frames, self.height, self.width)
        self.model, _ = load_model(model_dir, latent_size=self.latent)
        self.encoders, self.i2v = codec(Path(model_dir), config["i2v"], "cpu"), config["i2v"]
        self.name, self.title = model_dir, kind.title
        self.negative = self.encoders.text([""])

    def __call__(self, prompt: str, first, spec: SamplerSpec, seed: int, index: int = 0):
        """Frames (F, H, W, 3) in [0, 1] for a prompt and a first frame ((H, W, 3) in [0, 1], or None),
        from the noise `clip_noise(seed, index)`."""
        from onestep.eval.latency import denoise
        from onestep.eval.sample import clip_noise

        text = self.encoders.text([prompt])
        cond = Cond(text["text"], text["text_mask"])
        if self.i2v:
            if first is None:
                raise UserError(
                    f"{self.name} is an image-to-video {self.title} model: "
                    'give the first frame (--image, or "image" in --conditions)'
                )
            c = self.encoders.condition((first * 255).round().astype("uint8"), self.frames)
            cond = Cond(text["text"], text["text_mask"], c["cond_latent"], image_tokens=c["image_tokens"])
        cond = cond.with_negative(self.negative["text"], self.negative["text_mask"])
        x0 = denoise(self.model, spec, clip_noise(seed, index, (self.model.spec.channels, *self.latent))[None], cond)
        return self.encoders.decode(x0)[0]


def codec_video(
    model_dir: Path,
    kind,
    config: dict,
    prompt: str,
    image: Path | None,
    spec: SamplerSpec,
    seed: int,
    frames: int | None,
    size: str | None,
    say=print,
):
    """(frames (F, H, W, 3) in [0, 1], (F, H, W)) of one prompt (and first frame) from `clip_noise(seed, 0)`."""
    if image is not None and not config["i2v"]:
        raise UserError(
            f"{model_dir} is a text-to-video {kind.title} model and takes no first frame: drop --image, or sample an "
            f"image-to-video {kind.title} folder"
        )
    sampler = CodecSampler(model_dir, kind, config, frames, size)
    first = None
    if image is not None:
        first, note = read_image(image, (sampler.height, sampler.width))
        if note:
            say(note)
    return sampler(prompt, first, spec, seed), (sampler.frames, sampler.height, sampler.width)
