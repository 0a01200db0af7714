"""Ground-truth instruments: read the world's facts back from frames.

- `parse_shapes(frame)`: the largest saturated blob per colour (hue class), with centroid, area and
  the shape whose template fitted to the blob's bounding box overlaps it best.
- `shapes_report(video, truth)`: presence and permanence, colour and shape read-back, motion
  direction and speed, bounces, position error and background error, against the clip's truth.
- `estimate_camera(video)`: the camera move that best explains consecutive frames, by a 1-D search
  per move over pan (content shift in x), tilt (shift in y) and zoom (scale about the centre).
Frames are (H, W, 3) float in [0, 1]; videos (F, H, W, 3).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from onestep.world import shapes as shapes_world

HUES = {name: None for name in shapes_world.COLOURS}  # filled below from the render colours
for _name, _rgb in shapes_world.COLOURS.items():
    _r, _g, _b = _rgb
    _mx, _mn = max(_rgb), min(_rgb)
    _h = (
        ((_g - _b) / (_mx - _mn)) % 6
        if _mx == _r
        else (_b - _r) / (_mx - _mn) + 2
        if _mx == _g
        else (_r - _g) / (_mx - _mn) + 4
    )
    HUES[_name] = 60.0 * _h
SAT_MIN, VAL_MIN = 0.45, 0.35
FILL_CLASSES = ("square", "circle", "triangle")


def hsv(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and value of an (H, W, 3) frame in [0, 1]."""
    mx, mn = frame.max(-1), frame.min(-1)
    delta = mx - mn
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    safe = np.where(delta > 1e-6, delta, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    s = np.where(mx > 1e-6, delta / np.maximum(mx, 1e-6), 0.0)
    return h, s, mx


def colour_masks(frame: np.ndarray) -> dict[str, np.ndarray]:
    """Per colour name, the pixels whose hue is nearest that colour's (saturated, bright pixels only)."""
    h, s, v = hsv(frame)
    names = list(HUES)
    hues = np.array([HUES[n] for n in names])
    dist = np.abs((h[..., None] - hues + 180.0) % 360.0 - 180.0)  # (H, W, colours)
    nearest = dist.argmin(-1)
    ok = (s > SAT_MIN) & (v > VAL_MIN) & (dist.min(-1) < 30.0)
    return {n: ok & (nearest == i) for i, n in enumerate(names)}


def classify_blob(blob: np.ndarray) -> str:
    """The shape whose template, fitted to the blob's bounding box, overlaps it best (IoU)."""
    ys, xs = np.nonzero(blob)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    r = max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    best, best_iou = "circle", -1.0
    for shape in FILL_CLASSES:
        template = (
            shapes_world.shape_mask(
                shape, cx, cy, r, blob.shape[0] if blob.shape[0] == blob.shape[1] else max(blob.shape)
            )[: blob.shape[0], : blob.shape[1]]
            > 0.5
        )
        iou = (template & blob).sum() / max((template | blob).sum(), 1)
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


def parse_shapes(frame: np.ndarray, min_area: float = 6.0) -> dict[str, dict]:
    """colour -> largest blob {centre (x, y), area, fill, shape}; colours with no blob are absent."""
    found = {}
    for name, mask in colour_masks(frame).items():
        labels, n = ndimage.label(mask)
        if n == 0:
            continue
        areas = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
        k = int(np.argmax(areas)) + 1
        area = float(areas[k - 1])
        if area < min_area:
            continue
        ys, xs = np.nonzero(labels == k)
        found[name] = dict(
            centre=np.array([xs.mean() + 0.5, ys.mean() + 0.5]), area=area, shape=classify_blob(labels == k)
        )
    return found


def visibility(objects: list[dict], frames: int, size: int) -> np.ndarray:
    """(objects, F): the share of each object's coverage not hidden by objects drawn after it."""
    out = np.ones((len(objects), frames))
    for f in range(frames):
        masks = [shapes_world.shape_mask(o["shape"], *o["centres"][f], o["radius"], size) for o in objects]
        for i, m in enumerate(masks):
            hidden = np.zeros_like(m)
            for later in masks[i + 1 :]:
                hidden = np.maximum(hidden, later)
            out[i, f] = float((m * (1 - hidden)).sum() / max(m.sum(), 1e-6))
    return out


def shapes_report(video: np.ndarray, truth: dict) -> dict[str, float]:
    """Ground-truth panel for one shapes clip (means over objects and frames; NaN where undefined).

    presence:        object's colour found with >= 40% of its true area, per visible object-frame
                     (object-frames more than 10% hidden by another object are left out).
    colour_acc:      frames whose detected colours include every visible object's and no other.
    shape_acc:       present object-frames whose read-back shape is the true one (binding: by colour).
    permanence:      objects present in every frame where they are visible (none vanishes or blinks).
    direction_acc:   objects whose per-step displacement agrees with the truth (median cosine > 0.5).
    bounce_acc:      of the objects that bounce off a wall in the clip, those whose displacement after
                     the bounce agrees with the reflected velocity (median cosine > 0.5); NaN if none.
    speed_err:       |median detected speed - true speed| in px / frame.
    position_err:    mean distance between detected and true centres, px.
    background_err:  mean absolute error against the true background on the pixels more than 2 px
                     from every true object, [0, 1] units (ghosts, smears, colour drift of the scene).
    """
    objects = truth["objects"]
    frames = [parse_shapes(f) for f in video]
    true_colours = {o["colour"] for o in objects}
    visible = visibility(objects, len(video), video.shape[1])
    presence, permanence, shape_ok, pos_err = [], [], [], []
    for i, o in enumerate(objects):
        expected = float(
            shapes_world.shape_mask(
                o["shape"], video.shape[2] / 2, video.shape[1] / 2, o["radius"], video.shape[1]
            ).sum()
        )
        always = True
        for f, parsed in enumerate(frames):
            if visible[i, f] < 0.9:
                continue  # occluded by a later object: the truth itself is not fully visible
            blob = parsed.get(o["colour"])
            ok = blob is not None and blob["area"] >= 0.4 * expected
            presence.append(ok)
            always &= ok
            if ok:
                shape_ok.append(blob["shape"] == o["shape"])
                pos_err.append(float(np.linalg.norm(blob["centre"] - o["centres"][f])))
        permanence.append(always)
    colour_acc = [
        {o["colour"] for i, o in enumerate(objects) if visible[i, f] >= 0.9} <= set(p) <= true_colours
        for f, p in enumerate(frames)
    ]
    direction, bounce, speed_err = [], [], []
    for o in objects:
        centres = [p.get(o["colour"], {}).get("centre") for p in frames]
        cos, speeds = [], []
        after = bounce_steps(o["steps"])
        for f in range(len(frames) - 1):
            if centres[f] is None or centres[f + 1] is None:
                cos.append(-1.0)  # a vanished object has no right direction
                continue
            d, d_true = centres[f + 1] - centres[f], o["steps"][f]
            cos.append(float(d @ d_true / (np.linalg.norm(d) * np.linalg.norm(d_true) + 1e-6)))
            speeds.append(float(np.linalg.norm(d)))
        direction.append(float(np.median(cos) > 0.5))
        if after:
            bounce.append(float(np.median([cos[f] for f in after]) > 0.5))
        if speeds:
            speed_err.append(abs(float(np.median(speeds)) - float(np.linalg.norm(o["steps"][0]))))
    mean = lambda x: float(np.mean(x)) if len(x) else float("nan")  # noqa: E731
    return dict(
        presence=mean(presence),
        permanence=mean(permanence),
        colour_acc=mean(colour_acc),
        shape_acc=mean(shape_ok),
        direction_acc=mean(direction),
        bounce_acc=mean(bounce),
        speed_err=mean(speed_err),
        position_err=mean(pos_err),
        background_err=background_error(video, truth),
    )


def bounce_steps(steps: np.ndarray) -> list[int]:
    """Indices of the steps after an object's first bounce (a velocity component changes sign), the
    bounce step itself included only if it is the last one."""
    flipped = [f for f in range(1, len(steps)) if np.any(np.sign(steps[f]) * np.sign(steps[0]) < 0)]
    if not flipped:
        return []
    first = flipped[0]
    return list(range(first + 1, len(steps))) or [first]


def background_error(video: np.ndarray, truth: dict, margin: float = 2.0) -> float:
    """Mean |video - background| over the pixels farther than `margin` px from every true object."""
    size = video.shape[1]
    errors = []
    for f, frame in enumerate(video):
        cover = np.zeros((size, size))
        for o in truth["objects"]:
            cx, cy = o["centres"][f]
            cover = np.maximum(cover, shapes_world.shape_mask(o["shape"], cx, cy, o["radius"] + margin, size))
        free = cover == 0
        if free.any():
            errors.append(float(np.abs(frame - truth["background"])[free].mean()))
    return float(np.mean(errors)) if errors else float("nan")


# ---------------------------------------------------------------------------------------------
# Camera moves

PAN_GRID = np.arange(0.25, 4.01, 0.25)  # content shift, px / frame
ZOOM_GRID = np.exp(np.arange(0.01, 0.161, 0.01))  # scale / frame
STATIC_ERR_RATIO = 0.9  # a move must beat "no motion" by 10% to be called a move


def _candidates() -> tuple[list[str], np.ndarray]:
    """(labels, params (K, 3) = (content dx, content dy, scale)) for every hypothesis."""
    labels, params = ["static"], [(0.0, 0.0, 1.0)]
    for p in PAN_GRID:
        labels += ["pan left", "pan right", "tilt up", "tilt down"]  # film convention: content moves opposite
        params += [(p, 0, 1), (-p, 0, 1), (0, p, 1), (0, -p, 1)]
    for z in ZOOM_GRID:
        labels += ["zoom in", "zoom out"]
        params += [(0, 0, z), (0, 0, 1 / z)]
    return labels, np.array(params, dtype=np.float32)


LABELS, PARAMS = _candidates()


@functools.cache
def _hypothesis_grids(n: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(grid (K n, H, W, 2), valid (K n, 1, H, W)): where each hypothesis samples frame f for f+1, and
    which of those samples fall inside the frame. They depend on the frame count and size alone."""
    p = torch.from_numpy(PARAMS)
    k = p.shape[0]
    # content moves by (dx, dy) and scales by s: dst(u) = src((u - c - d) / s + c), in normalised coords
    theta = torch.zeros(k, 2, 3)
    theta[:, 0, 0] = 1 / p[:, 2]
    theta[:, 1, 1] = 1 / p[:, 2]
    theta[:, 0, 2] = -p[:, 0] * 2 / w / p[:, 2]
    theta[:, 1, 2] = -p[:, 1] * 2 / h / p[:, 2]
    grid = F.affine_grid(theta.repeat_interleave(n, 0), (k * n, 3, h, w), align_corners=False)
    valid = (grid.abs() <= 1 - 1 / h).all(-1, keepdim=True).permute(0, 3, 1, 2).float()
    return grid, valid


def warp_errors(video: np.ndarray) -> np.ndarray:
    """(K,) mean squared error of predicting frame f+1 from frame f under each hypothesis."""
    x = torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).float()  # (F, 3, H, W)
    src, dst = x[:-1], x[1:]
    n, _, h, w = src.shape
    k = len(PARAMS)
    grid, valid = _hypothesis_grids(n, h, w)
    warped = F.grid_sample(src.repeat(k, 1, 1, 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    err = ((warped - dst.repeat(k, 1, 1, 1)) ** 2 * valid).sum((1, 2, 3)) / (3 * valid.sum((1, 2, 3)).clamp(min=1.0))
    return err.view(k, n).mean(1).numpy()


def estimate_camera(video: np.ndarray) -> dict:
    """{move, param (px or scale per frame), errors}: the hypothesis with the lowest warp error."""
    err = warp_errors(video)
    best = int(np.argmin(err))
    if err[best] > STATIC_ERR_RATIO * err[0]:
        best = 0
    dx, dy, s = PARAMS[best]
    param = float(max(abs(dx), abs(dy))) if LABELS[best].startswith(("pan", "tilt")) else float(s)
    return dict(move=LABELS[best], param=param)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two (..., H, W, 3) arrays in [0, 1], over `mask` (..., H, W) if given."""
    se = (a - b) ** 2
    if mask is not None:
        m = np.broadcast_to(mask[..., None], se.shape)
        mse = float(se[m].mean()) if m.any() else float("nan")
    else:
        mse = float(se.mean())
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))
