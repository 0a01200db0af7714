"""The shapes track: 1-3 coloured shapes with constant velocity and wall bounces.

Backgrounds are achromatic (plain grey or a low-contrast grey photo texture), shape colours are
saturated, so the ground-truth parser (instruments.py) reads colours back by hue alone. Rendering is
4x supersampled and box-filtered. Ground truth per object: colour, shape, size, per-frame centre
(F, 2) in pixels (x, y), per-step velocity (F - 1, 2), and the background image.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from onestep.world import photos, prompts
from onestep.world.clip import Clip, WorldConfig

COLOURS = {
    "red": (0.92, 0.12, 0.10),
    "yellow": (0.95, 0.85, 0.10),
    "green": (0.12, 0.80, 0.20),
    "cyan": (0.10, 0.80, 0.92),
    "blue": (0.15, 0.25, 0.95),
    "magenta": (0.90, 0.15, 0.85),
}
SHAPES = ("circle", "square", "triangle")
SPEEDS = {"slow": 1.5, "fast": 3.0}  # pixels per frame
SUPER = 4  # supersampling factor
RADIUS = (3.5, 5.5)  # half-width of a shape, pixels


@functools.cache
def _coords(size: int) -> np.ndarray:
    """Supersample centres along one side, in pixels (read-only: shared by every call)."""
    coords = (np.arange(size * SUPER) + 0.5) / SUPER
    coords.flags.writeable = False
    return coords


def shape_mask(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    """Anti-aliased coverage (size, size) in [0, 1] of one shape centred at (cx, cy) with half-width r."""
    coords = _coords(size)
    x, y = coords[None, :] - cx, coords[:, None] - cy  # broadcast as np.meshgrid's (x across, y down)
    if shape == "circle":
        inside = x * x + y * y <= r * r
    elif shape == "square":
        inside = (np.abs(x) <= r) & (np.abs(y) <= r)
    else:  # triangle pointing up: apex (0, -r), base from (-r, r) to (r, r)
        inside = (y <= r) & (y >= -r + 2 * np.abs(x))
    return inside.reshape(size, SUPER, size, SUPER).mean(axis=(1, 3))


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) achromatic background: plain grey or a grey photo texture."""
    if rng.random() < 0.5:
        return np.full((size, size, 3), rng.uniform(0.05, 0.6), dtype=np.float32)
    tex = photos.load(prompts.pick(rng, list(photos.TEXTURES))).mean(axis=-1)
    scale = rng.uniform(0.15, 0.5)
    h, w = tex.shape
    crop = int(size / scale)
    y0, x0 = rng.integers(0, h - crop), rng.integers(0, w - crop)
    patch = cv2.resize(tex[y0 : y0 + crop, x0 : x0 + crop], (size, size), interpolation=cv2.INTER_AREA)
    lo, hi = np.percentile(patch, 2), np.percentile(patch, 98)
    patch = (patch - lo) / max(hi - lo, 1e-3)
    base, contrast = rng.uniform(0.1, 0.45), rng.uniform(0.1, 0.25)
    patch = np.clip(base + contrast * patch, 0.0, 1.0)
    return np.repeat(patch[..., None], 3, axis=-1).astype(np.float32)


def trajectory(
    start: np.ndarray, velocity: np.ndarray, r: float, size: int, frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (F, 2) and per-step velocities (F - 1, 2) with elastic bounces off the walls [r, size - r]."""
    pos, vel = start.astype(np.float64).copy(), velocity.astype(np.float64).copy()
    centres, steps = [pos.copy()], []
    lo, hi = r, size - r
    for _ in range(frames - 1):
        new = pos + vel
        for axis in range(2):
            if new[axis] < lo:
                new[axis] = 2 * lo - new[axis]
                vel[axis] = -vel[axis]
            elif new[axis] > hi:
                new[axis] = 2 * hi - new[axis]
                vel[axis] = -vel[axis]
        steps.append(new - pos)
        pos = new
        centres.append(pos.copy())
    return np.array(centres), np.array(steps)


def sample(seed: int, split: str, config: WorldConfig) -> Clip:
    # the split only changes the seed stream: shapes has no held-out assets of its own
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, 11])
    size, frames = config.size, config.frames
    n = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    colours = rng.choice(list(COLOURS), size=n, replace=False)
    bg = background(rng, size)
    objects = []
    for colour in colours:
        shape = prompts.pick(rng, list(SHAPES))
        r = rng.uniform(*RADIUS)
        direction = prompts.pick(rng, list(prompts.DIRECTIONS))
        speed = prompts.pick(rng, list(SPEEDS))
        unit = np.array(prompts.DIRECTIONS[direction], dtype=np.float64)
        velocity = SPEEDS[speed] * unit / np.linalg.norm(unit)
        start = rng.uniform(r, size - r, size=2)
        centres, steps = trajectory(start, velocity, r, size, frames)
        objects.append(
            dict(
                colour=str(colour),
                shape=shape,
                radius=float(r),
                direction=direction,
                speed=speed,
                centres=centres,
                steps=steps,
            )
        )

    video = np.repeat(bg[None], frames, axis=0).copy()
    for o in objects:  # later objects are drawn on top
        rgb = np.array(COLOURS[o["colour"]], dtype=np.float32)
        for f in range(frames):
            a = shape_mask(o["shape"], *o["centres"][f], o["radius"], size)[..., None].astype(np.float32)
            video[f] = video[f] * (1 - a) + rgb * a
    prompt = prompts.shapes_prompt(rng, objects)
    return Clip("shapes", video.astype(np.float32), prompt, dict(objects=objects, background=bg))
