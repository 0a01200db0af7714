"""Streaming a block-causal student past its training length: `onestep sample --stream` writes a
playable .mp4 while it goes, starts as `onestep sample` does, and `onestep eval --stream` scores each
segment into stream.json, which `onestep report` shows beside time to first frame and frames per second."""

import json

import numpy as np
import pytest

from onestep.commands import bench, report, sample, stream
from onestep.commands import eval as eval_cmd
from onestep.errors import UserError
from onestep.media import read_video
from tests.test_asd import causal_run  # noqa: F401 (the module's fixture: a trained causal-test student)


def test_a_stream_is_written_while_it_runs_and_starts_as_sample_does(causal_run, tmp_path):  # noqa: F811
    _, student = causal_run
    out = tmp_path / "s.mp4"
    seen = []

    def on_block(b, written):
        if b == 5:  # mid-stream, the partial file already plays the finished blocks
            seen.append((written, len(read_video(out.with_name(out.name + ".partial.mp4")))))

    timings = stream.run(
        model_dir=student,
        prompt="a red circle moves right",
        image=None,
        nfe=None,
        steps=None,
        seed=3,
        out=out,
        say=lambda *_: None,
        on_block=on_block,
    )
    video = read_video(out)
    assert video.shape[0] == 32 == timings["frames"]  # 4x the 8 training frames
    config = json.loads((student / "config.json").read_text())["model"]
    bf = config["patch"][0] * config["causal_block"]  # video frames per block
    assert seen and seen[0][0] == 6 * bf and seen[0][1] >= 5 * bf  # six blocks encoded; a player reads (at least) five
    assert 0 < timings["time_to_first_frame_s"] and timings["frames_per_s"] > 0
    sample.run(
        model_dir=student,
        prompt="a red circle moves right",
        image=None,
        nfe=None,
        steps=None,
        cfg=None,
        seed=3,
        out=tmp_path / "v.mp4",
    )
    ordinary = read_video(tmp_path / "v.mp4")
    assert np.abs(video[:8] - ordinary).mean() < 0.01  # the same video, up to the codec
    assert np.abs(video[8:16] - ordinary).mean() > 0.02  # and more of it after


def test_streaming_refuses_what_it_cannot_do(causal_run, tmp_path):  # noqa: F811
    teacher, student = causal_run
    with pytest.raises(UserError, match="--stream is for block-causal students"):
        stream.run(model_dir=teacher, prompt="x", image=None, nfe=None, steps=None, seed=0, out=tmp_path / "a.mp4")
    with pytest.raises(UserError, match="use an .mp4 --out"):
        stream.run(model_dir=student, prompt="x", image=None, nfe=None, steps=None, seed=0, out=tmp_path / "a.gif")
    with pytest.raises(UserError, match="0 <= sink < window"):
        stream.run(
            model_dir=student,
            prompt="x",
            image=None,
            nfe=None,
            steps=None,
            seed=0,
            out=tmp_path / "a.mp4",
            window=2,
            sink=2,
        )
    assert not list(tmp_path.iterdir())  # nothing written before the checks


def test_eval_stream_scores_every_segment_and_the_report_shows_them(causal_run, tmp_path):  # noqa: F811
    _, student = causal_run
    kw = dict(
        model_dir=student,
        nfe=1,
        tracks=["shapes", "photocam"],
        n=3,
        photos=None,
        conditions=None,
        seed=0,
        featnet=None,
        first_block_steps=4,
    )
    result = eval_cmd.run(**kw, out=tmp_path / "stream", stream=3)
    saved = json.loads((tmp_path / "stream" / "stream.json").read_text())
    assert saved["label"] == "1*" and saved["frames"] == 24 and saved["window"] == 3 and result["length"] == 3
    for track, segments in saved["tracks"].items():
        assert [s["frames"] for s in segments] == [[0, 8], [8, 16], [16, 24]]
        for s in segments:
            lo, hi = s["intervals"]["quality"]
            assert 0 <= lo <= s["quality"] <= hi <= 100 and np.isfinite(s["fd[featnet]"])
            assert ("camera_acc" in s) == (track == "photocam")
    assert saved["time_to_first_frame_s"] > 0 and saved["frames_per_s"] > 0
    # segment 0 of the stream is the suite's own video of the clip
    eval_cmd.run(**kw, out=tmp_path / "plain", fresh=True)
    with (
        np.load(tmp_path / "stream" / "videos-stream-shapes.npz") as s,
        np.load(tmp_path / "plain" / "videos-shapes.npz") as p,
    ):
        assert (
            s["videos"].shape[1] == 24 and np.abs(s["videos"][:, :8].astype(int) - p["videos"].astype(int)).max() <= 1
        )
    md, page = report.run([tmp_path / "plain", tmp_path / "stream"], tmp_path / "report", "t")
    text = md.read_text()
    assert (
        "## Streaming" in text
        and "| 16-23 |" in text
        and "time to first frame" in text
        and "stream_drift.png" in text
        and (tmp_path / "report" / "stream_frames.png").is_file()
    )
    assert "Streaming" in page.read_text()
    with pytest.raises(UserError, match="drop --conditions and --prompts"):
        eval_cmd.run(**{**kw, "n": 2}, out=tmp_path / "x", stream=2, prompts="paraphrase")


def test_bench_streams_a_causal_student(causal_run):  # noqa: F811
    teacher, student = causal_run
    result = bench.run(
        model_dir=student,
        teacher_dir=teacher,
        batches=(1,),
        repeats=1,
        min_seconds=0.0,
        teacher_nfes=(1,),
        say=lambda *_: None,
    )
    s = result["stream"]
    assert s["frames"] == 32 and s["label"] == "1*" and s["time_to_first_frame_s"] > 0 and s["frames_per_s"] > 0


def test_the_bundled_asd_student_evaluates_streams_benches_and_reports(tmp_path):
    from onestep import paths

    kw = dict(
        model_dir=paths.CAUSAL_STUDENT,
        nfe=None,
        tracks=["photocam"],
        n=2,
        photos=None,
        conditions=None,
        seed=0,
        featnet=None,
    )
    metrics = eval_cmd.run(**kw, out=tmp_path / "eval", fresh=True)
    assert (
        metrics["sampler"]["kind"] == "causal"
        and metrics["sampler"]["first_block_steps"] == 4
        and 0 < metrics["total"] < 100
    )
    streamed = eval_cmd.run(**kw, out=tmp_path / "stream", stream=2)
    assert len(streamed["tracks"]["photocam"]) == 2
    result = bench.run(
        model_dir=paths.CAUSAL_STUDENT,
        teacher_dir=None,
        batches=(1,),
        repeats=1,
        min_seconds=0.0,
        teacher_nfes=(1,),
        say=lambda *_: None,
    )
    assert result["stream"]["frames"] == 32 and result["speedup"] > 0
    md, _ = report.run([tmp_path / "eval", tmp_path / "stream"], tmp_path / "report", "asd")
    assert "asd @ 1* (FFE)" in md.read_text() and "## Streaming" in md.read_text()
