"""Object instruments that see what a person sees: is each prompted shape there, after the first
frame, as one solid region of its colour, in its shape, at full colour, moving the prompted way.

A posterior mean (one Euler step of a flow model) keeps an object's hue but spreads it into a pale
halo, splits it, or lets it fade after frame 0; colour counts and bounding boxes read such a video as
right. These read, per object and frame 1..F-1 (frames where the truth shows the object at least 90%
unoccluded):

- solid:  the largest connected region of the object's colour holds at least 80% of that colour's
          pixels (not split, not scattered) and 0.5-2x the true area (not a remnant, not a halo).
- crisp:  pixels within 0.1 of the object's true colour (every channel), over the true object's
          interior pixels (coverage >= 0.99), capped at 1: the ground truth's anti-aliased edge
          scores 1, a blur of it much less, a halo 0.
- shape:  solid, and of the three templates placed at the region's centroid with its area, the
          prompted one overlaps it best (IoU).
- path:   the region's per-step displacement agrees with the prompt (median cosine > 0.5): against
          the true steps when the first frame was given (bounces included), against the prompted
          direction for text-to-video, whose start is the model's own (steps near a wall left out).
An object missing in a frame scores 0 there; every value is a mean in [0, 1] (NaN where undefined).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from onestep.world import prompts
from onestep.world import shapes as shapes_world
from onestep.world.instruments import colour_masks, visibility

SOLID_SHARE = 0.8  # of the colour's pixels in its largest region
AREA_RANGE = (0.5, 2.0)  # of the true area
FULL_COLOUR = 0.1  # max channel distance to the true colour that counts as full colour (a sigma-1 blur keeps 64% of it)
AREA_PER_R2 = {"circle": np.pi, "square": 4.0, "triangle": 2.0}  # area of each template at half-width r
CENTROID_DY = {"circle": 0.0, "square": 0.0, "triangle": 1.0 / 3.0}  # centroid below the centre, in r


def template_fit(region: np.ndarray) -> dict[str, float]:
    """IoU of each template placed at the region's centroid with the region's area."""
    ys, xs = np.nonzero(region)
    cx, cy, area = xs.mean() + 0.5, ys.mean() + 0.5, float(region.sum())
    fits = {}
    for shape in shapes_world.SHAPES:
        r = np.sqrt(area / AREA_PER_R2[shape])
        template = shapes_world.shape_mask(shape, cx, cy - CENTROID_DY[shape] * r, r, region.shape[0]) > 0.5
        fits[shape] = float((template & region).sum() / max((template | region).sum(), 1))
    return fits


def read_object(frame: np.ndarray, mask: np.ndarray, colour: str, expected_area: float, interior: float) -> dict:
    """One object in one frame: {solid, crisp, shape (best template or None), centre (x, y) or None}."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return {"solid": False, "crisp": 0.0, "shape": None, "centre": None}
    areas = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
    k = int(np.argmax(areas)) + 1
    region = labels == k
    area = float(areas[k - 1])
    solid = area >= SOLID_SHARE * mask.sum() and AREA_RANGE[0] * expected_area <= area <= AREA_RANGE[1] * expected_area
    full = (np.abs(frame - np.array(shapes_world.COLOURS[colour])) <= FULL_COLOUR).all(-1)
    crisp = min(1.0, float((full & region).sum()) / max(interior, 1.0))
    ys, xs = np.nonzero(region)
    fits = template_fit(region) if solid else {}
    return {
        "solid": bool(solid),
        "crisp": crisp,
        "shape": max(fits, key=fits.get) if fits else None,
        "centre": np.array([xs.mean() + 0.5, ys.mean() + 0.5]),
    }


WALL_MARGIN = 1.5  # px beyond an object's half-width from a wall: closer, it may be bouncing


def reflect_at_walls(want: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, size: int) -> bool:
    """Flip `want` (in place) on each axis where the step a -> b reaches the wall it heads for; True if any."""
    near = radius + WALL_MARGIN
    flipped = False
    for axis in range(2):
        low = min(a[axis], b[axis]) < near and want[axis] < 0
        high = max(a[axis], b[axis]) > size - near and want[axis] > 0
        if low or high:
            want[axis], flipped = -want[axis], True
    return flipped


def path_ok(centres: list, truth_steps: np.ndarray, direction: str, radius: float, size: int, i2v: bool) -> float:
    """1.0 when the object's steps agree with the truth (i2v) or, for text-to-video, with the prompted
    direction reflected at each wall the object reaches (the step at a wall is left out)."""
    want = np.array(prompts.DIRECTIONS[direction], dtype=np.float64)
    cos = []
    for f in range(len(centres) - 1):
        a, b = centres[f], centres[f + 1]
        if a is None or b is None:
            cos.append(-1.0)  # a missing object has no right direction
            continue
        if not i2v and reflect_at_walls(want, a, b, radius, size):
            continue
        step, d = (truth_steps[f] if i2v else want), b - a
        cos.append(float(d @ step / (np.linalg.norm(d) * np.linalg.norm(step) + 1e-6)))
    return float(np.median(cos) > 0.5) if cos else float("nan")


def _mean(values: list) -> float:
    finite = [v for v in np.asarray(values, dtype=float) if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def objects_report(video: np.ndarray, truth: dict, i2v: bool = True) -> dict[str, float]:
    """{solid, crisp, shape, path}: means over the prompted objects' frames 1..F-1 (module docstring)."""
    objects, size = truth["objects"], video.shape[1]
    visible = visibility(objects, len(video), size)
    masks = [colour_masks(frame) for frame in video]
    solid, crisp, shape, path = [], [], [], []
    for i, o in enumerate(objects):
        coverage = shapes_world.shape_mask(o["shape"], size / 2, size / 2, o["radius"], size)
        expected, interior = float(coverage.sum()), float((coverage >= 0.99).sum())
        reads = [
            read_object(video[f], masks[f][o["colour"]], o["colour"], expected, interior) for f in range(len(video))
        ]
        for f in range(1, len(video)):
            if visible[i, f] < 0.9:
                continue
            solid.append(reads[f]["solid"])
            crisp.append(reads[f]["crisp"])
            shape.append(reads[f]["shape"] == o["shape"])
        centres = [r["centre"] if r["solid"] else None for r in reads]
        path.append(path_ok(centres, o["steps"], o["direction"], o["radius"], size, i2v))
    return {"solid": _mean(solid), "crisp": _mean(crisp), "shape": _mean(shape), "path": _mean(path)}
