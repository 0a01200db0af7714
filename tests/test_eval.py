"""The evaluation suite end to end on a tiny model, its aggregates on ground truth, and bad input."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from onestep import paths, world
from onestep.cli import app
from onestep.eval import aggregate, suite
from onestep.eval.suite import TrackResult
from onestep.models.io import save_model
from onestep.models.video_dit import DiTConfig, VideoDiT

runner = CliRunner()
REQUIRED = (
    "nfe",
    "n",
    "total",
    "quality",
    "i2v",
    "first_frame_psnr_db",
    "gt_psnr_db",
    "motion_direction_acc",
    "camera_motion_acc",
    "dynamic_degree",
    "seconds_per_video",
)


@pytest.fixture(autouse=True)
def small_anchors(monkeypatch, tmp_path):
    monkeypatch.setattr(suite, "ANCHOR_CLIPS", 6)
    monkeypatch.setattr(suite, "BOOTSTRAP", 50)
    monkeypatch.setattr(suite, "DIVERSITY_CONDITIONS", 2)
    monkeypatch.setattr(suite, "DIVERSITY_SEEDS", 2)
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    m = VideoDiT(DiTConfig(dim=32, depth=1, heads=2, patch=(2, 4, 4)))
    d = tmp_path_factory.mktemp("m") / "student"
    save_model(d, m, {"role": "student", "sampling": {"kind": "renoise", "steps": 1, "shift": 3.0}})
    return d


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    return r.exit_code, r.output + (str(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")


def test_eval_writes_every_required_key(model_dir, tmp_path):
    code, text = invoke("eval", "--model", model_dir, "--n", 4, "--out", tmp_path / "ev", "--json")
    assert code == 0, text
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for key in REQUIRED:
        assert key in metrics and np.isfinite(metrics[key]), key
    assert metrics["nfe"] == 1 and metrics["n"] == 4
    lo, hi = metrics["intervals"]["total"]
    assert lo <= metrics["total"] <= hi or np.isclose(lo, hi)
    # an untrained model is far from the data on the ground-truth panel
    assert metrics["motion_direction_acc"] < 0.5 and metrics["total"] < 60


def rows_of(videos, clips, track=None):
    return aggregate.rows(videos, clips, track)


def ground_truth_result(track, n=6):
    clips = suite.heldout_clips(track, n, world.WorldConfig())
    bounds = aggregate.anchors(clips, track=track)
    rows = rows_of([c.video for c in clips], clips, track)
    return clips, bounds, TrackResult(clips, np.stack([c.video for c in clips]), rows, bounds, {}, 0.0)


def test_data_scores_at_the_top_and_corruptions_below():
    from onestep.eval import corruptions

    clips, bounds, data = ground_truth_result("photocam")
    assert data.scores()["total"] == pytest.approx(100.0)
    for name in ("freeze", "blur", "first_frame_replace"):
        rng = np.random.default_rng(0)
        videos = [corruptions.CORRUPTIONS[name](c.video, 1.0, rng) for c in clips]
        bad = TrackResult(clips, np.stack(videos), rows_of(videos, clips), bounds, {}, 0.0).scores()
        assert bad["total"] < 85, (name, bad["total"])
    # the metric meant for each failure catches it
    frozen = [corruptions.freeze(c.video, 1.0, np.random.default_rng(0)) for c in clips]
    moving = [c for c in clips if c.truth["move"] != "static"]
    assert all(
        r["motion_following[gt]"] == 0.0
        for r in rows_of([corruptions.freeze(c.video, 1.0, None) for c in moving], moving)
    )
    assert np.mean([aggregate.proxies.dynamic_degree_dis(v) for v in frozen]) == 0.0
    collapsed = aggregate.dimensions(corruptions.first_frame_replace(clips[0].video, 1.0, None), clips[0], 1.0)
    assert (
        collapsed["first_frame[psnr]"] < 20 < aggregate.dimensions(clips[0].video, clips[0], 1.0)["first_frame[psnr]"]
    )


def test_semantic_score_sees_objects_the_other_scores_miss():
    """A video of the background alone (smooth, steady, the first frame's colours) keeps a high
    Quality; Semantic, which asks for the prompted objects, drops to the floor and pulls Total down."""
    clips, bounds, data = ground_truth_result("shapes")
    assert data.scores()["semantic"] == pytest.approx(100.0)
    empty = [np.broadcast_to(np.median(c.video.reshape(-1, 3), 0), c.video.shape).copy() for c in clips]
    bad = TrackResult(clips, np.stack(empty), rows_of(empty, clips), bounds, {}, 0.0).scores()
    assert bad["quality"] > 50 and bad["semantic"] < 10, bad
    assert bad["total"] < data.scores()["total"] - 40, bad


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda d: d.mkdir(), ["--photos", "{d}"], "holds no PNG"),
        (lambda d: (d.mkdir(), (d / "a.png").write_bytes(b"nope")), ["--photos", "{d}"], "cannot read"),
        (lambda d: d.write_text('{"image": "x.png"}\n'), ["--conditions", "{d}"], 'no "prompt"'),
        (lambda d: d.write_text("not json\n"), ["--conditions", "{d}"], "not JSON"),
    ],
)
def test_bad_input_leaves_no_metrics(model_dir, tmp_path, make, args, message):
    target = tmp_path / "input"
    make(target)
    out = tmp_path / "ev"
    code, text = invoke(
        "eval", "--model", model_dir, "--n", 4, "--out", out, *[a.replace("{d}", str(target)) for a in args]
    )
    assert code != 0 and message in text
    assert not (out / "metrics.json").exists()


def test_wrong_model_directory(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"kind": "featnet"}')
    code, text = invoke("eval", "--model", tmp_path / "m", "--out", tmp_path / "ev")
    assert code != 0 and "not 'video_dit'" in text and not (tmp_path / "ev" / "metrics.json").exists()


def test_user_conditions(model_dir, tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8))
    (tmp_path / "c.jsonl").write_text(
        '{"prompt": "zoom in", "image": "a.png"}\n{"prompt": "pan left", "image": "a.png"}\n'
    )
    code, text = invoke(
        "eval", "--model", model_dir, "--conditions", tmp_path / "c.jsonl", "--out", tmp_path / "ev", "--json"
    )
    assert code == 0, text
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["n"] == 2 and "first_frame_psnr" in metrics["conditions"]


def test_user_photos(model_dir, tmp_path):
    import cv2

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        img = world.photos.load("astronaut")[::2, ::2] if i == 0 else world.photos.load("chelsea")
        cv2.imwrite(str(photos / f"p{i}.png"), (img[..., ::-1] * 255).astype(np.uint8))
    code, text = invoke(
        "eval", "--model", model_dir, "--track", "photocam", "--photos", photos, "--n", 3, "--out", tmp_path / "ev"
    )
    assert code == 0, text


def test_distances_see_a_shift_and_not_a_resample():
    from onestep.eval import distance

    rng = np.random.default_rng(0)
    a, b, shifted = rng.normal(size=(200, 8)), rng.normal(size=(200, 8)), rng.normal(0.7, 1.0, size=(200, 8))
    assert distance.frechet_distance(a, b) < 0.5 < distance.frechet_distance(a, shifted)
    assert distance.kernel_inception_distance(a, b) < 0.05 < distance.kernel_inception_distance(a, shifted)
    collapsed = np.repeat(b[:1], 200, axis=0)
    assert distance.coverage(a, b) > 0.8 > 0.1 > distance.coverage(a, collapsed)
    assert distance.spread(collapsed[:4]) == 0.0 < distance.spread(b[:4])


def test_paraphrase_on_external_photos_and_the_report_pairs_them(model_dir, tmp_path):
    """--prompts paraphrase --photos external: same clips in held-out words; the report sets the two side by side."""
    for prompts in ("template", "paraphrase"):
        code, text = invoke(
            "eval",
            "--model",
            model_dir,
            "--track",
            "photocam",
            "--photos",
            "external",
            "--prompts",
            prompts,
            "--n",
            3,
            "--out",
            tmp_path / prompts,
        )
        assert code == 0, text
        metrics = json.loads((tmp_path / prompts / "metrics.json").read_text())
        assert (
            metrics["prompts"] == prompts and metrics["photos"] == "external" and 0 <= metrics["camera_motion_acc"] <= 1
        )
    code, text = invoke("report", tmp_path / "template", tmp_path / "paraphrase", "--out", tmp_path / "report")
    assert code == 0, text
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Held-out language" in md and "| student @ NFE 1 | external | 3 |" in md
    assert "student @ NFE 1, paraphrase, external photos" in md and "| paraphrase: " in md
    code, text = invoke("eval", "--model", model_dir, "--prompts", "slang", "--n", 3, "--out", tmp_path / "bad")
    assert code != 0 and "unknown --prompts 'slang'" in text and not (tmp_path / "bad").exists()


def test_a_shipped_evaluation_is_used_only_when_weights_settings_and_eval_version_match(
    model_dir, tmp_path, monkeypatch
):
    """MODEL/evals/NAME stands in for an evaluation only when its key is this evaluation's (eval/shipped.py)."""
    import shutil

    from onestep.eval import shipped

    model = tmp_path / "m"
    shutil.copytree(model_dir, model)
    base = ["--model", model, "--track", "shapes", "--n", 2]

    def evaluate(name, *args):
        code, text = invoke("eval", *base, *args, "--out", tmp_path / name)
        assert code == 0, text
        return json.loads((tmp_path / name / "metrics.json").read_text())

    first = evaluate("first")
    assert "shipped" not in first
    dest = shipped.ship(tmp_path / "first", model, "nfe1-n2")
    reused = evaluate("again")
    assert (
        reused["shipped"] == str(dest)
        and reused["total"] == first["total"]
        and (tmp_path / "again" / "videos-shapes.npz").is_file()
    )
    assert (
        "seconds_per_video" not in reused and reused["shipped_seconds_per_video"] == first["seconds_per_video"]
    )  # not this run's timing

    assert "shipped" not in evaluate("other-n", "--n", 3)  # a setting differs
    assert "shipped" not in evaluate("other-nfe", "--nfe", 2)
    assert "shipped" not in evaluate("other-seed", "--seed", 1)
    assert "shipped" not in evaluate("fresh", "--fresh")
    with monkeypatch.context() as m:
        m.setattr(shipped, "EVAL_VERSION", shipped.EVAL_VERSION + 1)  # what an evaluation computes changed
        assert "shipped" not in evaluate("other-version")
    torch.manual_seed(1)
    save_model(
        model,
        VideoDiT(DiTConfig(dim=32, depth=1, heads=2, patch=(2, 4, 4))),
        json.loads((model / "config.json").read_text()),
    )
    assert "shipped" not in evaluate("other-weights")  # the same directory, retrained
