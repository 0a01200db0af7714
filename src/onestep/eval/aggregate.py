"""VBench-style aggregates (Quality, I2V, Semantic, Total in 0-100), anchored on ground truth.

Each dimension is normalised as 100 * clip((v - lo) / (hi - lo), 0, 1), where `hi` is the mean on the
ground-truth clips of the same conditions (data sits at the top of every scale) and `lo` the worst
mean over fixed corruptions of that ground truth (noise, blur, freeze, flicker, jitter, frame drop,
colour drift, first-frame replacement, all at severity 1), or for the object checks the score of
guessing (`CHANCE`): no corruption of a true video hides its objects, so guessing is the floor there.

- Quality: VBench's temporal dimensions (subject and background consistency, flickering, smoothness,
  dynamic degree, warp consistency).
- I2V: VBench-I2V's similarity to the given first frame and first-frame PSNR; image-to-video tracks only.
- Semantic: what the prompt asked for, as a person sees it, read by the world's exact instruments. On
  the shapes tracks (world/objects.py): each prompted object after frame 0 as one solid region, at
  full colour, in its shape and its colour; on photocam the scene against the exact target frames
  (SSIM on the region visible from frame 0); on both, VBench's imaging quality (sharpness against the
  truth), since at 32x32 how sharp the asked-for thing is, is part of whether it is there.
- Motion: the prompted motion, each object's path or the camera move.

Total = (Quality + I2V + 2 Semantic + Motion) / 5 per track (text-to-video: no I2V, / 4), averaged
over tracks. Semantic counts twice because the Quality proxies reward what a posterior mean does: one
Euler step of a flow model returns a blurred, nearly static average that flickers least and moves
most smoothly, so on Quality alone the 1-step teacher matches the 100-step one while its objects are
haze. The weights were chosen on a calibration set (docs/evaluation.md), which
`tests/test_calibration.py` pins: ground truth 100, its sigma-1 blur at least 15 under it, the frame-0
repeat and every corruption lower still, the 1-step teacher at most 0.85 of the 100-step one.
The per-dimension table is always printed beside them: an aggregate hides which dimension moved.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from onestep.eval import corruptions, panel, proxies
from onestep.world.clip import Clip

QUALITY = (
    "subject_consistency[hist]",
    "background_consistency[hist]",
    "temporal_flickering",
    "motion_smoothness[flowinterp]",
    "dynamic_degree[dis]",
    "warp_consistency[ssim]",
)
I2V = ("i2v_subject[hist]", "i2v_background[hist]", "first_frame[psnr]")
# Semantic dimension -> the panel field it reads (panel.py)
SEMANTIC = {
    "object_solid[gt]": "solid",
    "object_crisp[gt]": "crisp",
    "object_shape[fit]": "object_shape",
    "object_colour[gt]": "colour_acc",
    "scene_fidelity[gt-ssim]": "gt_ssim",
    "imaging_quality[sharpness]": None,  # sharpness: computed in dimensions()
}
MOTION = ("motion_following[gt]",)  # each object's path, or the camera move (set by the suite)
CHANCE = {
    "object_solid[gt]": 0.0,
    "object_crisp[gt]": 0.0,
    "object_shape[fit]": 0.0,
    "object_colour[gt]": 1 / 6,
}  # 6 colours
WEIGHTS = {"quality": 1.0, "i2v": 1.0, "semantic": 2.0, "motion": 1.0}  # of the Total (module docstring)
PSNR_CEILING = 40.0  # dB: at 32x32 a frame this close to its target is indistinguishable from it
ANCHOR_CORRUPTIONS = (
    "noise",
    "blur",
    "freeze",
    "flicker",
    "jitter",
    "frame_drop",
    "colour_drift",
    "first_frame_replace",
)


def image_similarity(video: np.ndarray, image: np.ndarray) -> dict[str, float]:
    """VBench-I2V's subject/background consistency with the input image, colour histograms for DINO."""
    dev = np.abs(video - np.median(video, axis=0)).sum(-1)
    subject, background = [], []
    img_hist = proxies._histogram(image.reshape(-1, 3))
    for frame, d in zip(video, dev):
        fg = d >= np.quantile(d, 0.75)
        subject.append(np.minimum(proxies._histogram(frame[fg]), proxies._histogram(image[fg])).sum())
        background.append(np.minimum(proxies._histogram(frame.reshape(-1, 3)), img_hist).sum())
    return {"i2v_subject[hist]": float(np.mean(subject)), "i2v_background[hist]": float(np.mean(background))}


def dimensions(
    video: np.ndarray,
    clip: Clip,
    motion_following: float | None,
    panel_row: dict[str, float] | None = None,
    i2v: bool = True,
) -> dict[str, float]:
    """Every raw dimension of one video (F, H, W, 3) against its clip's condition and ground truth;
    the Semantic ones come from the clip's ground-truth panel row when it is given. Without a first
    frame (i2v False) there are no I2V dimensions."""
    row = proxies.proxies(video)
    sharp = proxies.sharpness_relative(video, clip.video)
    row["imaging_quality[sharpness]"] = float(min(sharp, 1.0 / max(sharp, 1e-12)))  # 1 = as sharp as the truth
    if i2v:
        row.update(image_similarity(video, clip.first_frame))
        row["first_frame[psnr]"] = min(panel.first_frame_psnr(video, clip), PSNR_CEILING)
    if motion_following is not None and np.isfinite(motion_following):
        row["motion_following[gt]"] = motion_following
    for dim, field in SEMANTIC.items():
        if panel_row is not None and field in panel_row:
            row[dim] = panel_row[field]
    return row


def motion_following(video: np.ndarray, clip: Clip, panel_row: dict) -> float | None:
    """Does the video move as the prompt says: each object's path (world/objects.py), or the camera move."""
    if clip.track == "shapes":
        return panel_row.get("path")
    if clip.track == "photocam":
        return panel_row.get("camera_acc")
    return None


def row(video: np.ndarray, clip: Clip, track: str | None = None) -> dict[str, float]:
    """One clip's ground-truth panel (panel.PANELS[track]) and every raw dimension of its video."""
    p = panel.PANELS[track or clip.track](video, clip)
    return {**p, **dimensions(video, clip, motion_following(video, clip, p), p, track != "t2v")}


def rows(videos, clips: list[Clip], track: str | None = None) -> list[dict[str, float]]:
    """`row` of every clip, the clips shared among one thread per core (OpenCV's flow, SciPy and
    NumPy release the GIL for most of a row); each row depends on its clip alone, so the order of
    the work changes nothing."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(row, videos, clips, [track] * len(clips)))


def anchor_inputs(clips: list[Clip], seed: int = 0) -> dict[str, list[np.ndarray]]:
    """The videos the anchors read: {"truth": the ground truth, name: each ANCHOR_CORRUPTIONS of it at
    severity 1}, each corruption drawn from its own seeded generator."""
    out = {"truth": [c.video for c in clips]}
    for i, name in enumerate(ANCHOR_CORRUPTIONS):
        rng = np.random.default_rng([seed, i])
        out[name] = [corruptions.CORRUPTIONS[name](c.video, 1.0, rng) for c in clips]
    return out


def mean_dimensions(scored: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each dimension of the Total over rows (NaN where no row has it)."""
    return {k: finite_mean([r[k] for r in scored if k in r]) for k in (*QUALITY, *I2V, *SEMANTIC, *MOTION)}


def bounds_of(means: dict[str, dict[str, float]]) -> dict[str, tuple[float, float]]:
    """{dimension: (lo, hi)} from the `mean_dimensions` of each of `anchor_inputs`: hi the truth's,
    lo the lowest corruption's, or chance for the object checks."""
    data = means["truth"]
    worst = {k: np.inf for k in data}
    for name in ANCHOR_CORRUPTIONS:  # min(x, NaN) keeps x: a dimension one corruption cannot read is skipped
        worst = {k: min(worst[k], means[name][k]) for k in data}
    worst.update({k: v for k, v in CHANCE.items() if np.isfinite(data.get(k, np.nan))})
    return {k: (worst[k], data[k]) for k in data}


def anchors(clips: list[Clip], seed: int = 0, track: str | None = None) -> dict[str, tuple[float, float]]:
    """{dimension: (lo, hi)}: hi from the ground truth, lo the worst fixed corruption of it (or chance);
    `track` the suite's (panel.PANELS)."""
    inputs = anchor_inputs(clips, seed)
    return bounds_of({name: mean_dimensions(rows(videos, clips, track)) for name, videos in inputs.items()})


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values, NaN if there are none (a dimension one track does not have)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def normalise(row: dict[str, float], bounds: dict[str, tuple[float, float]]) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if k not in bounds or not np.isfinite(v):
            continue
        lo, hi = bounds[k]
        if not np.isfinite(lo) or hi - lo < 1e-6:
            continue  # a dimension the corruptions cannot move says nothing here
        out[k] = float(100.0 * np.clip((v - lo) / (hi - lo), 0.0, 1.0))
    return out


def scores(normalised: dict[str, float]) -> dict[str, float]:
    """Quality, I2V, Semantic, Motion and their weighted Total (WEIGHTS) of normalised dimensions; a
    score with no dimension (I2V without a first frame) is NaN and left out of the Total."""

    def mean(keys) -> float:
        values = [normalised[k] for k in keys if k in normalised]
        return float(np.mean(values)) if values else float("nan")

    out = {"quality": mean(QUALITY), "i2v": mean(I2V), "semantic": mean(SEMANTIC), "motion": mean(MOTION)}
    present = {k: v for k, v in out.items() if np.isfinite(v)}
    total = (
        sum(WEIGHTS[k] * v for k, v in present.items()) / sum(WEIGHTS[k] for k in present) if present else float("nan")
    )
    return {**out, "total": float(total)}


def scores_of_many(means: np.ndarray, keys: list[str], bounds: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """`scores(normalise(row, bounds))` of many rows at once: `means` (D, K) holds D rows of the
    dimensions `keys` (NaN where missing); every entry is computed with the same operations in the
    same order as the scalar functions, so each of the D results equals theirs to the bit (a bootstrap
    of a thousand draws is then a few array operations)."""
    norm = {}
    for j, k in enumerate(keys):
        if k not in bounds:
            continue
        lo, hi = bounds[k]
        if not np.isfinite(lo) or hi - lo < 1e-6:
            continue
        v = means[:, j]
        with np.errstate(invalid="ignore"):
            norm[k] = np.where(np.isfinite(v), 100.0 * np.clip((v - lo) / (hi - lo), 0.0, 1.0), np.nan)

    def mean(group) -> np.ndarray:
        total, count = np.zeros(len(means)), np.zeros(len(means))
        for k in group:
            if k in norm:
                present = np.isfinite(norm[k])
                total, count = total + np.where(present, norm[k], 0.0), count + present
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    out = {"quality": mean(QUALITY), "i2v": mean(I2V), "semantic": mean(SEMANTIC), "motion": mean(MOTION)}
    weighted, weights = 0, 0
    for k, v in out.items():
        present = np.isfinite(v)
        weighted, weights = (
            weighted + np.where(present, WEIGHTS[k] * v, 0.0),
            weights + np.where(present, WEIGHTS[k], 0.0),
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return {**out, "total": np.where(weights > 0, weighted / weights, np.nan)}
