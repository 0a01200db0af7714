"""`onestep prepare`: encode a folder of captioned videos once with a Wan teacher into a latent cache.

Training on real videos never runs the VAE or the encoders: this command writes what they compute
into CACHE/ in the format of data/cache.py (read by `CacheData`). The encoders are the teacher
folder's own, its kind's codec (models/kinds.py; models/wan_pipeline.py for Wan): loaded with
diffusers' Wan pipeline minus its transformer, and called through the pipeline's own code so the
cache holds what the pipeline would compute (../shared/METHODS.md 7):

- text: `pipe.encode_prompt(max_sequence_length=512)` (UMT5 states, padding zeroed, (N, 512, D)) and
  the mask of the real tokens from the pipeline's tokenizer call (the same `prompt_clean`).
- video: the clip's frames (3, F, H, W) in [-1, 1] VAE-encoded, the latent distribution's mode (its
  mean, `retrieve_latents(sample_mode="argmax")` as the pipeline encodes images), then normalised per
  channel as the pipeline does: (z - latents_mean) * (1 / latents_std).
- image-to-video: `pipe.encode_image(first frame)` (CLIP penultimate tokens) and the condition latent
  from `pipe.prepare_latents` (the first frame followed by zero pixels, encoded and normalised), less
  the 4 mask channels that the Wan adapter rebuilds.

Clips: every video in VIDEOS (sorted, not recursive) with a caption: NAME.txt beside it, or its row
of the folder's metadata.csv or metadata.jsonl (`file_name` and `text`, Hugging Face's video-folder
layout, which most training scripts read); `frames`
frames sampled at `fps` (frame i is the one showing at i / fps from the first frame), resized to cover
HxW and centre-cropped. A video that cannot be used (no caption, undecodable, too short) is one line
"NAME: reason" in CACHE/skipped.txt, never a crash; delete its line to try it again. A run that
leaves the cache with no clip at all exits with one line saying so.

Resume: clips already in the manifest's shards or in skipped.txt are not redone; shards are written
every `shard_size` clips, so a killed run loses at most the unfinished one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from onestep.data.cache import (
    MANIFEST,
    NEGATIVE,
    SKIPPED,
    add_shard,
    atomic_save,
    check_teacher,
    new_manifest,
    read_manifest,
)
from onestep.errors import UserError
from onestep.files import held, write_json
from onestep.media import parse_size
from onestep.models import kinds

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
DEFAULT_NEGATIVE = ""  # the Wan pipelines define no default negative prompt: encode_prompt uses "" when none is given
EPS = 1e-6  # seconds: a frame stamped at exactly i / fps is the one showing then


class Skip(Exception):
    """A video that cannot be used; the message is the reason written to skipped.txt."""


# ---------------------------------------------------------------------------------------------
# Settings


def check_settings(codec, frames: int, fps: float, height: int, width: int, shard_size: int) -> None:
    if codec is not None:
        codec.latent_size(frames, height, width)  # refuses what the VAE cannot take
    if not fps > 0 or fps == float("inf"):  # NaN too
        raise UserError(f"--fps {fps} is not positive: pass the frame rate to sample the videos at, e.g. --fps 16")
    if shard_size < 1:
        raise UserError(f"--shard-size {shard_size} is not positive: pass the clips per shard, e.g. --shard-size 16")


def check_cache(manifest: dict, cache: Path, teacher_hash: str, i2v: bool, settings: dict) -> None:
    """An existing cache is resumed only with its own teacher and settings."""
    check_teacher(manifest, cache, teacher_hash, i2v)
    have = manifest["settings"]
    differ = [k for k in settings if have.get(k) != settings[k]]
    if differ:
        what = ", ".join(f"{k} {have.get(k)} (this run {settings[k]})" for k in differ)
        raise UserError(
            f"{cache} was prepared with other settings: {what}; pass its --frames/--fps/--size to resume it, or use "
            "another --out"
        )


# ---------------------------------------------------------------------------------------------
# Videos


def list_videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


METADATA = ("metadata.csv", "metadata.jsonl")  # Hugging Face's video-folder captions: file_name and text
TEXT_COLUMNS = ("text", "caption", "prompt")


def metadata_captions(folder: Path) -> dict[str, str]:
    """{video file name: caption} from the folder's metadata.csv or metadata.jsonl (a `file_name` column
    and a `text`, `caption` or `prompt` one), or {} when it has neither; a malformed one is a UserError."""
    import csv

    for name in METADATA:
        path = folder / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
            rows = (
                list(csv.DictReader(text.splitlines()))
                if name.endswith(".csv")
                else [json.loads(line) for line in text.splitlines() if line.strip()]
            )
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
            raise UserError(
                f"{path} does not read ({type(e).__name__}): write it as file_name,text rows (or one JSON object a "
                "line)"
            ) from e
        column = next((c for c in TEXT_COLUMNS if rows and isinstance(rows[0], dict) and c in rows[0]), None)
        if not rows or not all(isinstance(r, dict) for r in rows) or "file_name" not in rows[0] or column is None:
            raise UserError(
                f"{path} needs a file_name column and a {', '.join(TEXT_COLUMNS)} column (Hugging Face's video-folder "
                "layout)"
            )
        return {Path(str(r["file_name"])).name: str(r.get(column) or "") for r in rows}
    return {}


def caption(video: Path, table: dict[str, str] | None = None) -> str:
    """The caption of `video`: NAME.txt beside it, else its row of the folder's metadata file."""
    path = video.with_suffix(".txt")
    if not path.is_file():
        if table and video.name in table:
            if not table[video.name].strip():
                raise Skip("its caption in the metadata file is empty")
            return table[video.name].strip()
        raise Skip(f"no caption {path.name} beside it" + (" and no row in the metadata file" if table else ""))
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise Skip(f"cannot read its caption {path.name} ({type(e).__name__})") from e
    if not text:
        raise Skip(f"its caption {path.name} is empty")
    return text


def cover_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (height, width, 3): resized so it covers height x width, then centre-cropped."""
    import cv2

    h, w = image.shape[:2]
    if (h, w) != (height, width):
        scale = max(height / h, width / w)
        rh, rw = max(height, round(h * scale)), max(width, round(w * scale))
        image = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        y0, x0 = (rh - height) // 2, (rw - width) // 2
        image = image[y0 : y0 + height, x0 : x0 + width]
    return np.ascontiguousarray(image)


def read_clip(path: Path, frames: int, fps: float, height: int, width: int) -> np.ndarray:
    """(F, H, W, 3) uint8: the frames showing at i / fps (i < F) from the first frame, or Skip with the reason.

    Decoding stops after the last frame needed, so a long video costs only its first F / fps seconds.
    """
    import av

    wanted = [i / fps for i in range(frames)]
    picked: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise Skip("holds no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = prev = prev_image = None
            last_gap = 1 / float(stream.average_rate) if stream.average_rate else 0.0
            for frame in container.decode(stream):
                if frame.time is None:
                    raise Skip("its frames carry no timestamps: re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
                start = frame.time if start is None else start
                t = frame.time - start
                while (
                    len(picked) < frames and wanted[len(picked)] < t - EPS
                ):  # times before this frame show the previous one
                    prev_image = (
                        cover_crop(prev.to_ndarray(format="rgb24"), height, width) if prev_image is None else prev_image
                    )
                    picked.append(prev_image)
                if len(picked) == frames:
                    break
                if prev is not None and not stream.average_rate:
                    last_gap = t - (prev.time - start)
                prev, prev_image = frame, None
            if prev is None:
                raise Skip("holds no video frames")
            end = prev.time - start + last_gap  # the last frame shows until then
            while len(picked) < frames and wanted[len(picked)] < end - EPS:
                prev_image = (
                    cover_crop(prev.to_ndarray(format="rgb24"), height, width) if prev_image is None else prev_image
                )
                picked.append(prev_image)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or (str(e).splitlines() or ["no message"])[0]  # FFmpeg's, without the path
        raise Skip(f"cannot decode it ({type(e).__name__}: {why})") from e
    if len(picked) < frames:
        raise Skip(f"too short: {frames} frames at {fps:g} fps need {wanted[-1]:.2f} s, it has {end:.2f} s")
    return np.stack(picked)


# ---------------------------------------------------------------------------------------------
# The command


def skipped_names(cache: Path) -> set[str]:
    path = cache / SKIPPED
    return {line.split(": ", 1)[0] for line in path.read_text().splitlines() if line} if path.is_file() else set()


def run(
    *,
    videos: str | Path,
    teacher: str | Path,
    out: str | Path,
    frames: int = 81,
    fps: float = 16.0,
    size: str | tuple[int, int] = "480x832",
    shard_size: int = 16,
    negative: str | None = None,
    device: str | torch.device | None = None,
    max_clips: int | None = None,
    progress: bool = True,
    say=print,
) -> dict:
    """Encode the videos of `videos` not yet in the cache `out`; returns {"cached", "skipped", "total", "cache"}.

    negative: the CFG negative prompt (default "", as the Wan pipelines). max_clips: stop after this
    many newly cached clips (their shards written), to be resumed later.
    """
    videos, teacher, out = Path(videos), Path(teacher), Path(out)
    height, width = parse_size(size)
    kind = kinds.detected(teacher)
    codec = kind.codec if kind is not None and kind.codec is not None and kind.codec.in_folder(teacher) else None
    check_settings(codec, frames, fps, height, width, shard_size)
    if not videos.is_dir():
        raise UserError(
            f"--videos {videos} is not a folder: pass the folder holding the videos and their captions (NAME.txt or "
            "metadata.csv)"
        )
    if codec is None:
        raise UserError(
            f"--teacher {teacher} is not a Wan diffusers folder (model_index.json naming a Wan pipeline): pass a "
            "Wan2.1 T2V or I2V Diffusers folder"
        )
    negative = DEFAULT_NEGATIVE if negative is None else negative
    teacher_hash, i2v = kind.weights_hash(teacher), kind.read_config(teacher)["i2v"]
    settings = {"frames": frames, "fps": float(fps), "height": height, "width": width}

    found = list_videos(videos)
    if not found:
        raise UserError(
            f"--videos {videos} holds no videos ({' '.join(VIDEO_EXTENSIONS)}): pass the folder that holds them and "
            "their captions (NAME.txt or metadata.csv)"
        )
    with held(out, "onestep prepare"):
        manifest = None
        if (out / MANIFEST).is_file():
            manifest = read_manifest(out)
            check_cache(manifest, out, teacher_hash, i2v, settings)
        done = {c["source"] for s in (manifest or {"shards": []})["shards"] for c in s["clips"]} | skipped_names(out)
        todo = [p for p in found if p.name not in done]
        fresh_negative = manifest is None or manifest.get("negative") != negative or not (out / NEGATIVE).is_file()
        cached, skipped = 0, 0
        if todo or fresh_negative:
            out.mkdir(parents=True, exist_ok=True)
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            encoders = codec(teacher, i2v, device)
            if fresh_negative:  # negative.safetensors before the manifest: a listed cache always reads
                atomic_save(encoders.text([negative]), out / NEGATIVE)
                manifest = {
                    **(
                        manifest
                        or new_manifest(
                            teacher_hash, i2v, settings, codec.latent_size(frames, height, width), codec.max_text
                        )
                    ),
                    "negative": negative,
                }
                write_json(out / MANIFEST, manifest)
            cached, skipped = encode(
                encoders,
                todo,
                out,
                manifest,
                frames,
                fps,
                height,
                width,
                shard_size,
                max_clips,
                progress,
                say,
                metadata_captions(videos),
            )
        total = sum(len(s["clips"]) for s in read_manifest(out)["shards"]) if (out / MANIFEST).is_file() else 0
        if total == 0:
            raise UserError(
                f"no clip was cached: all {skipped} videos were skipped, each with its reason in {out / SKIPPED}; "
                "captions are NAME.txt beside each video or a metadata.csv (file_name,text)"
            )
        say(
            f"{cached} clips cached, {skipped} skipped: {out} holds {total} clips"
            + (f", skipped ones listed in {out / SKIPPED}" if skipped else "")
        )
        return {"cached": cached, "skipped": skipped, "total": total, "cache": out}


def encode(
    encoders,
    todo: list[Path],
    out: Path,
    manifest: dict,
    frames: int,
    fps: float,
    height: int,
    width: int,
    shard_size: int,
    max_clips: int | None,
    progress: bool,
    say,
    captions: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Encode `todo` into shards of `shard_size` clips (the rest at the end); returns (cached, skipped)."""
    from rich.progress import Progress

    pending: list[tuple[dict, dict[str, Tensor]]] = []  # (manifest entry, tensors) of the unfinished shard
    cached, skipped = 0, 0

    def flush():
        nonlocal manifest, pending
        if pending:
            tensors = {k: torch.cat([t[k] for _, t in pending]) for k in pending[0][1]}
            manifest = add_shard(out, manifest, tensors, [c for c, _ in pending])
            pending = []

    with Progress(disable=not progress) as bar:
        task = bar.add_task("encoding videos", total=len(todo))
        for path in todo:
            try:
                prompt = caption(path, captions)
                clip = read_clip(path, frames, fps, height, width)
            except Skip as e:
                with open(out / SKIPPED, "a") as f:
                    f.write(f"{path.name}: {e}\n")
                say(f"skipped {path.name}: {e}")
                skipped += 1
            else:
                pending.append(({"source": path.name, "prompt": prompt}, encoders.clip(clip, prompt)))
                cached += 1
                if len(pending) == shard_size:
                    flush()
            bar.advance(task)
            if max_clips is not None and cached >= max_clips:
                break
        flush()
    return cached, skipped
