"""The photocam track: camera pans, tilts and zooms over crops of real photos (scikit-image's).

Film convention, as VBench's camera-motion prompts: "pan left" = the camera turns left, so the image
content moves right; "tilt up" = content moves down; "zoom in" = content grows.

The photo is first reduced (INTER_AREA) to a "world image" in which one output pixel is one world
pixel at zoom 1; a camera at centre (cx, cy) with zoom z maps output pixel offset (u, v) from the
frame centre to world point (cx + u / z, cy + v / z). Frames are exact bilinear warps of the world
image. Ground truth: move, speed, per-frame (cx, cy, z), and the frame-0-visible mask per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from onestep.world import photos, prompts
from onestep.world.clip import Clip, WorldConfig

PAN_SPEEDS = {"slow": 1.5, "fast": 3.0}  # output pixels per frame
ZOOM_RATES = {"slow": 1.05, "fast": 1.10}  # zoom factor per frame
MARGIN = 2.0  # world pixels kept between every view and the world image's border
MIN_TEXTURE = 0.04  # mean gradient magnitude below which a crop is too flat to show motion


def texture(frame: np.ndarray) -> float:
    """Mean absolute gradient of the grey frame: how much structure a move would reveal."""
    g = frame.mean(axis=-1)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def camera_path(move: str, speed: str, frames: int) -> np.ndarray:
    """(F, 3): per-frame (dx, dy, zoom) relative to frame 0's camera."""
    path = np.zeros((frames, 3))
    path[:, 2] = 1.0
    f = np.arange(frames)
    if move in ("pan left", "pan right", "tilt up", "tilt down"):
        sign = -1.0 if move in ("pan left", "tilt up") else 1.0  # camera moves left/up: centre decreases
        path[:, 0 if move.startswith("pan") else 1] = sign * PAN_SPEEDS[speed] * f
    elif move in ("zoom in", "zoom out"):
        rate = ZOOM_RATES[speed]
        path[:, 2] = rate**f if move == "zoom in" else rate ** (-f)
    return path


def view_extent(path: np.ndarray, size: int) -> tuple[float, float, float, float]:
    """How far the views reach from frame 0's centre: (left, right, up, down) in world pixels."""
    half = size / 2 / path[:, 2]
    return (
        float(np.max(half - path[:, 0])),
        float(np.max(half + path[:, 0])),
        float(np.max(half - path[:, 1])),
        float(np.max(half + path[:, 1])),
    )


def render(world: np.ndarray, cx: float, cy: float, zoom: float, size: int) -> np.ndarray:
    """One frame (size, size, 3): bilinear warp of the world image for the camera (cx, cy, zoom)."""
    c = (size - 1) / 2
    # output (u, v) -> world (cx + (u - c) / zoom, cy + (v - c) / zoom); warpAffine takes dst -> src
    m = np.array([[1 / zoom, 0, cx - c / zoom], [0, 1 / zoom, cy - c / zoom]], dtype=np.float64)
    return cv2.warpAffine(
        world, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
    )


def visible_masks(path: np.ndarray, size: int) -> np.ndarray:
    """(F, H, W) bool: pixels of frame f whose world point lies inside frame 0's view."""
    c = (size - 1) / 2
    u = np.arange(size) - c
    masks = []
    for dx, dy, zoom in path:
        wx, wy = dx + u / zoom, dy + u / zoom  # world offsets from frame 0's centre
        inside_x, inside_y = np.abs(wx) <= c, np.abs(wy) <= c
        masks.append(inside_y[:, None] & inside_x[None, :])
    return np.stack(masks)


def sample(seed: int, split: str, config: WorldConfig) -> Clip:
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, 23])
    name = prompts.pick(rng, list(photos.names(split)))
    return clip_from_photo(photos.load(name), name, rng, config)


def sample_from_photos(library: dict[str, np.ndarray], seed: int, config: WorldConfig) -> Clip:
    """A clip over one of the user's own photos ({name: (H, W, 3) float in [0, 1]})."""
    rng = np.random.default_rng([seed, 2, 23])
    name = prompts.pick(rng, sorted(library))
    return clip_from_photo(library[name], name, rng, config)


def clip_from_photo(photo: np.ndarray, name: str, rng: np.random.Generator, config: WorldConfig) -> Clip:
    size, frames = config.size, config.frames
    move = prompts.pick(rng, list(prompts.CAMERA_MOVES))
    speed = prompts.pick(rng, ["slow", "fast"])
    path = camera_path(move, speed, frames)
    left, right, up, down = view_extent(path, size)

    # photo pixels per world pixel: from 1.5 up to as coarse as the photo allows; a flat crop (sky, a
    # dark field) shows no camera motion, so such draws are replaced, up to 20 tries
    h, w = photo.shape[:2]
    k_max = min((w - 2 * MARGIN) / (left + right), (h - 2 * MARGIN) / (up + down))
    for _ in range(20):
        k = rng.uniform(min(1.5, k_max), k_max)
        world = cv2.resize(photo, (max(1, round(w / k)), max(1, round(h / k))), interpolation=cv2.INTER_AREA)
        wh, ww = world.shape[:2]
        cx = rng.uniform(left + MARGIN, max(left + MARGIN, ww - right - MARGIN))
        cy = rng.uniform(up + MARGIN, max(up + MARGIN, wh - down - MARGIN))
        video = np.stack([render(world, cx + dx, cy + dy, z, size) for dx, dy, z in path]).astype(np.float32)
        if texture(video[0]) > MIN_TEXTURE:
            break
    truth = dict(move=move, speed=speed, photo=name, path=path, centre=(cx, cy), visible=visible_masks(path, size))
    return Clip("photocam", np.clip(video, 0, 1), prompts.camera_prompt(rng, move, speed), truth)
