"""The headline score orders what the eye orders (eval/aggregate.py), on fixed inputs: 16 held-out
clips per track, their ground truth, its sigma-1 Gaussian blur, the frame-0 repeat, every anchor
corruption at severity 1, and the bundled teacher's samples of the same clips at 1 and 100 NFE
(tests/data/calibration_teacher.npz, written by the suite's sampler from assets/teacher at teacher v12)."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from onestep.eval import aggregate
from onestep.eval.suite import TRACKS, heldout_clips
from onestep.world.clip import WorldConfig

N = 16
TEACHER = Path(__file__).parent / "data" / "calibration_teacher.npz"


@pytest.fixture(scope="module")
def totals() -> dict[str, float]:
    """{input: Total averaged over the three tracks}, anchors on the same clips (their truth and
    corruptions are inputs too, each scored once)."""
    teacher = np.load(TEACHER)
    out: dict[str, list[float]] = {}
    for track in TRACKS:
        clips = heldout_clips(track, N, WorldConfig())
        inputs = aggregate.anchor_inputs(clips)
        truth = inputs["truth"]
        inputs |= {
            "blur": [np.stack([ndimage.gaussian_filter(f, (1.0, 1.0, 0)) for f in v]) for v in truth],
            "repeat": [np.repeat(v[:1], len(v), 0) for v in truth],
            "teacher-1": list(teacher[f"{track}_1"].astype(np.float32) / 255),
            "teacher-100": list(teacher[f"{track}_100"].astype(np.float32) / 255),
        }
        means = {
            name: aggregate.mean_dimensions(aggregate.rows(videos, clips, track)) for name, videos in inputs.items()
        }
        bounds = aggregate.bounds_of(means)
        for name, m in means.items():
            out.setdefault(name, []).append(aggregate.scores(aggregate.normalise(m, bounds))["total"])
    return {name: float(np.mean(v)) for name, v in out.items()}


def test_the_truth_scores_100_and_its_blur_at_least_15_under_it(totals):
    assert totals["truth"] == pytest.approx(100.0)
    assert totals["blur"] <= 85.0, totals


def test_the_frame_0_repeat_scores_under_the_blur_and_every_corruption_at_least_10_under_the_truth(totals):
    assert totals["repeat"] < totals["blur"], totals
    assert all(totals[name] <= 90.0 for name in ("repeat", *aggregate.ANCHOR_CORRUPTIONS)), totals
    assert totals["noise"] == min(totals[name] for name in aggregate.ANCHOR_CORRUPTIONS), totals


def test_the_one_step_teacher_scores_at_most_085_of_the_100_step_one_and_both_under_the_blur(totals):
    assert totals["teacher-1"] <= 0.85 * totals["teacher-100"] and totals["teacher-100"] < totals["blur"], totals
