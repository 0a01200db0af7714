"""VBench-style proxies, offline: VBench's formulas, with a classical part where VBench runs a network.

VBench (Huang et al., CVPR 2024) scores temporal quality with RAFT, AMT, DINO and CLIP; none ships
offline. Each proxy below keeps VBench's formula where the formula needs no weights, and carries the
stand-in in its name where a classical component replaces a network:

    temporal_flickering            VBench's formula exactly (no network)
    dynamic_degree[dis]            VBench's rule, RAFT -> OpenCV DIS optical flow
    motion_smoothness[flowinterp]  VBench's even/odd protocol, AMT -> flow-warped midpoint
    subject_consistency[hist]      VBench's first/previous-frame formula, DINO -> colour histograms
    background_consistency[hist]   the same, CLIP -> colour histograms of the full frame
    warp_consistency[ssim]         not in VBench: SSIM between frame t+1 and frame t warped onto it

They are proxies, checked against graded corruptions of the world's ground truth (tests/test_proxies.py),
not calibrated to VBench's numbers. Videos are (F, H, W, 3) float in [0, 1].
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np
from skimage.metrics import structural_similarity

FLOW_MIN_SIDE = 128  # DIS needs texture at its patch scale: smaller frames are upsampled to this first
_local = threading.local()  # one DIS instance per thread: making one costs a tenth of a flow


def _uint8(video: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) float in [0, 1] -> uint8 in [0, 255], as VBench's decoded frames."""
    return np.round(np.clip(video, 0.0, 1.0) * 255.0).astype(np.uint8)


def dis_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(H, W, 2) DIS optical flow, in original pixels, with src(x) ~ dst(x + flow(x)).

    src, dst: (H, W, 3) frames in [0, 1]. Frames with a short side below FLOW_MIN_SIDE are upsampled
    (bilinear) by the integer factor s that reaches it, flow is computed there, then brought back to
    the original grid (area average) and divided by s, so magnitudes and thresholds stay in original
    pixels. Without the upsampling DIS (8 px patches) sees a 32x32 frame as a handful of patches.
    """
    h, w = src.shape[:2]
    s = max(1, math.ceil(FLOW_MIN_SIDE / min(h, w)))
    grey = [cv2.cvtColor(_uint8(f), cv2.COLOR_RGB2GRAY) for f in (src, dst)]
    if s > 1:
        grey = [cv2.resize(g, (w * s, h * s), interpolation=cv2.INTER_LINEAR) for g in grey]
    if not hasattr(_local, "dis"):
        _local.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = _local.dis.calc(grey[0], grey[1], None)
    if s > 1:
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) / s
    return flow.astype(np.float32)


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = frame(x + flow(x)), bilinear, border replicated. (H, W, C) -> (H, W, C)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = cv2.remap(
        frame.astype(np.float32),
        gx + flow[..., 0],
        gy + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return out.reshape(frame.shape)


# ---------------------------------------------------------------------------------------------
# Temporal quality (no reference)


def temporal_flickering(video: np.ndarray) -> float:
    """VBench temporal flickering, exact formula: mean over consecutive pairs of (255 - MAE_255) / 255.

    Range [0, 1], higher = less flicker (1 = a still video). Computed on uint8 frames, as VBench.
    """
    x = _uint8(video).astype(np.float64)
    if len(x) < 2:
        return 1.0
    mae = np.abs(x[1:] - x[:-1]).mean(axis=(1, 2, 3))  # (F-1,)
    return float(np.mean((255.0 - mae) / 255.0))


def flow_magnitudes(video: np.ndarray) -> np.ndarray:
    """(F-1,) per consecutive pair, the mean of the top 5% DIS flow magnitudes, in original pixels."""
    h, w = video.shape[1:3]
    k = max(1, int(h * w * 0.05))  # VBench: int(len * 0.05) of the flattened magnitudes
    out = []
    for a, b in zip(video[:-1], video[1:]):
        mag = np.linalg.norm(dis_flow(a, b), axis=-1).ravel()
        out.append(float(np.partition(mag, -k)[-k:].mean()))
    return np.array(out, dtype=np.float64)


def dynamic_degree_dis(video: np.ndarray) -> float:
    """Stands in for VBench dynamic degree: 1.0 if the video moves, else 0.0 (higher = more dynamic).

    VBench's rule with DIS for RAFT: a pair moves if its top-5% flow magnitude exceeds
    thres = 6 * min(H, W) / 256 px; the video is dynamic if at least count_num = round(4 * F / 16)
    pairs move (at least 1). For 8 frames of 32x32: 0.75 px and 2 pairs.
    """
    f, h, w = video.shape[:3]
    thres = 6.0 * (min(h, w) / 256.0)
    count_num = max(1, round(4 * (f / 16.0)))
    return float(int((flow_magnitudes(video) > thres).sum()) >= count_num)


def motion_smoothness_flowinterp(video: np.ndarray) -> float:
    """Stands in for VBench motion smoothness: range [0, 1], higher = smoother.

    VBench's protocol: keep the even frames, rebuild each odd frame 2k+1 from frames 2k and 2k+2, score
    (255 - MAE_255) / 255 against the real odd frames. AMT is replaced by a flow-warped midpoint: with
    the DIS flow u from 2k to 2k+2, frame 2k pulled from x - u/2 and frame 2k+2 from x + u/2, averaged.
    Odd frames without a following even frame (the last one when F is even) are not scored.
    """
    x = np.clip(video, 0.0, 1.0).astype(np.float32)
    errs = []
    for k in range(0, len(x) - 2, 2):
        u = dis_flow(x[k], x[k + 2])
        mid = 0.5 * (warp(x[k], -0.5 * u) + warp(x[k + 2], 0.5 * u))
        errs.append(np.abs(_uint8(mid).astype(np.float64) - _uint8(x[k + 1])).mean())
    if not errs:
        return 1.0
    return float((255.0 - np.mean(errs)) / 255.0)


def _histogram(pixels: np.ndarray, bins: int = 8) -> np.ndarray:
    """(N, 3) pixels in [0, 1] -> (bins**3,) colour histogram summing to 1."""
    idx = np.clip((pixels * bins).astype(np.int64), 0, bins - 1)
    flat = (idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2]
    hist = np.bincount(flat, minlength=bins**3).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def _first_previous_similarity(hists: list[np.ndarray]) -> float:
    """VBench's consistency formula: mean over t >= 1 of (sim(h_t, h_0) + sim(h_t, h_{t-1})) / 2."""
    sim = lambda a, b: float(np.minimum(a, b).sum())  # noqa: E731  histogram intersection, in [0, 1]
    if len(hists) < 2:
        return 1.0
    return float(np.mean([0.5 * (sim(h, hists[0]) + sim(h, hists[t - 1])) for t, h in enumerate(hists) if t >= 1]))


def appearance_consistency_hist(video: np.ndarray) -> dict[str, float]:
    """Stands in for VBench subject (DINO) and background (CLIP) consistency: {subject, background}.

    Each in [0, 1], higher = more consistent. Per frame, an 8x8x8 colour histogram of
    subject:    the foreground, the 25% of pixels that deviate most from the per-pixel temporal median;
    background: the full frame;
    scored with VBench's first/previous-frame formula, histogram intersection for cosine similarity.
    """
    x = np.clip(video, 0.0, 1.0)
    dev = np.abs(x - np.median(x, axis=0)).sum(-1)  # (F, H, W)
    subject, background = [], []
    for frame, d in zip(x, dev):
        fg = d >= np.quantile(d, 0.75)  # ties (a still video) keep more pixels, identically every frame
        subject.append(_histogram(frame[fg]))
        background.append(_histogram(frame.reshape(-1, 3)))
    return dict(subject=_first_previous_similarity(subject), background=_first_previous_similarity(background))


def warp_consistency_ssim(video: np.ndarray) -> float:
    """Temporal coherence: mean over pairs of SSIM(frame t+1, frame t warped onto t+1 by DIS flow).

    Range [-1, 1], higher = more coherent. The flow is t+1 -> t, so frame t is remapped onto t+1's
    grid. skimage's uniform 7x7 SSIM window (the largest odd size that fits on smaller frames).
    """
    x = np.clip(video, 0.0, 1.0).astype(np.float32)
    side = min(x.shape[1:3])
    win = min(7, side if side % 2 else side - 1)
    scores = [
        structural_similarity(b, warp(a, dis_flow(b, a)), channel_axis=-1, data_range=1.0, win_size=win)
        for a, b in zip(x[:-1], x[1:])
    ]
    return float(np.mean(scores)) if scores else 1.0


# ---------------------------------------------------------------------------------------------
# Against a reference video


def _laplacian_variance(video: np.ndarray) -> float:
    """Mean over frames of the variance of the Laplacian of the grey frame."""
    greys = [
        cv2.cvtColor(np.clip(f, 0.0, 1.0).astype(np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64) for f in video
    ]
    return float(np.mean([cv2.Laplacian(g, cv2.CV_64F).var() for g in greys]))


def sharpness_relative(video: np.ndarray, reference: np.ndarray) -> float:
    """Variance of the Laplacian of `video` over that of `reference`: 1.0 = as sharp, < 1 = blurrier.

    Range [0, inf). Two flat videos score 1.0; a flat video against a textured reference scores ~0.
    """
    eps = 1e-12
    return float((_laplacian_variance(video) + eps) / (_laplacian_variance(reference) + eps))


def frame_psnr_curve(video: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(F,) PSNR in dB of each frame against the reference's, capped at 100 dB; shows first-frame drift."""
    mse = ((video.astype(np.float64) - reference.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return np.minimum(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10)), 100.0)


# ---------------------------------------------------------------------------------------------
# Registry

ALL_PROXIES = {
    "temporal_flickering": temporal_flickering,
    "dynamic_degree[dis]": dynamic_degree_dis,
    "motion_smoothness[flowinterp]": motion_smoothness_flowinterp,
    "subject_consistency[hist]": lambda video: appearance_consistency_hist(video)["subject"],
    "background_consistency[hist]": lambda video: appearance_consistency_hist(video)["background"],
    "warp_consistency[ssim]": warp_consistency_ssim,
}


def proxies(video: np.ndarray) -> dict[str, float]:
    """Every reference-free proxy of one (F, H, W, 3) video (the two histogram ones from one pass)."""
    appearance = appearance_consistency_hist(video)
    shared = {f"{k}_consistency[hist]": v for k, v in appearance.items()}
    return {name: float(shared[name] if name in shared else fn(video)) for name, fn in ALL_PROXIES.items()}
