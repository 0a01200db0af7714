"""The ground-truth panel: what the world's instruments read back from generated videos.

shapes:   presence, permanence, colour_acc, shape_acc, direction_acc, bounce_acc, speed_err,
          position_err, background_err (instruments.py); solid, crisp, object_shape, path (objects.py:
          each prompted object after frame 0 as one solid region of its colour, at full colour, in its
          template's shape, moving as prompted)
t2v:      the shapes track without the first frame: the object instruments (the path against the
          prompted direction) and presence, permanence, colour_acc, shape_acc; not the position,
          speed, bounce or background checks, which need the true start
photocam: camera_acc (recognised move), camera_param_err (relative error of the per-frame shift or
          zoom rate, clips whose move is recognised), gt_psnr and gt_ssim on the region visible from
          frame 0 over frames 1..F-1 (moving clips), and the same for the trivial baseline that
          repeats the first frame (SSIM's contrast and structure terms punish the blur PSNR forgives)
both:     first_frame_psnr (generated frame 0 vs the conditioning image), first_frame_drift
          (PSNR of frame 0 minus PSNR of the last frame against their targets: how fidelity decays)
Every function returns per-clip values; aggregation and intervals live in the suite.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from onestep.world import instruments, objects, photocam
from onestep.world.clip import Clip


def first_frame_psnr(video: np.ndarray, clip: Clip) -> float:
    return instruments.masked_psnr(video[0], clip.first_frame)


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM of (F, H, W, 3) frames in [0, 1] over the pixels of `mask` (F, H, W): skimage's
    SSIM map (7x7 uniform window, channels averaged), averaged where the mask holds."""
    maps = [
        structural_similarity(x, y, channel_axis=-1, data_range=1.0, win_size=7, full=True)[1].mean(-1)
        for x, y in zip(np.clip(a, 0, 1).astype(np.float64), np.clip(b, 0, 1).astype(np.float64))
    ]
    m = np.asarray(mask, bool)
    return float(np.stack(maps)[m].mean()) if m.any() else float("nan")


def camera_param_error(param: float, move: str, speed: str) -> float:
    """|estimated - true| / true per-frame rate: the content shift in px for pans and tilts, log of
    the zoom factor for zooms (the instrument's grid steps are 0.25 px and 1%)."""
    if move.startswith("zoom"):
        true = np.log(photocam.ZOOM_RATES[speed])
        return float(abs(abs(np.log(param)) - true) / true)
    true = photocam.PAN_SPEEDS[speed]
    return float(abs(param - true) / true)


def object_fields(video: np.ndarray, clip: Clip, i2v: bool) -> dict[str, float]:
    report = objects.objects_report(video, clip.truth, i2v)
    return {"solid": report["solid"], "crisp": report["crisp"], "object_shape": report["shape"], "path": report["path"]}


def shapes_clip(video: np.ndarray, clip: Clip) -> dict[str, float]:
    report = instruments.shapes_report(video, clip.truth)
    report["first_frame_psnr"] = first_frame_psnr(video, clip)
    return report | object_fields(video, clip, i2v=True)


T2V_FIELDS = ("presence", "permanence", "colour_acc", "shape_acc")  # those of shapes_report that need no true start


def t2v_clip(video: np.ndarray, clip: Clip) -> dict[str, float]:
    report = instruments.shapes_report(video, clip.truth)
    return {k: report[k] for k in T2V_FIELDS} | object_fields(video, clip, i2v=False)


def photocam_clip(video: np.ndarray, clip: Clip) -> dict[str, float]:
    est = instruments.estimate_camera(video)
    truth = clip.truth
    vis = truth["visible"][1:]
    out = dict(camera_acc=float(est["move"] == truth["move"]), first_frame_psnr=first_frame_psnr(video, clip))
    if truth["move"] != "static":
        if out["camera_acc"]:
            out["camera_param_err"] = camera_param_error(est["param"], truth["move"], truth["speed"])
        out["gt_psnr"] = instruments.masked_psnr(video[1:], clip.video[1:], vis)
        repeat = np.repeat(clip.video[:1], len(clip.video) - 1, axis=0)
        out["repeat_psnr"] = instruments.masked_psnr(repeat, clip.video[1:], vis)
        out["gt_ssim"] = masked_ssim(video[1:], clip.video[1:], vis)
        out["repeat_ssim"] = masked_ssim(repeat, clip.video[1:], vis)
    return out


PANELS = {"shapes": shapes_clip, "t2v": t2v_clip, "photocam": photocam_clip}  # by the suite's track


def panel(videos: np.ndarray, clips: list[Clip], track: str | None = None) -> list[dict[str, float]]:
    """Per clip, the panel of `track` (default: each clip's world track, the image-to-video panel)."""
    return [PANELS[track or c.track](v, c) for v, c in zip(videos, clips)]


def mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: float(np.nanmean([r[k] for r in rows if k in r])) for k in keys}
