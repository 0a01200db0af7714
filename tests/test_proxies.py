"""Meta-validation: each VBench-style proxy moves the right way under graded corruptions of ground truth.

Means over six held-out clips (three shapes, three moving photocam); thresholds are the measured values
with margin (measured means in the comments, severity 0 / 0.5 / 1).
"""

import cv2
import numpy as np
import pytest

from onestep import world
from onestep.eval import proxies as P
from onestep.eval.corruptions import CORRUPTIONS

cv2.setNumThreads(1)
SEVERITIES = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def clips():
    # photocam heldout seeds 0-2: tilt down fast, tilt up slow, zoom in slow (all moving)
    return [world.sample("shapes", s, "heldout").video for s in range(3)] + [
        world.sample("photocam", s, "heldout").video for s in range(3)
    ]


def corrupted_means(clips, metric, corruption) -> list[float]:
    """Mean of `metric` over clips, per severity; the rng is seeded by clip index."""
    fn = CORRUPTIONS[corruption]
    return [
        float(np.mean([metric(fn(v, sev, np.random.default_rng(i)), v) for i, v in enumerate(clips)]))
        for sev in SEVERITIES
    ]


def no_ref(name):
    return lambda video, reference: P.ALL_PROXIES[name](video)


# (metric, corruption, margin, monotone over all three severities)
FALLS = [
    ("temporal_flickering", "flicker", 0.03, True),  # 0.950 / 0.869 / 0.782
    ("motion_smoothness[flowinterp]", "jitter", 0.01, True),  # 0.989 / 0.931 / 0.900
    # severity 1 drops every frame: a still video, perfectly smooth by VBench's protocol too
    ("motion_smoothness[flowinterp]", "frame_drop", 0.005, False),  # 0.989 / 0.974 / 1.000
    ("warp_consistency[ssim]", "jitter", 0.005, True),  # 0.975 / 0.958 / 0.876
    ("warp_consistency[ssim]", "noise", 0.05, True),  # 0.975 / 0.473 / 0.299
    ("subject_consistency[hist]", "colour_drift", 0.03, True),  # 0.790 / 0.682 / 0.570
    ("background_consistency[hist]", "colour_drift", 0.03, True),  # 0.921 / 0.760 / 0.628
    ("subject_consistency[hist]", "first_frame_replace", 0.02, True),  # 0.790 / 0.428 / 0.374
    ("background_consistency[hist]", "first_frame_replace", 0.02, True),  # 0.921 / 0.493 / 0.434
]


@pytest.mark.parametrize("name, corruption, margin, monotone", FALLS, ids=[f"{n}-{c}" for n, c, _, _ in FALLS])
def test_proxy_falls_under_corruption(clips, name, corruption, margin, monotone):
    clean, half, full = corrupted_means(clips, no_ref(name), corruption)
    assert clean > half + margin, (clean, half, full)
    if monotone:
        assert half > full + margin, (clean, half, full)


def test_sharpness_relative(clips):
    assert all(abs(P.sharpness_relative(v, v) - 1.0) < 0.05 for v in clips)
    clean, half, full = corrupted_means(clips, P.sharpness_relative, "blur")  # 1.000 / 0.103 / 0.015
    assert clean == pytest.approx(1.0) and half < 0.3 and full < half
    # a 1 px shake moves content without blurring it: sharpness stays ~1 (measured 1.025)
    shaken = np.mean(
        [P.sharpness_relative(CORRUPTIONS["jitter"](v, 0.25, np.random.default_rng(i)), v) for i, v in enumerate(clips)]
    )
    assert abs(shaken - 1.0) < 0.05


def test_frame_psnr_curve_sees_first_frame_replace(clips):
    v = clips[3]
    assert np.all(P.frame_psnr_curve(v, v) == 100.0)
    curves = [
        P.frame_psnr_curve(CORRUPTIONS["first_frame_replace"](v, sev, np.random.default_rng(0)), v)
        for sev in (0.5, 1.0)
    ]
    assert curves[0].shape == (len(v),)
    assert curves[0][0] < 20.0 and curves[1][0] < curves[0][0]  # measured 12-14 dB and 6-8 dB
    assert all(np.all(c[1:] == 100.0) for c in curves)  # later frames untouched


def test_dynamic_degree_moving_vs_frozen():
    cams = [world.sample("photocam", s, "heldout") for s in range(12)]
    fast_cam = [c for c in cams if c.truth["move"] != "static" and c.truth["speed"] == "fast"]
    static_cam = [c for c in cams if c.truth["move"] == "static"]
    shapes = [world.sample("shapes", s, "heldout") for s in range(12)]
    fast_shapes = [c for c in shapes if all(o["speed"] == "fast" for o in c.truth["objects"])]
    moving = fast_cam + fast_shapes
    assert len(moving) >= 4 and static_cam
    assert np.mean([P.dynamic_degree_dis(c.video) for c in moving]) >= 0.75  # measured 1.0 on 45 fast clips
    frozen = [CORRUPTIONS["freeze"](c.video, 1.0, np.random.default_rng(0)) for c in moving]
    assert all(P.dynamic_degree_dis(v) == 0.0 for v in frozen)
    assert all(P.dynamic_degree_dis(c.video) == 0.0 for c in static_cam)
    # flow magnitudes read back the true speed: fast shapes move 3 px/frame (measured medians 2.2-3.1)
    assert all(1.5 < np.median(P.flow_magnitudes(c.video)) < 4.5 for c in fast_shapes)


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_severity_zero_is_identity(clips, corruption):
    v = clips[0]
    out = CORRUPTIONS[corruption](v, 0.0, np.random.default_rng(0))
    assert out.dtype == np.float32 and np.array_equal(out, v)
    hit = CORRUPTIONS[corruption](v, 1.0, np.random.default_rng(0))
    assert hit.shape == v.shape and hit.dtype == np.float32 and 0.0 <= hit.min() and hit.max() <= 1.0
    assert not np.array_equal(hit, v)


GREY = np.full((8, 32, 32, 3), 0.5, np.float32)
ODD_SHAPE = np.random.default_rng(0).random((5, 24, 40, 3), dtype=np.float32)  # no size is hard-coded


@pytest.mark.parametrize("video", [GREY, ODD_SHAPE], ids=["grey", "odd-shape"])
def test_proxies_finite(video):
    scores = P.proxies(video)
    assert set(scores) == set(P.ALL_PROXIES)
    assert all(isinstance(x, float) and np.isfinite(x) for x in scores.values())
    assert np.isfinite(P.sharpness_relative(video, video)) and np.all(np.isfinite(P.frame_psnr_curve(video, video)))


def test_masked_ssim_punishes_blur_more_than_psnr_does(clips):
    """The posterior mean of a moving texture is a blur: SSIM on the visible region drops where PSNR
    barely moves; the mask restricts the average."""
    from onestep.eval.panel import masked_ssim
    from onestep.world.instruments import masked_psnr

    truth = clips[3][1:]
    mask = np.ones(truth.shape[:3], bool)
    assert masked_ssim(truth, truth, mask) == pytest.approx(1.0)
    blurred = CORRUPTIONS["blur"](truth, 1.0, np.random.default_rng(0))
    ssim, psnr = masked_ssim(blurred, truth, mask), masked_psnr(blurred, truth)
    assert ssim < 0.8 and psnr > 20, (ssim, psnr)
    left = mask.copy()
    left[:, :, 13:] = False
    damaged = truth.copy()
    damaged[:, :, 16:] = 0.0  # beyond the mask and its 7x7 windows: no effect
    assert masked_ssim(damaged, truth, left) == pytest.approx(1.0)
    assert masked_ssim(damaged, truth, mask) < 0.8
