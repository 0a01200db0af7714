"""VBench-style aggregates (Quality, I2V, Semantic, Total in 0-100), anchored on ground truth.

Each dimension is normalised as 100 * clip((v - lo) / (hi - lo), 0, 1), where `hi` is the mean on the
ground-truth clips of the same conditions (data sits at the top of every scale) and `lo` the worst
mean over fixed corruptions of that ground truth (noise, blur, freeze, flicker, jitter, frame drop,
colour drift, first-frame replacement, all at severity 1), or for the object checks the score of
guessing (`CHANCE`): no corruption of a true video hides its objects, so guessing is the floor there.

Quality and I2V are the means of their normalised dimensions, as in VBench-I2V. Semantic is VBench's
third score (its object class, colour and multiple-objects dimensions) read by the world's exact
instruments: on shapes, are the prompted objects there, in their colour and shape; on photocam, is
the prompted scene there, sharp (SSIM against the exact target frames on the region visible from
frame 0; PSNR would reward the blur of a posterior mean). Without it a blurry posterior mean (one
Euler step) scores well on smoothness and first-frame PSNR while its objects are gone.
Total = (Quality + I2V + Semantic) / 3. The per-dimension table is always printed beside them: an
aggregate hides which dimension moved.
"""

from __future__ import annotations

import numpy as np

from onestep.eval import corruptions, panel, proxies
from onestep.world.clip import Clip

QUALITY = (
    "subject_consistency[hist]", "background_consistency[hist]", "temporal_flickering",
    "motion_smoothness[flowinterp]", "dynamic_degree[dis]", "warp_consistency[ssim]", "imaging_quality[sharpness]",
)
I2V = ("i2v_subject[hist]", "i2v_background[hist]", "first_frame[psnr]", "motion_following[gt]")
# Semantic dimension -> the panel field it reads (panel.py)
SEMANTIC = {"object_presence[gt]": "presence", "object_colour[gt]": "colour_acc", "object_shape[gt]": "shape_acc", "scene_fidelity[gt-ssim]": "gt_ssim"}
CHANCE = {"object_presence[gt]": 0.0, "object_colour[gt]": 1 / 6, "object_shape[gt]": 1 / 3}  # 6 colours, 3 shapes
PSNR_CEILING = 40.0  # dB: at 32x32 a frame this close to its target is indistinguishable from it
ANCHOR_CORRUPTIONS = ("noise", "blur", "freeze", "flicker", "jitter", "frame_drop", "colour_drift", "first_frame_replace")


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


def dimensions(video: np.ndarray, clip: Clip, motion_following: float | None, panel_row: dict[str, float] | None = None) -> dict[str, float]:
    """Every raw dimension of one video (F, H, W, 3) against its clip's condition and ground truth;
    the Semantic ones come from the clip's ground-truth panel row when it is given."""
    row = proxies.proxies(video)
    sharp = proxies.sharpness_relative(video, clip.video)
    row["imaging_quality[sharpness]"] = float(min(sharp, 1.0 / max(sharp, 1e-12)))  # 1 = as sharp as the truth
    row.update(image_similarity(video, clip.first_frame))
    row["first_frame[psnr]"] = min(panel.first_frame_psnr(video, clip), PSNR_CEILING)
    if motion_following is not None:
        row["motion_following[gt]"] = motion_following
    for dim, field in SEMANTIC.items():
        if panel_row is not None and field in panel_row:
            row[dim] = panel_row[field]
    return row


def anchors(clips: list[Clip], motion_fn, seed: int = 0) -> dict[str, tuple[float, float]]:
    """{dimension: (lo, hi)}: hi from the ground truth, lo the worst fixed corruption of it (or chance)."""
    def mean_rows(videos):
        rows = [dimensions(v, c, motion_fn(v, c), p) for v, c, p in zip(videos, clips, panel.panel(videos, clips))]
        return {k: finite_mean([r[k] for r in rows if k in r]) for k in (*QUALITY, *I2V, *SEMANTIC)}

    data = mean_rows([c.video for c in clips])
    worst = {k: np.inf for k in data}
    for name in ANCHOR_CORRUPTIONS:
        rng = np.random.default_rng([seed, ANCHOR_CORRUPTIONS.index(name)])
        scored = mean_rows([corruptions.CORRUPTIONS[name](c.video, 1.0, rng) for c in clips])
        worst = {k: min(worst[k], scored[k]) for k in data}
    worst.update({k: v for k, v in CHANCE.items() if np.isfinite(data.get(k, np.nan))})
    return {k: (worst[k], data[k]) for k in data}


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
    """Quality, I2V, Semantic and Total of normalised dimensions (a score with no dimension is NaN and
    left out of the Total)."""
    def mean(keys) -> float:
        values = [normalised[k] for k in keys if k in normalised]
        return float(np.mean(values)) if values else float("nan")

    out = {"quality": mean(QUALITY), "i2v": mean(I2V), "semantic": mean(SEMANTIC)}
    present = [v for v in out.values() if np.isfinite(v)]
    return {**out, "total": float(np.mean(present)) if present else float("nan")}
