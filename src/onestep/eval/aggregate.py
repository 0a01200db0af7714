"""VBench-style aggregates (Quality, I2V, Total in 0-100), anchored on ground truth.

Each dimension is normalised as 100 * clip((v - lo) / (hi - lo), 0, 1), where `hi` is the mean on the
ground-truth clips of the same conditions (data sits at the top of every scale) and `lo` the worst
mean over fixed corruptions of that ground truth (noise, blur, freeze, flicker, jitter, frame drop,
colour drift, first-frame replacement, all at severity 1). Quality and I2V are the means of their
normalised dimensions; Total = (Quality + I2V) / 2, as VBench-I2V averages its two scores. The
per-dimension table is always printed beside them: an aggregate hides which dimension moved.
"""

from __future__ import annotations

import numpy as np

from onestep.eval import corruptions, proxies
from onestep.eval.panel import first_frame_psnr
from onestep.world.clip import Clip

QUALITY = (
    "subject_consistency[hist]", "background_consistency[hist]", "temporal_flickering",
    "motion_smoothness[flowinterp]", "dynamic_degree[dis]", "warp_consistency[ssim]", "imaging_quality[sharpness]",
)
I2V = ("i2v_subject[hist]", "i2v_background[hist]", "first_frame[psnr]", "motion_following[gt]")
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


def dimensions(video: np.ndarray, clip: Clip, motion_following: float | None) -> dict[str, float]:
    """Every raw dimension of one video (F, H, W, 3) against its clip's condition and ground truth."""
    row = proxies.proxies(video)
    sharp = proxies.sharpness_relative(video, clip.video)
    row["imaging_quality[sharpness]"] = float(min(sharp, 1.0 / max(sharp, 1e-12)))  # 1 = as sharp as the truth
    row.update(image_similarity(video, clip.first_frame))
    row["first_frame[psnr]"] = min(first_frame_psnr(video, clip), PSNR_CEILING)
    if motion_following is not None:
        row["motion_following[gt]"] = motion_following
    return row


def anchors(clips: list[Clip], motion_fn, seed: int = 0) -> dict[str, tuple[float, float]]:
    """{dimension: (lo, hi)}: hi from the ground truth, lo the worst fixed corruption of it."""
    def mean_rows(videos):
        rows = [dimensions(v, c, motion_fn(v, c)) for v, c in zip(videos, clips)]
        return {k: float(np.nanmean([r.get(k, np.nan) for r in rows])) for k in QUALITY + I2V}

    data = mean_rows([c.video for c in clips])
    worst = {k: np.inf for k in data}
    for name in ANCHOR_CORRUPTIONS:
        rng = np.random.default_rng([seed, ANCHOR_CORRUPTIONS.index(name)])
        scored = mean_rows([corruptions.CORRUPTIONS[name](c.video, 1.0, rng) for c in clips])
        worst = {k: min(worst[k], scored[k]) for k in data}
    return {k: (worst[k], data[k]) for k in data}


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
    """Quality, I2V and Total of one clip's normalised dimensions."""
    q = [normalised[k] for k in QUALITY if k in normalised]
    i = [normalised[k] for k in I2V if k in normalised]
    quality = float(np.mean(q)) if q else float("nan")
    i2v = float(np.mean(i)) if i else float("nan")
    return {"quality": quality, "i2v": i2v, "total": float(np.nanmean([quality, i2v]))}
