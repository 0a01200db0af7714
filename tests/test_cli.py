"""The command line: one-line errors for bad input, and a video written for good input."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from onestep.cli import app
from onestep.media import read_video
from onestep.models.io import save_model
from onestep.models.video_dit import DiTConfig, VideoDiT

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    m = VideoDiT(DiTConfig(dim=32, depth=1, heads=2, patch=(2, 4, 4)))
    with torch.no_grad():
        m.out.weight.normal_(std=0.1)
    d = tmp_path_factory.mktemp("m") / "teacher"
    save_model(d, m, {"role": "teacher", "sampling": {"kind": "euler", "steps": 2, "guidance": 3.0, "shift": 3.0}})
    return d


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output + (
        str(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else ""
    )


def test_sample_writes_mp4_and_gif(model_dir, tmp_path):
    for suffix in (".mp4", ".gif"):
        out = tmp_path / f"v{suffix}"
        code, text = run(
            "sample", "--model", model_dir, "--prompt", "a red circle moves left", "--nfe", 4, "--out", out
        )
        assert code == 0, text
        frames = read_video(out)
        assert frames.shape[0] == 8 and frames.shape[-1] == 3


def test_sample_with_an_image_of_another_size(model_dir, tmp_path):
    import cv2

    img = tmp_path / "photo.png"
    cv2.imwrite(str(img), (np.random.default_rng(0).random((48, 80, 3)) * 255).astype(np.uint8))
    code, text = run(
        "sample", "--model", model_dir, "--prompt", "zoom in", "--image", img, "--nfe", 2, "--out", tmp_path / "v.gif"
    )
    assert code == 0 and "resized and centre-cropped to 32x32" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--image", "missing.png"], "does not exist"),
        (["--nfe", "3"], "odd"),
        (["--nfe", "0"], "1 or more"),
    ],
)
def test_sample_bad_input(model_dir, tmp_path, args, message):
    code, text = run("sample", "--model", model_dir, "--prompt", "x", "--out", tmp_path / "v.mp4", *args)
    assert code != 0 and message in text


def test_unreadable_image(model_dir, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    code, text = run("sample", "--model", model_dir, "--prompt", "x", "--image", bad, "--out", tmp_path / "v.mp4")
    assert code != 0 and "cannot read" in text


def test_wrong_model_dir_and_output(model_dir, tmp_path):
    code, text = run("sample", "--model", tmp_path, "--prompt", "x", "--out", tmp_path / "v.mp4")
    assert code != 0 and "no config.json" in text
    code, text = run("sample", "--model", model_dir, "--prompt", "x", "--out", tmp_path / "v.avi")
    assert code != 0 and ".mp4 or .gif" in text


def test_teacher_unknown_preset_and_key(tmp_path):
    code, text = run("teacher", "--out", tmp_path / "r", "--preset", "giant")
    assert code != 0 and "unknown teacher preset" in text
    code, text = run("teacher", "--out", tmp_path / "r", "--preset", "teacher-tiny", "--set", "size=30")
    assert code != 0 and "patches" in text


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(model_dir, tmp_path, monkeypatch, capsys):
    import errno
    import sys

    from onestep import cli, media

    def full(tmp, frames, fps, suffix):
        tmp.write_bytes(b"")  # the encoder opened its file, then the disk filled
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setattr(media, "_encode", full)
    out = tmp_path / "x.mp4"
    monkeypatch.setattr(
        sys,
        "argv",
        ["onestep", "sample", "--model", str(model_dir), "--prompt", "a cat", "--nfe", "2", "--out", str(out)],
    )
    with pytest.raises(SystemExit) as stop:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and "the disk is full" in err, err
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "onestep",
            "--debug",
            "sample",
            "--model",
            str(model_dir),
            "--prompt",
            "a cat",
            "--nfe",
            "2",
            "--out",
            str(out),
        ],
    )
    with pytest.raises(OSError):
        cli.main()  # --debug: the traceback
