"""The object instruments (world/objects.py) see what a person sees on known videos: the truth reads
as solid, crisp, right-shaped objects on their path; a haze of the same colours after frame 0, a
split object and a still video do not."""

import numpy as np
import pytest
from scipy import ndimage

from onestep import world
from onestep.world.objects import objects_report

CLIPS = [world.sample("shapes", 1_000_000_000 + i, "heldout") for i in range(12)]


def mean_report(videos, i2v=True) -> dict[str, float]:
    rows = [objects_report(v, c.truth, i2v) for v, c in zip(videos, CLIPS)]
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def test_the_truth_reads_as_solid_crisp_shapes_on_their_path():
    for i2v in (True, False):
        r = mean_report([c.video for c in CLIPS], i2v)
        assert r["solid"] > 0.97 and r["crisp"] > 0.95 and r["shape"] > 0.95 and r["path"] > 0.8, (i2v, r)


def test_a_haze_after_frame_0_scores_low_whatever_its_smoothness():
    """Frame 0 kept; later frames the truth blurred (sigma 2) and washed 60% toward the background:
    the objects' hues are still there, their solid region and full colour are not."""
    hazy = []
    for c in CLIPS:
        washed = (
            0.4 * np.stack([ndimage.gaussian_filter(f, (2.0, 2.0, 0)) for f in c.video]) + 0.6 * c.truth["background"]
        )
        hazy.append(np.concatenate([c.video[:1], washed[1:]]))
    r = mean_report(hazy)
    assert r["crisp"] < 0.05 and r["solid"] < 0.5 and r["shape"] < 0.5, r


def test_a_blur_keeps_objects_but_loses_crispness():
    r = mean_report([np.stack([ndimage.gaussian_filter(f, (1.0, 1.0, 0)) for f in c.video]) for c in CLIPS])
    assert r["solid"] > 0.95 and 0.3 < r["crisp"] < 0.8, r


def test_a_split_object_is_not_solid():
    """Each object cut in two by a background-coloured bar through its centre."""
    split = []
    for c in CLIPS:
        v = c.video.copy()
        for o in c.truth["objects"]:
            for f, (x, _) in enumerate(o["centres"]):
                col = int(x)
                v[f, :, max(col - 1, 0) : col + 1] = c.truth["background"][:, max(col - 1, 0) : col + 1]
        split.append(v)
    assert mean_report(split)["solid"] < 0.3


@pytest.mark.parametrize("i2v", [True, False])
def test_a_still_video_has_the_objects_and_not_their_path(i2v):
    r = mean_report([np.repeat(c.video[:1], len(c.video), 0) for c in CLIPS], i2v)
    assert r["solid"] > 0.9 and r["path"] < 0.1, r
