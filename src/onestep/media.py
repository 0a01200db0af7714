"""Reading images and writing videos, with one-line errors for files a user gets wrong.

Tensors at this border: videos (C, F, H, W) or (F, H, W, C) float in [-1, 1] / [0, 1] as named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onestep.errors import UserError


def parse_size(size: str | tuple[int, int]) -> tuple[int, int]:
    """--size '480x832' -> (480, 832) (height, width)."""
    if isinstance(size, str):
        try:
            h, w = (int(s) for s in size.lower().split("x"))
        except ValueError:
            raise UserError(f"--size {size!r} is not HEIGHTxWIDTH: pass e.g. --size 480x832") from None
        return h, w
    return tuple(size)


def read_image(path: str | Path, size: tuple[int, int]) -> tuple[np.ndarray, str | None]:
    """An RGB image as (H, W, 3) float32 in [0, 1], resized and centre-cropped to `size` (H, W).

    Returns the image and a note when it had to be resized or cropped (the CLI prints it).
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise UserError(f"image {path} does not exist: pass the path of a PNG or JPEG file")
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise UserError(f"cannot read {path} as an image: pass a PNG, JPEG, BMP or WebP file")
    if data.ndim == 2:
        data = cv2.cvtColor(data, cv2.COLOR_GRAY2RGB)
    elif data.shape[2] == 4:
        data = cv2.cvtColor(data, cv2.COLOR_BGRA2RGB)
    else:
        data = cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
    img = data.astype(np.float32) / (65535.0 if data.dtype == np.uint16 else 255.0)
    h, w = size
    note = None
    if img.shape[:2] != (h, w):
        scale = max(h / img.shape[0], w / img.shape[1])
        rh, rw = max(h, round(img.shape[0] * scale)), max(w, round(img.shape[1] * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(img, (rw, rh), interpolation=interp)
        y0, x0 = (rh - h) // 2, (rw - w) // 2
        note = f"{path.name}: {img.shape[1]}x{img.shape[0]} resized and centre-cropped to {w}x{h}"
        img = resized[y0 : y0 + h, x0 : x0 + w]
    return np.ascontiguousarray(img), note


def to_uint8(video: np.ndarray) -> np.ndarray:
    """(F, H, W, 3) float in [0, 1] -> uint8."""
    return (np.clip(video, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def tensor_to_frames(video) -> np.ndarray:
    """(C, F, H, W) torch tensor in [-1, 1] -> (F, H, W, C) float32 numpy in [0, 1]."""
    return ((video.detach().float().cpu().permute(1, 2, 3, 0).numpy() + 1.0) / 2.0).clip(0.0, 1.0)


def frames_to_tensor(frames: np.ndarray):
    """(F, H, W, C) float in [0, 1] -> (C, F, H, W) torch tensor in [-1, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() * 2.0 - 1.0


def write_video(path: str | Path, frames: np.ndarray, fps: int = 8, scale: int = 4) -> Path:
    """Write (F, H, W, 3) float frames in [0, 1] as .mp4 (H.264 via PyAV) or .gif, upscaled for viewing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise UserError(f"cannot write {path.name}: the output must end in .mp4 or .gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = to_uint8(frames)
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    tmp = path.with_name(path.name + ".partial" + suffix)
    try:
        _encode(tmp, frames, fps, suffix)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or a kill leaves no half-written file behind
        raise
    tmp.replace(path)
    return path


def _encode(tmp: Path, frames: np.ndarray, fps: int, suffix: str) -> None:
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    else:
        import av

        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "12"}
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def read_video(path: str | Path) -> np.ndarray:
    """(F, H, W, 3) float32 in [0, 1] from an .mp4 or .gif; a corrupt file is a UserError."""
    import av

    path = Path(path)
    if not path.is_file():
        raise UserError(f"video {path} does not exist: check the path")
    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.error.FFmpegError, ValueError) as e:
        raise UserError(
            f"cannot decode {path.name} as a video ({type(e).__name__}): re-export it as H.264 .mp4 or .gif"
        ) from e
    if not frames:
        raise UserError(f"{path.name} holds no video frames: re-export it as H.264 .mp4 or .gif")
    return np.stack(frames).astype(np.float32) / 255.0
